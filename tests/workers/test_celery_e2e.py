"""End to end with the real parts: redis-server (AOF), `docstn serve` (uvicorn) and `docstn worker` (Celery).

Every item of a job completes exactly once with a result when its worker is killed with SIGKILL mid-job, and
when Redis restarts mid-job.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import redis

from tests.support import encode, photo
from tests.workers.conftest import stop, wait_for

pytestmark = pytest.mark.slow

N = 20


def submit(stack) -> str:
    files = [("files", (f"p{i:02d}.jpg", encode(photo(1200, 900, seed=i), "JPEG"), "image/jpeg")) for i in range(N)]
    r = stack.http.post("/v1/jobs", files=files, data={"width": "1200", "height": "1600", "format": "png"})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def progress(stack, job_id) -> dict:
    return stack.http.get(f"/v1/jobs/{job_id}", params={"limit": 0}).json()["progress"]


def wait_all_done(stack, job_id, timeout: float = 120) -> None:
    """Wait until every item has its result; on timeout say where the job stands."""
    try:
        wait_for(lambda: progress(stack, job_id)["done"] == N, timeout, interval=0.2, what="all items done")
    except TimeoutError as e:
        raise AssertionError(f"{e}: progress {progress(stack, job_id)}") from None


def check_exactly_once(stack, job_id) -> None:
    job = stack.http.get(f"/v1/jobs/{job_id}").json()
    assert job["state"] == "done" and job["progress"] == {"done": N, "failed": 0, "total": N}, job["progress"]
    assert [it["index"] for it in job["items"]] == list(range(N))
    assert [it["filename"] for it in job["items"]] == [f"p{i:02d}.jpg" for i in range(N)]
    results = sorted(p.name for p in (stack.job_store / job_id / "results").iterdir())
    assert results == [f"{i:05d}.json" for i in range(N)]  # one result file per item, no leftovers
    crops = sorted(p.name for p in (stack.job_store / job_id / "crops").iterdir())
    assert crops == [f"{i:05d}.png" for i in range(N)]
    first = job["items"][0]
    assert (first["crop"]["width"], first["crop"]["height"]) == (1200, 1600)
    r = stack.http.get(first["crop_url"])
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")


def test_kill_9_worker_mid_job_then_another_finishes_every_item(stack, redis_server):
    w1 = stack.worker("--pool", "prefork", "--concurrency", "1")
    job_id = submit(stack)
    broker = redis.Redis.from_url(redis_server.url)
    wait_for(lambda: progress(stack, job_id)["done"] >= 2, 90, interval=0.02, what="2 items done")

    def frozen_holding_a_task() -> bool:  # freeze the worker; keep it frozen only while it holds a task
        os.killpg(w1.pid, signal.SIGSTOP)
        if broker.hlen("unacked") == 1:
            return True
        os.killpg(w1.pid, signal.SIGCONT)
        return False

    wait_for(frozen_holding_a_task, 30, interval=0.01, what="worker caught holding a task")
    stop(w1, signal.SIGKILL)  # the whole process group: the parent and its pool child
    at_kill = progress(stack, job_id)["done"]
    assert at_kill < N, "the job finished before the kill: the test proves nothing"
    assert broker.hlen("unacked") == 1  # prefetch 1 + acks_late: it held one task, unacknowledged
    time.sleep(0.5)
    assert progress(stack, job_id)["done"] == at_kill  # nobody is working now
    w2 = stack.worker("--pool", "solo")
    try:
        wait_all_done(stack, job_id)
        check_exactly_once(stack, job_id)
        attempts = [int(p.read_text()) for p in (stack.job_store / job_id / "attempts").iterdir()]
        assert len(attempts) == N and max(attempts) <= 2
    finally:
        stop(w2)


def test_redis_restart_mid_job_loses_nothing(stack, redis_server):
    w = stack.worker("--pool", "solo")
    try:
        job_id = submit(stack)
        wait_for(lambda: progress(stack, job_id)["done"] >= 2, 90, interval=0.02, what="2 items done")
        redis_server.stop()
        at_stop = progress(stack, job_id)["done"]
        assert at_stop < N, "the job finished before Redis stopped: the test proves nothing"
        redis_server.start()
        wait_all_done(stack, job_id)
        check_exactly_once(stack, job_id)
        ready = stack.http.get("/readyz").json()
        assert ready["checks"]["redis"]["ok"] is True
    finally:
        stop(w)


def test_metrics_show_queue_depth_from_redis(stack):
    text = stack.http.get("/metrics").text
    line = next(x for x in text.splitlines() if x.startswith("docstn_queue_depth "))
    assert float(line.split()[1]) == 0.0
    assert json.loads(json.dumps(stack.http.get("/readyz").json()))["status"] == "ready"


def test_jobs_answer_503_while_redis_is_down(stack, redis_server):
    jobs_before = sorted(p.name for p in stack.job_store.iterdir() if not p.name.startswith("."))
    redis_server.stop()
    try:
        files = [("files", ("a.jpg", encode(photo(), "JPEG"), "image/jpeg"))]
        r = stack.http.post("/v1/jobs", files=files)
        assert r.status_code == 503 and r.json()["error"]["code"] == "queue_unavailable"
        ready = stack.http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"]["ok"] is False
        jobs_after = sorted(p.name for p in stack.job_store.iterdir() if not p.name.startswith("."))
        assert jobs_after == jobs_before  # the job that could not be queued was not kept
    finally:
        redis_server.start()
    wait_for(lambda: stack.http.get("/readyz").status_code == 200, 30, interval=0.2, what="ready again")
