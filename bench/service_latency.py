"""Latency of POST /v1/rectify through the real HTTP service (uvicorn), sequential and concurrent.

    python bench/service_latency.py [--model DIR] [--requests 20] [--concurrency 8]

Without --model it measures an untrained model of the default architecture (ModelConfig(): DocNet at 256x256,
projective): the same computation as a trained one.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--photo", default=str(ROOT / "samples" / "page-photo.jpg"))
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    model = args.model
    if model is None:
        sys.path.insert(0, str(ROOT))
        from stn.checkpoint import save_checkpoint
        from stn.model import DocSTN, ModelConfig

        model = str(save_checkpoint(tmp / "model", DocSTN(ModelConfig())))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DOCSTN_MODEL_DIR": model, "DOCSTN_JOB_STORE": str(tmp / "jobs"), "PYTHONPATH": str(ROOT)}
    env.pop("DOCSTN_REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    data = Path(args.photo).read_bytes()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                sys.exit("server not ready")
            time.sleep(0.2)

        def one(_=None):
            t0 = time.perf_counter()
            r = httpx.post(base + "/v1/rectify", files={"file": ("p.jpg", data, "image/jpeg")}, timeout=60)
            r.raise_for_status()
            return (time.perf_counter() - t0) * 1000, r.json()["timings_ms"]

        one()  # warm-up
        seq = [one() for _ in range(args.requests)]
        ms = sorted(m for m, _ in seq)
        stages = {k: statistics.median(t[k] for _, t in seq) for k in seq[0][1]}
        print(f"photo {Path(args.photo).name} ({len(data)} bytes), model {model}")
        p95 = ms[int(0.95 * (len(ms) - 1))]
        print(f"sequential  n={len(ms)}  p50 {statistics.median(ms):.0f} ms  p95 {p95:.0f} ms")
        print("  engine stages (median ms): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            conc = list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - t0
        cm = sorted(m for m, _ in conc)
        print(f"concurrent  c={args.concurrency} n={len(cm)}  p50 {statistics.median(cm):.0f} ms  "
              f"throughput {len(cm) / wall:.1f} req/s")  # fmt: skip
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    main()
