"""Jobs without a broker: the API process runs them on a small thread pool (``docstn serve`` with no Redis)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from stn.inference import Engine

from .config import WorkerSettings
from .jobstore import JobNotFoundError, JobStore
from .processing import process_items

__all__ = ["EmbeddedRunner", "chunks"]

log = logging.getLogger("docstn.worker")


def chunks(indices: list[int], size: int) -> list[list[int]]:
    """Split item indices into tasks of at most ``size``.

    Example:
        >>> chunks([0, 1, 2, 3, 4], 2)
        [[0, 1], [2, 3], [4]]
    """
    return [indices[i : i + size] for i in range(0, len(indices), size)]


class EmbeddedRunner:
    """Runs job chunks in-process with the API's own engine; unfinished jobs are resumed at start."""

    def __init__(self, store: JobStore, engine: Callable[[], Engine], settings: WorkerSettings, *, threads: int = 1):
        self.store = store
        self.engine = engine
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="docstn-job")
        self._lock = threading.Lock()
        self._queued = 0

    def submit(self, job_id: str, indices: list[int]) -> None:
        for chunk in chunks(indices, self.settings.chunk_size):
            with self._lock:
                self._queued += 1
            self._pool.submit(self._run, job_id, chunk)

    def _run(self, job_id: str, chunk: list[int]) -> None:
        try:
            process_items(
                self.store,
                self.engine(),
                job_id,
                chunk,
                max_attempts=self.settings.max_attempts,
                webhook_timeout_s=self.settings.webhook_timeout_s,
            )
        except Exception:
            log.exception("job chunk failed", extra={"job_id": job_id, "items": chunk})
        finally:
            with self._lock:
                self._queued -= 1

    def resume(self) -> int:
        """Queue the unfinished items of every stored job (after a restart); return how many."""
        n = 0
        for job_id in self.store.job_ids():
            try:
                left = self.store.pending(job_id)
            except JobNotFoundError:
                continue
            if left:
                self.submit(job_id, left)
                n += len(left)
        return n

    def queue_depth(self) -> int:
        """Chunks waiting or running."""
        with self._lock:
            return self._queued

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
