"""The corner-capture page: FastAPI routes over a folder of photos and its ``manifest.jsonl``.

``create_router(folder)`` gives an ``APIRouter`` that the service can mount (e.g. at ``/annotate``); the page
uses URLs relative to itself, so it works under any prefix. ``create_app(folder)`` wraps it for
``docstn annotate FOLDER``.

Routes: ``GET /`` the page; ``GET /api/state`` images, their records, progress and where to resume;
``GET /api/image?name=`` an image of the folder; ``PUT /api/records`` save one record (written to the
manifest at once, atomically, replacing that image's earlier line; other lines, even bad ones, are kept).

Convention (DESIGN.md §2): corners are TL, TR, BR, BL in the document's upright reading order, in pixel
coordinates of the image as displayed (EXIF orientation applied) with (0, 0) the centre of the top-left pixel.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse
from PIL import Image
from pydantic import BaseModel, ValidationError

from annotation.records import Record, parse_line

__all__ = ["IMAGE_EXTENSIONS", "MANIFEST_NAME", "create_app", "create_router", "list_images"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MANIFEST_NAME = "manifest.jsonl"


class SaveRequest(BaseModel):
    """A record as the page sends it: image name (relative to the folder), 4 corners [x, y], label."""

    image: str
    corners: list[list[float]]
    label: str | None = None


def list_images(folder: Path) -> list[str]:
    """Image files under ``folder`` (recursively, hidden files and the output of tools skipped), sorted,
    as POSIX paths relative to ``folder``."""
    names = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            names.append(rel.as_posix())
    return sorted(names)


def _display_size(path: Path) -> tuple[int, int]:
    """(width, height) as browsers and OpenCV show the image: EXIF orientations 5-8 swap the sides."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
    except (OSError, ValueError) as exc:
        raise HTTPException(422, f"cannot read image {path.name}: {exc}") from exc
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


class _Store:
    """The folder's manifest, updated line by line under a lock."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.manifest = folder / MANIFEST_NAME
        self.lock = threading.Lock()

    def _lines(self) -> list[str]:
        if not self.manifest.exists():
            return []
        return self.manifest.read_text(encoding="utf-8").splitlines()

    def records(self) -> dict[str, Record]:
        out = {}
        for n, line in enumerate(self._lines(), start=1):
            if line.strip():
                parsed = parse_line(line, str(self.manifest), n)
                if isinstance(parsed, Record):
                    out[parsed.image] = parsed
        return out

    def upsert(self, record: Record) -> None:
        with self.lock:
            lines, replaced = [], False
            for n, line in enumerate(self._lines(), start=1):
                parsed = parse_line(line, str(self.manifest), n) if line.strip() else None
                if isinstance(parsed, Record) and parsed.image == record.image:
                    if not replaced:
                        lines.append(record.to_json())
                        replaced = True
                    continue
                lines.append(line)
            if not replaced:
                lines.append(record.to_json())
            fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST_NAME}.", dir=self.folder)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            os.replace(tmp, self.manifest)


def _page() -> str:
    return resources.files("annotation").joinpath("static/capture.html").read_text(encoding="utf-8")


def create_router(folder: str | os.PathLike) -> APIRouter:
    """Routes of the capture page over ``folder`` (see the module docstring)."""
    root = Path(folder).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    store = _Store(root)
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(_page())

    @router.get("/api/state")
    def state() -> dict:
        images = list_images(root)
        records = store.records()
        items = []
        for name in images:
            rec = records.get(name)
            items.append(
                {
                    "name": name,
                    "done": rec is not None and rec.corners is not None,
                    "corners": rec.corners if rec else None,
                    "label": rec.label if rec else None,
                }
            )
        done = sum(i["done"] for i in items)
        resume = next((k for k, i in enumerate(items) if not i["done"]), max(0, len(items) - 1))
        labels = sorted({r.label for r in records.values() if r.label})
        return {
            "folder": root.name,
            "images": items,
            "total": len(items),
            "done": done,
            "resume": resume,
            "labels": labels,
        }

    @router.get("/api/image")
    def image(name: str = Query(...)) -> FileResponse:
        if name not in set(list_images(root)):  # only listed files: no path traversal
            raise HTTPException(404, f"no image {name!r} in this folder")
        return FileResponse(root / name)

    @router.put("/api/records")
    def save(req: SaveRequest) -> dict:
        names = list_images(root)
        if req.image not in set(names):
            raise HTTPException(404, f"no image {req.image!r} in this folder")
        width, height = _display_size(root / req.image)
        label = (req.label or "").strip() or None
        try:
            rec = Record(image=req.image, width=width, height=height, corners=req.corners, label=label)
        except ValidationError as exc:
            raise HTTPException(422, "; ".join(e["msg"] for e in exc.errors())) from exc
        issues = rec.issues()
        if "self_intersecting" in issues or "degenerate" in issues:
            raise HTTPException(422, f"corners do not make a usable quad ({', '.join(issues)}); TL, TR, BR, BL")
        if issues:
            rec = Record(**rec.model_dump(), flags=issues)
        store.upsert(rec)
        records = store.records()
        done = sum(1 for n in names if n in records and records[n].corners is not None)
        return {"record": json.loads(rec.to_json()), "issues": issues, "done": done}

    return router


def create_app(folder: str | os.PathLike) -> FastAPI:
    """A standalone app serving the capture page for ``folder`` at ``/``."""
    app = FastAPI(title="DocSTN corner capture", docs_url=None, redoc_url=None)
    app.include_router(create_router(folder))
    return app
