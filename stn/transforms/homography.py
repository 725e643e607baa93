"""The transform kinds that are homographies: affine, attention, rotation, similarity, projective.

Convention:
    θ maps output to input in normalised coordinates (shared/DESIGN.md §2). As 3x3 matrices acting on
    column vectors (x, y, 1):

    - affine (6): ``[[a, b, tx], [c, d, ty], [0, 0, 1]]``, θ row-major, the same as ``F.affine_grid``.
    - attention (3): ``(s, tx, ty)`` -> ``[[s, 0, tx], [0, s, ty], [0, 0, 1]]`` (the paper's zoom window).
    - rotation (1): ``(α,)`` radians, + is counter-clockwise on screen (y points down) ->
      ``[[cos α, sin α, 0], [-sin α, cos α, 0], [0, 0, 1]]``: the output's x axis lands along
      (cos α, -sin α) in the input, so a document rotated by α on screen is brought upright.
    - similarity (4): ``(s, α, tx, ty)`` -> ``[[s cos α, s sin α, tx], [-s sin α, s cos α, ty], [0, 0, 1]]``.
    - projective (8): ``(h11, h12, h13, h21, h22, h23, h31, h32)`` with ``h33 = 1``.

    A rotation in normalised space is a shear in pixels on a non-square image; ``matrix_px`` gives the
    pixel-space matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import DegenerateTransformError, check_shape
from ..coords import size_hw
from .base import Transform, register

__all__ = ["Affine", "Attention", "HomographyTransform", "Projective", "Rotation", "Similarity"]

# Below this |w| a projective point is clamped to w = ±W_EPS (it is at or beyond the horizon).
W_EPS = 1e-6


def _corner_sums(corners: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Least-squares building blocks for fits to the fixed output corners (±1, ±1).

    The design matrix of (x, y, 1) over the four corners has orthogonal columns of norm² 4, so every
    linear least-squares fit below is a closed form in these sums.

    Args:
        corners: (B, 4, 2) TL, TR, BR, BL.

    Returns:
        mean (B, 2), sum over corners of x*dst (B, 2), sum of y*dst (B, 2).
    """
    check_shape("corners", corners, ("B", 4, 2))
    sx = corners.new_tensor([-1.0, 1.0, 1.0, -1.0])
    sy = corners.new_tensor([-1.0, -1.0, 1.0, 1.0])
    mean = corners.mean(dim=1)
    x_dst = (sx[None, :, None] * corners).sum(dim=1)  # (B, 2): Σ x_i * (x'_i, y'_i)
    y_dst = (sy[None, :, None] * corners).sum(dim=1)  # (B, 2): Σ y_i * (x'_i, y'_i)
    return mean, x_dst, y_dst


class HomographyTransform(Transform):
    """A transform given by a 3x3 matrix; subclasses define :meth:`matrix` and :meth:`from_matrix`."""

    is_homography = True
    #: True when the bottom row is always (0, 0, 1), so ``F.affine_grid`` can build the grid.
    is_affine = True

    def points(self, theta: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
        m = self.matrix(self.check(theta))  # (B, 3, 3)
        if pts.dim() == 2:
            pts = pts.unsqueeze(0).expand(theta.shape[0], -1, -1)
        check_shape("pts", pts, (theta.shape[0], None, 2))
        xy = pts @ m[:, :2, :2].transpose(1, 2) + m[:, None, :2, 2]  # (B, N, 2)
        if self.is_affine:
            return xy
        w = (pts @ m[:, 2:3, :2].transpose(1, 2)).squeeze(-1) + m[:, 2:3, 2]  # (B, N)
        return xy / _clamp_w(w).unsqueeze(-1)

    def grid(self, theta: torch.Tensor, size) -> torch.Tensor:
        if not self.is_affine:
            return super().grid(theta, size)
        theta = self.check(theta)
        h, w = size_hw(size)
        a = self.matrix(theta)[:, :2, :]  # (B, 2, 3)
        return F.affine_grid(a, [theta.shape[0], 1, h, w], align_corners=False)


def _clamp_w(w: torch.Tensor) -> torch.Tensor:
    """Keep the homogeneous coordinate away from 0: |w| < W_EPS becomes ±W_EPS (documented clamp)."""
    return torch.where(w.abs() < W_EPS, torch.where(w < 0, -W_EPS, W_EPS), w)


@register("affine")
class Affine(HomographyTransform):
    """General 2D affine transform, θ = the 2x3 matrix row-major (as ``F.affine_grid``)."""

    num_params = 6

    def identity_params(self) -> list[float]:
        return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]

    def matrix(self, theta: torch.Tensor) -> torch.Tensor:
        theta = self.check(theta)
        bottom = theta.new_tensor([0.0, 0.0, 1.0]).expand(theta.shape[0], 1, 3)
        return torch.cat([theta.reshape(-1, 2, 3), bottom], dim=1)

    def from_matrix(self, m: torch.Tensor) -> torch.Tensor:
        check_shape("matrix", m, ("B", 3, 3))
        return (m[:, :2, :] / m[:, 2:3, 2:3]).reshape(-1, 6)

    def from_corners(self, corners: torch.Tensor) -> torch.Tensor:
        mean, x_dst, y_dst = _corner_sums(corners)
        a = torch.stack([x_dst / 4, y_dst / 4, mean], dim=-1)  # (B, 2, 3): columns coef x, coef y, const
        return a.reshape(-1, 6)


