"""Job items without a broker: idempotent processing, give-up after repeated deaths, the time-limit watchdog."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded

from stn.inference import Engine
from tests.support import TILTED, encode, make_checkpoint, photo
from tests.workers.conftest import ROOT
from workers.celery_app import TASK_NAME, _watchdog, make_celery
from workers.config import WorkerSettings
from workers.jobstore import JobStore
from workers.processing import process_items


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    e = Engine.from_checkpoint(make_checkpoint(tmp_path_factory.mktemp("m") / "tilted", theta=TILTED))
    yield e
    e.close()


def test_processing_twice_neither_duplicates_nor_changes_results(engine, tmp_path):
    store = JobStore(tmp_path)
    meta = store.create([(f"{i}.png", encode(photo(seed=i))) for i in range(3)], options={"format": "jpeg"})
    assert process_items(store, engine, meta["id"], [0, 1, 2], max_attempts=3) == 3
    before = {i: (tmp_path / meta["id"] / "results" / f"{i:05d}.json").read_bytes() for i in range(3)}
    assert process_items(store, engine, meta["id"], [0, 1, 2], max_attempts=3) == 0  # a redelivered task
    after = {i: (tmp_path / meta["id"] / "results" / f"{i:05d}.json").read_bytes() for i in range(3)}
    assert before == after and store.progress(meta["id"]).finished
    assert [store.attempts(meta["id"], i) for i in range(3)] == [1, 1, 1]
    assert store.finished_at(meta["id"]) is not None and not store.mark_finished(meta["id"])


def test_an_item_whose_worker_keeps_dying_is_failed_not_retried_forever(engine, tmp_path):
    store = JobStore(tmp_path)
    meta = store.create([("a.png", encode(photo()))], options={})
    for _ in range(2):  # two deliveries that died mid-item
        store.start_attempt(meta["id"], 0)
    assert process_items(store, engine, meta["id"], [0], max_attempts=2) == 1
    assert store.result(meta["id"], 0)["error"]["code"] == "gave_up"


def test_deleted_job_is_skipped(engine, tmp_path):
    store = JobStore(tmp_path)
    meta = store.create([("a.png", encode(photo()))], options={})
    store.delete(meta["id"])
    assert process_items(store, engine, meta["id"], [0], max_attempts=3) == 0
    assert store.sweep(0) == [] and list(tmp_path.iterdir()) == []


def test_settings_refuse_a_visibility_timeout_below_the_time_limit():
    with pytest.raises(ValueError, match="visibility_timeout_s"):
        WorkerSettings(task_soft_time_limit_s=10, task_time_limit_s=20, visibility_timeout_s=15)


def test_watchdog_soft_limit_in_a_solo_worker(monkeypatch):
    monkeypatch.setenv("DOCSTN_WORKER_POOL", "solo")
    s = WorkerSettings(task_soft_time_limit_s=0.2, task_time_limit_s=5, visibility_timeout_s=10)
    t0 = time.monotonic()
    with pytest.raises(SoftTimeLimitExceeded), _watchdog(s):
        time.sleep(3)
    assert time.monotonic() - t0 < 2


def test_watchdog_hard_limit_ends_the_process():
    code = (
        "import os, time\n"
        "os.environ['DOCSTN_WORKER_POOL'] = 'threads'\n"
        "from workers.celery_app import _watchdog\n"
        "from workers.config import WorkerSettings\n"
        "s = WorkerSettings(task_soft_time_limit_s=0.1, task_time_limit_s=0.3, visibility_timeout_s=1)\n"
        "import threading\n"
        "def body():\n"
        "    with _watchdog(s):\n"
        "        time.sleep(10)\n"
        "t = threading.Thread(target=body); t.start(); t.join()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=30)
    assert proc.returncode == 70, proc.stderr.decode()[-2000:]


def test_a_chunk_over_its_soft_limit_is_requeued_item_by_item(tmp_path, monkeypatch, redis_server):
    monkeypatch.setenv("DOCSTN_WORKER_POOL", "solo")  # SIGALRM enforcement in this (main) thread
    ckpt = make_checkpoint(tmp_path / "model", theta=TILTED)
    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings = WorkerSettings(redis_url=redis_server.url, queue=queue, job_store=tmp_path / "jobs", model_dir=ckpt,
                              task_soft_time_limit_s=0.02, task_time_limit_s=30, visibility_timeout_s=60)  # fmt: skip
    store = JobStore(settings.job_store)
    meta = store.create([(f"{i}.png", encode(photo(2000, 1500, seed=i))) for i in range(3)], options={"width": 3000})
    app = make_celery(settings)
    task = app.tasks[TASK_NAME]
    task.run(meta["id"], [0, 1, 2])  # the task body in this process: too slow for 0.02 s
    client = redis.Redis.from_url(redis_server.url)
    bodies = [json.loads(base64.b64decode(json.loads(m)["body"])) for m in client.lrange(queue, 0, -1)]
    assert sorted(b[0][1] for b in bodies) == [[0], [1], [2]] and {b[0][0] for b in bodies} == {meta["id"]}
    task.run(meta["id"], [1])  # a single item over the limit is failed, not requeued again
    assert store.result(meta["id"], 1)["error"]["code"] == "time_limit"
    assert client.llen(queue) == 3
    client.delete(queue)
    app.close()
