"""The OpenCV full-resolution path agrees with the tensor path (issue 2 point 3)."""

import cv2
import numpy as np
import pytest
import torch

from stn import transforms, warp, warp_image


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 2)


@pytest.mark.parametrize("kind", transforms.names())
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_opencv_and_grid_sample_agree_within_one_grey_level(kind, padding):
    t = transforms.get(kind)
    img = smooth_image(120, 160)
    corners = torch.tensor([[[-0.7, -0.8], [0.8, -0.6], [0.9, 0.9], [-0.8, 0.7]]], dtype=torch.float64)
    theta = t.from_corners(corners)
    out_size = (90, 70)
    ours = warp_image(img, theta, kind, out_size, padding=padding).astype(np.float64)
    u = torch.from_numpy(img).permute(2, 0, 1)[None].double()
    ref = warp(u, theta, t, out_size, padding=padding)[0].permute(1, 2, 0).numpy()
    assert ours.shape == (90, 70, 3)
    assert np.abs(ours - ref).mean() < 1.0


def test_identity_is_bit_exact_on_uint8():
    img = smooth_image(37, 50)
    for kind in transforms.names():
        t = transforms.get(kind)
        assert np.array_equal(warp_image(img, t.identity(1), kind, img.shape[:2]), img), kind


def test_any_size_and_grey_images():
    img = smooth_image(301, 203)[..., 0]
    out = warp_image(img, [1.0, 0.1, 0.05], "attention", (50, 80), interpolation="bicubic")
    assert out.shape == (50, 80) and out.dtype == np.uint8


def test_bad_arguments_are_clear_errors():
    img = smooth_image(20, 20)
    with pytest.raises(ValueError, match="image: expected a non-empty"):
        warp_image(np.zeros((0, 5), np.uint8), [1, 0, 0], "attention", (4, 4))
    with pytest.raises(ValueError, match="interpolation"):
        warp_image(img, [1, 0, 0], "attention", (4, 4), interpolation="lanczos9")
    with pytest.raises(ValueError, match=r"expected shape \(B, 3\), got \(1, 2\)"):
        warp_image(img, [1, 0], "attention", (4, 4))
