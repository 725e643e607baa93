"""Prometheus metrics of the API (the job item counters live in ``workers.processing``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

__all__ = ["INFERENCE_SECONDS", "JOBS", "QUEUE_DEPTH", "REQUEST_SECONDS"]

REQUEST_SECONDS = Histogram(
    "docstn_http_request_duration_seconds",
    "HTTP request latency.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INFERENCE_SECONDS = Histogram(
    "docstn_inference_seconds",
    "Time per stage of POST /v1/rectify.",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
JOBS = Counter("docstn_jobs_total", "Jobs by event.", ["event"])
QUEUE_DEPTH = Gauge("docstn_queue_depth", "Tasks waiting (Redis list length, or embedded chunks queued).")

disable_created_metrics()  # no *_created series: they double the scrape for nothing
