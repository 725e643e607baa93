"""Grow an annotated set into a large training set: geometric and photometric augmentation with exact corners.

``DocumentWarp`` is an albumentations transform (a single random homography: camera tilt, rotation, scale,
translation) that moves keypoints with the very matrix that warps the image, so corners stay exact.
``augment_manifest`` runs it with albumentations' photometric transforms over a manifest, in parallel,
resumably (a source image whose outputs are done is skipped).

Convention (DESIGN.md §2): corners are TL, TR, BR, BL in the document's upright reading order, in pixel
coordinates with (0, 0) the centre of the top-left pixel. Corners that leave the frame are kept and the record
is flagged ``"flags": ["corners_outside"]``; they are never dropped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import albumentations as A
import cv2
import numpy as np
from albumentations.core.transforms_interface import DualTransform
from pydantic import BaseModel, ConfigDict, Field, model_validator

from annotation import functional as F
from annotation.geometry import corners_outside, transform_points
from annotation.parallel import run_parallel
from annotation.records import Record, read_manifest, write_manifest

__all__ = ["AugmentConfig", "DocumentWarp", "augment_manifest", "augment_record", "build_pipeline"]


class AugmentConfig(BaseModel):
    """Augmentation parameters, validated when built.

    ``rotate``: largest rotation in degrees (uniform in ±rotate); ``perspective``: largest corner
    shift of the camera tilt as a fraction of the image size; ``scale``: range of the zoom;
    ``translate``: largest shift as a fraction of the image size; ``inside_tries``: how many times to
    redraw the geometry to keep all four corners inside the frame (the last draw is kept, flagged, when
    none fits); ``max_side``: downscale sources whose longer side exceeds it; ``photometric``:
    brightness/contrast, hue/saturation, gamma, shadow, blur, noise and JPEG with albumentations;
    ``jpeg_quality`` of the written files.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rotate: float = Field(180.0, ge=0.0, le=180.0)
    perspective: float = Field(0.06, ge=0.0, le=0.25)
    scale: tuple[float, float] = (0.8, 1.1)
    translate: float = Field(0.1, ge=0.0, le=0.5)
    inside_tries: int = Field(10, ge=0, le=100)
    max_side: int | None = Field(None, ge=16)
    photometric: bool = True
    jpeg_quality: int = Field(92, ge=1, le=100)

    @model_validator(mode="after")
    def _scale_range(self) -> AugmentConfig:
        lo, hi = self.scale
        if not 0.05 <= lo <= hi <= 10:
            raise ValueError(f"scale must satisfy 0.05 <= lo <= hi <= 10, got {self.scale}")
        return self


