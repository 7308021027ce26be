"""Personal API tokens: made (the key shown once), listed, revoked, and checked per request."""

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from heritage.models import ApiToken, User

# Tokens one person may hold at once: enough for a few scripts and machines, few enough that
# a forgotten one is seen on the profile page.
MAX_ACTIVE_TOKENS = 20
# last_used_at is written at most this often per token, not on every request.
LAST_USED_PRECISION = timedelta(minutes=1)
PREFIX_LENGTH = 8


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def user_may_hold_tokens(*, user: User) -> bool:
    """Curators and experts: the people the API has anything to answer."""
    return bool(user.is_authenticated and (user.is_curator or user.is_expert))


def token_list(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens, active and revoked, newest first."""
    return ApiToken.objects.filter(user=user)


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token of `user` called `name`, and its key (never stored, shown once).

    Raises PermissionDenied for people without a role, ValidationError for a blank or taken
    name and past MAX_ACTIVE_TOKENS.
    """
    if not user_may_hold_tokens(user=user):
        raise PermissionDenied("Only curators and experts can make API tokens.")
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. the script or machine."})
    if len(name) > 100:
        raise ValidationError({"name": "A token's name has at most 100 characters."})
    active = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    if active.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"You already have an active token called {name!r}."})
    if active.count() >= MAX_ACTIVE_TOKENS:
        raise ValidationError(
            f"You have {MAX_ACTIVE_TOKENS} active tokens; revoke one before making another."
        )
    key = secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:PREFIX_LENGTH], key_sha256=_digest(key)
    )
    return token, key


def token_revoke(*, token: ApiToken, user: User) -> ApiToken:
    """Revoke one of `user`'s tokens at once (it stays listed). Raises PermissionDenied for
    another person's token, ValidationError for one already revoked."""
    if token.user_id != user.pk:
        raise PermissionDenied("You can revoke only your own tokens.")
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    if not revoked:
        raise ValidationError("This token was already revoked.")
    return token


def token_authenticate(*, key: str) -> ApiToken | None:
    """The active token of an active person whose key this is, or None; records its use."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_sha256=_digest(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
