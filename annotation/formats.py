"""Import and export of document corners: labelme JSON, COCO keypoints, CVAT XML 1.1, rotated-rectangle CSV.

Our records (DESIGN.md §2/§3) hold corners TL, TR, BR, BL in the document's upright reading order, in pixel
coordinates where (0, 0) is the CENTRE of the top-left pixel. Each format's own convention:

- **labelme** (one ``.json`` per image, a 4-point ``polygon`` shape, or a 2-point ``rectangle``): continuous
  coordinates with (0, 0) the top-left CORNER of the image (what a click on the canvas gives), so
  ``ours = labelme - 0.5``. The polygon's first point is taken as TL.
- **COCO keypoints** (one JSON; category keypoints ``["tl", "tr", "br", "bl"]``): keypoints are pixel indices,
  the same convention as ours (no offset). The order is explicit.
- **CVAT XML 1.1** (``<image>`` elements with a 4-point ``<polygon points="x,y;...">``): continuous
  coordinates with (0, 0) the image's top-left corner, ``ours = cvat - 0.5``. The first point is taken as TL.
- **CSV** ``path,class,cx,cy,w,h,angle``: a rotated rectangle in our pixel convention; ``w`` is measured
  along TL->TR, ``h`` along TL->BL, ``angle`` is ``angle_deg`` (direction of TL->TR on screen,
  counter-clockwise positive, degrees). A perspective quad is exported as its best rectangle (centre = mean
  of corners, sides = mean of opposite sides, angle = direction of the mean of the top and bottom edges), so
  only rectangles round-trip exactly.

How TL is chosen when a format does not say (labelme and CVAT polygons): with ``order="given"`` (default) the
first point is TL and the polygon is made clockwise on screen by reversing the remaining points if needed —
right for files written by ``docstn export`` or annotated in reading order. With ``order="upright"`` the
document is assumed roughly upright: the polygon is made clockwise and the point with the smallest x + y
(nearest the image's top-left) becomes TL (``annotation.geometry.canonical_corners``).
"""

from __future__ import annotations

import csv
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from annotation.geometry import angle_deg, canonical_corners, order_clockwise, signed_area
from annotation.records import ManifestError, Record, read_manifest, write_manifest

__all__ = [
    "FORMATS",
    "Order",
    "export_annotations",
    "export_coco",
    "export_csv",
    "export_cvat",
    "export_labelme",
    "import_annotations",
    "import_coco",
    "import_csv",
    "import_cvat",
    "import_labelme",
    "quad_from_rotated_rect",
    "rotated_rect_from_quad",
]

Order = Literal["given", "upright"]
CORNER_OFFSET = 0.5  # labelme and CVAT put (0, 0) on the image's top-left corner, we on the pixel's centre
COCO_KEYPOINTS = ["tl", "tr", "br", "bl"]
CSV_HEADER = ["path", "class", "cx", "cy", "w", "h", "angle"]


