"""Random similarity jitter of a training batch, on the fly, with its corners carried along exactly.

Each image gets its own rotation, scale and shift, drawn uniformly within ``strength`` times the limits of
:class:`JitterLimits` (rotation ±10°, scale ±10%, shift ±10% of the image per axis at ``strength=1``). The
rotation is a true rotation in pixels, also on a non-square image (shared/DESIGN.md §2: in normalised
coordinates it would be a shear). Labels do not change under such a jitter, which is what makes it a fair
augmentation for unsupervised (label-only) training; corners move with the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .checks import check_shape
from .coords import px_linear_to_norm, size_hw
from .sampling import sample
from .transforms import get as get_transform

__all__ = ["JitterLimits", "jitter_batch", "random_jitter_matrix"]


@dataclass(frozen=True)
class JitterLimits:
    """The largest jitter at ``strength=1``."""

    rotation_deg: float = 10.0
    scale: float = 0.1  # ± fraction of the size
    shift: float = 0.1  # ± fraction of the image, per axis


def random_jitter_matrix(
    batch: int,
    size,
    strength: float,
    *,
    limits: JitterLimits = JitterLimits(),
    generator: torch.Generator | None = None,
    dtype=torch.float32,
    device=None,
) -> torch.Tensor:
    """Random similarity matrices in normalised coordinates, output -> input (the direction of θ).

    Args:
        batch: B.
        size: (H, W) of the images the matrices are for (a pixel rotation is a shear in normalised space
            unless H == W, so the aspect ratio enters).
        strength: 0 gives identities; 1 the full :class:`JitterLimits`.

    Returns:
        (B, 3, 3) normalised homographies (last row 0, 0, 1).

    Example:
        >>> m = random_jitter_matrix(3, (40, 60), 0.0)
        >>> bool(torch.equal(m, torch.eye(3).expand(3, 3, 3)))
        True
    """
    h, w = size_hw(size)
    u = torch.rand(batch, 4, generator=generator, dtype=torch.float64) * 2 - 1  # (B, 4) in [-1, 1)
    angle = u[:, 0] * math.radians(limits.rotation_deg) * strength
    scale = 1 + u[:, 1] * limits.scale * strength
    shift = u[:, 2:] * 2 * limits.shift * strength  # normalised units: the image spans 2
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    m = torch.zeros(batch, 3, 3, dtype=torch.float64)
    m[:, :2, :2] = px_linear_to_norm(torch.stack([cos, -sin, sin, cos], dim=1).view(batch, 2, 2), (h, w))
    m[:, 0, 2], m[:, 1, 2], m[:, 2, 2] = shift[:, 0], shift[:, 1], 1.0
    return m.to(dtype=dtype, device=device)


def jitter_batch(
    images: torch.Tensor,
    corners: torch.Tensor | None,
    strength: float,
    *,
    padding: str = "border",
    limits: JitterLimits = JitterLimits(),
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Jitter every image of a batch by its own random similarity; move its corners with it.

    Args:
        images: (B, C, H, W).
        corners: (B, 4, 2) normalised input coordinates (NaN where a record has none), or None.
        strength: 0 returns the inputs unchanged; 1 the full :class:`JitterLimits`.
        padding: how to fill what comes from outside the image ("zeros", "border", "reflection").

    Returns:
        (images (B, C, H, W), corners (B, 4, 2) or None), corners in the jittered images' normalised coordinates.
    """
    check_shape("images", images, ("B", "C", "H", "W"))
    if strength <= 0:
        return images, corners
    b, _, h, w = images.shape
    m = random_jitter_matrix(b, (h, w), strength, limits=limits, generator=generator, device=images.device)
    affine = get_transform("affine")
    v = sample(images, affine.grid(affine.from_matrix(m).to(images.dtype), (h, w)), padding=padding)
    if corners is None:
        return v, None
    check_shape("corners", corners, ("B", 4, 2))
    to_jittered = affine.from_matrix(torch.linalg.inv(m.to(torch.float64)))  # input -> jittered image
    return v, affine.points(to_jittered, corners.to(torch.float64)).to(corners.dtype)
