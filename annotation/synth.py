"""Synthetic document photos with exact corners and class labels.

``render_sample(seed, config)`` is a pure function of its arguments (same seed, same bytes) and costs a few
milliseconds at 640x480, so it can also run inside torch DataLoader workers to train on the fly.
``generate(out_dir, n, seed, config, workers)`` writes ``images/*.jpg`` and ``manifest.jsonl``.

Convention (DESIGN.md §2): ``corners`` are TL, TR, BR, BL of the page in its upright reading order, in photo
pixel coordinates with (0, 0) the centre of the top-left pixel: where the page's outer corners
(-0.5, -0.5), (w-0.5, -0.5), (w-0.5, h-0.5), (-0.5, h-0.5) land under the homography that composited it.
``angle_deg`` is the direction of TL->TR on screen, counter-clockwise positive, in (-180, 180].
Nothing is downloaded: pages and backgrounds are procedural, or, with ``pages=DIR``, a ``pages_fraction`` of the
photos show the user's own flat, upright scans (any .jpg/.png in DIR; their own corners are the image corners)
with label None: real text and layouts to learn which way is up from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from annotation import functional as F
from annotation.geometry import angle_deg
from annotation.pages import ASPECTS, CLASSES, render_page
from annotation.parallel import run_parallel
from annotation.records import Record, write_manifest

__all__ = ["Sample", "ScanError", "SynthConfig", "generate", "list_scans", "render_sample"]


class SynthConfig(BaseModel):
    """Parameters of the synthetic photos, validated when built.

    ``area_range`` is the fraction of the frame the document covers (it shrinks when a rotated page cannot fit
    and ``inside`` is set); ``perspective`` is the largest corner jitter as a fraction of the page's size;
    ``max_rotation_deg`` bounds the uniform in-plane rotation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(640, ge=16, le=8192)
    height: int = Field(480, ge=16, le=8192)
    classes: tuple[str, ...] = CLASSES
    max_rotation_deg: float = Field(180.0, ge=0.0, le=180.0)
    perspective: float = Field(0.08, ge=0.0, le=0.2)
    area_range: tuple[float, float] = (0.25, 0.75)
    inside: bool = True
    background: bool = True
    shadows: bool = True
    lighting: bool = True
    blur: bool = True
    noise: bool = True
    jpeg_quality: tuple[int, int] = (60, 95)
    jpeg: bool = True
    pages: str | None = None  # a folder of real, flat, upright scans (.jpg/.png) to composite as documents
    pages_fraction: float = Field(0.5, ge=0.0, le=1.0)  # share of the photos that show a scan from ``pages``

    _scans: tuple[str, ...] = PrivateAttr(())  # the scans of ``pages``, listed once when the config is built

    @model_validator(mode="after")
    def _pages_folder(self) -> SynthConfig:
        v = self.pages
        if v is None:
            return self
        if not Path(v).is_dir():
            raise ValueError(f"pages: {v} is not a folder")
        paths = list_scans(v)
        if not paths:
            raise ValueError(f"pages: no .jpg, .jpeg or .png scans in {v}")
        unreadable = [Path(p).name for p in paths if not cv2.haveImageReader(p)]
        if unreadable:
            raise ValueError(f"pages: not images: {', '.join(unreadable[:10])} in {v}")
        self._scans = paths
        return self

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("at least one class is needed")
        unknown = [c for c in v if c not in ASPECTS]
        if unknown:
            raise ValueError(f"unknown classes {unknown}; known: {list(CLASSES)}")
        return tuple(v)

    @model_validator(mode="after")
    def _ranges(self) -> SynthConfig:
        lo, hi = self.area_range
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"area_range must satisfy 0 < lo <= hi <= 1, got {self.area_range}")
        qlo, qhi = self.jpeg_quality
        if not 1 <= qlo <= qhi <= 100:
            raise ValueError(f"jpeg_quality must satisfy 1 <= lo <= hi <= 100, got {self.jpeg_quality}")
        return self


SCAN_SUFFIXES = (".jpg", ".jpeg", ".png")
SCAN_MAX_SIDE = 1600  # scans are kept in memory at most this long (a photo's page is rarely larger)


def list_scans(folder: str) -> tuple[str, ...]:
    """The scans of ``folder`` in name order (the order seeds index into)."""
    return tuple(str(p) for p in sorted(Path(folder).iterdir()) if p.suffix.lower() in SCAN_SUFFIXES)


class ScanError(ValueError):
    """A scan of ``SynthConfig.pages`` that cannot be decoded."""


@lru_cache(maxsize=64)
def _load_scan(path: str) -> np.ndarray:
    """A scan as RGB uint8 (H, W, 3), shrunk so that its longer side is at most SCAN_MAX_SIDE."""
    try:
        return F.shrink(F.decode_image(Path(path).read_bytes()), SCAN_MAX_SIDE)
    except ValueError:
        raise ScanError(f"{path}: the scan cannot be decoded") from None


