"""A cache (Redis) that cannot be reached: uncached pages, throttles open, one log line, no 500."""

import logging
import re
import runpy
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from gallery.models import StudyVote
from gallery.services import exhibitions as exhibition_services
from gallery.services import studies as study_services
from heritage import cache_backends

pytestmark = pytest.mark.django_db

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "heritage" / "settings.py"


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def caches_for(redis_url: str, monkeypatch) -> dict:
    """CACHES as heritage/settings.py builds them for this REDIS_URL."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    built = runpy.run_path(str(SETTINGS_FILE))["CACHES"]
    monkeypatch.delenv("REDIS_URL")
    return built


@pytest.fixture
def redis_cache(settings, monkeypatch):
    """Point the cache at a Redis URL the test chooses; retries after 0.2 s instead of 5 s."""
    cache_backends._breakers.clear()

    def use(port: int) -> None:
        caches = caches_for(f"redis://127.0.0.1:{port}/0", monkeypatch)
        caches["default"].setdefault("OPTIONS", {})["retry_seconds"] = 0.2
        settings.CACHES = caches

    yield use
    cache_backends._breakers.clear()


def outage_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]


def vote(client: Client, study) -> int:
    """Open the study's next image set and vote for its first candidate; the vote's status."""
    page = client.get(reverse("gallery:study_vote", args=[study.slug]), follow=True)
    html = page.content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    hidden.pop("csrfmiddlewaretoken", None)
    choice = re.findall(r'name="choice" value="([^"]+)"', html)[0]
    response = client.post(
        reverse("gallery:study_vote", args=[study.slug]), {**hidden, "choice": choice}
    )
    return response.status_code


def test_public_pages_votes_and_api_work_uncached_while_redis_is_down(
    redis_cache, published, curator, restorations, caplog, settings
):
    settings.GALLERY_VOTE_RATE = "1/h"  # would refuse a second vote if the counter were kept
    study = study_services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        restorations=restorations,
        open_now=True,
    )
    redis_cache(free_port())
    visitor = Client()
    caplog.set_level(logging.WARNING, logger="heritage.cache_backends")

    for _ in range(2):
        for url in ("/", reverse("gallery:exhibition_list"), published.get_absolute_url()):
            response = visitor.get(url)
            assert response.status_code == 200, url
            assert response["X-Page-Cache"] == "miss", url
        api = visitor.get(f"/api/v1/exhibitions/{published.slug}/")
        assert api.status_code == 200
    # Throttles fail open: both votes count although the rate allows one per hour.
    assert [vote(visitor, study), vote(visitor, study)] == [302, 302]
    assert StudyVote.objects.count() == 2
    # The Bradley-Terry fit (also cached) is computed on the spot.
    curator_client = Client()
    curator_client.force_login(curator)
    results = curator_client.get(reverse("gallery:study_results", args=[study.pk]))
    assert results.status_code == 200 and b"Bradley-Terry" in results.content

    lines = outage_lines(caplog)
    assert len(lines) == 1, lines
    assert "uncached" in lines[0] and "throttles" in lines[0]


def test_a_refused_connection_costs_one_attempt_per_retry_period(redis_cache, monkeypatch):
    from django.core.cache import cache

    redis_cache(free_port())
    client = cache._cache  # the fail-soft client
    attempts = []
    get_client = cache_backends.FailSoftRedisCacheClient.get_client

    def counting(self, *args, **kwargs):
        attempts.append(args)
        return get_client(self, *args, **kwargs)

    monkeypatch.setattr(cache_backends.FailSoftRedisCacheClient, "get_client", counting)
    for _ in range(20):
        assert cache.get("some-key", "fallback") == "fallback"
    assert len(attempts) == 1, "Redis is not asked again before the retry period"
    time.sleep(0.25)
    assert cache.get("some-key", "fallback") == "fallback"
    assert len(attempts) == 2
    assert client.is_down
    with pytest.raises(ValueError):
        cache.incr("counter")
    assert cache.add("key", 1) is False and cache.get_many(["a", "b"]) == {}


@pytest.fixture
def own_redis(tmp_path):
    """Start/stop a test-owned redis-server on a spare loopback port that saves on shutdown."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    processes = []

    def start() -> None:
        process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(tmp_path),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop_saving() -> None:
        """Shut Redis down keeping its data on disk, as a restart with persistence would."""
        subprocess.run(
            ["redis-cli", "-p", str(port), "shutdown", "save"], timeout=10, capture_output=True
        )
        processes[-1].wait(timeout=10)

    start.port = port
    yield start, stop_saving
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_a_page_changed_during_the_outage_is_not_served_stale_after_it(
    redis_cache, own_redis, published, curator, caplog, django_capture_on_commit_callbacks
):
    start, stop_saving = own_redis
    start()
    redis_cache(start.port)
    visitor = Client()
    url = published.get_absolute_url()
    assert visitor.get(url)["X-Page-Cache"] == "miss"
    assert visitor.get(url)["X-Page-Cache"] == "hit"

    stop_saving()
    # Committed, as in a server: the write drops this process's own copies of the pages.
    with django_capture_on_commit_callbacks(execute=True):
        exhibition_services.exhibition_unpublish(exhibition=published, user=curator)
    assert visitor.get(url).status_code == 404
    start()  # the cached page is back in Redis, under the generation it had
    time.sleep(0.3)

    assert visitor.get(url).status_code == 404, "the unpublished exhibition is not served"
    assert any("answers again" in record.getMessage() for record in caplog.records)
