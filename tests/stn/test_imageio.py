"""Decoding fast path (OpenCV for upright JPEGs) against Pillow, and the encoders' settings."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from stn.imageio import CorruptImageError, decode_image, encode_image
from tests.support import encode, photo


def _pillow(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_fast_path_matches_pillow(mode):
    img = photo(97, 61, seed=3)  # odd sizes: chroma subsampling edges
    data = encode(np.asarray(Image.fromarray(img).convert(mode)), "JPEG", quality=85)
    got = decode_image(data)
    assert got.shape == (61, 97, 3) and got.dtype == np.uint8 and got.flags.c_contiguous
    assert np.abs(got.astype(int) - _pillow(data).astype(int)).max() <= 2


def test_exif_rotated_jpeg_is_upright_and_truncated_jpeg_is_corrupt():
    img = photo(90, 60)
    data = encode(img, "JPEG", quality=95, exif_orientation=6)  # stored sideways: viewers turn it 90° clockwise
    assert decode_image(data).shape == (90, 60, 3)
    with pytest.raises(CorruptImageError):
        decode_image(encode(img, "JPEG")[:-300])


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_encode_round_trip(fmt):
    img = photo(64, 48)
    back = decode_image(encode_image(img, fmt, quality=95))
    assert back.shape == img.shape
    assert np.abs(back.astype(int) - img.astype(int)).mean() < (0.01 if fmt == "png" else 8)  # lossy on a noisy photo
