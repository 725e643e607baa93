"""``docstn worker``: a Celery worker for the rectify tasks."""

from __future__ import annotations

import os
import socket
import uuid

import click

__all__ = ["worker"]


@click.command(context_settings={"show_default": True})
@click.option("--concurrency", "-c", type=click.IntRange(1, 256), default=1, help="Processes (prefork) or threads.")
@click.option(
    "--pool",
    type=click.Choice(["prefork", "solo", "threads"]),
    default=None,
    help="Celery pool [default: prefork on CPU, solo on a GPU].",
)
@click.option("--device", default=None, help="cpu, cuda or cuda:N (default: DOCSTN_DEVICE or cpu).")
@click.option("--model", "model_dir", default=None, type=click.Path(file_okay=False), help="Checkpoint folder.")
@click.option("--loglevel", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--metrics-port", type=int, default=None, help="Serve this process's Prometheus metrics on a port.")
@click.option("--redis-timeout", type=float, default=30.0, help="Seconds to wait for Redis at start.")
@click.option("--name", default=None, help="Celery node name [default: docstn-<random>@<host>].")
def worker(
    concurrency: int,
    pool: str | None,
    device: str | None,
    model_dir: str | None,
    loglevel: str,
    metrics_port: int | None,
    redis_timeout: float,
    name: str | None,
) -> None:
    """Run a worker: tasks from DOCSTN_REDIS_URL, results into DOCSTN_JOB_STORE.

    GPU workers: start one per GPU, e.g. ``CUDA_VISIBLE_DEVICES=1 docstn worker --device cuda``; they use the solo
    pool (one process, no fork) and touch CUDA only when the first task loads the model.
    """
    from .config import WorkerSettings
    from .logs import configure_logging
    from .prestart import wait_for_redis

    overrides = {k: v for k, v in {"device": device, "model_dir": model_dir}.items() if v is not None}
    settings = WorkerSettings(**overrides)
    if not settings.redis_url:
        raise click.ClickException("DOCSTN_REDIS_URL is not set: `docstn serve` runs jobs in-process without Redis")
    gpu = settings.device.startswith("cuda")
    if pool is None:
        pool = "solo" if gpu else "prefork"
    if gpu and (pool != "solo" or concurrency != 1):
        raise click.ClickException("a GPU worker is one solo-pool process per GPU (--pool solo --concurrency 1)")
    if pool == "solo":
        concurrency = 1
    os.environ["DOCSTN_WORKER_POOL"] = pool  # the task's watchdog enforces time limits where the pool cannot
    configure_logging(loglevel)
    try:
        wait_for_redis(settings.redis_url, timeout_s=redis_timeout)
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None
    settings.job_store.mkdir(parents=True, exist_ok=True)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)

    from .celery_app import make_celery

    app = make_celery(settings)
    app.worker_main(
        [
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            f"--queues={settings.queue}",
            f"--loglevel={loglevel.upper()}",
            f"--hostname={name or f'docstn-{uuid.uuid4().hex[:6]}@{socket.gethostname()}'}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
