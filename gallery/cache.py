"""Whole-page cache of the public pages, dropped at once by any write to what they show."""

from functools import wraps

from django.contrib.messages import get_messages
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from heritage.cache_backends import cache_reconnected

GENERATION_KEY = "gallery:public-generation"
PAGE_SECONDS = 600


def public_changed() -> None:
    """Call after any write a visitor page shows (exhibitions, their motifs and results)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 1, timeout=None)


@receiver(cache_reconnected, dispatch_uid="gallery-pages-after-cache-outage")
def _drop_pages_after_outage(sender, **kwargs) -> None:
    # A write during the outage could not drop the pages it changed: drop them all now.
    public_changed()


def _generation() -> int:
    return cache.get_or_set(GENERATION_KEY, 1, timeout=None)


def public_page(view):
    """Serve anonymous visitors a cached copy; signed-in people (drafts, names) get it fresh.

    Django's cache_page varies on the session cookie, so every visitor would get their own copy;
    anonymous pages here hold nothing personal (no forms, no CSRF token), so one copy serves all.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated or request.method != "GET" or len(get_messages(request)):
            return view(request, *args, **kwargs)
        key = f"gallery:page:{_generation()}:{request.get_full_path()}"
        cached = cache.get(key)
        if cached is not None:
            response = HttpResponse(cached, content_type="text/html; charset=utf-8")
            response["X-Page-Cache"] = "hit"
        else:
            response = view(request, *args, **kwargs)
            if response.status_code == 200 and not getattr(response, "streaming", False):
                cache.set(key, response.content, PAGE_SECONDS)
            response["X-Page-Cache"] = "miss"
        response["Cache-Control"] = "public, max-age=60"
        return response

    return wrapper
