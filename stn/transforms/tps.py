"""Thin-plate spline transform.

Convention:
    Control points ``c_k`` lie on an n x n grid over the output frame in normalised coordinates, row-major
    (y outer, x inner), corners included: ``c_0`` is TL (-1, -1), ``c_{n-1}`` TR, ``c_{n²-1}`` BR,
    ``c_{n²-n}`` BL. θ (B, 2 n²) holds the offsets ``δ_k`` (x, y interleaved) so that control point k lands
    at ``c_k + δ_k`` in normalised input coordinates. The map is ``f(x) = x + g(x)`` with g the thin-plate
    spline (kernel U(r) = r² log r²) interpolating the offsets, so θ = 0 gives exactly the identity grid.
"""

from __future__ import annotations

import torch

from ..checks import check_shape
from .base import Transform, base_grid, register
from .homography import Projective

__all__ = ["ThinPlateSpline"]


def _kernel(d2: torch.Tensor) -> torch.Tensor:
    """U(r) = r² log r² from squared distances (0 at r = 0)."""
    return torch.where(d2 > 0, d2 * torch.log(d2.clamp_min(1e-30)), torch.zeros_like(d2))


@register("tps")
class ThinPlateSpline(Transform):
    """Thin-plate spline over an n x n control grid (``grid_size``, default 3)."""

    is_homography = False

    def __init__(self, grid_size: int = 3):
        if int(grid_size) < 2:
            raise ValueError(f"tps grid_size: expected an integer >= 2, got {grid_size!r}")
        self.grid_size = n = int(grid_size)
        self.num_params = 2 * n * n
        t = torch.linspace(-1, 1, n, dtype=torch.float64)
        self.ctrl = torch.stack(torch.meshgrid(t, t, indexing="xy"), dim=-1).reshape(-1, 2)  # (K, 2)
        k = self.ctrl.shape[0]
        p = torch.cat([torch.ones(k, 1, dtype=torch.float64), self.ctrl], dim=1)  # (K, 3)
        lmat = torch.zeros(k + 3, k + 3, dtype=torch.float64)
        lmat[:k, :k] = _kernel(torch.cdist(self.ctrl, self.ctrl) ** 2)
        lmat[:k, k:] = p
        lmat[k:, :k] = p.T
        # maps offsets (K, 2) to spline coefficients [w (K, 2); a (3, 2)]
        self.coef_from_offsets = torch.linalg.inv(lmat)[:, :k]  # (K + 3, K)
        self._weights_cache: dict[tuple, torch.Tensor] = {}
        self.corner_index = [0, n - 1, k - 1, k - n]  # TL, TR, BR, BL

    def __repr__(self) -> str:
        return f"ThinPlateSpline(grid_size={self.grid_size})"

    def identity_params(self) -> list[float]:
        return [0.0] * self.num_params

    def _weights(self, pts: torch.Tensor) -> torch.Tensor:
        """(N, 2) query points -> (N, K) weights so that g(pts) = weights @ offsets."""
        q = pts.to(torch.float64)
        feats = torch.cat(
            [_kernel(torch.cdist(q, self.ctrl.to(q.device)) ** 2), torch.ones_like(q[:, :1]), q], dim=1
        )  # (N, K + 3)
        return (feats @ self.coef_from_offsets.to(q.device)).to(pts.dtype)

    def points(self, theta: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
        theta = self.check(theta)
        offsets = theta.view(theta.shape[0], -1, 2)  # (B, K, 2)
        if pts.dim() == 2:
            return pts.unsqueeze(0) + self._weights(pts) @ offsets
        check_shape("pts", pts, (theta.shape[0], None, 2))
        return pts + torch.stack([self._weights(p) @ o for p, o in zip(pts, offsets, strict=True)])

    def grid(self, theta: torch.Tensor, size) -> torch.Tensor:
        theta = self.check(theta)
        key = (tuple(size), theta.dtype, theta.device)
        base = base_grid(size, dtype=theta.dtype, device=theta.device)  # (H, W, 2)
        if key not in self._weights_cache:
            if len(self._weights_cache) > 16:
                self._weights_cache.clear()
            self._weights_cache[key] = self._weights(base.reshape(-1, 2))  # (H*W, K)
        weights = self._weights_cache[key]
        offsets = theta.view(theta.shape[0], -1, 2)  # (B, K, 2)
        return base + (weights @ offsets).view(theta.shape[0], *base.shape)  # (B, H, W, 2)

    def corners(self, theta: torch.Tensor) -> torch.Tensor:
        theta = self.check(theta)
        offsets = theta.view(theta.shape[0], -1, 2)[:, self.corner_index]  # (B, 4, 2)
        return self.ctrl[self.corner_index].to(theta) + offsets

    def from_corners(self, corners: torch.Tensor) -> torch.Tensor:
        """The spline that follows the homography through ``corners`` (exact at the corners).

        Args:
            corners: (B, 4, 2) normalised input coordinates.

        Returns:
            (B, 2 n²) offsets.
        """
        proj = Projective()
        ctrl = self.ctrl.to(corners)
        landed = proj.points(proj.from_corners(corners), ctrl)  # (B, K, 2)
        return (landed - ctrl).reshape(corners.shape[0], -1)

    def matrix(self, theta: torch.Tensor) -> torch.Tensor:
        """The homography through the spline's four corners (the spline itself is not a homography)."""
        return Projective().matrix(Projective().from_corners(self.corners(theta)))

    def compose(self, theta_outer: torch.Tensor, theta_inner: torch.Tensor) -> torch.Tensor:
        """Fit (exactly at the control points) the composition of two splines."""
        inner = self.points(theta_inner, self.ctrl.to(theta_inner))  # (B, K, 2)
        landed = self.points(theta_outer, inner)
        return (landed - self.ctrl.to(theta_inner)).reshape(theta_inner.shape[0], -1)
