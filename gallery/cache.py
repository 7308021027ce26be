"""Whole-page cache of the public pages, dropped at once by any write to what they show.

Two layers. The shared cache (Redis in a deployment) holds each page under the current
"generation", a counter every write bumps (`public_changed`); every server process finds there
what another rendered. On top, each process keeps its own copy of the pages it served, in
memory, and asks the shared cache for the generation at most once every
GENERATION_CHECK_SECONDS: a cached page then costs no round trip to Redis at all. The bound
that buys: a write made through one process reaches visitors of another process within
GENERATION_CHECK_SECONDS (1 s); in the process that made it, at once.

PublicPageMiddleware, early in MIDDLEWARE, answers requests that carry no session or messages
cookie (visitors who cannot be signed in) from that copy, with the headers the whole chain
gave it the first time, before sessions, CSRF, users, messages and URLs are looked at.

While the shared cache cannot be reached (heritage.cache_backends), pages are rendered uncached,
as before: another process's write could not bump the generation, so no copy is trusted.
"""

import secrets
import threading
import time
from collections import OrderedDict
from functools import wraps

from django.conf import settings
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from heritage.cache_backends import cache_reconnected

GENERATION_KEY = "gallery:public-generation"
PAGE_SECONDS = 600
# How long a process trusts the generation it last read: the delay before a write made through
# another server process reaches this one's visitors.
GENERATION_CHECK_SECONDS = 1.0
# Pages each process keeps in memory (the least recently served go first).
LOCAL_PAGES = 256


class _LocalPages:
    """This process's copies of the pages of one generation, shared by its threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.epoch = 0  # counts forget(): a generation read before one is not trusted after it
        self.forget()

    def forget(self) -> None:
        with self.lock:
            self.epoch += 1
            self.generation: int | None = None
            self.checked_at = float("-inf")
            # path -> (generation, expires (monotonic), content, headers once known)
            self.pages: OrderedDict[str, tuple[int, float, bytes, tuple | None]] = OrderedDict()

    def trusted_generation(self) -> int | None:
        """The generation last read, while it is younger than GENERATION_CHECK_SECONDS."""
        if time.monotonic() - self.checked_at < GENERATION_CHECK_SECONDS:
            return self.generation
        return None

    def checked(self, generation: int, at: float, epoch: int) -> None:
        with self.lock:
            if epoch != self.epoch:
                return  # a write in this process came in between: ask again next time
            if generation != self.generation:
                self.pages.clear()
                self.generation = generation
            self.checked_at = at

    def get(self, generation: int, path: str) -> tuple[bytes, tuple | None] | None:
        """The page's content and its headers (None until PublicPageMiddleware saw them)."""
        with self.lock:
            page = self.pages.get(path)
            if page is None:
                return None
            if page[0] != generation or page[1] < time.monotonic():
                del self.pages[path]
                return None
            self.pages.move_to_end(path)
            return page[2], page[3]

    def keep(self, generation: int, path: str, content: bytes) -> None:
        with self.lock:
            if generation != self.generation:
                return  # rendered under a generation a write has since replaced
            self.pages[path] = (generation, time.monotonic() + PAGE_SECONDS, content, None)
            self.pages.move_to_end(path)
            while len(self.pages) > LOCAL_PAGES:
                self.pages.popitem(last=False)

    def keep_headers(self, generation: int, path: str, content: bytes, headers: tuple) -> None:
        with self.lock:
            page = self.pages.get(path)
            if page is None or page[0] != generation or page[3] is not None:
                return
            if page[2] == content:
                self.pages[path] = (*page[:3], headers)


_local = _LocalPages()


def forget_local_pages() -> None:
    """Drop this process's copies; the next page asks the shared cache for the generation."""
    _local.forget()


def _fresh_generation() -> int:
    # Random, not 1: after Redis lost the counter (restart without persistence, eviction, a
    # flush), a new count must not meet the generation of copies still held by a process.
    return secrets.randbits(48)


def public_changed() -> None:
    """Call after any write a visitor page shows (exhibitions, their motifs and results)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, _fresh_generation(), timeout=None)
    _local.forget()


@receiver(cache_reconnected, dispatch_uid="gallery-pages-after-cache-outage")
def _drop_pages_after_outage(sender, **kwargs) -> None:
    # A write during the outage could not drop the pages it changed: drop them all now.
    public_changed()


def _generation() -> int | None:
    """The current generation; None while the shared cache cannot be reached."""
    generation = _local.trusted_generation()
    if generation is not None:
        return generation
    asked_at, epoch = time.monotonic(), _local.epoch
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, _fresh_generation(), timeout=None)
        generation = cache.get(GENERATION_KEY)
    if generation is None:  # the shared cache cannot be reached: nobody could drop a copy
        _local.forget()
        return None
    _local.checked(generation, asked_at, epoch)
    return generation


def public_page(view):
    """Serve anonymous visitors a cached copy; signed-in people (drafts, names) get it fresh.

    Django's cache_page varies on the session cookie, so every visitor would get their own copy;
    anonymous pages here hold nothing personal (no forms, no CSRF token), so one copy serves all.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated or request.method != "GET" or len(get_messages(request)):
            return view(request, *args, **kwargs)
        path = request.get_full_path()
        generation = _generation()
        cached = None
        if generation is not None:
            cached = (_local.get(generation, path) or (None, None))[0]
            if cached is None:
                cached = cache.get(f"gallery:page:{generation}:{path}")
                if cached is not None:
                    _local.keep(generation, path, cached)
        if cached is not None:
            response = HttpResponse(cached, content_type="text/html; charset=utf-8")
            response["X-Page-Cache"] = "hit"
        else:
            response = view(request, *args, **kwargs)
            if (
                generation is not None
                and response.status_code == 200
                and not getattr(response, "streaming", False)
            ):
                cache.set(f"gallery:page:{generation}:{path}", response.content, PAGE_SECONDS)
                _local.keep(generation, path, response.content)
            response["X-Page-Cache"] = "miss"
        response["Cache-Control"] = "public, max-age=60"
        if generation is not None:
            response.public_page = (generation, path)  # for PublicPageMiddleware
        return response

    return wrapper


class PublicPageMiddleware:
    """Answer visitors who cannot be signed in from this process's copy of a public page.

    A request with neither a session nor a messages cookie has no user and no messages, so the
    page `public_page` would serve it is known before the rest of the chain runs. The copy is
    replayed with the headers the rest of the chain added to it (Vary, X-Frame-Options, ...),
    noted when it first went out; pages whose answer set a cookie are not answered here.
    Place it after the static files and before SessionMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        cookies = request.COOKIES
        if (
            request.method == "GET"
            and settings.SESSION_COOKIE_NAME not in cookies
            and CookieStorage.cookie_name not in cookies
        ):
            generation = _generation()
            if generation is not None:
                content, headers = _local.get(generation, request.get_full_path()) or (None, None)
                if headers is not None:
                    response = HttpResponse(content, headers=dict(headers))
                    response["X-Page-Cache"] = "hit"
                    return response
        response = self.get_response(request)
        mark = getattr(response, "public_page", None)
        if (
            mark is not None
            and response.status_code == 200
            and not response.cookies
            and not getattr(response, "streaming", False)
        ):
            _local.keep_headers(*mark, response.content, tuple(response.items()))
        return response
