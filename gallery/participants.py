"""Who takes part in a user study, for the pages and the API alike: the visitor's signed
cookie, their hashed address (throttles), the study they may see, a throttle's retry time."""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

from gallery.models import Participant, UserStudy
from gallery.selectors import studies as selectors

COOKIE = "heritage_participant"
COOKIE_SALT = "gallery.participant"
COOKIE_AGE = 365 * 24 * 60 * 60


def client_ip(request: HttpRequest) -> str:
    header = settings.RATELIMIT_IP_META_KEY
    address = request.META.get(header, "") if header else request.META.get("REMOTE_ADDR", "")
    # A forwarding header may list the proxies after the client.
    return address.split(",")[0].strip()


def ip_hash(request: HttpRequest) -> str:
    return salted_hmac("gallery.participant-ip", client_ip(request), algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class Visitor:
    """Who is voting: the id in their signed cookie, saved as a participant from the first vote."""

    participant: Participant | None
    key: uuid.UUID

    @property
    def viewer(self) -> Participant:
        # Unsaved until the first vote: enough for the selectors to draw this visitor's orders.
        return self.participant or Participant(pk=self.key)


def visitor_of(request: HttpRequest) -> Visitor:
    # A missing, tampered or unreadable cookie makes a new visitor with a fresh id.
    raw = request.get_signed_cookie(COOKIE, default=None, salt=COOKIE_SALT)
    key = selectors.participant_uuid(value=raw)
    if key is None:
        return Visitor(None, uuid.uuid4())
    return Visitor(selectors.participant_get(participant_id=raw), key)


def remember(response: HttpResponse, visitor: Visitor) -> HttpResponse:
    response.set_signed_cookie(
        COOKIE,
        str(visitor.key),
        salt=COOKIE_SALT,
        max_age=COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


def study_or_404(request: HttpRequest, slug: str) -> UserStudy:
    study = selectors.study_for_user(user=request.user, slug=slug)
    if study is None:
        raise Http404("No such study.")
    return study


def rate_period(rate: str) -> int:
    """Seconds of a ratelimit rate's window ("30/m" -> 60): when a throttled client may retry."""
    return {"s": 1, "m": 60, "h": 3600, "d": 86400}[rate.partition("/")[2][0]]
