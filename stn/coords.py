"""Pixel and normalised coordinates (shared/DESIGN.md §2).

Convention:
    Points are (x, y); sizes are (H, W). Pixel coordinates follow OpenCV: (0, 0) is the centre of the top-left
    pixel and an image spans [-0.5, W-0.5] x [-0.5, H-0.5]. Normalised coordinates follow PyTorch with
    ``align_corners=False``: ``x_n = (2x + 1) / W - 1``, so -1 and +1 are the outer edges of the image.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "OUTPUT_CORNERS_NORM",
    "angle_deg",
    "norm_from_px",
    "norm_to_px",
    "px_linear_to_norm",
    "px_to_norm",
    "size_hw",
]

# The output frame's corners TL, TR, BR, BL in normalised coordinates: the image's outer edges.
OUTPUT_CORNERS_NORM = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


def size_hw(size) -> tuple[int, int]:
    """Validate an ``(H, W)`` size and return it as a tuple of two positive ints."""
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size: expected (H, W) with two positive integers, got {size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size: expected (H, W) with two positive integers, got {size!r}")
    return h, w


def norm_from_px(size, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """The 3x3 matrix mapping pixel coordinates to normalised ones for an image of ``size``.

    Args:
        size: (H, W) of the image.

    Returns:
        (3, 3) tensor ``N`` with ``[x_n, y_n, 1]^T = N @ [x, y, 1]^T``.

    Example:
        >>> norm_from_px((2, 4)) @ torch.tensor([-0.5, -0.5, 1.0], dtype=torch.float64)
        tensor([-1., -1.,  1.], dtype=torch.float64)
    """
    h, w = size_hw(size)
    return torch.tensor(
        [[2.0 / w, 0.0, 1.0 / w - 1.0], [0.0, 2.0 / h, 1.0 / h - 1.0], [0.0, 0.0, 1.0]],
        dtype=dtype,
        device=device,
    )


def px_linear_to_norm(a: torch.Tensor, size) -> torch.Tensor:
    """A linear map of pixel offsets (about the image centre) as the same map of normalised offsets.

    A rotation in pixels is a shear in normalised coordinates unless H == W: this is where the aspect ratio
    enters (``N a N^-1`` with ``N = diag(2 / W, 2 / H)``).

    Args:
        a: (..., 2, 2) linear maps in pixel units.
        size: (H, W) of the image.

    Returns:
        (..., 2, 2) the same maps in normalised units.

    Example:
        >>> px_linear_to_norm(torch.tensor([[0.0, -1.0], [1.0, 0.0]]), (2, 4))  # a quarter turn, 4 wide, 2 high
        tensor([[ 0.0000, -0.5000],
                [ 2.0000,  0.0000]])
    """
    h, w = size_hw(size)
    n = a.new_tensor([2.0 / w, 2.0 / h])
    return a * n[:, None] / n[None, :]


def px_to_norm(points: torch.Tensor, size) -> torch.Tensor:
    """Pixel (x, y) -> normalised (x_n, y_n) for an image of ``size`` (H, W).

    Args:
        points: (..., 2) pixel coordinates.

    Returns:
        (..., 2) normalised coordinates.

    Example:
        >>> px_to_norm(torch.tensor([[0.0, 0.0], [3.5, 1.5]]), (2, 4))
        tensor([[-0.7500, -0.5000],
                [ 1.0000,  1.0000]])
    """
    h, w = size_hw(size)
    scale = points.new_tensor([w, h])
    return (2 * points + 1) / scale - 1


def norm_to_px(points: torch.Tensor, size) -> torch.Tensor:
    """Normalised (x_n, y_n) -> pixel (x, y) for an image of ``size`` (H, W); inverse of :func:`px_to_norm`.

    Args:
        points: (..., 2) normalised coordinates.

    Returns:
        (..., 2) pixel coordinates.

    Example:
        >>> norm_to_px(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), (2, 4))
        tensor([[-0.5000, -0.5000],
                [ 3.5000,  1.5000]])
    """
    h, w = size_hw(size)
    scale = points.new_tensor([w, h])
    return ((points + 1) * scale - 1) / 2


def angle_deg(corners_px: np.ndarray) -> float:
    """Direction of TL->TR on screen, counter-clockwise positive, in (-180, 180].

    Args:
        corners_px: (4, 2) TL, TR, BR, BL in pixels (y down).

    Example:
        >>> angle_deg(np.array([[10, 0], [0, 0], [0, 5], [10, 5]]))  # upside down
        180.0
        >>> angle_deg(np.array([[0, 10], [0, 0], [5, 0], [5, 10]]))  # TL->TR points up: 90 CCW
        90.0
    """
    dx, dy = (np.asarray(corners_px[1], np.float64) - np.asarray(corners_px[0], np.float64)).tolist()
    a = math.degrees(math.atan2(-dy, dx))  # y points down on screen
    a = round(a, 6)
    return 180.0 if a <= -180.0 else a + 0.0  # + 0.0 turns -0.0 into 0.0
