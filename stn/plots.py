"""PNG plots of a training run: loss curves, and validation photos with the predicted quad beside the crop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

__all__ = ["loss_curves", "prediction_grid", "st_grid"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curves(metrics_path: str | Path, out_png: str | Path) -> Path:
    """Plot every train/val loss term of a metrics.jsonl against the step (log scale)."""
    plt = _plt()
    rows = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line.strip()]
    keys = ["loss", "corner", "orient", "class"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for split, style in (("train", "-"), ("val", "o--")):
        rs = [r for r in rows if r["split"] == split]
        for k in keys:
            pts = [(r["step"], r[k]) for r in rs if k in r]
            if pts:
                axes[0].plot(*zip(*pts, strict=True), style, label=f"{split} {k}", ms=3)
        for k in ("jaccard", "orient_acc", "class_acc"):
            pts = [(r["step"], r[k]) for r in rs if k in r]
            if pts:
                axes[1].plot(*zip(*pts, strict=True), style, label=f"{split} {k}", ms=3)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].set_title("losses")
    axes[1].set_xlabel("step")
    axes[1].set_title("validation metrics")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)


@torch.no_grad()
def prediction_grid(model, dataset, out_png: str | Path, n: int = 8) -> Path:
    """Validation photos with the predicted quad (TL marked) drawn over the input, beside the rectified crop."""
    from .coords import norm_to_px
    from .sampling import warp

    plt = _plt()
    items = [dataset[i] for i in range(min(n, len(dataset)))]
    x = torch.stack([it["image"] for it in items])
    p = model.eval().predict(x)
    crops = warp(x, p.theta, model.transform, model.config.out_size, padding="border")
    h, w = x.shape[-2:]
    fig, axes = plt.subplots(len(items), 2, figsize=(6, 2.6 * len(items)))
    axes = np.atleast_2d(axes)
    for i, it in enumerate(items):
        img = x[i].permute(1, 2, 0).squeeze(-1).numpy()
        axes[i, 0].imshow(img, cmap="gray" if img.ndim == 2 else None)
        q = norm_to_px(p.corners[i], (h, w)).numpy()
        if it["has_corners"]:
            g = norm_to_px(it["corners"], (h, w)).numpy()
            axes[i, 0].plot(*np.r_[g, g[:1]].T, "g-", lw=1)
        axes[i, 0].plot(*np.r_[q, q[:1]].T, "r-", lw=1.5)
        axes[i, 0].plot(*q[0], "yo", ms=5)
        axes[i, 1].imshow(crops[i].permute(1, 2, 0).squeeze(-1).clamp(0, 1).numpy(), cmap="gray")
        for ax in axes[i]:
            ax.axis("off")
    axes[0, 0].set_title("input: prediction (red, TL yellow), truth (green)", fontsize=8)
    axes[0, 1].set_title("rectified crop", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return Path(out_png)


@torch.no_grad()
def st_grid(models: dict, images: torch.Tensor, out_png: str | Path) -> Path:
    """Inputs (first column) beside each named model's transformer output V (one column per model)."""
    plt = _plt()
    cols = [("input", images)] + [(name, m.eval()(images).warped) for name, m in models.items()]
    n = images.shape[0]
    fig, axes = plt.subplots(n, len(cols), figsize=(1.6 * len(cols), 1.6 * n))
    axes = np.atleast_2d(axes)
    for j, (name, ims) in enumerate(cols):
        axes[0, j].set_title(name, fontsize=8)
        for i in range(n):
            axes[i, j].imshow(ims[i, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            axes[i, j].axis("off")
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return Path(out_png)