def _order(points: np.ndarray, order: Order) -> np.ndarray:
    return canonical_corners(points) if order == "upright" else order_clockwise(points)


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header; raises ValueError when the file is not a readable image."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------- labelme
def export_labelme(
    records: Sequence[Record], root: str | os.PathLike, out_dir: str | os.PathLike
) -> list[Path]:
    """Write one labelme JSON per record into ``out_dir``; ``imagePath`` is relative to that JSON file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, rec in enumerate(records):
        shapes = []
        if rec.corners is not None:
            pts = (np.asarray(rec.corners) + CORNER_OFFSET).tolist()
            shapes.append(
                {
                    "label": rec.label or "document",
                    "points": pts,
                    "group_id": None,
                    "description": "corners TL, TR, BR, BL in reading order",
                    "shape_type": "polygon",
                    "flags": {},
                }
            )
        doc = {
            "version": "5.4.1",
            "flags": {},
            "shapes": shapes,
            "imagePath": _rel(rec.path(root), out),
            "imageData": None,
            "imageHeight": rec.height,
            "imageWidth": rec.width,
        }
        if rec.corners is None and rec.label is not None:
            doc["flags"] = {rec.label: True}
        path = out / f"{i:06d}_{Path(rec.image).stem}.json"
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        written.append(path)
    return written


def import_labelme(
    source: str | os.PathLike, manifest_dir: str | os.PathLike, order: Order = "given"
) -> tuple[list[Record], list[ManifestError]]:
    """Read labelme JSON files (a folder of them or one file) into records relative to ``manifest_dir``."""
    src = Path(source)
    files = sorted(src.glob("*.json")) if src.is_dir() else [src]
    records, errors = [], []
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
            image = f.parent / doc["imagePath"]
            width, height = int(doc["imageWidth"]), int(doc["imageHeight"])
            corners, label = None, None
            usable = [
                s for s in doc.get("shapes", []) if s.get("shape_type", "polygon") in ("polygon", "rectangle")
            ]
            for s in usable:
                pts = np.asarray(s["points"], dtype=np.float64) - CORNER_OFFSET
                if s.get("shape_type") == "rectangle" and len(pts) == 2:
                    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
                    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
                if len(pts) != 4:
                    errors.append(
                        ManifestError(str(f), 1, f"shape {s.get('label')!r} has {len(pts)} points, not 4")
                    )
                    continue
                corners, label = _order(pts, order).tolist(), s.get("label")
                break
            if corners is None:
                flagged = [k for k, v in doc.get("flags", {}).items() if v]
                label = flagged[0] if flagged else None
            records.append(
                Record(
                    image=_rel(image, Path(manifest_dir)),
                    width=width,
                    height=height,
                    corners=corners,
                    label=label,
                )
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            errors.append(ManifestError(str(f), 1, f"{type(exc).__name__}: {exc}"))
    return records, errors


# ------------------------------------------------------------------------------------------------------- COCO
def export_coco(records: Sequence[Record], root: str | os.PathLike, out_file: str | os.PathLike) -> Path:
    """Write a COCO keypoints JSON; ``file_name`` is relative to the JSON's folder; a category per label."""
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    labels = sorted({r.label or "document" for r in records if r.corners is not None})
    cat_id = {name: i + 1 for i, name in enumerate(labels)}
    images, annotations = [], []
    for i, rec in enumerate(records):
        images.append(
            {
                "id": i + 1,
                "file_name": _rel(rec.path(root), out.parent),
                "width": rec.width,
                "height": rec.height,
            }
        )
        if rec.corners is None:
            continue
        c = np.asarray(rec.corners)
        (x0, y0), (x1, y1) = c.min(axis=0), c.max(axis=0)
        annotations.append(
            {
                "id": len(annotations) + 1,
                "image_id": i + 1,
                "category_id": cat_id[rec.label or "document"],
                "keypoints": [v for x, y in rec.corners for v in (x, y, 2)],
                "num_keypoints": 4,
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area": abs(signed_area(c)),
                "iscrowd": 0,
            }
        )
    categories = [
        {
            "id": i,
            "name": n,
            "supercategory": "document",
            "keypoints": COCO_KEYPOINTS,
            "skeleton": [[1, 2], [2, 3], [3, 4], [4, 1]],
        }
        for n, i in cat_id.items()
    ]
    out.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories}), encoding="utf-8"
    )
    return out


def import_coco(
    source: str | os.PathLike, manifest_dir: str | os.PathLike, images_root: str | os.PathLike | None = None
) -> tuple[list[Record], list[ManifestError]]:
    """Read a COCO keypoints JSON. The category's keypoint names give the order (tl, tr, br, bl by name when
    present, otherwise the first 4 in file order). One document per image: extra annotations are reported."""
    src = Path(source)
    root = Path(images_root) if images_root else src.parent
    doc = json.loads(src.read_text(encoding="utf-8"))
    cats = {c["id"]: c for c in doc.get("categories", [])}
    by_image: dict[int, list[dict]] = {}
    for a in doc.get("annotations", []):
        by_image.setdefault(a["image_id"], []).append(a)
    records, errors = [], []
    for n, img in enumerate(doc.get("images", []), start=1):
        corners, label = None, None
        anns = by_image.get(img["id"], [])
        for a in anns:
            cat = cats.get(a.get("category_id"), {})
            names = [s.lower() for s in cat.get("keypoints", COCO_KEYPOINTS)]
            kp = np.asarray(a.get("keypoints", []), dtype=np.float64).reshape(-1, 3)
            idx = (
                [names.index(s) for s in COCO_KEYPOINTS]
                if set(COCO_KEYPOINTS) <= set(names)
                else [0, 1, 2, 3]
            )
            if len(kp) < 4 or max(idx) >= len(kp) or (kp[idx, 2] == 0).any():
                errors.append(
                    ManifestError(str(src), n, f"annotation {a.get('id')}: needs 4 labelled keypoints")
                )
                continue
            if corners is not None:
                errors.append(
                    ManifestError(
                        str(src), n, f"image {img['file_name']}: extra annotation {a.get('id')} ignored"
                    )
                )
                continue
            corners, label = kp[idx, :2].tolist(), cat.get("name")
        try:
            records.append(
                Record(
                    image=_rel(root / img["file_name"], Path(manifest_dir)),
                    width=img["width"],
                    height=img["height"],
                    corners=corners,
                    label=label,
                )
            )
        except ValueError as exc:
            errors.append(ManifestError(str(src), n, str(exc)))
    return records, errors


