"""Data sets for training and evaluation: manifests, on-the-fly synthetic documents, npz arrays.

Every item is a dict of tensors: ``image`` (C, H, W) float in [0, 1] at the model's input size, ``corners``
(4, 2) TL, TR, BR, BL in normalised coordinates (NaN when unknown), ``has_corners`` bool, ``label`` int (-1
when unknown), ``size`` (2,) the original (H, W).

Convention:
    Normalised coordinates (``align_corners=False``, shared/DESIGN.md §2) do not change when an image is
    resized, so corners are converted once from the original pixels and stay valid at any input size.

A data *spec* names a source:

- ``path/to/manifest.jsonl``: a manifest of shared/DESIGN.md §3 (extra keys ignored);
- ``synth:SEED`` or ``synth:SEED:N``: synthetic photos rendered on the fly by ``annotation.synth`` (sample i
  uses ``sample_seed(SEED, i)``; without N the set is as long as training needs);
- ``path/to/arrays.npz#SPLIT``: images ``X_SPLIT`` (N, H*W) or (N, H, W) and labels ``y_SPLIT`` (the cluttered
  MNIST file).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .coords import px_to_norm

__all__ = [
    "ArrayDataset",
    "DataError",
    "ManifestDataset",
    "StreamSampler",
    "SynthDataset",
    "load_image",
    "open_dataset",
    "to_item",
]


class DataError(ValueError):
    """A data spec that cannot be opened, or data that does not fit the training mode."""


def load_image(path: str | Path, in_channels: int = 3) -> np.ndarray:
    """Read an image file as RGB (H, W, 3) or grey (H, W) uint8; raise :class:`DataError` when unreadable."""
    flag = cv2.IMREAD_GRAYSCALE if in_channels == 1 else cv2.IMREAD_COLOR
    img = cv2.imread(str(path), flag)
    if img is None:
        raise DataError(f"{path}: not a readable image")
    return img if in_channels == 1 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def to_item(image: np.ndarray, corners_px, label: int, input_size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """One training item from an image (H, W[, C]) uint8 or float in [0, 1] and its pixel corners (or None).

    Example:
        >>> it = to_item(np.zeros((4, 6, 3), np.uint8), [[-0.5, -0.5], [5.5, -0.5], [5.5, 3.5], [-0.5, 3.5]], 2, (2, 3))
        >>> it["image"].shape, it["corners"][2].tolist(), int(it["label"])
        (torch.Size([3, 2, 3]), [1.0, 1.0], 2)
    """
    h, w = image.shape[:2]
    ih, iw = input_size
    if (h, w) != (ih, iw):
        interp = cv2.INTER_AREA if ih <= h and iw <= w else cv2.INTER_LINEAR
        image = cv2.resize(image, (iw, ih), interpolation=interp)
    x = torch.from_numpy(np.ascontiguousarray(image))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    x = x[None] if x.ndim == 2 else x.permute(2, 0, 1)  # (C, H, W)
    if corners_px is None:
        corners = torch.full((4, 2), math.nan)
    else:
        corners = px_to_norm(torch.as_tensor(np.asarray(corners_px, dtype=np.float64)), (h, w)).float()
    return {
        "image": x.contiguous(),
        "corners": corners,
        "has_corners": torch.tensor(corners_px is not None),
        "label": torch.tensor(label, dtype=torch.long),
        "size": torch.tensor([h, w]),
    }


class ManifestDataset(Dataset):
    """Records of a manifest (shared/DESIGN.md §3) as training items."""

    def __init__(self, path: str | Path, input_size, labels: list[str], in_channels: int = 3):
        from annotation.records import read_manifest

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{path}: manifest not found")
        records, errors = read_manifest(self.path)
        if errors:
            shown = "\n  ".join(str(e) for e in errors[:5])
            raise DataError(f"{path}: {len(errors)} bad line(s):\n  {shown}")
        if not records:
            raise DataError(f"{path}: no records")
        self.records = records
        self.root = self.path.parent
        self.input_size = tuple(input_size)
        self.labels = list(labels)
        self.in_channels = in_channels

    def __len__(self) -> int:
        return len(self.records)

    def has_corners(self) -> bool:
        return any(r.corners is not None for r in self.records)

    def label_names(self) -> list[str]:
        return sorted({r.label for r in self.records if r.label is not None})

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        r = self.records[i]
        img = load_image(r.path(self.root), self.in_channels)
        if img.shape[:2] != (r.height, r.width):
            raise DataError(
                f"{self.path}: {r.image} is {img.shape[1]}x{img.shape[0]}, record says {r.width}x{r.height}"
            )
        label = self.labels.index(r.label) if r.label in self.labels else -1
        return to_item(img, r.corners, label, self.input_size)


class SynthDataset(Dataset):
    """Synthetic document photos rendered on the fly: item i is ``render_sample(sample_seed(seed, i))``."""

    def __init__(self, seed: int, length: int, input_size, labels: list[str], synth: dict | None = None):
        from annotation.synth import SynthConfig

        self.seed = seed
        self.length = length
        self.input_size = tuple(input_size)
        self.config = SynthConfig(**(synth or {}))
        self.labels = list(labels)

    def __len__(self) -> int:
        return self.length

    def has_corners(self) -> bool:
        return True

    def label_names(self) -> list[str]:
        return list(self.config.classes)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        from annotation.synth import render_sample, sample_seed

        s = render_sample(sample_seed(self.seed, int(i)), self.config)
        label = self.labels.index(s.label) if s.label in self.labels else -1
        return to_item(s.image, s.corners, label, self.input_size)


class ArrayDataset(Dataset):
    """Images and labels from an npz file (``X_SPLIT``, ``y_SPLIT``); square images when flattened."""

    def __init__(self, path: str | Path, split: str, input_size, labels: list[str]):
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: npz file not found")
        with np.load(path) as f:
            if f"X_{split}" not in f:
                raise DataError(f"{path}: no X_{split} array (has {sorted(f.keys())})")
            x = f[f"X_{split}"].astype(np.float32)
            y = f[f"y_{split}"].reshape(-1).astype(np.int64)
        if x.ndim == 2:
            side = math.isqrt(x.shape[1])
            x = x.reshape(-1, side, side)
        self.x, self.y = x, y
        self.input_size = tuple(input_size)
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.x)

    def has_corners(self) -> bool:
        return False

    def label_names(self) -> list[str]:
        return [str(v) for v in sorted(set(self.y.tolist()))]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        name = str(self.y[i])
        return to_item(self.x[i], None, self.labels.index(name) if name in self.labels else -1, self.input_size)


def open_dataset(
    spec: str,
    *,
    input_size,
    labels: list[str] | None = None,
    in_channels: int = 3,
    length: int = 0,
    synth: dict | None = None,
):
    """Open a data spec (see the module docstring); ``length`` sizes an open-ended synthetic set."""
    labels = labels or []
    if spec.startswith("synth:"):
        parts = spec.split(":")
        try:
            seed = int(parts[1])
            n = int(parts[2]) if len(parts) > 2 else length
        except (IndexError, ValueError):
            raise DataError(f"{spec!r}: expected synth:SEED or synth:SEED:N") from None
        if n <= 0:
            raise DataError(f"{spec!r}: the number of samples must be positive")
        return SynthDataset(seed, n, input_size, labels, synth)
    if "#" in spec:
        path, split = spec.rsplit("#", 1)
        return ArrayDataset(path, split, input_size, labels)
    return ManifestDataset(spec, input_size, labels, in_channels)


class StreamSampler(Sampler[int]):
    """An endless stream of indices, split across ranks, reshuffled every epoch, resumable.

    Args:
        n: data set size.
        rank, world: this process and the number of processes (each takes every ``world``-th index).
        shuffle: a new permutation per epoch (seeded by ``seed + epoch``); otherwise 0..n-1 in order.
        start: how many indices this rank has already consumed (to resume).
    """

    def __init__(self, n: int, *, rank: int = 0, world: int = 1, shuffle: bool = True, seed: int = 0, start: int = 0):
        self.n, self.rank, self.world, self.shuffle, self.seed, self.start = n, rank, world, shuffle, seed, start

    def __iter__(self) -> Iterator[int]:
        per_epoch = max(1, self.n // self.world)
        epoch, skip = divmod(self.start, per_epoch)
        while True:
            if self.shuffle:
                g = torch.Generator().manual_seed(self.seed + epoch)
                order = torch.randperm(self.n, generator=g)
            else:
                order = torch.arange(self.n)
            mine = order[self.rank :: self.world][:per_epoch].tolist()
            yield from mine[skip:]
            skip = 0
            epoch += 1