@register("attention")
class Attention(HomographyTransform):
    """Isotropic scale and translation, θ = (s, tx, ty): the paper's attention window."""

    num_params = 3

    def identity_params(self) -> list[float]:
        return [1.0, 0.0, 0.0]

    def matrix(self, theta: torch.Tensor) -> torch.Tensor:
        s, tx, ty = self.check(theta).unbind(dim=1)
        z, o = torch.zeros_like(s), torch.ones_like(s)
        return torch.stack([s, z, tx, z, s, ty, z, z, o], dim=1).view(-1, 3, 3)

    def from_matrix(self, m: torch.Tensor) -> torch.Tensor:
        check_shape("matrix", m, ("B", 3, 3))
        m = m / m[:, 2:3, 2:3]
        return torch.stack([(m[:, 0, 0] + m[:, 1, 1]) / 2, m[:, 0, 2], m[:, 1, 2]], dim=1)

    def from_corners(self, corners: torch.Tensor) -> torch.Tensor:
        mean, x_dst, y_dst = _corner_sums(corners)
        s = (x_dst[:, 0] + y_dst[:, 1]) / 8
        return torch.stack([s, mean[:, 0], mean[:, 1]], dim=1)


@register("rotation")
class Rotation(HomographyTransform):
    """Rotation about the image centre, θ = (α,) radians, + counter-clockwise on screen."""

    num_params = 1

    def identity_params(self) -> list[float]:
        return [0.0]

    def matrix(self, theta: torch.Tensor) -> torch.Tensor:
        a = self.check(theta)[:, 0]
        c, s = torch.cos(a), torch.sin(a)
        z, o = torch.zeros_like(a), torch.ones_like(a)
        return torch.stack([c, s, z, -s, c, z, z, z, o], dim=1).view(-1, 3, 3)

    def from_matrix(self, m: torch.Tensor) -> torch.Tensor:
        check_shape("matrix", m, ("B", 3, 3))
        return torch.atan2(m[:, 0, 1] - m[:, 1, 0], m[:, 0, 0] + m[:, 1, 1]).unsqueeze(1)

    def from_corners(self, corners: torch.Tensor) -> torch.Tensor:
        _, x_dst, y_dst = _corner_sums(corners)
        # maximise Σ d_i · R c_i: tan α = Σ (y x' - x y') / Σ (x x' + y y')
        return torch.atan2(y_dst[:, 0] - x_dst[:, 1], x_dst[:, 0] + y_dst[:, 1]).unsqueeze(1)


