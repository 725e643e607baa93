"""Contract tests over every registered transform kind (shared/DESIGN.md §2)."""

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stn import DegenerateTransformError, ShapeError, transforms
from stn.coords import norm_to_px, px_to_norm

KINDS = transforms.names()


def random_theta(kind: str, batch: int, gen: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """A random, well-conditioned θ of ``kind`` near the identity."""
    t = transforms.get(kind)
    corners = transforms.output_corners(dtype=dtype).expand(batch, 4, 2)
    jitter = 0.25 * (torch.rand(batch, 4, 2, generator=gen, dtype=dtype) - 0.5)
    theta = t.from_corners(corners * 0.8 + jitter)
    if kind == "tps":
        theta = theta + 0.05 * torch.randn(theta.shape, generator=gen, dtype=dtype)
    return theta


def test_registry_lists_all_kinds():
    assert KINDS == ["affine", "attention", "rotation", "similarity", "projective", "tps"]
    with pytest.raises(ValueError, match="unknown transform kind 'nope'"):
        transforms.get("nope")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [(5, 7), (4, 6), (6, 4), (1, 3)])
def test_identity_grid_is_the_pixel_centres(kind, size):
    t = transforms.get(kind)
    g = t.grid(t.identity(2, dtype=torch.float64), size)
    assert g.shape == (2, *size, 2)
    ref = F.affine_grid(torch.eye(2, 3, dtype=torch.float64)[None].expand(2, 2, 3), [2, 1, *size], align_corners=False)
    assert torch.equal(g, ref)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [(5, 7), (8, 8), (9, 4)])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_identity_reproduces_the_input(kind, size, mode):
    """Exact to float64 rounding, and bit-exact for 8-bit images in float32."""
    from stn import warp

    t = transforms.get(kind)
    x64 = torch.rand(2, 3, *size, dtype=torch.float64)
    y64 = warp(x64, t.identity(2, dtype=torch.float64), t, size, mode=mode)
    assert (y64 - x64).abs().max() < 1e-12
    x8 = torch.randint(0, 256, (2, 3, *size)).float()
    y8 = warp(x8, t.identity(2), t, size, mode=mode)
    assert torch.equal(y8.round(), x8)


@pytest.mark.parametrize("kind", KINDS)
def test_affine_kinds_match_affine_grid(kind):
    t = transforms.get(kind)
    if not getattr(t, "is_affine", False):
        pytest.skip("not an affine kind")
    theta = random_theta(kind, 3, torch.Generator().manual_seed(1))
    ref = F.affine_grid(t.matrix(theta)[:, :2], [3, 1, 5, 9], align_corners=False)
    assert torch.equal(t.grid(theta, (5, 9)), ref)


