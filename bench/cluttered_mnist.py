"""Cluttered MNIST: the same CNN with and without a spatial transformer, under the same budget.

Every model is trained by the project's own ``docstn train --mode unsupervised`` (cross-entropy on the labels
only, as in the STN paper) and scored by ``docstn evaluate`` on the 1,000 test images. The CNN baseline is the
same model with the transformer held at the identity (``model.localise=false``). Prints the test-error table
with seeds, and saves a picture of test inputs beside each transformer's output (OUT/table.txt, OUT/st.png; the
published run's are copied to bench/cluttered_mnist_table.txt and bench/cluttered_mnist_st.png).

    python bench/cluttered_mnist.py [--steps 3000] [--seeds 0 1 2] [--jobs 2] [--out runs/bench_mnist]

Recipe, the same for every model: the classifier is ``convnet`` (conv-BN-ReLU, widths 32/64/128), inputs get a
random similarity jitter (``jitter=1``: rotation ±10°, scale ±10%, shift ±10%), AdamW with warm-up and a cosine
schedule, the localisation net at a tenth of the learning rate. ``--jobs`` runs that many trainings side by side
(one CPU thread each).

Data: data_files/cluttered_mnist (40x40; 10,000 train, 1,000 valid, 1,000 test; see its README.txt).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data_files" / "cluttered_mnist" / "mnist_sequence1_sample_5distortions5x5.npz"
VARIANTS = {  # name -> (transform, --set overrides)
    "CNN": ("affine", ["model.localise=false"]),
    "ST-CNN affine": ("affine", []),
    "ST-CNN projective": ("projective", []),
    "ST-CNN TPS": ("tps", []),
}
COMMON = [
    "--mode", "unsupervised", "--net", "paper", "--input-size", "40x40",
    "--set", "model.in_channels=1", "--set", "model.out_size=[40,40]", "--set", "model.padding=zeros",
    "--set", "model.classifier=convnet",
    "--set", 'model.classifier_options={"widths":[32,64,128],"pool":4,"hidden":256}', "--set", "jitter=1",
    "--set", "loc_lr_mult=0.1", "--set", "warmup_steps=200", "--set", "eval_interval=1000",
    "--set", "workers=0", "--set", "threads=1", "--set", "progress=false", "--no-resume",
]  # fmt: skip


def run_dir(out: Path, name: str, seed: int) -> Path:
    return out / f"{name.replace(' ', '_')}_seed{seed}"


def docstn(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2, help="trainings run side by side")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_mnist")
    args = ap.parse_args()

    def one(name: str, seed: int) -> tuple[int, float, float]:
        transform, extra = VARIANTS[name]
        run = run_dir(args.out, name, seed)
        t0 = time.time()
        sets = [x for kv in extra for x in ("--set", kv)]
        docstn("train", "--data", f"{DATA}#train", "--val", f"{DATA}#valid", "--out", str(run),
               "--transform", transform, "--steps", str(args.steps), "--batch-size", str(args.batch_size),
               "--lr", str(args.lr), "--set", f"seed={seed}", *COMMON, *sets)  # fmt: skip
        minutes = (time.time() - t0) / 60
        docstn("evaluate", "--data", f"{DATA}#test", "--model", str(run), "--json", str(run / "test.json"))
        acc = json.loads((run / "test.json").read_text())["class_accuracy"]
        print(f"{name} seed {seed}: test error {100 * (1 - acc):.1f}% ({minutes:.1f} min)", flush=True)
        return seed, 100 * (1 - acc), minutes

    jobs = [(name, seed) for name in args.variants for seed in args.seeds]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        done = list(pool.map(lambda job: one(*job), jobs))
    results: dict[str, list[tuple[int, float, float]]] = {}
    for (name, _), row in zip(jobs, done, strict=True):
        results.setdefault(name, []).append(row)

    lines = [
        f"Cluttered MNIST 40x40, test error on 1,000 images; {args.steps} steps x batch {args.batch_size}, "
        f"lr {args.lr}, loc lr x0.1, jitter 1, convnet classifier; mean over seeds",
        f"{'model':<20} {'seeds':<10} {'error %':>8} {'± sd':>6} {'per seed':<24} {'train min':>9}",
    ]
    for name, rows in results.items():
        errs = [e for _, e, _ in rows]
        per = ", ".join(f"{e:.1f}" for e in errs)
        mins = statistics.mean(m for *_, m in rows)
        seeds = ",".join(str(s) for s, *_ in rows)
        sd = statistics.stdev(errs) if len(errs) > 1 else 0.0
        lines.append(f"{name:<20} {seeds:<10} {statistics.mean(errs):>8.2f} {sd:>6.2f} {per:<24} {mins:>9.1f}")
    table = "\n".join(lines)
    print(table)
    (args.out / "table.txt").write_text(table + "\n")
    picture(args, results)


def picture(args, results) -> None:
    """Test inputs beside each transformer's output V (first seed of each ST variant)."""
    import torch

    from stn.checkpoint import load_checkpoint
    from stn.data import open_dataset
    from stn.plots import st_grid

    models = {}
    for name in results:
        if name == "CNN":
            continue
        run = run_dir(args.out, name, args.seeds[0])
        models[name.replace("ST-CNN ", "ST ")] = load_checkpoint(run)[0]
    ds = open_dataset(f"{DATA}#test", input_size=(40, 40))
    images = torch.stack([ds[i]["image"] for i in range(8)])
    out = args.out / "st.png"  # bench/cluttered_mnist_st.png is a copy of the published run's
    st_grid(models, images, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