# ------------------------------------------------------------------------------------------------------- CVAT
def export_cvat(records: Sequence[Record], root: str | os.PathLike, out_file: str | os.PathLike) -> Path:
    """Write CVAT XML 1.1 (images), one 4-point polygon per image; names relative to the XML's folder."""
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    top = ET.Element("annotations")
    ET.SubElement(top, "version").text = "1.1"
    labels = sorted({r.label or "document" for r in records})
    meta = ET.SubElement(ET.SubElement(top, "meta"), "task")
    lab_el = ET.SubElement(meta, "labels")
    for name in labels:
        ET.SubElement(ET.SubElement(lab_el, "label"), "name").text = name
    for i, rec in enumerate(records):
        el = ET.SubElement(
            top,
            "image",
            id=str(i),
            name=_rel(rec.path(root), out.parent),
            width=str(rec.width),
            height=str(rec.height),
        )
        if rec.corners is not None:
            pts = np.asarray(rec.corners) + CORNER_OFFSET
            ET.SubElement(
                el,
                "polygon",
                label=rec.label or "document",
                source="manual",
                occluded="0",
                points=";".join(f"{x!r},{y!r}" for x, y in pts.tolist()),
                z_order="0",
            )
        elif rec.label is not None:
            ET.SubElement(el, "tag", label=rec.label, source="manual")
    ET.indent(top)
    ET.ElementTree(top).write(out, encoding="utf-8", xml_declaration=True)
    return out


def import_cvat(
    source: str | os.PathLike,
    manifest_dir: str | os.PathLike,
    images_root: str | os.PathLike | None = None,
    order: Order = "given",
) -> tuple[list[Record], list[ManifestError]]:
    """Read CVAT XML 1.1 (images): the first 4-point polygon of each image becomes its corners."""
    src = Path(source)
    root = Path(images_root) if images_root else src.parent
    records, errors = [], []
    try:
        tree = ET.parse(src)
    except ET.ParseError as exc:
        return [], [ManifestError(str(src), exc.position[0], f"invalid XML: {exc}")]
    for n, img in enumerate(tree.getroot().iter("image"), start=1):
        corners, label = None, None
        for poly in img.iter("polygon"):
            try:
                pts = np.array([[float(v) for v in p.split(",")] for p in poly.get("points", "").split(";")])
            except ValueError:
                errors.append(
                    ManifestError(str(src), n, f"image {img.get('name')}: bad points {poly.get('points')!r}")
                )
                continue
            if pts.shape != (4, 2):
                errors.append(
                    ManifestError(
                        str(src), n, f"image {img.get('name')}: polygon with {len(pts)} points, not 4"
                    )
                )
                continue
            corners, label = _order(pts - CORNER_OFFSET, order).tolist(), poly.get("label")
            break
        if corners is None:
            tag = img.find("tag")
            label = tag.get("label") if tag is not None else None
        try:
            records.append(
                Record(
                    image=_rel(root / img.get("name", ""), Path(manifest_dir)),
                    width=int(img.get("width", "0")),
                    height=int(img.get("height", "0")),
                    corners=corners,
                    label=label,
                )
            )
        except ValueError as exc:
            errors.append(ManifestError(str(src), n, f"image {img.get('name')}: {exc}"))
    return records, errors


# -------------------------------------------------------------------------------------------------------- CSV
def rotated_rect_from_quad(corners: np.ndarray | list) -> tuple[float, float, float, float, float]:
    """(cx, cy, w, h, angle_deg) of the rectangle that best matches a TL, TR, BR, BL quad.

    >>> rotated_rect_from_quad([[0, 0], [4, 0], [4, 2], [0, 2]])
    (2.0, 1.0, 4.0, 2.0, 0.0)
    """
    c = np.asarray(corners, dtype=np.float64)
    cx, cy = c.mean(axis=0)
    w = (np.linalg.norm(c[1] - c[0]) + np.linalg.norm(c[2] - c[3])) / 2
    h = (np.linalg.norm(c[3] - c[0]) + np.linalg.norm(c[2] - c[1])) / 2
    top = (c[1] - c[0] + c[2] - c[3]) / 2
    ang = angle_deg(np.array([[0.0, 0.0], top, top, [0.0, 0.0]]))
    return float(cx), float(cy), float(w), float(h), ang