@register("similarity")
class Similarity(HomographyTransform):
    """Scale, rotation and translation, θ = (s, α, tx, ty); α as for ``rotation``."""

    num_params = 4

    def identity_params(self) -> list[float]:
        return [1.0, 0.0, 0.0, 0.0]

    def matrix(self, theta: torch.Tensor) -> torch.Tensor:
        s, a, tx, ty = self.check(theta).unbind(dim=1)
        c, sn = s * torch.cos(a), s * torch.sin(a)
        z, o = torch.zeros_like(s), torch.ones_like(s)
        return torch.stack([c, sn, tx, -sn, c, ty, z, z, o], dim=1).view(-1, 3, 3)

    def from_matrix(self, m: torch.Tensor) -> torch.Tensor:
        check_shape("matrix", m, ("B", 3, 3))
        m = m / m[:, 2:3, 2:3]
        return _similarity_from_ab((m[:, 0, 0] + m[:, 1, 1]) / 2, (m[:, 0, 1] - m[:, 1, 0]) / 2, m[:, 0, 2], m[:, 1, 2])

    def from_corners(self, corners: torch.Tensor) -> torch.Tensor:
        mean, x_dst, y_dst = _corner_sums(corners)
        a = (x_dst[:, 0] + y_dst[:, 1]) / 8  # s cos α
        b = (y_dst[:, 0] - x_dst[:, 1]) / 8  # s sin α
        return _similarity_from_ab(a, b, mean[:, 0], mean[:, 1])


def _similarity_from_ab(a, b, tx, ty) -> torch.Tensor:
    return torch.stack([torch.sqrt(a * a + b * b), torch.atan2(b, a), tx, ty], dim=1)


@register("projective")
class Projective(HomographyTransform):
    """Full homography, θ = the 3x3 matrix row-major without h33 (fixed to 1)."""

    num_params = 8
    is_affine = False

    def identity_params(self) -> list[float]:
        return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]

    def matrix(self, theta: torch.Tensor) -> torch.Tensor:
        theta = self.check(theta)
        return torch.cat([theta, torch.ones_like(theta[:, :1])], dim=1).view(-1, 3, 3)

    def from_matrix(self, m: torch.Tensor) -> torch.Tensor:
        check_shape("matrix", m, ("B", 3, 3))
        return (m / m[:, 2:3, 2:3]).reshape(-1, 9)[:, :8]

    def from_corners(self, corners: torch.Tensor) -> torch.Tensor:
        """Exact: the homography taking the output corners (±1, ±1) to ``corners``.

        Closed form (Heckbert, 1989): the unit square to the quad, composed with [-1, 1] -> [0, 1].
        Raises :class:`~stn.checks.DegenerateTransformError` when three corners are collinear.

        Example:
            >>> T = Projective()
            >>> c = torch.tensor([[[-0.5, -0.6], [0.7, -0.4], [0.5, 0.8], [-0.6, 0.5]]])
            >>> bool(torch.allclose(T.corners(T.from_corners(c)), c, atol=1e-6))
            True
        """
        check_shape("corners", corners, ("B", 4, 2))
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = (corners[:, i].unbind(-1) for i in range(4))
        sx, sy = x0 - x1 + x2 - x3, y0 - y1 + y2 - y3
        dx1, dx2, dy1, dy2 = x1 - x2, x3 - x2, y1 - y2, y3 - y2
        den = dx1 * dy2 - dx2 * dy1
        # any three corners collinear (a zero-area corner triangle) leaves no homography
        c = corners.detach()
        e1, e2 = torch.roll(c, -1, dims=1) - c, torch.roll(c, 1, dims=1) - c  # (B, 4, 2)
        tri = (e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]).abs()  # (B, 4) twice the triangle areas
        scale = c.abs().amax(dim=(1, 2)).clamp_min(1.0)
        bad = tri.amin(dim=1) < 1e-9 * scale**2
        if bad.any():
            idx = bad.nonzero().flatten().tolist()
            raise DegenerateTransformError(
                f"projective from_corners: corners of batch item(s) {idx} are collinear; no homography fits"
            )
        g = (sx * dy2 - dx2 * sy) / den
        h = (dx1 * sy - sx * dy1) / den
        a, b, c = x1 - x0 + g * x1, x3 - x0 + h * x3, x0
        d, e, f = y1 - y0 + g * y1, y3 - y0 + h * y3, y0
        # unit square (u, v) -> quad; then (x_n, y_n) = 2 (u, v) - 1, i.e. u = (x_n + 1) / 2
        m = torch.stack(
            [
                a / 2, b / 2, c + (a + b) / 2,
                d / 2, e / 2, f + (d + e) / 2,
                g / 2, h / 2, 1 + (g + h) / 2,
            ],
            dim=1,
        ).view(-1, 3, 3)  # fmt: skip
        return self.from_matrix(m)
