"""Redis down must not take login and the API down (issue 14, finding 4).

Redis carries two things: the rate limits' counters (shared by every web
process) and the Socket.IO message queue. When it does not answer:

- rate limiting continues in this process's memory (`FallbackRedisStorage`,
  registered with `limits` as the `crisis+redis://` scheme): one warning when
  Redis goes, one note when it is back, and then the counters are Redis's again;
- publishing to sockets is skipped with a warning (`redis_up()`): dashboards
  catch up through the resync they already do when they reconnect;
- `/healthz` reports Redis as degraded and still answers 200 for the database.

Every call to Redis has a short timeout, and after a failure Redis is only
tried again after `RETRY_SECONDS`, so a dead Redis costs requests nothing.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.storage.base import MovingWindowSupport, SlidingWindowCounterSupport

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
SCHEME = "crisis+"


class _Breaker:
    """Whether Redis answered lately; one warning per outage."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.down_since: float | None = None
        self.next_try = 0.0
        self.lock = threading.Lock()

    def should_try(self) -> bool:
        return self.down_since is None or time.monotonic() >= self.next_try

    def failed(self, error: Exception) -> None:
        with self.lock:
            now = time.monotonic()
            if self.down_since is None:
                self.down_since = now
                log.warning("redis unreachable (%s): %s; continuing without it", self.what, type(error).__name__)
            self.next_try = now + RETRY_SECONDS

    def succeeded(self) -> None:
        if self.down_since is not None:
            with self.lock:
                if self.down_since is not None:
                    log.info("redis reachable again (%s) after %.0f s", self.what,
                                time.monotonic() - self.down_since)
                    self.down_since = None

    @property
    def is_down(self) -> bool:
        return self.down_since is not None


class FallbackRedisStorage(Storage, MovingWindowSupport, SlidingWindowCounterSupport):
    """Rate-limit counters in Redis, or in this process's memory while Redis does not answer."""

    STORAGE_SCHEME = ["crisis+redis", "crisis+rediss"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.redis = RedisStorage(uri[len(SCHEME):], **{**TIMEOUTS, **options})
        self.memory = MemoryStorage()
        self.breaker = _Breaker("rate limits")

    @property
    def base_exceptions(self):
        return redis.RedisError

    def _call(self, name: str, *args, **kwargs):
        if self.breaker.should_try():
            try:
                result = getattr(self.redis, name)(*args, **kwargs)
            except (redis.RedisError, OSError) as error:
                self.breaker.failed(error)
            else:
                self.breaker.succeeded()
                return result
        return getattr(self.memory, name)(*args, **kwargs)

    @property
    def using_memory(self) -> bool:
        return self.breaker.is_down

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._call("incr", key, expiry, amount=amount)

    def get(self, key: str) -> int:
        return self._call("get", key)

    def get_expiry(self, key: str) -> float:
        return self._call("get_expiry", key)

    def check(self) -> bool:
        return True  # the limiter always has a storage: Redis's or memory

    def reset(self) -> int | None:
        self.memory.reset()
        try:
            return self.redis.reset()
        except (redis.RedisError, OSError):
            return None

    def clear(self, key: str) -> None:
        self.memory.clear(key)
        self._call("clear", key)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self._call("acquire_entry", key, limit, expiry, amount=amount)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return self._call("get_moving_window", key, limit, expiry)

    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self._call("acquire_sliding_window_entry", key, limit, expiry, amount=amount)

    def get_sliding_window(self, key: str, expiry: int):
        return self._call("get_sliding_window", key, expiry)

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        self._call("clear_sliding_window", key, expiry)


def limiter_storage_uri(redis_url: str | None) -> str:
    return SCHEME + redis_url if redis_url else "memory://"


# -- the message queue and the health check --------------------------------------------------

_queue_breaker = _Breaker("socket message queue")
_clients: dict[str, redis.Redis] = {}
_last_ok = {"at": -1e9}
UP_CACHE_SECONDS = 1.0


def redis_up(url: str | None, *, fresh: bool = False) -> bool:
    """Does Redis at `url` answer a PING? (Asked at most every RETRY_SECONDS while it does not, and,
    unless `fresh` (the health check), an answer within the last second counts.)"""
    if not url:
        return False
    if not fresh and not _queue_breaker.should_try():
        return False
    if not fresh and not _queue_breaker.is_down and time.monotonic() - _last_ok["at"] < UP_CACHE_SECONDS:
        return True
    client = _clients.get(url)
    if client is None:
        client = _clients.setdefault(url, redis.Redis.from_url(url, **TIMEOUTS))
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        _queue_breaker.failed(error)
        return False
    _queue_breaker.succeeded()
    _last_ok["at"] = time.monotonic()
    return True
