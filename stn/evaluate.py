"""Evaluation of a checkpoint on any manifest (shared/DESIGN.md §3) or synthetic spec.

Metrics (``stn.metrics``): SmartDoc Jaccard index (mean, median), corner error (mean, median, p95; pixels and %
of the image diagonal), orientation accuracy (TL where it belongs), angle error, classification accuracy when
labels exist, and images/s (end to end: decode, resize, predict).

Convention:
    Predictions are made at the model's ``input_size`` and mapped back to the original image's pixels
    (normalised coordinates are resolution-free, shared/DESIGN.md §2).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .coords import norm_to_px
from .metrics import angle_error_deg, corner_error, jaccard, orientation_correct, summarise

__all__ = ["evaluate", "format_table"]


@torch.no_grad()
def evaluate(model, dataset, *, batch_size: int = 32, device="cpu", progress: bool = False) -> dict:
    """Run ``model`` over ``dataset`` (items of ``stn.data``) and return the metrics dict.

    Keys: ``n``, ``n_corners``, ``jaccard_mean``, ``jaccard_median``, ``corner_error_px_{mean,median,p95}``,
    ``corner_error_pct_{mean,median,p95}``, ``orientation_accuracy``, ``angle_error_deg_{mean,median,p95}``,
    ``class_accuracy`` (when labels exist), ``images_per_s``.
    """
    model = model.to(device).eval()
    jac, err_px, err_pct, orient, angle, correct_cls = [], [], [], [], [], []
    n = len(dataset)
    t0 = time.perf_counter()
    starts = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="evaluate", unit="batch")
    for s in starts:
        items = [dataset[i] for i in range(s, min(n, s + batch_size))]
        x = torch.stack([it["image"] for it in items]).to(device)
        p = model.predict(x)
        pred = p.corners.double().cpu()
        for i, it in enumerate(items):
            if it["label"] >= 0 and model.config.labels:
                correct_cls.append(p.label[i] == model.config.labels[int(it["label"])])
            if not it["has_corners"]:
                continue
            size = tuple(it["size"].tolist())
            q = norm_to_px(pred[i], size).numpy()
            g = norm_to_px(it["corners"].double(), size).numpy()
            jac.append(jaccard(q, g))
            e = corner_error(q, g)
            err_px.append(e)
            err_pct.append(100 * e / float(np.hypot(*size)))
            orient.append(orientation_correct(q, g))
            angle.append(angle_error_deg(q, g))
    dt = time.perf_counter() - t0
    res: dict = {"n": n, "n_corners": len(jac)}
    if jac:
        res["jaccard_mean"] = float(np.mean(jac))
        res["jaccard_median"] = float(np.median(jac))
        res |= summarise(err_px, "corner_error_px") | summarise(err_pct, "corner_error_pct")
        res["orientation_accuracy"] = float(np.mean(orient))
        res |= summarise(angle, "angle_error_deg")
    if correct_cls:
        res["class_accuracy"] = float(np.mean(correct_cls))
    res["images_per_s"] = n / dt if dt > 0 else float("inf")
    return res


def format_table(metrics: dict) -> str:
    """A two-column text table of a metrics dict.

    Example:
        >>> print(format_table({"n": 2, "jaccard_mean": 0.5}))
        metric         value
        n                  2
        jaccard_mean  0.5000
    """
    rows = [(k, f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in metrics.items()]
    w = max(len("metric"), *(len(k) for k, _ in rows))
    vw = max(len(v) for _, v in rows)
    lines = [f"{'metric':<{w}}  {'value':>{vw}}"] + [f"{k:<{w}}  {v:>{vw}}" for k, v in rows]
    return "\n".join(lines)
