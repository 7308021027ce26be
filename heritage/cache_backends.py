"""A Redis cache that degrades to "no cache" while Redis cannot be reached, instead of failing.

Everything the app keeps in the cache can be recomputed or forgotten: whole public pages
(gallery.cache), the Bradley-Terry fit of a study's votes, and the throttle counters of
django-ratelimit and DRF. So while Redis is down (stopped, restarting, unreachable), every
read is a miss, every write is dropped, and `incr` raises ValueError as for a missing key;
pages are then rendered uncached and throttles see no counter (they fail open, see
RATELIMIT_FAIL_OPEN in settings). The outage is logged once when it starts and once when it
ends, not per request, and after a failure Redis is not asked again for RETRY_SECONDS, so a
down cache costs requests nothing. When Redis answers again, `cache_reconnected` is sent: the
page cache uses it to drop pages that writes made during the outage left stale.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.dispatch import Signal
from django.utils.functional import cached_property

logger = logging.getLogger(__name__)

# Sent (sender: the cache backend) by the first successful call after an outage.
cache_reconnected = Signal()

# Seconds without asking Redis after a failed call; and the socket timeouts (seconds) that keep
# an unreachable host (packets dropped rather than refused) from holding a request.
RETRY_SECONDS = 5.0
SOCKET_TIMEOUT = 1.0

_FAILURES = (redis.exceptions.RedisError, OSError)


class _Breaker:
    """Whether the Redis at some URLs is down, shared by every thread of the process."""

    def __init__(self, servers: list[str], retry_seconds: float):
        self.servers = servers
        self.retry_seconds = retry_seconds
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0

    def skip(self) -> bool:
        """True while Redis should not be asked (failed less than retry_seconds ago)."""
        return self.down_since is not None and time.monotonic() < self.retry_at

    def failed(self, exc: BaseException) -> None:
        with self.lock:
            self.retry_at = time.monotonic() + self.retry_seconds
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
        logger.warning(
            "The cache at %s cannot be reached (%s): pages are served uncached and throttles "
            "let requests through until it answers again (retrying every %g s).",
            _redacted(self.servers),
            exc,
            self.retry_seconds,
        )

    def succeeded(self) -> bool:
        """Record a successful call; True when it ends an outage."""
        if self.down_since is None:
            return False
        with self.lock:
            if self.down_since is None:
                return False
            seconds = time.monotonic() - self.down_since
            self.down_since = None
        logger.warning(
            "The cache at %s answers again after %.0f s.", _redacted(self.servers), seconds
        )
        return True


_breakers: dict[tuple[str, ...], _Breaker] = {}
_breakers_lock = threading.Lock()


def _breaker_for(servers: list[str], retry_seconds: float) -> _Breaker:
    # Django makes one cache object per thread: the outage state (and its log line) is per
    # process and Redis address instead.
    with _breakers_lock:
        breaker = _breakers.get(tuple(servers))
        if breaker is None:
            breaker = _breakers[tuple(servers)] = _Breaker(list(servers), retry_seconds)
        breaker.retry_seconds = retry_seconds
        return breaker


class FailSoftRedisCacheClient(RedisCacheClient):
    def __init__(self, servers, *, retry_seconds: float = RETRY_SECONDS, **options):
        options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT)
        options.setdefault("socket_timeout", SOCKET_TIMEOUT)
        super().__init__(servers, **options)
        self.breaker = _breaker_for(servers, float(retry_seconds))
        self.sender: type = type(self)
        self._clients: dict[int, redis.Redis] = {}  # by id() of their connection pool

    def get_client(self, key=None, *, write=False):
        # Django builds a new redis.Redis (and its table of reply parsers, ~0.2 ms) for every
        # call; one per connection pool does, as redis.Redis is safe to share between threads.
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    @property
    def is_down(self) -> bool:
        return self.breaker.down_since is not None

    def _call(self, operation: str, fallback, *args):
        """The parent's `operation`, or `fallback` (raised when an exception) if Redis fails."""
        if self.breaker.down_since is not None:
            if self.breaker.skip() or not self._reconnect():
                return _fallback(fallback)
        try:
            return getattr(super(), operation)(*args)
        except _FAILURES as exc:
            self.breaker.failed(exc)
            return _fallback(fallback)

    def _reconnect(self) -> bool:
        """After an outage: ping Redis, and tell listeners before anything is read again."""
        try:
            self.get_client(None, write=True).ping()
        except _FAILURES as exc:
            self.breaker.failed(exc)
            return False
        if self.breaker.succeeded():
            cache_reconnected.send(sender=self.sender)
        return True

    def add(self, key, value, timeout):
        return self._call("add", False, key, value, timeout)

    def get(self, key, default):
        return self._call("get", default, key, default)

    def set(self, key, value, timeout):
        return self._call("set", None, key, value, timeout)

    def touch(self, key, timeout):
        return self._call("touch", False, key, timeout)

    def delete(self, key):
        return self._call("delete", False, key)

    def get_many(self, keys):
        return self._call("get_many", {}, keys)

    def has_key(self, key):
        return self._call("has_key", False, key)

    def incr(self, key, delta):
        # Callers treat ValueError as "no such counter" and start again (or fail open).
        return self._call(
            "incr", ValueError(f"Key {key!r} not found (the cache is down)."), key, delta
        )

    def set_many(self, data, timeout):
        return self._call("set_many", None, data, timeout)

    def delete_many(self, keys):
        return self._call("delete_many", None, keys)

    def clear(self):
        return self._call("clear", False)


class FailSoftRedisCache(RedisCache):
    """Django's RedisCache, answering as an empty cache while Redis is unreachable.

    OPTIONS may set `retry_seconds` (default 5) besides redis-py's connection options;
    `socket_connect_timeout` and `socket_timeout` default to 1 second.
    """

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = FailSoftRedisCacheClient

    @cached_property
    def _cache(self) -> FailSoftRedisCacheClient:
        client = self._class(self._servers, **self._options)
        client.sender = type(self)
        return client

    @property
    def is_down(self) -> bool:
        return self._cache.is_down


def _fallback(fallback):
    if isinstance(fallback, BaseException):
        raise fallback
    return fallback


def _redacted(servers: list[str]) -> str:
    """Server URLs without their passwords, for the log."""
    shown = []
    for url in servers:
        scheme, sep, rest = url.partition("://")
        if "@" in rest:
            rest = "***@" + rest.rsplit("@", 1)[1]
        shown.append(f"{scheme}{sep}{rest}")
    return ", ".join(shown)
