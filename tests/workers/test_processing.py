"""Job items without a broker: idempotent processing, give-up after repeated deaths, the time-limit watchdog."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from stn.inference import Engine
from tests.support import TILTED, encode, make_checkpoint, photo
from tests.workers.conftest import ROOT
from workers.celery_app import _watchdog
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