@pytest.mark.parametrize("kind", KINDS)
def test_corners_round_trip(kind):
    t = transforms.get(kind)
    gen = torch.Generator().manual_seed(2)
    theta = random_theta(kind, 4, gen)
    corners = t.corners(theta)
    again = t.corners(t.from_corners(corners))
    # corners -> θ -> corners is exact for a θ's own corners (least squares reproduces a member exactly)
    assert torch.allclose(again, corners, atol=1e-9)
    # and θ -> corners -> θ for the kinds whose corners determine θ
    if kind != "tps":
        assert torch.allclose(t.from_corners(corners), theta, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_corners_agree_with_the_grid(kind):
    """The corner of the output frame lies half a pixel beyond the corner pixel's centre."""
    t = transforms.get(kind)
    theta = random_theta(kind, 2, torch.Generator().manual_seed(3))
    size = (400, 600)
    g = t.grid(theta, size)  # pixel centres
    # TL pixel centre is at normalised (-1 + 1/W, -1 + 1/H): compare with mapping that point directly
    pts = torch.tensor([[-1 + 1 / 600, -1 + 1 / 400], [1 - 1 / 600, 1 - 1 / 400]], dtype=torch.float64)
    mapped = t.points(theta, pts)
    assert torch.allclose(g[:, 0, 0], mapped[:, 0], atol=1e-9)
    assert torch.allclose(g[:, -1, -1], mapped[:, 1], atol=1e-9)
    # and corners() is points() at the frame's outer corners
    assert torch.allclose(t.corners(theta), t.points(theta, transforms.output_corners(dtype=torch.float64)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("mode", "padding"), [("bilinear", "border"), ("bilinear", "zeros"), ("bicubic", "reflection")]
)
def test_gradcheck_grid_and_sampler(kind, mode, padding):
    from stn import sample

    t = transforms.get(kind)
    gen = torch.Generator().manual_seed(4)
    theta = random_theta(kind, 2, gen).requires_grad_(True)
    u = torch.rand(2, 2, 5, 7, dtype=torch.float64, generator=gen, requires_grad=True)

    def fn(theta, u):
        return sample(u, t.grid(theta, (4, 6)), mode=mode, padding=padding)

    assert torch.autograd.gradcheck(fn, (theta, u), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_matrix_px_matches_map_px(kind):
    t = transforms.get(kind)
    theta = random_theta(kind, 2, torch.Generator().manual_seed(5))
    in_size, out_size = (48, 64), (30, 20)
    mp = t.map_px(theta, in_size, out_size)
    assert mp.shape == (2, 30, 20, 2)
    if not t.is_homography:
        # TPS: matrix_px is the homography through its corners, exact there
        m = t.matrix_px(theta, in_size, out_size)
        corners_px = torch.tensor([[-0.5, -0.5, 1], [19.5, -0.5, 1], [19.5, 29.5, 1], [-0.5, 29.5, 1]], dtype=m.dtype)
        p = corners_px @ m.transpose(1, 2)
        assert torch.allclose(p[..., :2] / p[..., 2:], norm_to_px(t.corners(theta), in_size), atol=1e-6)
        return
    m = t.matrix_px(theta, in_size, out_size)
    v, u = torch.meshgrid(torch.arange(30.0), torch.arange(20.0), indexing="ij")
    pts = torch.stack([u, v, torch.ones_like(u)], -1).to(torch.float64)  # (H, W, 3) output pixels
    p = pts @ m[:, None].transpose(-1, -2)
    assert torch.allclose(p[..., :2] / p[..., 2:], mp, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_compose(kind):
    t = transforms.get(kind)
    gen = torch.Generator().manual_seed(6)
    a, b = random_theta(kind, 2, gen), random_theta(kind, 2, gen)
    pts = torch.rand(2, 10, 2, dtype=torch.float64, generator=gen) * 2 - 1
    composed = t.points(t.compose(a, b), pts)
    if t.is_homography:
        assert torch.allclose(composed, t.points(a, t.points(b, pts)), atol=1e-9)
    else:  # TPS compose is exact at the control points
        ctrl = t.ctrl.to(torch.float64)
        assert torch.allclose(t.points(t.compose(a, b), ctrl), t.points(a, t.points(b, ctrl)), atol=1e-9)


def test_rotation_by_90_degrees_moves_a_marked_pixel_where_the_convention_says():
    """α = +90°: the output's x axis lands along the input's -y (up on screen)."""
    img = np.zeros((5, 5), np.float64)
    img[0, 2] = 1.0  # top-middle of the input
    t = transforms.get("rotation")
    theta = torch.tensor([[math.pi / 2]], dtype=torch.float64)
    from stn import warp

    out = warp(torch.from_numpy(img)[None, None], theta, t, (5, 5), mode="nearest")[0, 0].numpy()
    ys, xs = np.nonzero(out > 0.5)
    assert (ys.tolist(), xs.tolist()) == ([2], [4])  # the mark appears at the right-middle of the output
    # angle of TL->TR in the input, counter-clockwise on screen: +90°
    c = t.corners(theta)[0]
    d = c[1] - c[0]
    assert math.degrees(math.atan2(-d[1].item(), d[0].item())) == pytest.approx(90.0)


@pytest.mark.parametrize("kind", ["affine", "projective"])
def test_agrees_with_cv2_warp_perspective_on_asymmetric_sizes(kind):
    """cv2 is the oracle: map 4x6 -> 3x5 style asymmetric sizes with random θ."""
    from stn import warp

    t = transforms.get(kind)
    gen = torch.Generator().manual_seed(7)
    rng = np.random.default_rng(7)
    for in_size, out_size in [((37, 53), (29, 41)), ((40, 24), (31, 47))]:
        img = rng.random(in_size).astype(np.float64)
        theta = random_theta(kind, 1, gen)
        m = t.matrix_px(theta, in_size, out_size)[0].numpy()
        ref = cv2.warpPerspective(img, m, out_size[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        ours = warp(torch.from_numpy(img)[None, None], theta, t, out_size)[0, 0].numpy()
        # compare away from the border; OpenCV rounds sample positions to 1/32 px, so on white noise
        # single pixels differ by up to ~1/32 of the local contrast
        diff = np.abs(ours - ref)[2:-2, 2:-2]
        assert diff.mean() < 6e-3  # a half-pixel shift or an x/y swap gives ~0.2
        assert diff.max() < 0.04


def test_pixel_and_normalised_coordinates():
    size = (4, 6)
    pts = torch.tensor([[-0.5, -0.5], [5.5, 3.5], [0.0, 0.0], [2.5, 1.5]])
    n = px_to_norm(pts, size)
    assert torch.allclose(n[:2], torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
    assert torch.allclose(n[3], torch.tensor([0.0, 0.0]))
    assert torch.allclose(norm_to_px(n, size), pts, atol=1e-6)


def test_projective_from_collinear_corners_is_a_clear_error():
    corners = torch.tensor([[[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.5, 1.0]]])
    with pytest.raises(DegenerateTransformError, match="collinear"):
        transforms.get("projective").from_corners(corners)


@pytest.mark.parametrize("kind", KINDS)
def test_degenerate_theta_never_gives_nan(kind):
    from stn import warp

    t = transforms.get(kind)
    theta = torch.zeros(1, t.num_params)  # zero scale / singular homography / collapsed spline
    if kind == "tps":
        theta = -t.ctrl.to(torch.float32).reshape(1, -1)  # every control point lands at the origin
    if kind == "rotation":
        pytest.skip("a rotation cannot be degenerate")
    out = warp(torch.rand(1, 1, 6, 8), theta, t, (6, 8))
    assert torch.isfinite(out).all()
    assert bool(t.degenerate(theta)[0])
    assert not bool(t.degenerate(t.identity(1))[0])


def test_projective_beyond_the_horizon_is_clamped_not_nan():
    t = transforms.get("projective")
    theta = torch.tensor([[1.0, 0, 0, 0, 1, 0, 1.0, 0.0]])  # w = 1 + x: zero on the left edge
    g = t.grid(theta, (8, 8))
    assert torch.isfinite(g).all()
    assert bool(t.degenerate(theta)[0])


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_shapes_say_expected_and_got(kind):
    t = transforms.get(kind)
    with pytest.raises(ShapeError, match=rf"expected shape \(B, {t.num_params}\), got \(2, {t.num_params + 1}\)"):
        t.grid(torch.zeros(2, t.num_params + 1), (4, 4))
    with pytest.raises(ShapeError, match=r"corners: expected shape \(B, 4, 2\), got \(2, 3, 2\)"):
        t.from_corners(torch.zeros(2, 3, 2))
    with pytest.raises(ValueError, match="size"):
        t.grid(t.identity(1), (0, 4))


def test_tps_grid_size_is_configurable():
    t = transforms.get("tps", grid_size=5)
    assert t.num_params == 50
    with pytest.raises(ValueError, match="grid_size"):
        transforms.get("tps", grid_size=1)
