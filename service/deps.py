"""FastAPI dependencies (``Annotated``): the app state, the engine, the job store, the caller's key."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from stn.inference import Engine
from workers.jobstore import JobStore

from .config import Settings
from .errors import ApiError
from .state import AppState

__all__ = ["ClientDep", "EngineDep", "SettingsDep", "StateDep", "StoreDep"]


def get_state(request: Request) -> AppState:
    return request.app.state.docstn


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_engine(state: StateDep) -> Engine:
    if state.engine is None:
        raise ApiError(503, "model_unavailable", state.engine_error or "the model is not loaded")
    return state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def get_store(state: StateDep) -> JobStore:
    return state.store


StoreDep = Annotated[JobStore, Depends(get_store)]


async def get_client(request: Request, state: StateDep) -> str:
    """Authenticate (when API keys are configured) and apply the rate limit; return the caller's id.

    The key comes from ``X-API-Key`` or ``Authorization: Bearer``; the id is a hash of it (keys are never
    logged), or the client address when there are no keys.
    """
    keys = state.settings.api_key_set
    if keys:
        key = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization") or ""
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            raise ApiError(401, "unauthorized", "missing API key (X-API-Key header or Authorization: Bearer)")
        if not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
            raise ApiError(401, "unauthorized", "invalid API key")
        client = "key:" + hashlib.sha256(key.encode()).hexdigest()[:12]
    else:
        client = "ip:" + (request.client.host if request.client else "unknown")
    request.state.client = client
    if state.settings.rate_limit_per_minute:
        retry = await run_in_threadpool(state.limiter.hit, client)
        if retry is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"more than {state.settings.rate_limit_per_minute} requests a minute; retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )
    return client


ClientDep = Annotated[str, Depends(get_client)]
