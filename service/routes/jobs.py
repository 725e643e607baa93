"""``/v1/jobs``: many photos stored in the job store, processed by workers (or in-process), polled for progress."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from stn.imageio import ENCODINGS
from workers.jobstore import JobNotFoundError

from ..deps import ClientDep, EngineDep, SettingsDep, StateDep, StoreDep
from ..errors import ApiError, ErrorBody
from ..metrics import JOBS
from ..schemas import Format, JobCreated, JobStatus
from .rectify import read_upload

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = logging.getLogger("docstn.api")
_ERRORS = {s: {"model": ErrorBody} for s in (401, 404, 413, 422, 429, 503)}


def _not_found(job_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no job {job_id!r} (never created, deleted, or expired)")


@router.post("", status_code=202, response_model=JobCreated, responses=_ERRORS, summary="Queue many photos")
async def create_job(
    request: Request,
    state: StateDep,
    settings: SettingsDep,
    _engine: EngineDep,
    _client: ClientDep,
    files: Annotated[list[UploadFile], File(description="The photos.")],
    width: Annotated[int | None, Form(ge=1, le=16384)] = None,
    height: Annotated[int | None, Form(ge=1, le=16384)] = None,
    format: Annotated[Format, Form()] = "png",
    webhook: Annotated[
        str | None, Form(max_length=2000, description="POSTed {id, state, progress} at the end.")
    ] = None,
):
    """Store the uploads and queue them in chunks; poll ``status_url``."""
    if not files:
        raise ApiError(422, "invalid_request", "files: at least one file is required")
    if len(files) > settings.max_job_files:
        raise ApiError(413, "too_many_files", f"{len(files)} files; at most {settings.max_job_files} a job")
    if webhook is not None:
        parts = urlsplit(webhook)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(422, "invalid_request", "webhook: expected an http:// or https:// URL with a host")
        if not settings.webhook_host_allowed(parts.hostname):
            raise ApiError(422, "invalid_request", f"webhook: host {parts.hostname!r} is not in DOCSTN_WEBHOOK_HOSTS")
    uploads = [(f.filename or f"file{i}", await read_upload(f, settings.max_upload_bytes)) for i, f in enumerate(files)]
    options = {"width": width, "height": height, "format": format}
    meta = await run_in_threadpool(state.store.create, uploads, options=options, webhook=webhook)
    try:
        await run_in_threadpool(state.queue.submit, meta["id"], list(range(meta["total"])))
    except Exception as e:  # broker down: no half-queued job is left behind
        log.error("could not queue a job", extra={"job_id": meta["id"], "error": repr(e)})
        await run_in_threadpool(state.store.delete, meta["id"])
        raise ApiError(503, "queue_unavailable", "the job queue is unreachable; retry later") from None
    JOBS.labels("created").inc()
    url = str(request.url_for("get_job", job_id=meta["id"]).path)
    return JSONResponse(
        {"id": meta["id"], "status_url": url, "total": meta["total"]}, status_code=202, headers={"Location": url}
    )


@router.get("/{job_id}", response_model=JobStatus, responses=_ERRORS, summary="A job's progress and results")
async def get_job(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    _client: ClientDep,
    job_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=0, le=10000)] = 1000,
):
    """Progress counts of the whole job, and items ``offset`` to ``offset + limit`` (each pending, done with its
    result and ``crop_url``, or failed with its ``error``)."""
    try:
        body = await run_in_threadpool(_job_status, store, job_id, offset, limit, settings.job_ttl_s)
    except JobNotFoundError:
        raise _not_found(job_id) from None
    for item in body["items"]:
        if item["state"] == "done" and item.pop("crop_file", None):
            item["crop_url"] = str(request.url_for("get_crop", job_id=job_id, index=item["index"]).path)
    return JSONResponse(body)


def _job_status(store, job_id: str, offset: int, limit: int, ttl_s: float) -> dict:
    meta = store.meta(job_id)
    results = store.results(job_id)
    total = meta["total"]
    failed = sum(1 for r in results.values() if "error" in r)
    finished = store.finished_at(job_id)
    items = []
    for i in range(offset, min(total, offset + limit)):
        r = results.get(i)
        if r is None:
            items.append({"index": i, "filename": meta["filenames"][i], "state": "pending"})
        else:
            items.append({**r, "state": "failed" if "error" in r else "done"})
    n = len(results)
    return {
        "id": job_id,
        "state": "done" if n >= total else ("running" if n else "queued"),
        "progress": {"done": n - failed, "failed": failed, "total": total},
        "created": meta["created"],
        "finished": finished,
        "expires_at": finished + ttl_s if finished else None,
        "items": items,
    }


@router.get(
    "/{job_id}/items/{index}/crop",
    responses={200: {"content": {m: {} for m, _ in ENCODINGS.values()}}, **_ERRORS},
    response_class=Response,
    summary="One item's crop",
)
async def get_crop(store: StoreDep, _client: ClientDep, job_id: str, index: int):
    try:
        path = await run_in_threadpool(store.crop_path, job_id, index)
    except JobNotFoundError:
        raise _not_found(job_id) from None
    if path is None:
        raise ApiError(404, "not_found", f"job {job_id} has no crop for item {index} (pending, failed or no such item)")
    media = next((m for m, ext in ENCODINGS.values() if ext == path.suffix), "application/octet-stream")
    return FileResponse(path, media_type=media)


@router.delete("/{job_id}", status_code=204, responses=_ERRORS, summary="Delete a job and its results")
async def delete_job(store: StoreDep, _client: ClientDep, job_id: str):
    try:
        await run_in_threadpool(store.delete, job_id)
    except JobNotFoundError:
        raise _not_found(job_id) from None
    JOBS.labels("deleted").inc()
    return Response(status_code=204)
