"""Training: one loop for supervised, unsupervised and hybrid spatial transformers (nanoGPT-style, compact).

- supervised: smooth-L1 on the corners T_θ(±1, ±1) in normalised coordinates (one loss for every transform
  kind); with an orientation head the corners may come in any cyclic order and a 4-way head learns which
  corner is TL (cross-entropy on the shift the corner loss picked).
- unsupervised: cross-entropy of a classifier on the transformer's output V, from class labels only (the
  STN paper's setting).
- hybrid: every record contributes the losses its fields allow.

What matters for STNs is built in: identity initialisation (the heads), a lower learning rate for the
localisation net (``loc_lr_mult``), linear warm-up then cosine decay, border padding, gradient clipping.
Under ``torchrun`` (WORLD_SIZE > 1) it trains with DDP (gloo on CPU, NCCL on GPU); on CUDA with mixed
precision. Checkpoints (shared/DESIGN.md §4) go to ``out``: model.safetensors + config.json, and for resuming
optimizer.safetensors + train_state.json; metrics.jsonl logs every step; PNG plots at the end.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Literal

import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import DataError, StreamSampler, open_dataset
from .jitter import jitter_batch
from .losses import class_loss, corner_loss
from .model import DocSTN, ModelConfig

__all__ = ["TrainConfig", "train"]


class TrainConfig(BaseModel):
    """Everything a training run needs; stored in the checkpoint's config.json under ``train``."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["supervised", "unsupervised", "hybrid"] = "supervised"
    data: str  # a data spec (stn.data): manifest.jsonl, synth:SEED, file.npz#split
    val: str | None = None
    out: str = "runs/train"
    model: ModelConfig = Field(default_factory=ModelConfig)
    #: fine-tuning: a checkpoint folder whose weights start the run; its model config is used, with the model
    #: fields given here (e.g. --set model.out_size=...) on top; tensors whose shape changed start afresh
    init: str | None = None
    #: parts of the model that keep their weights (their batch-norm statistics too)
    freeze: list[Literal["loc", "classifier", "orientation"]] = Field(default_factory=list)
    synth: dict = Field(default_factory=dict)  # annotation.synth.SynthConfig fields for synth: specs
    steps: int = Field(1000, gt=0)
    time_limit_min: float | None = Field(None, gt=0)  # end the schedule early when this wall time is spent
    batch_size: int = Field(32, gt=0)  # per process
    lr: float = Field(1e-3, gt=0)
    loc_lr_mult: float = Field(1.0, gt=0)  # learning-rate factor of the localisation net
    weight_decay: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(100, ge=0)
    min_lr_frac: float = Field(0.02, ge=0, le=1)
    grad_clip: float = Field(1.0, ge=0)  # 0: off
    #: random similarity jitter of each training input, corners carried along (stn.jitter); 0: off, 1: rotation
    #: ±10°, scale ±10%, shift ±10% of the image
    jitter: float = Field(0.0, ge=0, le=2)
    corner_beta: float = Field(0.01, gt=0)
    orientation_weight: float = Field(1.0, ge=0)
    class_weight: float = Field(1.0, ge=0)
    eval_interval: int = Field(250, gt=0)
    val_batches: int = Field(8, gt=0)
    log_interval: int = Field(10, gt=0)
    workers: int = Field(1, ge=0)
    threads: int = Field(0, ge=0)  # torch CPU threads per process (0: leave as is)
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    amp: bool = True  # mixed precision on CUDA
    resume: bool = True
    plots: bool = True
    progress: bool = True
    command: str = ""


def _setup_distributed(cfg: TrainConfig):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cfg.device == "auto":
        device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
        if device.type == "cuda" and world > 1:
            device = torch.device(f"cuda:{local}")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return world, rank, device


