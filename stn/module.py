"""The SpatialTransformer module: U -> (V, θ), alone, in parallel, or stacked.

Convention:
    θ maps output to input in normalised coordinates (shared/DESIGN.md §2); V = sample(U, T_θ(G)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import nets
from .checks import check_choice, check_shape
from .coords import size_hw
from .sampling import PADDINGS, SAMPLERS, sample
from .transforms import get as get_transform

__all__ = ["ParallelSpatialTransformer", "SpatialTransformer", "StackedSpatialTransformer"]


class SpatialTransformer(nn.Module):
    """Localisation net -> θ -> grid -> sampler.

    Args:
        transform: transform kind (``stn.transforms.names()``).
        net: localisation net name (``stn.nets.names()``).
        in_channels: channels of U.
        out_size: (H, W) of V; ``None`` keeps U's size.
        sampler: "bilinear", "nearest" or "bicubic".
        padding: "zeros", "border" or "reflection".
        loc_size: (H, W) the localisation net sees (U resized, antialiased); ``None`` uses U as it is.
        transform_options, net_options: passed to the transform and net constructors.

    Example:
        >>> st = SpatialTransformer("affine", "paper", in_channels=1, out_size=(20, 30))
        >>> v, theta = st(torch.rand(2, 1, 40, 40))
        >>> tuple(v.shape), tuple(theta.shape)
        ((2, 1, 20, 30), (2, 6))
    """

    def __init__(
        self,
        transform: str = "affine",
        net: str = "paper",
        *,
        in_channels: int = 1,
        out_size=None,
        sampler: str = "bilinear",
        padding: str = "zeros",
        loc_size=None,
        transform_options: dict | None = None,
        net_options: dict | None = None,
    ):
        super().__init__()
        check_choice("sampler", sampler, SAMPLERS)
        check_choice("padding", padding, PADDINGS)
        self.transform = get_transform(transform, **(transform_options or {}))
        self.in_channels = in_channels
        self.out_size = None if out_size is None else size_hw(out_size)
        self.loc_size = None if loc_size is None else size_hw(loc_size)
        self.sampler = sampler
        self.padding = padding
        self.loc = nets.get(net, in_channels=in_channels, identity=self.transform.identity(1)[0], **(net_options or {}))

    def predict_theta(self, u: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> θ (B, P)."""
        check_shape("U", u, ("B", self.in_channels, "H", "W"))
        x = u
        if self.loc_size is not None and tuple(u.shape[-2:]) != self.loc_size:
            x = F.interpolate(u, size=self.loc_size, mode="bilinear", align_corners=False, antialias=True)
        return self.loc(x)

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """U (B, C, H, W) -> (V (B, C, H_out, W_out), θ (B, P))."""
        theta = self.predict_theta(u)
        size = self.out_size or tuple(u.shape[-2:])
        v = sample(u, self.transform.grid(theta, size), mode=self.sampler, padding=self.padding)
        return v, theta


class ParallelSpatialTransformer(nn.Module):
    """Several transformers on the same U (the paper's 2x / 4x bird models); outputs concatenated on channels.

    Example:
        >>> st = ParallelSpatialTransformer(
        ...     [SpatialTransformer("attention", in_channels=3, out_size=(16, 16)) for _ in range(2)])
        >>> v, thetas = st(torch.rand(1, 3, 32, 32))
        >>> tuple(v.shape), len(thetas)
        ((1, 6, 16, 16), 2)
    """

    def __init__(self, transformers: list[SpatialTransformer]):
        super().__init__()
        if not transformers:
            raise ValueError("ParallelSpatialTransformer: expected at least one transformer")
        sizes = {t.out_size for t in transformers}
        if len(sizes) != 1 or None in sizes:
            raise ValueError(f"ParallelSpatialTransformer: all transformers need the same out_size, got {sizes}")
        self.transformers = nn.ModuleList(transformers)

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """U (B, C, H, W) -> (V (B, n*C, H_out, W_out), [θ_i (B, P_i)])."""
        outs = [t(u) for t in self.transformers]
        return torch.cat([v for v, _ in outs], dim=1), [th for _, th in outs]


class StackedSpatialTransformer(nn.Module):
    """Transformers applied one after another: V_{i+1} = ST_i(V_i).

    ``compose_theta`` gives the single θ that maps the last output straight to U (homography kinds of one
    kind), so a full-resolution warp can be done once.
    """

    def __init__(self, transformers: list[SpatialTransformer]):
        super().__init__()
        if not transformers:
            raise ValueError("StackedSpatialTransformer: expected at least one transformer")
        self.transformers = nn.ModuleList(transformers)

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """U (B, C, H, W) -> (V_last, [θ_i (B, P_i)] in order)."""
        thetas = []
        for t in self.transformers:
            u, theta = t(u)
            thetas.append(theta)
        return u, thetas

    def compose_theta(self, thetas: list[torch.Tensor]) -> torch.Tensor:
        """θ of the whole stack: (B, P), for transformers that all share one transform kind."""
        kinds = {t.transform.name for t in self.transformers}
        if len(kinds) != 1:
            raise ValueError(f"compose_theta: transformers must share one transform kind, got {sorted(kinds)}")
        t = self.transformers[0].transform
        out = thetas[0]
        for th in thetas[1:]:
            out = t.compose(out, th)
        return out
