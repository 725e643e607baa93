"""``docstn serve``: the HTTP service (with jobs in-process unless DOCSTN_REDIS_URL names a broker)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["serve"]


@click.command(context_settings={"show_default": True})
@click.option("--host", default=None, help="Bind address [default: DOCSTN_HOST or 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: DOCSTN_PORT or 8000].")
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--job-store", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--redis-url", default=None, help="Broker; without one jobs run in this process.")
def serve(host: str | None, port: int | None, model_dir: Path | None, job_store: Path | None, redis_url: str | None):
    """Serve POST /v1/rectify, /v1/jobs, /healthz, /readyz, /metrics and /docs (settings: DOCSTN_* variables)."""
    import uvicorn

    from .config import Settings
    from .main import create_app

    overrides = {"host": host, "port": port, "model_dir": model_dir, "job_store": job_store, "redis_url": redis_url}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
