"""Pure numpy/OpenCV geometry of document quadrilaterals.

Convention (DESIGN.md §2): points are (x, y) in pixel coordinates where (0, 0) is the centre of the
top-left pixel, so an image of size (H, W) spans [-0.5, W-0.5] x [-0.5, H-0.5]. A document quad is 4 points
TL, TR, BR, BL in the document's upright reading order; an upside-down page has its TL near the bottom right
of the photo. ``angle_deg`` is the direction of TL->TR on screen, counter-clockwise positive, in (-180, 180].
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "angle_deg",
    "canonical_corners",
    "corners_outside",
    "is_convex",
    "is_self_intersecting",
    "order_clockwise",
    "quad_issues",
    "rect_corners",
    "rotate_order",
    "signed_area",
    "transform_points",
]


def _as_quad(corners: np.ndarray | list) -> np.ndarray:
    quad = np.asarray(corners, dtype=np.float64)
    if quad.shape != (4, 2):
        raise ValueError(f"expected corners of shape (4, 2), got {quad.shape}")
    return quad


def rect_corners(width: float, height: float) -> np.ndarray:
    """Outer corners TL, TR, BR, BL of an upright image of ``width`` x ``height`` pixels.

    Convention: the outer edge of pixel (0, 0) is at (-0.5, -0.5), so the corners are
    (-0.5, -0.5), (W-0.5, -0.5), (W-0.5, H-0.5), (-0.5, H-0.5).

    >>> rect_corners(4, 3).tolist()
    [[-0.5, -0.5], [3.5, -0.5], [3.5, 2.5], [-0.5, 2.5]]
    """
    return np.array(
        [[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]],
        dtype=np.float64,
    )


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homography (or 2x3 affine) to points (N, 2) -> (N, 2), in pixel coordinates.

    >>> transform_points(np.array([[1, 0, 2], [0, 1, 3], [0, 0, 1.0]]), np.array([[0.0, 0.0]])).tolist()
    [[2.0, 3.0]]
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    homog = np.hstack([pts, np.ones((len(pts), 1))]) @ m.T  # (N, 3)
    return homog[:, :2] / homog[:, 2:3]


def signed_area(corners: np.ndarray | list) -> float:
    """Shoelace area of a polygon; positive when its points run clockwise on screen (y points down).

    >>> signed_area(rect_corners(4, 3))
    12.0
    """
    q = np.asarray(corners, dtype=np.float64)
    x, y = q[:, 0], q[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def _segments_cross(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, p4: np.ndarray) -> bool:
    def orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    d1, d2 = orient(p3, p4, p1), orient(p3, p4, p2)
    d3, d4 = orient(p1, p2, p3), orient(p1, p2, p4)
    return d1 * d2 < 0 and d3 * d4 < 0


def is_self_intersecting(corners: np.ndarray | list) -> bool:
    """True when the quad's edges TL-TR and BR-BL, or TR-BR and BL-TL, cross (a "bow tie").

    >>> is_self_intersecting([[0, 0], [10, 0], [0, 10], [10, 10]])
    True
    >>> is_self_intersecting(rect_corners(4, 3))
    False
    """
    q = _as_quad(corners)
    return _segments_cross(q[0], q[1], q[2], q[3]) or _segments_cross(q[1], q[2], q[3], q[0])


def is_convex(corners: np.ndarray | list) -> bool:
    """True when all turns of the quad have the same sign (degenerate quads are not convex)."""
    q = _as_quad(corners)
    crosses = []
    for i in range(4):
        a, b, c = q[i], q[(i + 1) % 4], q[(i + 2) % 4]
        crosses.append((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]))
    crosses_arr = np.array(crosses)
    return bool(np.all(crosses_arr > 0) or np.all(crosses_arr < 0))


def corners_outside(corners: np.ndarray | list, width: int, height: int, margin: float = 0.0) -> np.ndarray:
    """Boolean mask (4,): which corners lie outside the image grown by ``margin`` px on every side."""
    q = _as_quad(corners)
    lo = -0.5 - margin
    return (
        (q[:, 0] < lo) | (q[:, 1] < lo) | (q[:, 0] > width - 0.5 + margin) | (q[:, 1] > height - 0.5 + margin)
    )


def quad_issues(corners: np.ndarray | list, width: int, height: int) -> list[str]:
    """Flags for a quad that is well-formed (4 finite points) but suspicious.

    ``self_intersecting`` (edges cross), ``degenerate`` (area below 1 px²), ``not_convex``,
    ``corners_outside`` (some corner outside the image), ``far_outside`` (a corner more than one image size
    outside the image: almost surely a unit or coordinate-system mistake).

    >>> quad_issues([[0, 0], [9, 0], [9, 9], [0, 9]], 10, 10)
    []
    >>> quad_issues([[0, 0], [9, 0], [9, 9], [0, 90]], 10, 10)
    ['corners_outside', 'far_outside']
    """
    q = _as_quad(corners)
    issues = []
    if is_self_intersecting(q):
        issues.append("self_intersecting")
    elif abs(signed_area(q)) < 1.0:
        issues.append("degenerate")
    elif not is_convex(q):
        issues.append("not_convex")
    if corners_outside(q, width, height).any():
        issues.append("corners_outside")
    if corners_outside(q, width, height, margin=float(max(width, height))).any():
        issues.append("far_outside")
    return issues


def angle_deg(corners: np.ndarray | list) -> float:
    """Direction of TL->TR on screen, counter-clockwise positive, in (-180, 180].

    >>> angle_deg(rect_corners(4, 3))
    0.0
    >>> angle_deg(rect_corners(4, 3)[[2, 3, 0, 1]])  # upside down
    180.0
    """
    q = _as_quad(corners)
    dx, dy = q[1] - q[0]
    a = math.degrees(math.atan2(-dy, dx))
    return 180.0 if a <= -180.0 else float(a) + 0.0  # + 0.0 turns -0.0 into 0.0


def order_clockwise(points: np.ndarray | list) -> np.ndarray:
    """Keep the first point and make the quad run clockwise on screen (TL, TR, BR, BL order)."""
    q = _as_quad(points)
    if signed_area(q) < 0:
        q = q[[0, 3, 2, 1]]
    return q


def canonical_corners(points: np.ndarray | list) -> np.ndarray:
    """Order 4 points of an unoriented polygon as TL, TR, BR, BL assuming the document is roughly upright.

    The polygon is made clockwise on screen, then rolled so that the point with the smallest x + y (nearest to
    the image's top-left) comes first. Use only when a source format does not say where the top is.

    >>> canonical_corners([[10, 10], [0, 10], [0, 0], [10, 0]]).tolist()
    [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
    """
    q = order_clockwise(points)
    start = int(np.argmin(q.sum(axis=1)))
    return np.roll(q, -start, axis=0)


def rotate_order(corners: np.ndarray | list, quarter_turns: int = 1) -> np.ndarray:
    """Relabel the corners as if the document were turned by 90° clockwise ``quarter_turns`` times.

    The points stay where they are; TL becomes the point that was BL (one clockwise quarter turn of the page
    content), as the capture page's "rotate corner order" shortcut does.

    >>> rotate_order([[0, 0], [1, 0], [1, 1], [0, 1]]).tolist()
    [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    """
    q = _as_quad(corners)
    return np.roll(q, quarter_turns % 4, axis=0)
