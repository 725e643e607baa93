"""The classical way: a contour-based OpenCV document detector (the baseline of bench/vs_classical.py).

Edges (Canny) or Otsu threshold -> external contours -> the largest convex 4-point polygon
(``approxPolyDP``), falling back to the minimum-area rectangle of the largest contour. It cannot tell which
way is up: corners come in geometric order (TL = the top-left-most), optionally re-ordered by Tesseract's
orientation detection (``tesseract --psm 0``).

Convention: corners (4, 2) TL, TR, BR, BL in input pixel coordinates (shared/DESIGN.md §2).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import cv2
import numpy as np

__all__ = ["detect_quad", "geometric_order", "tesseract_rotation"]


def geometric_order(pts: np.ndarray) -> np.ndarray:
    """Order 4 points TL, TR, BR, BL by screen position (TL: smallest x + y; BR: largest)."""
    pts = np.asarray(pts, np.float64).reshape(4, 2)
    centre = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(ang)]  # clockwise on screen starting from the left-most angle (y down)
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0)


def _quad_from_mask(mask: np.ndarray, min_area: float) -> np.ndarray | None:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for c in sorted(contours, key=cv2.contourArea, reverse=True)[:5]:
        if cv2.contourArea(c) < min_area:
            break
        peri = cv2.arcLength(c, True)
        for eps in (0.02, 0.03, 0.05):
            approx = cv2.approxPolyDP(c, eps * peri, True)
            if len(approx) == 4 and cv2.isContourConvex(approx):
                return approx.reshape(4, 2).astype(np.float64)
    if contours:
        c = max(contours, key=cv2.contourArea)
        if cv2.contourArea(c) >= min_area:
            return cv2.boxPoints(cv2.minAreaRect(c)).astype(np.float64)
    return None


def detect_quad(image: np.ndarray, work_size: int = 512) -> np.ndarray | None:
    """Find the document's 4 corners in an RGB or grey uint8 image; ``None`` when nothing document-like.

    Returns:
        (4, 2) corners in geometric order, input pixel coordinates.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    h, w = grey.shape
    scale = work_size / max(h, w)
    small = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    blur = cv2.GaussianBlur(small, (5, 5), 0)
    min_area = 0.05 * small.shape[0] * small.shape[1]
    med = float(np.median(blur))
    edges = cv2.Canny(blur, int(max(0, 0.66 * med)), int(min(255, 1.33 * med)))
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8), iterations=2)
    quad = _quad_from_mask(edges, min_area)
    if quad is None:
        _, otsu = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        quad = _quad_from_mask(otsu, min_area)
    if quad is None:
        return None
    # back to input pixels: small px (u) -> input px: (u + 0.5) / scale - 0.5
    sx, sy = w / small.shape[1], h / small.shape[0]
    quad = (quad + 0.5) * np.array([sx, sy]) - 0.5
    return geometric_order(quad)


def tesseract_rotation(crop_rgb: np.ndarray, timeout: float = 20.0) -> int | None:
    """Tesseract OSD's clockwise rotation (0, 90, 180, 270) that would make ``crop_rgb`` upright.

    ``None`` when tesseract is missing or finds no text.
    """
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    _, png = cv2.imencode(".png", cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2BGR))
    try:
        r = subprocess.run(
            [exe, "stdin", "stdout", "--psm", "0"], input=png.tobytes(), capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None
    m = re.search(rb"Rotate: (\d+)", r.stdout)
    return int(m[1]) % 360 if m else None