class DocumentWarp(DualTransform):
    """A random homography (tilt, rotation, scale, translation) applied to image, mask and keypoints.

    Keypoints (x, y) are moved by the same 3x3 matrix that ``cv2.warpPerspective`` uses for the image, in the
    pixel-centre convention, so they land exactly on the warped pixels. With ``inside_tries`` > 0 the geometry
    is redrawn until every keypoint stays inside the frame (up to that many times).
    """

    def __init__(
        self,
        rotate: float = 180.0,
        perspective: float = 0.06,
        scale: tuple[float, float] = (0.8, 1.1),
        translate: float = 0.1,
        inside_tries: int = 10,
        fill: int = 0,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.rotate = rotate
        self.perspective = perspective
        self.scale = scale
        self.translate = translate
        self.inside_tries = inside_tries
        self.fill = fill

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """Draw the matrix; redraw while keypoints would leave the frame (``inside_tries`` times at most)."""
        h, w = params["shape"][:2]
        kps = data.get("keypoints")
        pts = None if kps is None or len(kps) == 0 else np.asarray(kps)[:, :2]
        matrix = None
        for _ in range(self.inside_tries + 1):
            matrix = F.random_warp_matrix(
                w,
                h,
                self.random_generator,
                rotate=self.rotate,
                perspective=self.perspective,
                scale=self.scale,
                translate=self.translate,
            )
            if pts is None or not corners_outside(transform_points(matrix, pts), w, h).any():
                break
        return {"matrix": matrix}

    def apply(self, img: np.ndarray, matrix: np.ndarray, **params: Any) -> np.ndarray:
        """Warp the image (constant border)."""
        return F.warp_image(img, matrix, img.shape[1], img.shape[0], self.fill)

    def apply_to_mask(self, mask: np.ndarray, matrix: np.ndarray, **params: Any) -> np.ndarray:
        """Warp a mask with nearest-neighbour sampling."""
        return cv2.warpPerspective(mask, matrix, (mask.shape[1], mask.shape[0]), flags=cv2.INTER_NEAREST)

    def apply_to_keypoints(self, keypoints: np.ndarray, matrix: np.ndarray, **params: Any) -> np.ndarray:
        """Move (x, y) of each keypoint by the matrix; other columns are kept."""
        out = keypoints.copy()
        if len(out):
            out[:, :2] = transform_points(matrix, keypoints[:, :2])
        return out

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments that albumentations serialises."""
        return ("rotate", "perspective", "scale", "translate", "inside_tries", "fill")


def build_pipeline(config: AugmentConfig | None = None, seed: int | None = None) -> A.Compose:
    """The albumentations pipeline: ``DocumentWarp`` then (optionally) photometric transforms.

    Keypoints use format ``"xy"`` with ``remove_invisible=False``: corners leaving the frame are kept.
    """
    cfg = config or AugmentConfig()
    transforms: list[Any] = [
        DocumentWarp(cfg.rotate, cfg.perspective, cfg.scale, cfg.translate, cfg.inside_tries, p=1.0)
    ]
    if cfg.photometric:
        transforms += [
            A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.7),
            A.HueSaturationValue(hue_shift_limit=8, sat_shift_limit=15, val_shift_limit=10, p=0.5),
            A.RandomGamma(gamma_limit=(80, 120), p=0.3),
            A.RandomShadow(shadow_roi=(0, 0, 1, 1), num_shadows_limit=(1, 2), p=0.2),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 7))], p=0.3),
            A.GaussNoise(std_range=(0.01, 0.04), p=0.4),
            A.ImageCompression(quality_range=(50, 95), p=0.5),
        ]
    return A.Compose(
        transforms,
        keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
        seed=seed,
        strict=True,
    )


def _read_rgb(path: Path) -> np.ndarray:
    try:
        return F.decode_image(path.read_bytes())
    except ValueError:
        raise ValueError(f"cannot decode image {path} (unreadable, truncated or not an image)") from None


def augment_record(
    record: Record,
    root: Path,
    out_dir: Path,
    stem: str,
    per_image: int,
    config: AugmentConfig,
    seed: int,
) -> list[Record]:
    """Write ``per_image`` augmented copies of one record's image; return their records.

    Raises ``ValueError`` with a clear message for an unreadable image, a size that disagrees with the
    record, or an unusable quad (self-intersecting, degenerate, or far outside the image).
    """
    issues = record.issues()
    bad = [i for i in issues if i in ("self_intersecting", "degenerate", "far_outside")]
    if bad:
        raise ValueError(f"unusable corners ({', '.join(bad)}): {record.corners}")
    image = _read_rgb(record.path(root))
    h, w = image.shape[:2]
    if (w, h) != (record.width, record.height):
        raise ValueError(f"record says {record.width}x{record.height} but the image is {w}x{h}")
    corners = record.corners_array()
    if config.max_side and max(w, h) > config.max_side:
        image = F.shrink(image, config.max_side)
        nh, nw = image.shape[:2]
        if corners is not None:  # pixel-centre convention: x' = (x + 0.5) * nw / w - 0.5
            corners = (corners + 0.5) * np.array([nw / w, nh / h]) - 0.5
        w, h = nw, nh
    pipeline = build_pipeline(config, seed=seed)
    extra = {k: v for k, v in (record.model_extra or {}).items() if k not in ("flags", "source")}
    out: list[Record] = []
    for k in range(per_image):
        kps = [] if corners is None else corners.tolist()
        res = pipeline(image=image, keypoints=np.asarray(kps, dtype=np.float64).reshape(-1, 2))
        new_corners = None
        flags: list[str] = []
        if corners is not None:
            new_corners = np.asarray(res["keypoints"], dtype=np.float64)[:, :2]
            if corners_outside(new_corners, w, h).any():
                flags.append("corners_outside")
        name = f"images/{stem}_{k:03d}.jpg"
        (out_dir / name).write_bytes(F.jpeg_encode(res["image"], config.jpeg_quality))
        out.append(
            Record(
                image=name,
                width=w,
                height=h,
                corners=None if new_corners is None else np.round(new_corners, 4).tolist(),
                label=record.label,
                source=record.image,
                flags=flags,
                **extra,
            )
        )
    return out


def _task(
    args: tuple[int, dict, str, str, int, AugmentConfig, int],
) -> tuple[int, list[dict] | None, str | None]:
    index, rec_json, root, out_dir, per_image, cfg, seed = args
    record = Record.model_validate(rec_json)
    out = Path(out_dir)
    part = out / "parts" / f"{index:06d}.jsonl"
    if part.exists():  # resumable: this source's outputs are done
        records, _ = read_manifest(part)
        return index, [r.model_dump(mode="json") for r in records], None
    stem = f"{index:06d}_{Path(record.image).stem}"[:80]
    item_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
    try:
        records = augment_record(record, Path(root), out, stem, per_image, cfg, item_seed)
    except Exception as exc:  # one bad source never loses the batch: it is reported and skipped
        return index, None, f"{type(exc).__name__}: {exc}"
    write_manifest(part, records)
    return index, [r.model_dump(mode="json") for r in records], None


def augment_manifest(
    manifest: str | os.PathLike,
    out_dir: str | os.PathLike,
    per_image: int = 25,
    config: AugmentConfig | None = None,
    seed: int = 0,
    workers: int = 2,
    progress: bool = True,
) -> Path:
    """Augment every record of ``manifest`` ``per_image`` times into ``out_dir``; return the output manifest.

    Writes ``out_dir/images/*.jpg``, ``out_dir/manifest.jsonl`` (records carry ``source`` and ``flags``) and
    ``out_dir/errors.jsonl`` (bad manifest lines and bad sources, with file/line or image and a message).
    Sources already done (``out_dir/parts/<index>.jsonl`` present) are skipped, so an interrupted run resumes.
    The output depends on ``seed`` and the manifest only, not on ``workers``.
    """
    cfg = config or AugmentConfig()
    src = Path(manifest)
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "parts").mkdir(exist_ok=True)
    records, errors = read_manifest(src)
    tasks = [
        (i, r.model_dump(mode="json"), str(src.parent), str(out), per_image, cfg, seed) for i, r in enumerate(records)
    ]
    results = run_parallel(_task, tasks, workers=workers, desc="augment", progress=progress)
    rows: list[Record] = []
    error_rows = [{"file": e.file, "line": e.line, "message": e.message} for e in errors]
    for (index, produced, message), rec in zip(results, records, strict=True):
        if message is not None:
            error_rows.append({"file": str(src), "image": rec.image, "index": index, "message": message})
        else:
            rows.extend(Record.model_validate(r) for r in produced or [])
    with open(out / "errors.jsonl", "w", encoding="utf-8") as f:
        for row in error_rows:
            f.write(json.dumps(row) + "\n")
    return write_manifest(out / "manifest.jsonl", rows)
