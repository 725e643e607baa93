"""Real processes for the worker tests: a redis-server with persistence on a free port, ``docstn serve`` (uvicorn)
and ``docstn worker`` (Celery), each in its own process group and stopped at the end with a timeout."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = fn()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout} s")


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


class RedisServer:
    """redis-server with AOF persistence (fsync always) in ``directory``; can be restarted on the same port."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction"]
        with open(self.dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: redis.Redis.from_url(self.url, socket_timeout=1).ping(), 15, what="redis ping")

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(redis.ConnectionError, redis.ResponseError):
                redis.Redis.from_url(self.url, socket_timeout=5).shutdown()  # persists, then exits
            stop(self.proc)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


class Stack:
    """The environment shared by the API and the workers, and helpers to start them."""

    def __init__(self, env: dict, logs: Path):
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen] = []

    def spawn(self, name: str, *args: str) -> subprocess.Popen:
        with open(self.logs / f"{name}-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "service.cli", *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def worker(self, *args: str) -> subprocess.Popen:
        return self.spawn("worker", "worker", *args)

    def close(self) -> None:
        for p in self.procs:
            stop(p)


@pytest.fixture(scope="module")
def stack(redis_server, tmp_path_factory):
    """``docstn serve`` on Redis (real uvicorn) with fast redelivery limits; workers are started by the tests."""
    from tests.support import TILTED, make_checkpoint

    root = tmp_path_factory.mktemp("stack")
    ckpt = make_checkpoint(root / "model", theta=TILTED)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DOCSTN_REDIS_URL": redis_server.url,
        "DOCSTN_JOB_STORE": str(root / "jobs"),
        "DOCSTN_MODEL_DIR": str(ckpt),
        "DOCSTN_CHUNK_SIZE": "1",
        # short enough that a lost task comes back within the test, long enough for a busy 2-core machine
        "DOCSTN_TASK_SOFT_TIME_LIMIT_S": "8",
        "DOCSTN_TASK_TIME_LIMIT_S": "10",
        "DOCSTN_VISIBILITY_TIMEOUT_S": "14",
        "DOCSTN_TORCH_THREADS": "1",
        "DOCSTN_MAX_SIDE": "4096",
        "OMP_NUM_THREADS": "1",
    }
    s = Stack(env, root)
    s.api = s.spawn("api", "serve", "--port", str(port))
    s.base = f"http://127.0.0.1:{port}"
    s.http = httpx.Client(base_url=s.base, timeout=30)
    s.job_store = root / "jobs"
    try:
        wait_for(lambda: s.http.get("/readyz").status_code == 200, 60, interval=0.2, what="API /readyz")
        yield s
    finally:
        s.http.close()
        s.close()
