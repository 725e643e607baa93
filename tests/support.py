"""Helpers shared by the engine, service and worker tests: small real checkpoints and test photos."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from stn.checkpoint import save_checkpoint
from stn.model import DocSTN, ModelConfig

#: θ of a projective transform that turns the frame upside down (180° about the centre).
UPSIDE_DOWN = [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0]
#: θ of a projective transform whose output is the centre half of the photo, tilted in perspective.
TILTED = [0.5, 0.1, 0.05, -0.05, 0.6, -0.1, 0.1, 0.05]


def make_checkpoint(directory: Path, *, theta=None, seed: int | None = None, input_size=(32, 32)) -> Path:
    """Save a small real DocSTN (paper net) to ``directory``.

    ``theta``: the head predicts exactly this θ for every photo (zero head weights); ``seed``: small random
    head weights, so θ depends on the photo (for batching tests); neither: the untrained identity model.
    """
    model = DocSTN(ModelConfig(transform="projective", net="paper", input_size=input_size))
    head = model.loc.head
    with torch.no_grad():
        if theta is not None:
            head.bias.copy_(torch.tensor(theta))
        if seed is not None:
            g = torch.Generator().manual_seed(seed)
            head.weight.copy_(torch.randn(head.weight.shape, generator=g) * 0.02)
    return save_checkpoint(directory, model, train={"version": "test"})


def photo(width: int = 160, height: int = 120, seed: int = 0) -> np.ndarray:
    """An asymmetric RGB test photo: a bright page with a dark mark near its top-left corner."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 60, np.uint8)
    img[height // 8 : height * 7 // 8, width // 8 : width * 7 // 8] = 230
    img[height // 8 : height // 4, width // 8 : width // 4] = (200, 30, 30)
    img = cv2.add(img, rng.integers(0, 20, img.shape, dtype=np.uint8))
    return img


def encode(img: np.ndarray, fmt: str = "PNG", exif_orientation: int | None = None, **kwargs) -> bytes:
    """RGB array -> encoded bytes with Pillow (optionally with an EXIF orientation tag)."""
    im = Image.fromarray(img)
    buf = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()
