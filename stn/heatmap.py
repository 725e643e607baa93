"""A corner-heatmap localisation net: 4 heatmaps at stride 4, soft-argmax to corner positions (DSNT-style).

Regressing corners from pooled features (``nets.convnet``) learns slowly and coarsely; predicting where each
corner is on a stride-4 map and taking the heatmap's expectation is sub-pixel precise and learns from few
samples. An encoder (stride 32, for context: which side of the page is up) feeds a light decoder back to
stride 4 through skip connections.

Convention:
    The output is (B, 8): corners TL, TR, BR, BL as (x, y) in normalised input coordinates
    (``align_corners=False``, shared/DESIGN.md §2); heatmap cell (i, j) sits at its pixel centre.
    Use it with ``ModelConfig(head="corners")``; θ = ``transform.from_corners``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_shape
from .coords import OUTPUT_CORNERS_NORM
from .nets import _AddCoords, _conv_bn_relu

__all__ = ["CornerHeatmapNet"]


def _pw(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CornerHeatmapNet(nn.Module):
    """Images (B, C, H, W) -> corners (B, 8) by soft-argmax over 4 stride-4 heatmaps.

    At initialisation the heatmaps are a fixed prior peaked at the image's corners (the last conv starts at
    zero), so the first quad is a centred, non-degenerate square; a learnable factor lets training drop the
    prior.

    Example:
        >>> net = CornerHeatmapNet(in_channels=3)
        >>> c = net(torch.rand(2, 3, 48, 64)).view(2, 4, 2)
        >>> c.shape, bool((c[:, 0] < 0).all() and (c[:, 2] > 0).all())
        (torch.Size([2, 4, 2]), True)
    """

    def __init__(self, *, in_channels: int, widths=(32, 48, 64, 128, 192), decoder=(64, 48, 32), prior: float = 2.0):
        super().__init__()
        w0, w1, w2, w3, w4 = widths
        d0, d1, d2 = decoder
        self.in_channels = in_channels
        self.stem = nn.Sequential(_AddCoords(), _conv_bn_relu(in_channels + 2, w0, 2))  # /2
        self.s1 = nn.Sequential(_conv_bn_relu(w0, w1, 2), _conv_bn_relu(w1, w1))  # /4
        self.s2 = nn.Sequential(_conv_bn_relu(w1, w2, 2), _conv_bn_relu(w2, w2))  # /8
        self.s3 = nn.Sequential(_conv_bn_relu(w2, w3, 2), _conv_bn_relu(w3, w3))  # /16
        self.s4 = nn.Sequential(_conv_bn_relu(w3, w4, 2), _conv_bn_relu(w4, w4))  # /32
        self.u3 = _pw(w4 + w3, d0)
        self.u2 = nn.Sequential(_pw(d0 + w2, d1), _conv_bn_relu(d1, d1))
        self.u1 = nn.Sequential(_pw(d1 + w1, d2), _conv_bn_relu(d2, d2))
        self.out = nn.Conv2d(d2, 4, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.prior_scale = nn.Parameter(torch.tensor(float(prior)))
        self.register_buffer("anchors", torch.tensor(OUTPUT_CORNERS_NORM), persistent=False)  # (4, 2)

    @staticmethod
    def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 4, h, w) logits at stride 4."""
        check_shape("localisation input", x, ("B", self.in_channels, "H", "W"))
        f1 = self.s1(self.stem(x))
        f2 = self.s2(f1)
        f3 = self.s3(f2)
        f4 = self.s4(f3)
        y = self.u3(torch.cat([self._up(f4, f3), f3], dim=1))
        y = self.u2(torch.cat([self._up(y, f2), f2], dim=1))
        y = self.u1(torch.cat([self._up(y, f1), f1], dim=1))
        logits = self.out(y)  # (B, 4, h, w)
        h, w = logits.shape[-2:]
        ys = (2 * torch.arange(h, device=x.device, dtype=logits.dtype) + 1) / h - 1
        xs = (2 * torch.arange(w, device=x.device, dtype=logits.dtype) + 1) / w - 1
        a = self.anchors.to(logits.dtype)
        dist = (xs[None, None, :] - a[:, 0, None, None]).abs() + (ys[None, :, None] - a[:, 1, None, None]).abs()
        return logits - self.prior_scale * dist[None]  # (B, 4, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 8) corners (x, y) TL, TR, BR, BL, normalised."""
        return self.corners_and_spread(x)[0]

    def corners_and_spread(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> (corners (B, 8), spread (B,)).

        ``spread`` is the heatmaps' mean standard deviation in input pixels at (H, W): small when every
        heatmap has one sharp peak, large when a corner is uncertain (a heatmap split between two places).
        """
        logits = self.heatmaps(x)
        b, _, h, w = logits.shape
        p = logits.float().flatten(2).softmax(dim=2).view(b, 4, h, w)
        ys = (2 * torch.arange(h, device=x.device, dtype=p.dtype) + 1) / h - 1
        xs = (2 * torch.arange(w, device=x.device, dtype=p.dtype) + 1) / w - 1
        px, py = p.sum(dim=2), p.sum(dim=3)  # (B, 4, w), (B, 4, h) marginals
        cx, cy = (px * xs).sum(dim=2), (py * ys).sum(dim=2)  # (B, 4)
        vx, vy = (px * xs**2).sum(dim=2) - cx**2, (py * ys**2).sum(dim=2) - cy**2
        big_h, big_w = x.shape[-2:]
        spread = (vx * (big_w / 2) ** 2 + vy * (big_h / 2) ** 2).clamp_min(0).sqrt().mean(dim=1)
        return torch.stack([cx, cy], dim=2).reshape(b, 8), spread
