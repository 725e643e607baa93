"""Dataset records (DESIGN.md §3): one JSON object per line, paths relative to the manifest's folder.

Convention: ``corners`` are 4 points [x, y] TL, TR, BR, BL in the document's upright reading order, in input
pixel coordinates where (0, 0) is the centre of the top-left pixel (DESIGN.md §2). ``corners`` may be null
(unsupervised data) and ``label`` may be null. Unknown keys are kept and written back unchanged.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from annotation.geometry import quad_issues

__all__ = [
    "ManifestError",
    "Record",
    "merge_manifests",
    "parse_line",
    "read_manifest",
    "split_records",
    "write_manifest",
]


class Record(BaseModel):
    """One image of a data set.

    Fields: ``image`` (path relative to the manifest's folder, forward slashes), ``width`` and ``height``
    of the image in pixels, ``corners`` (4 x [x, y], TL TR BR BL, pixel coords with (0, 0) the centre of
    the top-left pixel) or None, ``label`` or None. Extra keys are preserved.

    >>> r = Record(image="a.jpg", width=4, height=3, corners=[[0, 0], [3, 0], [3, 2], [0, 2]], label="letter")
    >>> r.corners[2]
    [3.0, 2.0]
    """

    model_config = ConfigDict(extra="allow")

    image: str
    width: int
    height: int
    corners: list[list[float]] | None = None
    label: str | None = None

    @field_validator("image")
    @classmethod
    def _image_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("image path is empty")
        return v

    @field_validator("width", "height")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError(f"must be > 0, got {v}")
        return v

    @field_validator("corners")
    @classmethod
    def _four_finite_points(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        if len(v) != 4:
            raise ValueError(f"expected 4 corners (TL, TR, BR, BL), got {len(v)}")
        for i, p in enumerate(v):
            if len(p) != 2:
                raise ValueError(f"corner {i} must be [x, y], got {len(p)} numbers")
            if not all(math.isfinite(c) for c in p):
                raise ValueError(f"corner {i} is not finite: {p}")
        return [[float(x), float(y)] for x, y in v]

    def path(self, root: str | os.PathLike) -> Path:
        """The image's path: ``image`` resolved against ``root`` (the manifest's folder)."""
        return Path(root) / self.image

    def corners_array(self) -> np.ndarray | None:
        """Corners as a float64 array (4, 2) TL TR BR BL, or None."""
        return None if self.corners is None else np.asarray(self.corners, dtype=np.float64)

    def issues(self) -> list[str]:
        """Flags of a suspicious quad (see ``annotation.geometry.quad_issues``); empty without corners."""
        if self.corners is None:
            return []
        return quad_issues(self.corners, self.width, self.height)

    def to_json(self) -> str:
        """One manifest line (no newline)."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, separators=(", ", ": "))


class ManifestError(ValueError):
    """A bad manifest line: the file, its 1-based line number and what is wrong.

    Returned in ``read_manifest``'s error list, or raised by ``read_manifest(strict=True)``; its text is
    ``file:line: message``.
    """

    def __init__(self, file: str, line: int, message: str):
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ManifestError) and (self.file, self.line, self.message) == (
            other.file,
            other.line,
            other.message,
        )

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.message))


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_line(text: str, file: str, line: int) -> Record | ManifestError:
    """Parse one manifest line into a Record, or a ManifestError describing why it is bad."""
    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        return ManifestError(file, line, f"invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(obj, dict):
        return ManifestError(file, line, f"expected a JSON object, got {type(obj).__name__}")
    try:
        return Record.model_validate(obj)
    except ValidationError as exc:
        return ManifestError(file, line, _describe(exc))


def read_manifest(
    path: str | os.PathLike, *, strict: bool = False
) -> tuple[list[Record], list[ManifestError]]:
    """Read a JSON Lines manifest; bad lines are collected (file, line, message), the rest is kept.

    Blank lines are ignored. With ``strict=True`` the first bad line raises ``ManifestError`` whose text is
    ``file:line: message``.
    """
    records: list[Record] = []
    errors: list[ManifestError] = []
    name = str(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, text in enumerate(f, start=1):
            if not text.strip():
                continue
            parsed = parse_line(text, name, lineno)
            if isinstance(parsed, ManifestError):
                if strict:
                    raise parsed
                errors.append(parsed)
            else:
                records.append(parsed)
    return records, errors


def write_manifest(path: str | os.PathLike, records: Iterable[Record]) -> Path:
    """Write records as JSON Lines, atomically (a temporary file renamed over ``path``)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for rec in records:
                f.write(rec.to_json() + "\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _rebase(image: str, src_dir: Path, dst_dir: Path) -> str:
    p = Path(image)
    absolute = p if p.is_absolute() else (src_dir / p)
    try:
        return Path(os.path.relpath(absolute.resolve(), dst_dir.resolve())).as_posix()
    except ValueError:  # different drives on Windows
        return absolute.resolve().as_posix()


def merge_manifests(
    paths: Sequence[str | os.PathLike], out: str | os.PathLike
) -> tuple[list[Record], list[ManifestError]]:
    """Concatenate manifests into ``out``, rewriting image paths relative to ``out``'s folder.

    A later manifest's record for the same image (same resolved file) replaces the earlier one. Bad lines
    are skipped and returned.
    """
    out_dir = Path(out).parent
    merged: dict[str, Record] = {}
    errors: list[ManifestError] = []
    for p in paths:
        records, errs = read_manifest(p)
        errors.extend(errs)
        for rec in records:
            image = _rebase(rec.image, Path(p).parent, out_dir)
            merged[image] = rec.model_copy(update={"image": image})
    result = list(merged.values())
    write_manifest(out, result)
    return result, errors


def split_records(
    records: Sequence[Record], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[list[Record], list[Record], list[Record]]:
    """Shuffle with ``seed`` and split into (train, val, test) by ``fractions`` (which must sum to 1).

    The same records and seed always give the same split; sizes are rounded so that none is lost.

    >>> recs = [Record(image=f"{i}.jpg", width=1, height=1) for i in range(10)]
    >>> [len(s) for s in split_records(recs)]
    [8, 1, 1]
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be 3 non-negative numbers summing to 1, got {fractions}")
    n = len(records)
    order = np.random.default_rng(seed).permutation(n)
    n_train = round(n * fractions[0])
    n_val = min(n - n_train, round(n * fractions[1]))
    shuffled = [records[i] for i in order]
    return shuffled[:n_train], shuffled[n_train : n_train + n_val], shuffled[n_train + n_val :]