def _lr_factor(progress: float, step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    return cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _from_init(cfg: TrainConfig) -> tuple[TrainConfig, dict[str, torch.Tensor]]:
    """The config with the ``init`` checkpoint's model config (fields set explicitly in ``cfg.model`` win) and
    that checkpoint's weights."""
    try:
        loaded, _ = load_checkpoint(cfg.init)
    except CheckpointError as e:
        raise DataError(f"init: {e}") from None
    explicit = cfg.model.model_dump(include=cfg.model.model_fields_set)
    mc = ModelConfig(**{**loaded.config.model_dump(), **explicit})
    return cfg.model_copy(update={"model": mc}), loaded.state_dict()


def _load_matching(model: DocSTN, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy the tensors of ``state`` whose name and shape match; say which did not."""
    own = model.state_dict()
    kept = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(kept, strict=False)
    fresh = sorted({k.split(".")[0] for k in own if k not in kept})
    if fresh:
        print(
            f"init from {source}: {len(kept)}/{len(own)} tensors; starting afresh: {', '.join(fresh)}", file=sys.stderr
        )


def _train_mode(model: DocSTN, cfg: TrainConfig) -> None:
    """Training mode, except for the frozen parts (their batch-norm statistics must not move)."""
    model.train()
    for name in cfg.freeze:
        getattr(model, name).eval()


def _resolve_model(cfg: TrainConfig, train_set) -> ModelConfig:
    """Fill in the labels from the data when a mode needs a classifier; fail early on data that cannot work."""
    mc = cfg.model
    if cfg.mode in ("supervised", "hybrid") and not train_set.has_corners():
        raise DataError(f"{cfg.data}: no record has corners; {cfg.mode} mode needs corners (use --mode unsupervised)")
    if cfg.mode in ("unsupervised", "hybrid") and not mc.labels:
        names = train_set.label_names()
        if not names:
            raise DataError(f"{cfg.data}: no record has a label; {cfg.mode} mode needs labels")
        mc = mc.model_copy(update={"labels": names})
    if cfg.mode == "unsupervised" and mc.orientation_head:
        raise DataError("the orientation head is trained from corners; it needs --mode supervised or hybrid")
    return mc


def _losses(out, batch, cfg: TrainConfig, model: DocSTN) -> dict[str, torch.Tensor]:
    """The loss terms of one batch, for the mode; ``loss`` is their weighted sum."""
    terms: dict[str, torch.Tensor] = {}
    total = out.theta.new_zeros(())
    if cfg.mode in ("supervised", "hybrid"):
        mask = batch["has_corners"]
        pred = out.corners.float() if out.corners is not None else model.transform.corners(out.theta.float())
        lc, shift = corner_loss(
            pred, batch["corners"], mask, any_order=out.orientation_logits is not None, beta=cfg.corner_beta
        )
        terms["corner"] = lc
        total = total + lc
        if out.orientation_logits is not None:
            lo = class_loss(out.orientation_logits, torch.where(mask, shift, torch.full_like(shift, -1)))
            terms["orient"] = lo
            terms["orient_acc"] = ((out.orientation_logits.argmax(1) == shift).float() * mask).sum() / mask.sum().clamp(
                min=1
            )
            total = total + cfg.orientation_weight * lo
    if out.class_logits is not None:
        if cfg.mode in ("unsupervised", "hybrid"):
            lk = class_loss(out.class_logits, batch["label"])
            terms["class"] = lk
            known = batch["label"] >= 0
            terms["class_acc"] = (
                (out.class_logits.argmax(1) == batch["label"]).float() * known
            ).sum() / known.sum().clamp(min=1)
            total = total + cfg.class_weight * lk
        else:
            total = total + out.class_logits.sum() * 0
    if out.orientation_logits is not None and "orient" not in terms:
        total = total + out.orientation_logits.sum() * 0
    terms["loss"] = total
    return terms


@torch.no_grad()
def _validate(model: DocSTN, loader, cfg: TrainConfig, device) -> dict[str, float]:
    from .metrics import jaccard

    model.eval()
    sums: dict[str, float] = {}
    n_batches, jac = 0, []
    for i, batch in enumerate(loader):
        if i >= cfg.val_batches:
            break
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(batch["image"])
        for k, v in _losses(out, batch, cfg, model).items():
            sums[k] = sums.get(k, 0.0) + float(v)
        n_batches += 1
        if batch["has_corners"].any():
            p = model.predict(batch["image"])
            for pc, gc, m in zip(
                p.corners.cpu().double(), batch["corners"].cpu().double(), batch["has_corners"].cpu(), strict=True
            ):
                if m:
                    jac.append(jaccard(pc.numpy(), gc.numpy()))
    _train_mode(model, cfg)
    res = {k: v / max(n_batches, 1) for k, v in sums.items()}
    if jac:
        res["jaccard"] = sum(jac) / len(jac)
    return res


def _save_optimizer(path: Path, opt: torch.optim.Optimizer) -> None:
    tensors = {}
    for pid, state in opt.state_dict()["state"].items():
        for k, v in state.items():
            tensors[f"{pid}.{k}"] = (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu().contiguous()
    save_file(tensors, str(path))


def _load_optimizer(path: Path, opt: torch.optim.Optimizer) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for key, v in load_file(str(path)).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)


def train(cfg: TrainConfig) -> DocSTN:
    """Run training as configured; returns the trained (unwrapped) model on this process."""
    world, rank, device = _setup_distributed(cfg)
    master = rank == 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out_dir = Path(cfg.out)
    init_state = None
    if cfg.init:
        cfg, init_state = _from_init(cfg)
    mc = cfg.model
    length = cfg.steps * cfg.batch_size * world
    train_set = open_dataset(
        cfg.data, input_size=mc.input_size, labels=mc.labels, in_channels=mc.in_channels, length=length, synth=cfg.synth
    )
    mc = _resolve_model(cfg, train_set)
    train_set.labels = list(mc.labels)
    val_set = None
    if cfg.val:
        val_set = open_dataset(
            cfg.val,
            input_size=mc.input_size,
            labels=mc.labels,
            in_channels=mc.in_channels,
            length=cfg.val_batches * cfg.batch_size,
            synth=cfg.synth,
        )
    cfg = cfg.model_copy(update={"model": mc})

    model = DocSTN(mc).to(device)
    state_path = out_dir / "train_state.json"
    resuming = cfg.resume and state_path.is_file()
    if init_state is not None and not resuming:  # a resumed run takes its own checkpoint's weights below
        _load_matching(model, init_state, cfg.init)
    for name in cfg.freeze:
        part = getattr(model, name)
        if part is None:
            raise DataError(f"freeze: this model has no {name} (orientation_head or labels not set)")
        part.requires_grad_(False)
    step, elapsed0 = 0, 0.0
    if resuming:
        loaded, _ = load_checkpoint(out_dir, device=device)
        if loaded.config != mc:
            raise DataError(f"{out_dir}: holds a different model; use a new --out or --no-resume")
        model.load_state_dict(loaded.state_dict())
        st = json.loads(state_path.read_text())
        step, elapsed0 = st["step"], st.get("elapsed_s", 0.0)
        if master and (out_dir / "metrics.jsonl").is_file():  # drop what was logged after the checkpoint
            log = out_dir / "metrics.jsonl"
            kept = [line for line in log.read_text().splitlines() if json.loads(line)["step"] <= step]
            log.write_text("".join(line + "\n" for line in kept))
    _train_mode(model, cfg)

    loc_params = list(model.loc.parameters())
    loc_ids = {id(p) for p in loc_params}
    other = [p for p in model.parameters() if id(p) not in loc_ids]
    opt = torch.optim.AdamW(
        [{"params": loc_params, "lr_mult": cfg.loc_lr_mult}, {"params": other, "lr_mult": 1.0}],
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
    )
    if step and (out_dir / "optimizer.safetensors").is_file():
        _load_optimizer(out_dir / "optimizer.safetensors", opt)
    ddp_model = model
    if world > 1:
        ddp_model = DistributedDataParallel(model, find_unused_parameters=not mc.localise)

    synthetic = cfg.data.startswith("synth:")
    sampler = StreamSampler(
        len(train_set), rank=rank, world=world, shuffle=not synthetic, seed=cfg.seed, start=step * cfg.batch_size
    )
    loader = DataLoader(
        train_set,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        persistent_workers=cfg.workers > 0,
        pin_memory=device.type == "cuda",
        worker_init_fn=_worker_init,
    )
    val_loader = None
    if val_set is not None and master:
        val_loader = DataLoader(val_set, batch_size=cfg.batch_size, num_workers=0)
    amp = cfg.amp and device.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext()

    if master:
        out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "metrics.jsonl"
    train_meta = {**cfg.model_dump(mode="json", exclude={"model"}), "world_size": world}
    t0 = time.time() - elapsed0
    bar = None
    if master and cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=step, dynamic_ncols=True, file=sys.stderr)
    last_val: dict[str, float] = {}
    it = iter(loader)
    while True:
        elapsed = time.time() - t0
        progress = step / cfg.steps
        if cfg.time_limit_min:
            progress = max(progress, elapsed / (60 * cfg.time_limit_min))
        if progress >= 1.0:
            break
        factor = _lr_factor(progress, step, cfg)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * factor * g["lr_mult"]
        batch = {k: v.to(device, non_blocking=True) for k, v in next(it).items()}
        if cfg.jitter:
            batch["image"], batch["corners"] = jitter_batch(
                batch["image"], batch["corners"], cfg.jitter, padding=mc.padding
            )
        with autocast:
            out = ddp_model(batch["image"])
        terms = _losses(out, batch, cfg, model)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        if cfg.grad_clip:
            terms["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        if master and (step % cfg.log_interval == 0 or step == 1):
            rec = {"step": step, "split": "train", "lr": cfg.lr * factor, "time_s": round(time.time() - t0, 2)}
            rec.update({k: round(float(v.detach()), 6) for k, v in terms.items()})
            with log_path.open("a") as f:
                f.write(json.dumps(rec) + "\n")
            if bar is not None:
                shown = {k: f"{rec[k]:.4f}" for k in ("loss", "corner", "orient", "class") if k in rec}
                shown.update(
                    {k: f"{v:.3f}" for k, v in last_val.items() if k in ("jaccard", "orient_acc", "class_acc")}
                )
                bar.set_postfix(shown, refresh=False)
        if bar is not None:
            bar.update(1)
        if step % cfg.eval_interval == 0 and master:
            last_val = _checkpoint(model, opt, cfg, val_loader, device, step, time.time() - t0, train_meta, log_path)
    if master:
        if bar is not None:
            bar.close()
        if step % cfg.eval_interval:
            _checkpoint(model, opt, cfg, val_loader, device, step, time.time() - t0, train_meta, log_path)
        if cfg.plots:
            from .plots import loss_curves, prediction_grid

            loss_curves(log_path, out_dir / "loss.png")
            if val_set is not None and val_set.has_corners():
                prediction_grid(model, val_set, out_dir / "val_predictions.png")
    if world > 1:
        dist.barrier()
    return model


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)


def _checkpoint(model, opt, cfg, val_loader, device, step, elapsed, train_meta, log_path) -> dict[str, float]:
    val = _validate(model, val_loader, cfg, device) if val_loader is not None else {}
    if val:
        rec = {"step": step, "split": "val", **{k: round(v, 6) for k, v in val.items()}}
        with log_path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
    out_dir = Path(cfg.out)
    train = {**train_meta, "step": step, "elapsed_s": round(elapsed, 1)}
    metrics = {f"val_{k}": v for k, v in val.items()}
    save_checkpoint(out_dir, model, train=train, metrics=metrics)
    _save_optimizer(out_dir / "optimizer.safetensors", opt)
    state_path = out_dir / "train_state.json"
    best = json.loads(state_path.read_text()).get("best") if state_path.is_file() else None
    # the best validation checkpoint so far (Jaccard when corners are known, else the loss) goes to out/best
    score = val.get("jaccard", -val["loss"]) if val else None
    if score is not None and (best is None or score > best):
        best = score
        save_checkpoint(out_dir / "best", model, train=train, metrics=metrics)
    state_path.write_text(json.dumps({"step": step, "elapsed_s": elapsed, "best": best}) + "\n")
    return val
