"""What the app holds for its lifetime (built in ``main.lifespan``, reached through ``deps``)."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from stn.inference import Engine
from workers.jobstore import JobStore

from .config import Settings
from .jobqueue import CeleryQueue, EmbeddedRunner
from .ratelimit import RateLimiter

__all__ = ["AppState"]


@dataclass
class AppState:
    settings: Settings
    store: JobStore
    queue: CeleryQueue | EmbeddedRunner
    limiter: RateLimiter
    engine: Engine | None = None
    engine_error: str | None = None
    redis: redis.Redis | None = None
