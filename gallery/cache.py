"""Whole-page cache of the public pages, dropped at once by any write to what they show.

Two layers. The shared cache (Redis in a deployment) holds each page under the current
"generation", a counter every write bumps (`public_changed`); every server process finds there
what another rendered. On top, each process keeps its own copy of the pages it served, in
memory, and asks the shared cache for the generation at most once every
GENERATION_CHECK_SECONDS: a cached page then costs no round trip to Redis at all. The bound
that buys: a write made through one process reaches visitors of another process within
GENERATION_CHECK_SECONDS (1 s); in the process that made it, at once.

While the shared cache cannot be reached (heritage.cache_backends), pages are rendered uncached,
as before: another process's write could not bump the generation, so no copy is trusted.
"""

import secrets
import threading
import time
from collections import OrderedDict
from functools import wraps

from django.contrib.messages import get_messages
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
            self.pages: OrderedDict[str, tuple[int, float, bytes]] = OrderedDict()

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

    def get(self, generation: int, path: str) -> bytes | None:
        with self.lock:
            page = self.pages.get(path)
            if page is None:
                return None
            if page[0] != generation or page[1] < time.monotonic():
                del self.pages[path]
                return None
            self.pages.move_to_end(path)
            return page[2]

    def keep(self, generation: int, path: str, content: bytes) -> None:
        with self.lock:
            if generation != self.generation:
                return  # rendered under a generation a write has since replaced
            self.pages[path] = (generation, time.monotonic() + PAGE_SECONDS, content)
            self.pages.move_to_end(path)
            while len(self.pages) > LOCAL_PAGES:
                self.pages.popitem(last=False)


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
            cached = _local.get(generation, path)
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
        return response

    return wrapper
