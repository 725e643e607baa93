"""HTTP service vs the in-process pipeline: POST /v1/rectify throughput and p50/p99 latency at concurrency 1, 4, 16;
POST /v1/jobs images/s with 1 and 2 Celery worker processes.

The script starts a real uvicorn (``docstn serve``) on a free loopback port and, when Redis answers, real
``docstn worker`` processes on a queue of its own (a Redis database given by --redis-url), and stops them at
exit. The load generator is threads with one keep-alive ``httpx.Client`` each, on the same machine (so it takes
CPU from the server: the figures are a floor). The in-process baseline is ``Engine.rectify`` from as many
threads, on the same images, with the same backend and format. Prints the ratio at concurrency 4 (target
>= 0.8x). (Named http_service.py, not http.py: a script's folder comes first on sys.path, and a bench/http.py
would shadow the standard library's ``http`` for httpx.)

    PYTHONPATH=. python bench/http_service.py [--model DIR] [--requests 32] [--concurrency 1,4,16]
        [--job-images 24] [--format jpeg] [--backend auto] [--redis-url redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.pipeline import load_model, synthetic_photos
from stn.checkpoint import save_checkpoint
from stn.inference import Engine

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_up(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "wb")  # noqa: SIM115 - the process owns it until it exits
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)  # the process group we created: a prefork worker's children too
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(5)


def wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited ({proc.returncode}); its log:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"server not ready after {timeout} s; its log:\n{log.read_text()[-3000:]}")


def run_load(call, photos: list[bytes], n: int, concurrency: int) -> dict:
    """``n`` calls of ``call(client_index, photo)`` from ``concurrency`` threads: throughput and latency."""
    lat: list[float] = []
    lock = threading.Lock()
    counter = iter(range(n))

    def worker(k: int) -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t0 = time.perf_counter()
            call(k, photos[i % len(photos)])
            dt = (time.perf_counter() - t0) * 1e3
            with lock:
                lat.append(dt)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    wall = time.perf_counter() - t0
    lat.sort()
    return {
        "rps": n / wall,
        "p50": statistics.median(lat),
        "p99": lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))],
    }


def job_rate(base: str, photos: list[bytes], n: int, fmt: str, timeout: float = 600) -> float:
    """Images/s of one job of ``n`` photos, from POST /v1/jobs to the job's state "done"."""
    files = [("files", (f"p{i}.jpg", photos[i % len(photos)], "image/jpeg")) for i in range(n)]
    t0 = time.perf_counter()
    r = httpx.post(base + "/v1/jobs", files=files, data={"format": fmt}, timeout=120)
    r.raise_for_status()
    url = base + r.json()["status_url"] if r.json()["status_url"].startswith("/") else r.json()["status_url"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(url, timeout=30).json()
        if body["state"] == "done":
            failed = body["progress"]["failed"]
            if failed:
                raise RuntimeError(f"{failed} job items failed")
            return n / (time.perf_counter() - t0)
        time.sleep(0.1)
    raise TimeoutError(f"job not done after {timeout} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint folder [default: models/default, else untrained]")
    ap.add_argument("--images", type=int, default=6, help="distinct photos, sent round robin")
    ap.add_argument("--size", default="2016x1512", help="photo WIDTHxHEIGHT")
    ap.add_argument("--requests", type=int, default=32, help="requests per concurrency level")
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--format", default="jpeg", choices=["png", "jpeg", "webp"])
    ap.add_argument("--backend", default="auto", help="DOCSTN_BACKEND of the server and the in-process engine")
    ap.add_argument("--job-images", type=int, default=24, help="photos per job (0: skip the jobs part)")
    ap.add_argument("--workers", default="1,2", help="Celery worker processes to measure jobs with")
    ap.add_argument("--chunk", type=int, default=4, help="DOCSTN_CHUNK_SIZE: photos per task")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="a database the bench may use")
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    width, height = (int(v) for v in args.size.lower().split("x"))

    tmp = Path(tempfile.mkdtemp(prefix="docstn-bench-"))
    model, model_name = load_model(args.model)
    model_dir = args.model or str(save_checkpoint(tmp / "model", model))
    photos = synthetic_photos(args.images, width, height)
    use_redis = args.job_images > 0 and redis_up(args.redis_url)
    queue = f"docstn-bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DOCSTN_MODEL_DIR": model_dir,
        "DOCSTN_JOB_STORE": str(tmp / "jobs"),
        "DOCSTN_BACKEND": args.backend,
        "DOCSTN_QUEUE": queue,
        "DOCSTN_LOG_LEVEL": "warning",
        "DOCSTN_CHUNK_SIZE": str(args.chunk),
    }
    env.pop("DOCSTN_REDIS_URL", None)
    if use_redis:
        env["DOCSTN_REDIS_URL"] = args.redis_url
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []
    server_log = tmp / "server.log"
    server = start([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], env, server_log)
    procs.append(server)
    engine = Engine(model, name="bench", backend=args.backend)
    try:
        wait_ready(base, server, server_log)
        clients = [httpx.Client(base_url=base, timeout=120) for _ in range(max(levels))]

        def http_call(k: int, data: bytes) -> None:
            r = clients[k].post("/v1/rectify", files={"file": ("p.jpg", data, "image/jpeg")},
                                data={"format": args.format})  # fmt: skip
            r.raise_for_status()
            r.json()

        def local_call(_k: int, data: bytes) -> None:
            engine.rectify(data, fmt=args.format)

        for data in photos:  # warm-up both
            http_call(0, data)
            local_call(0, data)
        rows = []
        for c in levels:
            n = max(args.requests, 2 * c)
            local = run_load(local_call, photos, n, c)
            http = run_load(http_call, photos, n, c)
            rows.append((c, local, http))
        for cl in clients:
            cl.close()

        print(
            f"{len(photos)} synthetic photos {width}x{height} JPEG, crop {args.format}, model {model_name}, "
            f"backend {engine.backend}; server and load generator on the same {os.cpu_count()}-CPU machine"
        )
        print(f"{'conc':>4s} {'in-proc img/s':>14s} {'p50 ms':>8s} {'p99 ms':>8s}   {'HTTP img/s':>10s} "
              f"{'p50 ms':>8s} {'p99 ms':>8s} {'HTTP/in-proc':>13s}")  # fmt: skip
        for c, lo, ht in rows:
            print(f"{c:4d} {lo['rps']:14.2f} {lo['p50']:8.0f} {lo['p99']:8.0f}   {ht['rps']:10.2f} {ht['p50']:8.0f} "
                  f"{ht['p99']:8.0f} {ht['rps'] / lo['rps']:12.2f}x")  # fmt: skip
        at4 = [ht["rps"] / lo["rps"] for c, lo, ht in rows if c == 4]
        if at4:
            print(f"HTTP / in-process throughput at concurrency 4: {at4[0]:.2f}x (target >= 0.8x)")

        if args.job_images > 0 and not use_redis:
            print(f"jobs: skipped, no Redis at {args.redis_url}")
        elif args.job_images > 0:
            engine.close()  # leave the CPUs to the workers
            print(f"jobs of {args.job_images} photos, crops {args.format}, through Redis ({args.redis_url}, "
                  f"queue {queue}), {args.chunk} photos a task:")  # fmt: skip
            for w in (int(v) for v in args.workers.split(",")):
                log = tmp / f"worker{w}.log"
                cmd = [sys.executable, "-m", "service.cli", "worker", "--concurrency", str(w), "--loglevel", "warning"]
                threads = str(max(1, (os.cpu_count() or 1) // w))  # no oversubscription of the cores
                worker = start(cmd, {**env, "DOCSTN_TORCH_THREADS": threads}, log)
                procs.append(worker)
                try:
                    job_rate(base, photos, w * args.chunk, args.format, timeout=300)  # warm-up: each loads the model
                    rate = job_rate(base, photos, args.job_images, args.format)
                finally:
                    stop(worker)
                print(f"  {w} worker process{'es' if w > 1 else ''} ({threads} threads each): {rate:6.2f} images/s")
    finally:
        engine.close()
        for p in procs:
            stop(p)


if __name__ == "__main__":
    main()