def quad_from_rotated_rect(cx: float, cy: float, w: float, h: float, angle: float) -> np.ndarray:
    """Corners TL, TR, BR, BL (4, 2) of a rectangle centred at (cx, cy), TL->TR at ``angle`` degrees (CCW).

    >>> quad_from_rotated_rect(2, 1, 4, 2, 0).tolist()
    [[0.0, 0.0], [4.0, 0.0], [4.0, 2.0], [0.0, 2.0]]
    """
    a = np.deg2rad(angle)
    u = np.array([np.cos(a), -np.sin(a)]) * w / 2  # along TL->TR
    v = np.array([np.sin(a), np.cos(a)]) * h / 2  # along TL->BL (down the page)
    c = np.array([cx, cy], dtype=np.float64)
    return np.array([c - u - v, c + u - v, c + u + v, c - u + v]) + 0.0


def export_csv(records: Sequence[Record], root: str | os.PathLike, out_file: str | os.PathLike) -> Path:
    """Write ``path,class,cx,cy,w,h,angle`` rows (empty geometry for records without corners)."""
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        for rec in records:
            geo = [] if rec.corners is None else [repr(v) for v in rotated_rect_from_quad(rec.corners)]
            w.writerow([_rel(rec.path(root), out.parent), rec.label or "", *(geo or [""] * 5)])
    return out


def import_csv(
    source: str | os.PathLike, manifest_dir: str | os.PathLike, images_root: str | os.PathLike | None = None
) -> tuple[list[Record], list[ManifestError]]:
    """Read ``path,class,cx,cy,w,h,angle`` rows (header optional); image sizes come from the files."""
    src = Path(source)
    root = Path(images_root) if images_root else src.parent
    records, errors = [], []
    with open(src, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f), start=1):
            if not row or (n == 1 and [c.strip().lower() for c in row] == CSV_HEADER):
                continue
            try:
                if len(row) != 7:
                    raise ValueError(f"expected 7 fields path,class,cx,cy,w,h,angle, got {len(row)}")
                path, label, *geo = row
                image = root / path
                width, height = _image_size(image)
                corners = None
                if any(g.strip() for g in geo):
                    corners = quad_from_rotated_rect(*(float(g) for g in geo)).tolist()
                records.append(
                    Record(
                        image=_rel(image, Path(manifest_dir)),
                        width=width,
                        height=height,
                        corners=corners,
                        label=label or None,
                    )
                )
            except ValueError as exc:
                errors.append(ManifestError(str(src), n, str(exc)))
    return records, errors


# --------------------------------------------------------------------------------------------------- dispatch
FORMATS: tuple[str, ...] = ("labelme", "coco", "cvat", "csv")

_EXPORTERS: dict[str, Callable[..., object]] = {
    "labelme": export_labelme,
    "coco": export_coco,
    "cvat": export_cvat,
    "csv": export_csv,
}


def export_annotations(
    fmt: str, manifest: str | os.PathLike, out: str | os.PathLike
) -> tuple[int, list[ManifestError]]:
    """Export a manifest to ``fmt`` at ``out`` (a folder for labelme, a file otherwise).

    Returns (number of records exported, bad manifest lines).
    """
    if fmt not in _EXPORTERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    records, errors = read_manifest(manifest)
    _EXPORTERS[fmt](records, Path(manifest).parent, out)
    return len(records), errors


def import_annotations(
    fmt: str,
    source: str | os.PathLike,
    manifest: str | os.PathLike,
    images_root: str | os.PathLike | None = None,
    order: Order = "given",
) -> tuple[list[Record], list[ManifestError]]:
    """Import ``source`` in ``fmt`` and write the records to ``manifest`` (paths relative to its folder)."""
    out_dir = Path(manifest).parent
    if fmt == "labelme":
        records, errors = import_labelme(source, out_dir, order)
    elif fmt == "coco":
        records, errors = import_coco(source, out_dir, images_root)
    elif fmt == "cvat":
        records, errors = import_cvat(source, out_dir, images_root, order)
    elif fmt == "csv":
        records, errors = import_csv(source, out_dir, images_root)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    write_manifest(manifest, records)
    return records, errors
