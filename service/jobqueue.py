"""Where job chunks go: Celery on Redis when ``DOCSTN_REDIS_URL`` is set, else the API's own threads."""

from __future__ import annotations

import redis

from workers.celery_app import TASK_NAME, make_celery
from workers.embedded import EmbeddedRunner, chunks

from .config import Settings

__all__ = ["CeleryQueue", "EmbeddedRunner"]


class CeleryQueue:
    """Sends one ``docstn.rectify_items`` task per chunk of items."""

    def __init__(self, settings: Settings, client: redis.Redis):
        self.settings = settings
        self.app = make_celery(settings)
        self.client = client

    def submit(self, job_id: str, indices: list[int]) -> None:
        for chunk in chunks(indices, self.settings.chunk_size):
            self.app.send_task(TASK_NAME, args=[job_id, chunk], queue=self.settings.queue)

    def queue_depth(self) -> int:
        return int(self.client.llen(self.settings.queue))

    def close(self, wait: bool = True) -> None:
        self.app.close()
