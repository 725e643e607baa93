"""Differentiable samplers: ``F.grid_sample`` with an explicit convention.

Convention:
    Grids hold normalised input coordinates (x, y) with ``align_corners=False`` (shared/DESIGN.md §2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import check_choice, check_shape
from .coords import size_hw
from .transforms import Transform
from .transforms import get as get_transform

__all__ = ["PADDINGS", "SAMPLERS", "sample", "warp"]

SAMPLERS = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")


def sample(input: torch.Tensor, grid: torch.Tensor, mode: str = "bilinear", padding: str = "zeros") -> torch.Tensor:
    """Sample ``input`` at ``grid``.

    Args:
        input: (B, C, H, W).
        grid: (B, H_out, W_out, 2) normalised input coordinates.
        mode: "bilinear" (default), "nearest" or "bicubic".
        padding: "zeros", "border" or "reflection": what is read outside the input.

    Returns:
        (B, C, H_out, W_out), differentiable with respect to ``input`` and ``grid``.

    Example:
        >>> x = torch.arange(6.0).view(1, 1, 2, 3)
        >>> from stn.transforms import base_grid
        >>> torch.equal(sample(x, base_grid((2, 3))[None], mode="nearest"), x)
        True
    """
    check_shape("input", input, ("B", "C", "H", "W"))
    check_shape("grid", grid, (input.shape[0], "H_out", "W_out", 2))
    check_choice("sampler", mode, SAMPLERS)
    check_choice("padding", padding, PADDINGS)
    return F.grid_sample(input, grid.to(input.dtype), mode=mode, padding_mode=padding, align_corners=False)


def warp(
    input: torch.Tensor,
    theta: torch.Tensor,
    transform: str | Transform,
    out_size,
    mode: str = "bilinear",
    padding: str = "zeros",
) -> torch.Tensor:
    """Warp ``input`` by θ: output pixel p reads input at T_θ(p).

    Args:
        input: (B, C, H, W).
        theta: (B, P) parameters of ``transform`` (output -> input, normalised).
        transform: a transform kind name or instance.
        out_size: (H_out, W_out).

    Returns:
        (B, C, H_out, W_out).
    """
    t = get_transform(transform) if isinstance(transform, str) else transform
    return sample(input, t.grid(theta, size_hw(out_size)), mode=mode, padding=padding)
