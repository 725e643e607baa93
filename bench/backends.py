"""Predict time of the net by backend: torch eager vs torch.compile vs TorchScript vs onnxruntime, batch 1 and 8.

All run the same prediction graph (``stn.export.PredictionGraph``: image at the model's input size -> θ, corners,
confidence) on the same inputs, interleaved round by round so that a shared machine's load hits all alike.
Prints the median ms per batch, ms per image and the ratio to eager (< 1 is faster). The backend that the
engine's "auto" picks (``stn.export.resolve_backend``) should be the fastest here.

    PYTHONPATH=. python bench/backends.py [--model DIR] [--repeats 20] [--batches 1,8] [--threads 0] [--no-compile]

On a loaded machine (more runnable threads than cores) torch's OpenMP threads can stall in barriers (one slow
thread holds up the others): compare --threads 1 with the default.
"""

from __future__ import annotations

import argparse
import statistics
import time
import traceback

import numpy as np
import torch

from bench.pipeline import load_model
from stn.export import PredictionGraph, make_backend, resolve_backend


def compiled_backend(model):
    """torch.compile (inductor) of the prediction graph; raises where it does not work on this machine."""
    graph = torch.compile(PredictionGraph(model), dynamic=False)

    def run(x: np.ndarray):
        with torch.inference_mode():
            return tuple(t.numpy() for t in graph(torch.from_numpy(x)))

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint folder [default: models/default, else untrained]")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to compile)")
    ap.add_argument("--threads", type=int, default=0, help="torch and onnxruntime threads (0: library defaults)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, model_name = load_model(args.model)
    h, w = model.config.input_size
    batches = [int(b) for b in args.batches.split(",")]
    rng = np.random.default_rng(0)
    inputs = {b: rng.random((b, model.config.in_channels, h, w), dtype=np.float32) for b in batches}

    backends, failures = {}, {}
    for name in ("torch", "torch.compile", "torchscript", "onnx"):
        if name == "torch.compile" and args.no_compile:
            failures[name] = "skipped (--no-compile)"
            continue
        try:
            t0 = time.perf_counter()
            if name == "torch.compile":
                run = compiled_backend(model)
            else:
                run = make_backend(name, model, threads=args.threads)
            for x in inputs.values():  # compile / warm up at every batch size
                run(x)
            backends[name] = run
            print(f"{name}: ready in {time.perf_counter() - t0:.1f} s")
        except Exception as e:  # report, do not stop: the others still get measured
            failures[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            traceback.print_exc(limit=1)

    ref = {b: backends["torch"](x) for b, x in inputs.items()}
    times: dict[tuple[str, int], list[float]] = {(n, b): [] for n in backends for b in batches}
    for _ in range(args.repeats):
        for b, x in inputs.items():
            for name, run in backends.items():
                t0 = time.perf_counter()
                run(x)
                times[name, b].append((time.perf_counter() - t0) * 1e3)
    print(
        f"model {model_name} (net {model.config.net}, input {w}x{h}); torch threads {torch.get_num_threads()}, "
        f"onnxruntime threads {args.threads or 'default'}; "
        f"{args.repeats} repeats, medians; auto picks {resolve_backend('auto')}"
    )
    print(f"{'backend':14s} {'batch':>5s} {'ms/batch':>9s} {'ms/image':>9s} {'x eager':>8s} {'max |Δθ|':>9s}")
    for b in batches:
        eager = statistics.median(times["torch", b])
        for name, run in backends.items():
            ms = statistics.median(times[name, b])
            err = float(np.abs(run(inputs[b])[0] - ref[b][0]).max())
            print(f"{name:14s} {b:5d} {ms:9.2f} {ms / b:9.2f} {ms / eager:8.2f} {err:9.1e}")
    for name, why in failures.items():
        print(f"{name:14s} not measured: {why}")


if __name__ == "__main__":
    main()
