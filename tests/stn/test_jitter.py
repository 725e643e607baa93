"""Training-time jitter: identity at strength 0, a true pixel similarity, corners carried exactly."""

import math

import torch

from stn.coords import norm_from_px, norm_to_px
from stn.jitter import JitterLimits, jitter_batch, random_jitter_matrix


def test_strength_zero_returns_the_inputs():
    x, c = torch.rand(2, 1, 8, 12), torch.rand(2, 4, 2)
    v, moved = jitter_batch(x, c, 0.0)
    assert v is x and moved is c


def test_matrix_is_a_similarity_in_pixels_within_the_limits():
    size = (30, 80)  # non-square: a normalised rotation would be a shear here
    limits = JitterLimits(rotation_deg=20, scale=0.2, shift=0.1)
    m = random_jitter_matrix(64, size, 1.0, limits=limits, generator=torch.Generator().manual_seed(0)).double()
    n = norm_from_px(size)
    px = torch.linalg.inv(n) @ m @ n  # output pixel -> input pixel
    a = px[:, :2, :2]
    assert torch.allclose(a[:, 0, 0], a[:, 1, 1], atol=1e-9) and torch.allclose(a[:, 0, 1], -a[:, 1, 0], atol=1e-9)
    scale = torch.linalg.det(a).sqrt()
    angle = torch.rad2deg(torch.atan2(a[:, 1, 0], a[:, 0, 0]))
    assert ((scale - 1).abs() <= 0.2 + 1e-9).all() and (angle.abs() <= 20 + 1e-9).all()
    assert (angle.abs() > 10).any()  # the draws do use the range
    assert (m[:, :2, 2].abs() <= 2 * 0.1 + 1e-9).all()


def test_corners_follow_the_image():
    """Four bright dots at known pixels: after the jitter each dot is where its moved corner says."""
    h, w = 48, 64
    pts = torch.tensor([[17.0, 15.0], [47.0, 14.0], [48.0, 33.0], [16.0, 32.0]])
    img = torch.zeros(3, 1, h, w)
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    for x, y in pts.tolist():
        img[:, 0] += torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2))
    corners = (norm_from_px((h, w)).float() @ torch.cat([pts, torch.ones(4, 1)], 1).T).T[:, :2].expand(3, 4, 2)
    v, moved = jitter_batch(img, corners, 0.7, padding="zeros", generator=torch.Generator().manual_seed(3))
    moved_px = norm_to_px(moved.double(), (h, w))
    for b in range(3):
        for k in range(4):
            x0, y0 = moved_px[b, k].round().long().tolist()
            win = v[b, 0, y0 - 4 : y0 + 5, x0 - 4 : x0 + 5]
            ys, xs = torch.meshgrid(
                torch.arange(y0 - 4, y0 + 5).float(), torch.arange(x0 - 4, x0 + 5).float(), indexing="ij"
            )
            cx, cy = (win * xs).sum() / win.sum(), (win * ys).sum() / win.sum()  # the dot's centroid
            assert math.hypot(cx - moved_px[b, k, 0], cy - moved_px[b, k, 1]) < 0.3


def test_missing_corners_stay_missing():
    c = torch.full((2, 4, 2), math.nan)
    _, moved = jitter_batch(torch.rand(2, 3, 16, 16), c, 1.0)
    assert torch.isnan(moved).all()
