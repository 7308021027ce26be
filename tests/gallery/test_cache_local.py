"""Each server process's own copy of the public pages, on top of the shared cache (Redis).

Two processes are simulated by two sets of local copies (gallery.cache._local) over one shared
cache: what one process writes reaches the other within GENERATION_CHECK_SECONDS.
"""

import time

import pytest
from django.core.cache import cache
from django.test import Client

from gallery import cache as page_cache
from gallery.services import exhibitions as services
from tests.gallery.test_cache_outage import free_port, own_redis, redis_cache  # noqa: F401

pytestmark = pytest.mark.django_db

WINDOW = 0.3  # GENERATION_CHECK_SECONDS in these tests


@pytest.fixture
def processes(monkeypatch):
    """Two server processes' local copies; `use(name)` makes the next requests go to one."""
    monkeypatch.setattr(page_cache, "GENERATION_CHECK_SECONDS", WINDOW)
    local = {"a": page_cache._LocalPages(), "b": page_cache._LocalPages()}

    def use(name: str) -> None:
        monkeypatch.setattr(page_cache, "_local", local[name])

    return use


class CountingCache:
    """The shared cache, counting the calls made to it."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


def test_a_write_in_one_process_reaches_the_other_within_the_bound(
    processes, published, curator, django_capture_on_commit_callbacks
):
    visitor = Client()
    url = published.get_absolute_url()
    processes("a")
    assert visitor.get(url)["X-Page-Cache"] == "miss"
    processes("b")
    assert visitor.get(url)["X-Page-Cache"] == "hit", "found in the shared cache"

    processes("a")
    with django_capture_on_commit_callbacks(execute=True):
        services.exhibition_update(exhibition=published, user=curator, title="Painted caves II")
    # The process that made the write shows it at once.
    assert "Painted caves II" in visitor.get(url).content.decode()

    processes("b")
    started = time.monotonic()
    while "Painted caves II" not in visitor.get(url).content.decode():
        assert time.monotonic() - started < WINDOW + 0.5, "the other process shows the old page"
        time.sleep(0.02)
    assert visitor.get(url)["X-Page-Cache"] == "hit"


def test_a_cached_page_is_served_from_process_memory_without_asking_the_shared_cache(
    processes, published, monkeypatch
):
    visitor = Client()
    url = published.get_absolute_url()
    processes("a")
    visitor.get(url)
    shared = CountingCache(cache)
    monkeypatch.setattr(page_cache, "cache", shared)
    for _ in range(20):
        response = visitor.get(url)
        assert response["X-Page-Cache"] == "hit"
    assert shared.calls == [], "no round trip while the generation is trusted"

    time.sleep(WINDOW + 0.05)
    assert visitor.get(url)["X-Page-Cache"] == "hit"
    assert shared.calls == ["get"], "one look at the generation once the bound has passed"


def test_copies_are_not_trusted_after_the_shared_cache_lost_its_counter(
    processes, published, curator
):
    visitor = Client()
    url = published.get_absolute_url()
    processes("b")
    cache.delete(page_cache.GENERATION_KEY)  # the page is cached under a counter's first value
    assert visitor.get(url)["X-Page-Cache"] == "miss"
    # Redis restarted without its data, after a write made elsewhere (not through this process).
    type(published).objects.filter(pk=published.pk).update(title="Renamed while lost")
    cache.clear()
    time.sleep(WINDOW + 0.05)
    again = visitor.get(url)
    assert again["X-Page-Cache"] == "miss"
    assert "Renamed while lost" in again.content.decode()


def test_a_process_stops_serving_its_copies_when_redis_goes_down(
    redis_cache,  # noqa: F811
    own_redis,  # noqa: F811
    processes,
    published,
    curator,
):
    start, stop_saving = own_redis
    start()
    redis_cache(start.port)
    visitor = Client()
    url = published.get_absolute_url()
    processes("b")
    assert [visitor.get(url)["X-Page-Cache"] for _ in range(2)] == ["miss", "hit"]

    stop_saving()
    # Another process's write now cannot reach this one through Redis: once the bound has
    # passed, pages are rendered fresh rather than served from copies nobody can drop.
    type(published).objects.filter(pk=published.pk).update(title="Changed during the outage")
    time.sleep(WINDOW + 0.05)
    during = visitor.get(url)
    assert during["X-Page-Cache"] == "miss"
    assert "Changed during the outage" in during.content.decode()

    start()  # Redis is back with the page cached before the outage
    time.sleep(0.3)
    after = visitor.get(url)
    assert "Changed during the outage" in after.content.decode()
    assert visitor.get(url)["X-Page-Cache"] == "hit"


def test_visitors_without_a_session_get_the_copy_with_the_headers_of_the_whole_chain(
    published, curator
):
    visitor = Client()
    url = published.get_absolute_url()
    first = visitor.get(url)  # rendered; its headers are noted on the way out
    assert first["X-Page-Cache"] == "miss"
    second = visitor.get(url)
    # Answered before sessions, users and URLs: the view is not reached.
    third = visitor.get(url)
    assert third["X-Page-Cache"] == "hit" and third.wsgi_request.resolver_match is None
    assert third.content == first.content
    for response in (second, third):
        assert {k: v for k, v in response.items() if k != "X-Page-Cache"} == {
            k: v for k, v in first.items() if k != "X-Page-Cache"
        }
    assert third["Vary"] == "Cookie" and third["X-Frame-Options"] == "DENY"

    # A signed-in curator (session cookie) still gets the page made for them.
    signed_in = Client()
    signed_in.force_login(curator)
    own = signed_in.get(url)
    assert own.status_code == 200 and "X-Page-Cache" not in own
