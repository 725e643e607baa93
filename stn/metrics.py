"""Evaluation metrics on quads: SmartDoc Jaccard index, corner error, orientation, angle.

Convention:
    Quads are (4, 2) arrays of pixel (x, y) points TL, TR, BR, BL in reading order (shared/DESIGN.md §2).
    The Jaccard index follows the SmartDoc 2015 challenge: both quads are mapped into the document's own frame
    by the homography that takes the ground-truth quad to a rectangle, and the polygon IoU is taken there
    (IoU is invariant to the affine choice of that rectangle, so the unit square is used).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .coords import angle_deg

__all__ = [
    "angle_deg",
    "angle_error_deg",
    "clip_polygon",
    "corner_error",
    "jaccard",
    "orientation_correct",
    "polygon_area",
    "summarise",
]

_UNIT = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)


def polygon_area(poly: np.ndarray) -> float:
    """Unsigned shoelace area of a simple polygon (N, 2).

    Example:
        >>> polygon_area(np.array([[0, 0], [2, 0], [2, 1], [0, 1]], float))
        2.0
    """
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def clip_polygon(poly: np.ndarray, x0: float = 0.0, y0: float = 0.0, x1: float = 1.0, y1: float = 1.0) -> np.ndarray:
    """Sutherland-Hodgman: the part of ``poly`` (N, 2) inside the box [x0, x1] x [y0, y1]; (M, 2)."""
    edges = [(0, x0, 1), (0, x1, -1), (1, y0, 1), (1, y1, -1)]  # (axis, bound, +1: keep >=, -1: keep <=)
    out = [p for p in poly]
    for axis, bound, sign in edges:
        if not out:
            break
        pts, out = out, []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            cin, pin = sign * (cur[axis] - bound) >= 0, sign * (prev[axis] - bound) >= 0
            if cin != pin:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append(prev + t * (cur - prev))
            if cin:
                out.append(cur)
    return np.array(out, np.float64).reshape(-1, 2)


def _self_intersecting(q: np.ndarray) -> bool:
    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def crosses(p1, p2, p3, p4):
        d1, d2, d3, d4 = cross(p3, p4, p1), cross(p3, p4, p2), cross(p1, p2, p3), cross(p1, p2, p4)
        return d1 * d2 < 0 and d3 * d4 < 0

    return crosses(q[0], q[1], q[2], q[3]) or crosses(q[1], q[2], q[3], q[0])


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    """SmartDoc Jaccard index of a predicted quad against the ground truth, both (4, 2) pixels.

    The corner order does not matter (orientation is measured apart); a self-intersecting prediction, or one
    that crosses the ground truth's horizon, scores 0.

    Example:
        >>> gt = np.array([[0, 0], [4, 0], [4, 2], [0, 2]], float)
        >>> jaccard(gt + [2, 0], gt)  # half overlaps: 4 / (8 + 8 - 4)
        0.3333333333333333
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if not np.isfinite(pred).all() or _self_intersecting(pred):
        return 0.0
    h = cv2.getPerspectiveTransform(gt.astype(np.float32), _UNIT.astype(np.float32)).astype(np.float64)
    ph = np.c_[pred, np.ones(4)] @ h.T
    if (ph[:, 2] <= 0).any():
        return 0.0
    p = ph[:, :2] / ph[:, 2:]
    if _self_intersecting(p):
        return 0.0
    inter = polygon_area(clip_polygon(p))
    union = polygon_area(p) + 1.0 - inter
    return float(inter / union) if union > 0 else 0.0


def corner_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean Euclidean distance between corresponding corners (reading order), in the quads' units.

    Example:
        >>> corner_error(np.zeros((4, 2)), np.array([[3, 4], [0, 0], [0, 0], [0, 0]], float))
        1.25
    """
    return float(np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=1).mean())


def orientation_correct(pred: np.ndarray, gt: np.ndarray) -> bool:
    """True when the prediction's TL is the document's TL: of the four cyclic orders of ``gt``, the one
    nearest ``pred`` is the reading order itself.

    Example:
        >>> gt = np.array([[0, 0], [4, 0], [4, 2], [0, 2]], float)
        >>> orientation_correct(gt, gt), orientation_correct(np.roll(gt, 2, axis=0), gt)
        (True, False)
    """
    d = [np.linalg.norm(np.asarray(pred) - np.roll(gt, -s, axis=0), axis=1).sum() for s in range(4)]
    return int(np.argmin(d)) == 0


def angle_error_deg(pred: np.ndarray, gt: np.ndarray) -> float:
    """Absolute difference of :func:`angle_deg`, wrapped to [0, 180]."""
    d = (angle_deg(pred) - angle_deg(gt) + 180.0) % 360.0 - 180.0
    return abs(d)


def summarise(values, prefix: str, stats=("mean", "median", "p95")) -> dict[str, float]:
    """``{prefix_mean, prefix_median, prefix_p95}`` of a list of numbers (NaN when empty)."""
    a = np.asarray(values, np.float64)
    fns = {"mean": np.mean, "median": np.median, "p95": lambda v: np.percentile(v, 95)}
    return {f"{prefix}_{s}": (float(fns[s](a)) if a.size else math.nan) for s in stats}
