"""Processing job items: the one code path behind Celery tasks and the embedded (in-process) runner."""

from __future__ import annotations

import logging
import time

import httpx
from prometheus_client import Counter, Histogram

from stn.imageio import ENCODINGS, ImageError
from stn.inference import Engine

from .jobstore import JobNotFoundError, JobStore

__all__ = ["ITEMS", "ITEM_SECONDS", "fail_items", "finish_if_complete", "process_items", "send_webhook"]

log = logging.getLogger("docstn.worker")

ITEMS = Counter("docstn_job_items_total", "Job items finished, by outcome.", ["outcome"])
ITEM_SECONDS = Histogram(
    "docstn_job_item_seconds",
    "Wall time per job item (decode to stored crop).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def process_items(
    store: JobStore, engine: Engine, job_id: str, indices: list[int], *, max_attempts: int, webhook_timeout_s: float = 5
) -> int:
    """Rectify the job's ``indices`` that have no result yet, store each result; return how many were written.

    Idempotent: an item that already has a result is skipped, and writes are atomic, so a redelivered task
    neither duplicates nor loses a result. An item started ``max_attempts`` times without finishing (its
    worker died each time) is stored as failed instead of being tried again.
    """
    try:
        meta = store.meta(job_id)
    except JobNotFoundError:
        log.info("job gone; skipping its items", extra={"job_id": job_id})
        return 0
    opts = meta.get("options") or {}
    fmt = opts.get("format", "png")
    todo: list[int] = []
    written = 0
    try:
        for i in indices:
            if store.result(job_id, i) is not None:
                continue
            n = store.start_attempt(job_id, i)
            if n > max_attempts:
                store.write_result(
                    job_id, i, _error(meta, i, "gave_up", f"item was started {n - 1} times without finishing")
                )
                ITEMS.labels("failed").inc()
                written += 1
                continue
            todo.append(i)
        if todo:
            t0 = time.perf_counter()
            datas = [store.input_bytes(job_id, i) for i in todo]
            results = engine.rectify_many(
                datas, width=opts.get("width"), height=opts.get("height"), fmt=fmt, include_crop=True
            )
            per_item = (time.perf_counter() - t0) / len(todo)
            for i, r in zip(todo, results, strict=True):
                ITEM_SECONDS.observe(per_item)
                if isinstance(r, Exception):
                    code = r.code if isinstance(r, ImageError) else "processing_error"
                    store.write_result(job_id, i, _error(meta, i, code, str(r)))
                    ITEMS.labels("failed").inc()
                else:
                    body = {"index": i, "filename": meta["filenames"][i], **r.to_json(model=engine.info)}
                    body["crop"] = {"media_type": r.media_type, "width": r.width, "height": r.height}
                    store.write_result(job_id, i, body, r.crop, ENCODINGS[fmt][1])
                    ITEMS.labels("done").inc()
                written += 1
    except JobNotFoundError:
        log.info("job deleted while processing", extra={"job_id": job_id})
        return written
    finish_if_complete(store, job_id, webhook_timeout_s=webhook_timeout_s)
    return written


def fail_items(store: JobStore, job_id: str, indices: list[int], code: str, message: str) -> None:
    """Store ``indices`` that have no result yet as failed (e.g. the task hit its time limit)."""
    try:
        meta = store.meta(job_id)
        for i in indices:
            if store.result(job_id, i) is None:
                store.write_result(job_id, i, _error(meta, i, code, message))
                ITEMS.labels("failed").inc()
    except JobNotFoundError:
        return


def finish_if_complete(store: JobStore, job_id: str, *, webhook_timeout_s: float = 5) -> bool:
    """When every item has a result, mark the job finished (once) and send its webhook; True if this call did."""
    try:
        if store.pending(job_id) or not store.mark_finished(job_id):  # names only; results are read once, below
            return False
        p = store.progress(job_id)
        meta = store.meta(job_id)
    except JobNotFoundError:
        return False
    log.info("job finished", extra={"job_id": job_id, "done": p.done, "failed": p.failed, "total": p.total})
    if meta.get("webhook"):
        body = {"id": job_id, "state": "done", "progress": {"done": p.done, "failed": p.failed, "total": p.total}}
        send_webhook(meta["webhook"], body, timeout_s=webhook_timeout_s)
    return True


def send_webhook(url: str, body: dict, *, timeout_s: float = 5, tries: int = 3) -> bool:
    """POST ``body`` as JSON to ``url``; retried with back-off; failures are logged, never raised."""
    for attempt in range(tries):
        try:
            r = httpx.post(url, json=body, timeout=timeout_s)
            if r.status_code < 500:
                log.info("webhook sent", extra={"url": url, "status": r.status_code, "job_id": body.get("id")})
                return r.is_success
        except httpx.HTTPError as e:
            log.warning("webhook failed", extra={"url": url, "error": str(e), "attempt": attempt + 1})
        if attempt + 1 < tries:
            time.sleep(0.5 * 2**attempt)
    return False


def _error(meta: dict, i: int, code: str, message: str) -> dict:
    return {"index": i, "filename": meta["filenames"][i], "error": {"code": code, "message": message}}
