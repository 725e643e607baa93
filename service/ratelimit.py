"""A per-key fixed-window rate limit: in memory, or in Redis when configured (shared by all API replicas)."""

from __future__ import annotations

import threading
import time

import redis

__all__ = ["RateLimiter"]


class RateLimiter:
    """``hit(key)`` counts one request; it returns None when allowed, else the seconds until the next window."""

    def __init__(self, per_minute: int, client: redis.Redis | None = None):
        self.per_minute = per_minute
        self.client = client
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int | None:
        if self.per_minute <= 0:
            return None
        now = time.time() if now is None else now
        window = int(now // 60)
        retry_after = max(1, int(60 - now % 60))
        if self.client is not None:
            name = f"docstn:ratelimit:{key}:{window}"
            pipe = self.client.pipeline()
            pipe.incr(name)
            pipe.expire(name, 61)
            count = int(pipe.execute()[0])
        else:
            with self._lock:
                w, c = self._counts.get(key, (window, 0))
                count = (c if w == window else 0) + 1
                self._counts[key] = (window, count)
                if len(self._counts) > 100_000:  # forget old windows
                    self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
        return retry_after if count > self.per_minute else None
