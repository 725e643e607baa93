"""Pre-start check: wait for Redis with a bounded retry, so that a container that starts first fails clearly."""

from __future__ import annotations

import time

import redis

__all__ = ["wait_for_redis"]


def wait_for_redis(url: str, *, timeout_s: float = 30.0, interval_s: float = 0.5) -> None:
    """Return once Redis at ``url`` answers PING; raise ``RuntimeError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            try:
                if client.ping():
                    return
            finally:
                client.close()
        except redis.RedisError as e:
            last = e
        time.sleep(interval_s)
    raise RuntimeError(f"Redis at {url} did not answer within {timeout_s:.0f} s ({last})")
