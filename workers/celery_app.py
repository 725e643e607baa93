"""The Celery app: Redis broker, tasks that take a job id and item indices, results in the job store.

Delivery guarantees: ``acks_late`` + ``reject_on_worker_lost`` (a task whose worker dies goes back to the
queue), prefetch 1 (a worker holds at most the task it runs), a Redis visibility timeout above the longest
task (a task whose worker vanished, e.g. ``kill -9``, is delivered again after it), soft and hard time
limits. Tasks are idempotent (:func:`workers.processing.process_items`), so a second delivery is harmless.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import contextmanager

from celery import Celery, signals
from celery.exceptions import SoftTimeLimitExceeded

from .config import WorkerSettings

__all__ = ["TASK_NAME", "make_celery", "worker_state"]

TASK_NAME = "docstn.rectify_items"
log = logging.getLogger("docstn.worker")


def make_celery(settings: WorkerSettings) -> Celery:
    """A Celery app configured from ``settings`` with the rectify task registered."""
    if not settings.redis_url:
        raise ValueError("DOCSTN_REDIS_URL is not set: Celery needs a Redis broker")
    app = Celery("docstn", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_soft_time_limit=settings.task_soft_time_limit_s,
        task_time_limit=settings.task_time_limit_s,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            # look for messages of vanished workers every few seconds (kombu's default is every ~100 s)
            "unacked_restore_interval": max(1.0, min(10.0, settings.visibility_timeout_s / 4)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
    )
    global _SETTINGS
    _SETTINGS = settings

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)
    def rectify_items(self, job_id: str, indices: list[int]) -> int:
        from .jobstore import JobStore
        from .processing import fail_items, process_items

        state = worker_state(settings)
        store = JobStore(settings.job_store)
        engine = state.engine()  # loaded once per process, before the task's clock starts
        try:
            with _watchdog(settings):
                return process_items(
                    store,
                    engine,
                    job_id,
                    indices,
                    max_attempts=settings.max_attempts,
                    webhook_timeout_s=settings.webhook_timeout_s,
                )
        except SoftTimeLimitExceeded:
            left = [i for i in indices if store.exists(job_id) and store.result(job_id, i) is None]
            if len(left) > 1:  # split the chunk: one slow image must not fail the others
                log.warning("chunk hit its time limit; re-queued one by one", extra={"job_id": job_id, "items": left})
                for i in left:
                    self.app.send_task(TASK_NAME, args=[job_id, [i]], queue=settings.queue)
            else:
                fail_items(store, job_id, left, "time_limit", f"took longer than {settings.task_soft_time_limit_s} s")
            return 0

    return app


class _WorkerState:
    """What one worker process loads once: the engine (after fork, so CUDA is first touched in the child)."""

    def __init__(self, settings: WorkerSettings):
        self.settings = settings
        self._engine = None
        self._lock = threading.Lock()

    def engine(self):
        with self._lock:
            if self._engine is None:
                import torch

                from stn.inference import Engine

                if self.settings.torch_threads:
                    torch.set_num_threads(self.settings.torch_threads)
                self._engine = Engine.from_checkpoint(self.settings.model_dir, **self.settings.engine_kwargs())
                log.info("model loaded", extra={"pid": os.getpid(), "model": self._engine.info})
            return self._engine


_STATE: _WorkerState | None = None
_SETTINGS: WorkerSettings | None = None  # of the last app made in this process


def worker_state(settings: WorkerSettings) -> _WorkerState:
    """This process's :class:`_WorkerState` (created on first use)."""
    global _STATE
    if _STATE is None or _STATE.settings is not settings:
        _STATE = _WorkerState(settings)
    return _STATE


@signals.worker_process_init.connect
def _load_model_in_child(**_):
    """Prefork: load the model in each child as it starts, not in the parent (nothing CUDA before fork)."""
    if _SETTINGS is not None:
        worker_state(_SETTINGS).engine()


@contextmanager
def _watchdog(settings: WorkerSettings):
    """Time limits where the pool cannot enforce them (solo/threads): SIGALRM raises the soft limit in the main
    thread; past the hard limit a watchdog thread ends the process, and the task is delivered again."""
    if os.environ.get("DOCSTN_WORKER_POOL", "prefork") == "prefork":
        yield
        return
    use_alarm = threading.current_thread() is threading.main_thread()
    if use_alarm:

        def on_alarm(signum, frame):
            raise SoftTimeLimitExceeded()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, settings.task_soft_time_limit_s)

    def hard_kill():
        log.error("task passed its hard time limit; exiting so that it is delivered again")
        logging.shutdown()
        os._exit(70)

    timer = threading.Timer(settings.task_time_limit_s, hard_kill)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
