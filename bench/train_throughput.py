"""Training samples/s: synthetic generation in DataLoader workers vs the model step alone vs the loader alone.

Three measurements in one run, with the training code's own pieces (``stn.data.open_dataset("synth:...")``,
``stn.train``'s loss, AdamW, gradient clipping and worker init):

- loader alone: batches of synthetic photos rendered on the fly (``annotation.synth``), num_workers 0, 1, 2;
- model step alone: forward + loss + backward + clip + AdamW on batches generated beforehand;
- training: both together, as ``docstn train`` runs them, num_workers 0, 1, 2.

The slower of loader and step bounds training; the script says which. With workers, generation overlaps the
step only if there are cores to spare: on a 2-core machine a worker and torch's threads compete for them.

    PYTHONPATH=. python bench/train_throughput.py [--batch 16] [--steps 6] [--workers 0,1,2] [--model DIR]
        [--net NAME] [--input 256x256] [--mode supervised]

The model is the default model's architecture (models/default/config.json), else ModelConfig()'s.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from stn.checkpoint import DEFAULT_MODEL_DIR, load_checkpoint
from stn.data import StreamSampler, open_dataset
from stn.model import DocSTN, ModelConfig
from stn.train import TrainConfig, _losses, _resolve_model, _worker_init


def make_loader(ds, batch: int, workers: int) -> DataLoader:
    return DataLoader(
        ds,
        batch_size=batch,
        sampler=StreamSampler(len(ds), shuffle=False),
        num_workers=workers,
        persistent_workers=workers > 0,
        worker_init_fn=_worker_init,
        prefetch_factor=2 if workers else None,
    )


def loader_rate(ds, batch: int, workers: int, steps: int) -> float:
    """Timed from the iterator's creation: workers fork (cheap) and would otherwise fill their prefetch queue
    before the clock starts."""
    t0 = time.perf_counter()
    it = iter(make_loader(ds, batch, workers))
    for _ in range(steps):
        next(it)
    return steps * batch / (time.perf_counter() - t0)


def step_fn(cfg: TrainConfig, model: DocSTN):
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()

    def step(batch: dict) -> None:
        out = model(batch["image"])
        terms = _losses(out, batch, cfg, model)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=6, help="timed batches per measurement")
    ap.add_argument("--workers", default="0,1,2")
    ap.add_argument(
        "--model", default=None, help="take the model config from this checkpoint [default: models/default]"
    )
    ap.add_argument("--net", default=None, help="localisation net [default: the checkpoint's, else ModelConfig's]")
    ap.add_argument("--input", default=None, help="model input WIDTHxHEIGHT [default: the checkpoint's, else 256x256]")
    ap.add_argument("--mode", default="supervised", choices=["supervised", "unsupervised", "hybrid"])
    ap.add_argument("--photo", default="640x480", help="synthetic photo WIDTHxHEIGHT (SynthConfig)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the trainer (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pw, ph = (int(v) for v in args.photo.lower().split("x"))
    worker_counts = [int(w) for w in args.workers.split(",")]
    d = Path(args.model) if args.model else DEFAULT_MODEL_DIR
    mc = load_checkpoint(d)[0].config if (d / "config.json").is_file() else ModelConfig()
    mc = mc.model_copy(update={"labels": []})  # the mode decides, from the data, as training does
    if args.net:
        mc = ModelConfig.model_validate({**mc.model_dump(), "net": args.net})
    if args.input:
        iw, ih = (int(v) for v in args.input.lower().split("x"))
        mc = ModelConfig.model_validate({**mc.model_dump(), "input_size": (ih, iw)})
    ih, iw = mc.input_size
    synth = {"width": pw, "height": ph}
    cfg = TrainConfig(mode=args.mode, data="synth:1", model=mc, batch_size=args.batch, synth=synth)
    n = args.batch * (args.steps + 4) * 4
    ds = open_dataset(cfg.data, input_size=mc.input_size, length=n, synth=cfg.synth)
    mc = _resolve_model(cfg, ds)
    ds.labels = list(mc.labels)
    cfg = cfg.model_copy(update={"model": mc})
    torch.manual_seed(0)
    model = DocSTN(mc)
    step = step_fn(cfg, model)

    loader = {w: loader_rate(ds, args.batch, w, args.steps) for w in worker_counts}

    batches = list(itertools.islice(iter(make_loader(ds, args.batch, 0)), 2))
    step(batches[0])  # warm-up
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(batches[i % len(batches)])
    model_rate = args.steps * args.batch / (time.perf_counter() - t0)

    train = {}
    for w in worker_counts:
        t0 = time.perf_counter()  # as for the loader alone: from the iterator's creation
        it = iter(make_loader(ds, args.batch, w))
        for _ in range(args.steps):
            step(next(it))
        train[w] = args.steps * args.batch / (time.perf_counter() - t0)

    print(
        f"mode {args.mode}, net {mc.net}, head {getattr(mc, 'head', 'theta')}, input {iw}x{ih}, batch {args.batch}, "
        f"synthetic photos {pw}x{ph} rendered "
        f"on the fly; torch threads {torch.get_num_threads()} in the trainer, 1 per loader worker; "
        f"{args.steps} timed batches each"
    )
    print(f"model step alone (pre-generated batches): {model_rate:8.1f} samples/s")
    print(f"{'num_workers':>11s} {'loader alone':>13s} {'training':>9s} {'training/step alone':>20s}  bottleneck")
    for w in worker_counts:
        neck = "loader" if loader[w] < model_rate else "model"
        print(f"{w:11d} {loader[w]:13.1f} {train[w]:9.1f} {train[w] / model_rate:19.2f}x  {neck}")


if __name__ == "__main__":
    main()
