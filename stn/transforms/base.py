"""The :class:`Transform` interface and the registry of transform kinds.

Convention (shared/DESIGN.md §2):
    θ maps OUTPUT (the canonical, upright document frame) to INPUT (the photo), in normalised coordinates
    (``align_corners=False``: -1 and +1 are the outer edges of an image). This is the sampling direction
    T_θ(G) of the STN paper and of ``F.affine_grid``. Corners are TL, TR, BR, BL of the output frame, i.e. the
    images of the normalised points (-1,-1), (1,-1), (1,1), (-1,1).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ..checks import check_shape
from ..coords import OUTPUT_CORNERS_NORM, norm_from_px, size_hw
from ..registry import Registry

__all__ = ["Transform", "base_grid", "get", "names", "output_corners", "register"]

_KINDS = Registry("transform kind")
register = _KINDS.register


def names() -> list[str]:
    """The registered transform kinds, in registration order.

    Example:
        >>> names()
        ['affine', 'attention', 'rotation', 'similarity', 'projective', 'tps']
    """
    return _KINDS.names()


@functools.lru_cache(maxsize=64)
def _get_cached(name: str, options: tuple) -> Transform:
    return _KINDS.lookup(name)(**dict(options))


def get(name: str, **options) -> Transform:
    """The transform of kind ``name`` (instances are cached per kind and options).

    Example:
        >>> get("projective").num_params
        8
        >>> get("tps", grid_size=4).num_params
        32
    """
    _KINDS.lookup(name)  # a clear error for an unknown kind, before the cache
    return _get_cached(name, tuple(sorted(options.items())))


def base_grid(size, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Normalised coordinates of the pixel centres of an image of ``size`` (H, W).

    The same values ``F.affine_grid`` starts from with ``align_corners=False``.

    Returns:
        (H, W, 2) tensor of (x_n, y_n).
    """
    h, w = size_hw(size)
    eye = torch.eye(2, 3, dtype=dtype, device=device)[None]
    return F.affine_grid(eye, [1, 1, h, w], align_corners=False)[0]  # (H, W, 2), bit-identical to affine_grid


def output_corners(*, dtype=torch.float32, device=None) -> torch.Tensor:
    """The output frame's corners TL, TR, BR, BL in normalised coordinates: (4, 2)."""
    return torch.tensor(OUTPUT_CORNERS_NORM, dtype=dtype, device=device)


