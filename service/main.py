"""Builds the FastAPI app: settings -> engine, job store, job queue (Celery or embedded), routes, middleware."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import redis
from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from stn.inference import Engine, ModelUnavailableError
from workers.jobstore import JobStore
from workers.logs import configure_logging
from workers.prestart import wait_for_redis

from .config import Settings, get_settings
from .deps import get_client
from .errors import install_error_handlers
from .jobqueue import CeleryQueue, EmbeddedRunner
from .middleware import RequestContextMiddleware
from .ratelimit import RateLimiter
from .routes import health, jobs, rectify
from .state import AppState

__all__ = ["create_app"]

log = logging.getLogger("docstn.api")


def build_state(settings: Settings) -> AppState:
    """Load the model (a missing model is reported by /readyz and 503s, not a crash), open the job store, connect
    the queue."""
    engine, engine_error = None, None
    try:
        engine = Engine.from_checkpoint(settings.model_dir, **settings.engine_kwargs())
        log.info("model loaded", extra={"model": engine.info})
    except ModelUnavailableError as e:
        engine_error = str(e)
        log.error("no model: the service starts but is not ready", extra={"reason": engine_error})
    store = JobStore(settings.job_store)
    client = None
    if settings.redis_url:
        wait_for_redis(settings.redis_url, timeout_s=settings.redis_timeout_s)
        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        queue: CeleryQueue | EmbeddedRunner = CeleryQueue(settings, client)
    else:
        queue = EmbeddedRunner(store, lambda: engine, settings, threads=settings.embedded_threads)
        if engine is not None:
            resumed = queue.resume()
            if resumed:
                log.info("resumed unfinished job items", extra={"items": resumed})
    limiter = RateLimiter(settings.rate_limit_per_minute, client)
    return AppState(settings, store, queue, limiter, engine, engine_error, client)


async def _sweep_forever(state: AppState) -> None:
    while True:
        try:
            gone = await run_in_threadpool(state.store.sweep, state.settings.job_ttl_s)
            if gone:
                log.info("expired jobs deleted", extra={"jobs": gone})
        except Exception:
            log.exception("job sweep failed")
        await asyncio.sleep(state.settings.sweep_interval_s)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The DocSTN API (``uvicorn --factory service.main:create_app``, or ``docstn serve``)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = await run_in_threadpool(build_state, settings)
        app.state.docstn = state
        sweeper = asyncio.create_task(_sweep_forever(state))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            state.queue.close(wait=False)
            if state.engine is not None:
                state.engine.close()
            if state.redis is not None:
                state.redis.close()

    app = FastAPI(
        title="DocSTN",
        version="0.1.0",
        description="Find the document in a photo, tell which way is up, return the rectified crop.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(rectify.router)
    app.include_router(jobs.router)
    _mount_annotation(app, settings.annotate_dir)

    def limit_for_path(path: str) -> int:
        if path.startswith("/v1/jobs"):
            return settings.max_job_bytes
        return settings.max_upload_bytes + 64 * 1024  # room for the multipart framing and form fields

    app.add_middleware(RequestContextMiddleware, limit_for_path=limit_for_path)
    return app


def _mount_annotation(app: FastAPI, folder: Path | None) -> None:
    """Mount the annotation page (``annotation.capture``) at /annotate over ``folder``, behind the API keys."""
    if folder is None:
        return
    if importlib.util.find_spec("annotation.capture") is None:
        log.warning("annotation.capture is not installed: /annotate is not mounted")
        return
    capture = importlib.import_module("annotation.capture")
    folder.mkdir(parents=True, exist_ok=True)
    app.include_router(capture.create_router(folder), prefix="/annotate", dependencies=[Depends(get_client)])
