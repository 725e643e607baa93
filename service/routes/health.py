"""``/healthz`` (the process answers), ``/readyz`` (it can do work), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from ..deps import StateDep
from ..metrics import QUEUE_DEPTH

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: model loaded, job store writable, Redis reachable when configured")
async def readyz(state: StateDep):
    checks = await run_in_threadpool(_checks, state)
    ok = all(c["ok"] for c in checks.values())
    body = {"status": "ready" if ok else "not_ready", "checks": checks}
    if state.engine is not None:
        body["model"] = state.engine.info
    if not ok:
        failing = "; ".join(f"{k}: {c['message']}" for k, c in checks.items() if not c["ok"])
        body["error"] = {"code": "not_ready", "message": failing}
    return JSONResponse(body, status_code=200 if ok else 503)


def _checks(state) -> dict:
    checks = {
        "model": {"ok": state.engine is not None, "message": state.engine_error or "loaded"},
        "job_store": {"ok": state.store.root.is_dir(), "message": str(state.store.root)},
    }
    if state.redis is not None:
        try:
            state.redis.ping()
            checks["redis"] = {"ok": True, "message": "reachable"}
        except Exception as e:
            checks["redis"] = {"ok": False, "message": f"unreachable ({type(e).__name__})"}
    return checks


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: StateDep):
    try:
        QUEUE_DEPTH.set(await run_in_threadpool(state.queue.queue_depth))
    except Exception:
        QUEUE_DEPTH.set(float("nan"))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