class Transform:
    """A kind of spatial transform: parameters θ (B, P) mapping output to input normalised coordinates.

    Subclasses implement :meth:`identity_params`, :meth:`points`, :meth:`from_corners` and :meth:`matrix`,
    and may override :meth:`grid` for speed or exactness.
    """

    name: str = ""
    num_params: int = 0
    #: True when the transform is a homography (the 3x3 matrix is exact, not a fit).
    is_homography: bool = True

    # ------------------------------------------------------------------ parameters
    def identity_params(self) -> list[float]:
        """The P parameter values of the identity transform."""
        raise NotImplementedError

    def identity(self, batch: int = 1, *, dtype=torch.float32, device=None) -> torch.Tensor:
        """Identity parameters, (B, P).

        Example:
            >>> get("attention").identity(2)
            tensor([[1., 0., 0.],
                    [1., 0., 0.]])
        """
        return torch.tensor(self.identity_params(), dtype=dtype, device=device).repeat(batch, 1)

    def check(self, theta: torch.Tensor) -> torch.Tensor:
        """Raise :class:`~stn.checks.ShapeError` unless ``theta`` is (B, P); return it."""
        check_shape(f"{self.name} theta", theta, ("B", self.num_params))
        return theta

    # ------------------------------------------------------------------ geometry
    def points(self, theta: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
        """Map points of the output frame to the input.

        Args:
            theta: (B, P).
            pts: (B, N, 2) or (N, 2) normalised output coordinates.

        Returns:
            (B, N, 2) normalised input coordinates.
        """
        raise NotImplementedError

    def grid(self, theta: torch.Tensor, size) -> torch.Tensor:
        """Sampling grid for an output of ``size`` (H, W).

        Args:
            theta: (B, P).
            size: (H, W) of the output.

        Returns:
            (B, H, W, 2) normalised input coordinates (x, y) of each output pixel centre, ready for
            ``F.grid_sample(..., align_corners=False)``.
        """
        theta = self.check(theta)
        h, w = size_hw(size)
        base = base_grid((h, w), dtype=theta.dtype, device=theta.device).reshape(1, h * w, 2)
        return self.points(theta, base.expand(theta.shape[0], -1, -1)).reshape(-1, h, w, 2)

    def corners(self, theta: torch.Tensor) -> torch.Tensor:
        """Where the output frame's corners land: (B, 4, 2) TL, TR, BR, BL in normalised input coordinates.

        Args:
            theta: (B, P).
        """
        theta = self.check(theta)
        return self.points(theta, output_corners(dtype=theta.dtype, device=theta.device))

    def from_corners(self, corners: torch.Tensor) -> torch.Tensor:
        """Parameters whose output corners best match ``corners``.

        Exact for projective (and TPS at its corner control points); least squares for the others.

        Args:
            corners: (B, 4, 2) TL, TR, BR, BL in normalised input coordinates.

        Returns:
            (B, P).
        """
        raise NotImplementedError

    def matrix(self, theta: torch.Tensor) -> torch.Tensor:
        """The 3x3 normalised homography (output -> input), (B, 3, 3); for non-homographies, the one through
        the transform's corners."""
        raise NotImplementedError

    def matrix_px(self, theta: torch.Tensor, in_size, out_size) -> torch.Tensor:
        """The 3x3 pixel-space matrix mapping output pixels to input pixels.

        Usable as ``cv2.warpPerspective(img, M, (w_out, h_out), flags=INTER_LINEAR | WARP_INVERSE_MAP)``.

        Args:
            theta: (B, P).
            in_size: (H, W) of the input image.
            out_size: (H, W) of the output image.

        Returns:
            (B, 3, 3), in theta's dtype (computed in float64).
        """
        m = self.matrix(self.check(theta)).to(torch.float64)
        n_in = norm_from_px(in_size, device=theta.device)
        n_out = norm_from_px(out_size, device=theta.device)
        out = torch.linalg.inv(n_in) @ m @ n_out
        return (out / out[:, 2:3, 2:3]).to(theta.dtype)

    def map_px(self, theta: torch.Tensor, in_size, out_size) -> torch.Tensor:
        """Dense map: for each output pixel, the input pixel it samples.

        Args:
            theta: (B, P).
            in_size: (H, W) of the input image.
            out_size: (H, W) of the output image.

        Returns:
            (B, H_out, W_out, 2) input pixel coordinates (x, y), usable by ``cv2.remap``.
        """
        h_in, w_in = size_hw(in_size)
        g = self.grid(theta, out_size)
        scale = g.new_tensor([w_in, h_in])
        return ((g + 1) * scale - 1) / 2

    def compose(self, theta_outer: torch.Tensor, theta_inner: torch.Tensor) -> torch.Tensor:
        """Parameters of "apply ``theta_inner``'s warp to the output of ``theta_outer``'s".

        With ``V1 = warp(U, theta_outer)`` and ``V2 = warp(V1, theta_inner)``, ``V2 = warp(U, result)``
        (up to resampling). Exact for the homography kinds, which are closed under composition.

        Args:
            theta_outer, theta_inner: (B, P).

        Returns:
            (B, P).
        """
        return self.from_matrix(self.matrix(theta_outer) @ self.matrix(theta_inner))

    def from_matrix(self, m: torch.Tensor) -> torch.Tensor:
        """Parameters from a (B, 3, 3) normalised homography of this kind."""
        raise NotImplementedError(f"{self.name}: cannot be built from a matrix")

    def degenerate(self, theta: torch.Tensor, *, min_area: float = 1e-4) -> torch.Tensor:
        """(B,) bool: True where the output frame folds, flips or collapses in the input.

        A θ is degenerate when its corner quad is not a convex quadrilateral with area above ``min_area``
        (normalised units; the whole image has area 4), or when its homography sends a corner of the output
        frame beyond the horizon (w <= 0). Mirrored (flipped) frames are convex and not degenerate.
        """
        c = self.corners(self.check(theta))  # (B, 4, 2)
        nxt = torch.roll(c, -1, dims=1)
        prv = torch.roll(c, 1, dims=1)
        cross = (nxt[..., 0] - c[..., 0]) * (prv[..., 1] - c[..., 1]) - (nxt[..., 1] - c[..., 1]) * (
            prv[..., 0] - c[..., 0]
        )  # (B, 4): the same sign at every corner iff convex
        area = 0.5 * (c[..., 0] * nxt[..., 1] - nxt[..., 0] * c[..., 1]).sum(dim=1)
        convex = (cross > 0).all(dim=1) | (cross < 0).all(dim=1)
        bad = ~convex | (area.abs() < min_area) | ~torch.isfinite(c).all(dim=(1, 2))
        if not self.is_homography:
            return bad
        m = self.matrix(theta)
        w = (m[:, 2:3, :2] @ output_corners(dtype=m.dtype, device=m.device).T).squeeze(1) + m[:, 2:3, 2]
        return bad | (w <= 0).any(dim=1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, num_params={self.num_params})"