@dataclass
class Sample:
    """One synthetic photo: ``image`` RGB uint8 (H, W, 3); ``corners`` float64 (4, 2) TL TR BR BL in pixel
    coordinates; ``label`` the class name (None for a real scan); ``angle_deg`` of TL->TR; ``jpeg`` the encoded
    bytes (when the config's ``jpeg`` is on, ``image`` is exactly their decoding)."""

    image: np.ndarray
    corners: np.ndarray
    label: str | None
    angle_deg: float
    jpeg: bytes | None = field(default=None, repr=False)


_DEFAULT = SynthConfig()


def render_sample(seed: int, config: SynthConfig | None = None) -> Sample:
    """Render one synthetic photo; a pure function of (seed, config).

    >>> s = render_sample(3)
    >>> s.image.shape, s.corners.shape, s.label in CLASSES
    ((480, 640, 3), (4, 2), True)
    """
    return _render(seed, config or _DEFAULT, decode=True)


def _render(seed: int, cfg: SynthConfig, decode: bool) -> Sample:
    """``render_sample``; with ``decode=False`` and JPEG on, ``image`` is the photo before compression."""
    rng = np.random.default_rng(seed)
    W, H = cfg.width, cfg.height
    scan = None
    if cfg.pages is not None and rng.random() < cfg.pages_fraction:
        paths = cfg._scans
        scan = _load_scan(paths[int(rng.integers(0, len(paths)))])
        label, aspect = None, scan.shape[1] / scan.shape[0]
    else:
        label = cfg.classes[int(rng.integers(0, len(cfg.classes)))]
        aspect = float(rng.uniform(*ASPECTS[label]))
    quad = F.place_quad(
        aspect,
        W,
        H,
        rng,
        max_rotation_deg=cfg.max_rotation_deg,
        perspective=cfg.perspective,
        area_range=cfg.area_range,
        inside=cfg.inside,
    )
    # draw the page at about the size it has in the photo (no aliasing, no wasted pixels)
    side_w = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    side_h = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    pw, ph = max(8, round(side_w * 1.1)), max(8, round(side_h * 1.1))
    page = render_page(label, pw, ph, rng) if scan is None else cv2.resize(scan, (pw, ph), interpolation=cv2.INTER_AREA)
    photo = F.random_background(W, H, rng) if cfg.background else np.full((H, W, 3), 60, np.uint8)
    if cfg.shadows:
        photo = F.drop_shadow(photo, quad, rng)
    photo, _ = F.composite_page(page, quad, photo)
    photo = F.apply_photometric(photo, rng, shadow=cfg.shadows, lighting=cfg.lighting)
    if cfg.blur and rng.random() < 0.5:
        photo = F.blur(photo, rng)
    if cfg.noise:
        photo = F.add_noise(photo, rng)
    data = None
    if cfg.jpeg:
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        data = F.jpeg_encode(photo, quality)
        if decode:
            photo = F.decode_image(data)
    return Sample(image=photo, corners=quad, label=label, angle_deg=angle_deg(quad), jpeg=data)


def sample_seed(seed: int, index: int) -> int:
    """The seed of sample ``index`` of a set generated with ``seed`` (independent streams per index)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _write_one(task: tuple[int, int, SynthConfig, str]) -> dict:
    index, seed, cfg, out_dir = task
    s = _render(seed, cfg, decode=False)  # the file holds the JPEG bytes; no need to decode them here
    name = f"images/{index:06d}.jpg"
    data = s.jpeg if s.jpeg is not None else F.jpeg_encode(s.image, 95)
    tmp = Path(out_dir) / f"{name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, Path(out_dir) / name)
    return Record(
        image=name,
        width=cfg.width,
        height=cfg.height,
        corners=s.corners.tolist(),
        label=s.label,
        angle_deg=round(s.angle_deg, 4),
        seed=seed,
    ).model_dump(mode="json")


def generate(
    out_dir: str | os.PathLike,
    n: int,
    seed: int = 0,
    config: SynthConfig | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Render ``n`` samples into ``out_dir/images/`` and write ``out_dir/manifest.jsonl``; returns its path.

    Sample ``i`` uses ``sample_seed(seed, i)``, so the output does not depend on ``workers``.
    """
    cfg = config or _DEFAULT
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    tasks = [(i, sample_seed(seed, i), cfg, str(out)) for i in range(n)]
    rows = run_parallel(_write_one, tasks, workers=workers, desc="synth", progress=progress)
    return write_manifest(out / "manifest.jsonl", [Record.model_validate(r) for r in rows])
