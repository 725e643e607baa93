"""Synthetic photos per second at 640x480 with 1 and 2 processes (render + JPEG encode + write + manifest).

    PYTHONPATH=. python bench/synth_speed.py [--n 600]

Prints wall-clock images/s and images per CPU-second (the latter is what a quiet machine's wall-clock rate
per core would be; on a shared, loaded machine the wall-clock figures drop, the CPU figures do not).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

from annotation.synth import SynthConfig, generate, render_sample


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="images per measurement")
    args = parser.parse_args()
    cfg = SynthConfig(width=640, height=480)
    for s in range(5):  # warm-up: imports, noise bank
        render_sample(s, cfg)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    for s in range(args.n):
        render_sample(s, cfg)
    dt, dc = time.perf_counter() - t0, _cpu_seconds() - c0
    print(
        f"render_sample in memory, 1 process: {args.n / dt:7.1f} images/s wall, "
        f"{args.n / dc:7.1f} images/CPU-s ({dc / args.n * 1e3:.2f} CPU-ms/image)"
    )
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0 = time.perf_counter(), _cpu_seconds()
            generate(tmp, args.n, seed=0, config=cfg, workers=workers, progress=False)
            dt, dc = time.perf_counter() - t0, _cpu_seconds() - c0
        print(
            f"generate to disk, {workers} process(es): {args.n / dt:7.1f} images/s wall, "
            f"{args.n / dc:7.1f} images/CPU-s (incl. worker start-up)"
        )


if __name__ == "__main__":
    main()
