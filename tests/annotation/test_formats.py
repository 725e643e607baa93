import json

import cv2
import numpy as np
import pytest

from annotation.formats import (
    export_annotations,
    import_annotations,
    import_cvat,
    import_labelme,
    quad_from_rotated_rect,
    rotated_rect_from_quad,
)
from annotation.records import Record, read_manifest, write_manifest


@pytest.fixture
def dataset(tmp_path):
    """Three real image files and records: a perspective quad, an upside-down page, an unlabelled image."""
    root = tmp_path / "data"
    (root / "imgs").mkdir(parents=True)
    for name, (w, h) in {"a.jpg": (64, 48), "b.png": (50, 70), "c.jpg": (40, 30)}.items():
        cv2.imwrite(str(root / "imgs" / name), np.full((h, w, 3), 128, np.uint8))
    recs = [
        Record(
            image="imgs/a.jpg",
            width=64,
            height=48,
            corners=[[3.25, 4.5], [60.125, 2.0], [58.0, 45.75], [5.5, 40.0]],
            label="invoice",
        ),
        Record(
            image="imgs/b.png",
            width=50,
            height=70,
            corners=[[45.0, 66.0], [4.0, 64.5], [6.0, 3.0], [44.0, 5.0]],
            label="letter",
        ),
        Record(image="imgs/c.jpg", width=40, height=30, corners=None, label=None),
    ]
    manifest = write_manifest(root / "manifest.jsonl", recs)
    return manifest, recs


def _same(a: list[Record], b: list[Record], tol=1e-9):
    assert [r.image for r in a] == [r.image for r in b]
    for x, y in zip(a, b, strict=True):
        assert (x.width, x.height, x.label) == (y.width, y.height, y.label)
        if x.corners is None:
            assert y.corners is None
        else:
            np.testing.assert_allclose(x.corners, y.corners, atol=tol)


@pytest.mark.parametrize("fmt", ["labelme", "coco", "cvat"])
def test_polygon_formats_round_trip_exactly(tmp_path, dataset, fmt):
    manifest, recs = dataset
    target = tmp_path / "export" / ("lm" if fmt == "labelme" else f"ann.{'json' if fmt == 'coco' else 'xml'}")
    n, errors = export_annotations(fmt, manifest, target)
    assert (n, errors) == (3, [])
    back_manifest = tmp_path / "data" / f"back_{fmt}.jsonl"
    back, errs = import_annotations(fmt, target, back_manifest)
    assert errs == []
    _same(recs, back)
    _same(recs, read_manifest(back_manifest)[0])


def test_csv_round_trips_rectangles_and_is_idempotent_on_quads(tmp_path, dataset):
    manifest, recs = dataset
    rect = quad_from_rotated_rect(30.0, 20.0, 40.0, 16.0, 155.0)
    recs2 = [*recs, Record(image="imgs/a.jpg", width=64, height=48, corners=rect.tolist(), label="receipt")]
    write_manifest(manifest, recs2)
    csv_path = tmp_path / "out" / "rects.csv"
    export_annotations("csv", manifest, csv_path)
    assert csv_path.read_text().splitlines()[0] == "path,class,cx,cy,w,h,angle"
    back, errs = import_annotations("csv", csv_path, tmp_path / "data" / "back.jsonl")
    assert errs == []
    np.testing.assert_allclose(back[3].corners, rect, atol=1e-9)
    assert back[2].corners is None and back[3].label == "receipt"
    # a perspective quad becomes its best rectangle: same centre, reading order kept, stable on a second trip
    np.testing.assert_allclose(np.mean(back[0].corners, axis=0), np.mean(recs[0].corners, axis=0), atol=1e-9)
    assert np.abs(np.asarray(back[1].corners) - recs[1].corners).max() < 2.5  # upside down stays upside down
    export_annotations("csv", tmp_path / "data" / "back.jsonl", tmp_path / "out" / "again.csv")
    again, _ = import_annotations("csv", tmp_path / "out" / "again.csv", tmp_path / "data" / "again.jsonl")
    _same(back, again, tol=1e-6)


def test_rotated_rect_convention():
    # TL->TR pointing up on screen = 90 degrees counter-clockwise: the page's top faces left
    q = quad_from_rotated_rect(10, 10, 8, 4, 90)
    np.testing.assert_allclose(q, [[8, 14], [8, 6], [12, 6], [12, 14]], atol=1e-12)
    assert rotated_rect_from_quad(q) == pytest.approx((10, 10, 8, 4, 90))


def test_labelme_conventions_and_tl_choice(tmp_path):
    doc = {
        "shapes": [
            {
                "label": "form",
                "shape_type": "polygon",
                "points": [[10.5, 10.5], [10.5, 30.5], [40.5, 30.5], [40.5, 10.5]],
            }
        ],
        "imagePath": "x.jpg",
        "imageWidth": 50,
        "imageHeight": 40,
    }
    f = tmp_path / "x.json"
    f.write_text(json.dumps(doc))
    given, errs = import_labelme(f, tmp_path)
    assert errs == []
    # labelme (0,0) is the image corner: minus 0.5; counter-clockwise input is made clockwise keeping TL
    assert given[0].corners == [[10, 10], [40, 10], [40, 30], [10, 30]]
    doc["shapes"][0]["points"] = [[40.5, 30.5], [10.5, 30.5], [10.5, 10.5], [40.5, 10.5]]
    f.write_text(json.dumps(doc))
    assert import_labelme(f, tmp_path)[0][0].corners[0] == [40, 30]  # given: first point is TL
    assert import_labelme(f, tmp_path, order="upright")[0][0].corners[0] == [10, 10]
    doc["shapes"] = [{"label": "id_card", "shape_type": "rectangle", "points": [[40.5, 30.5], [10.5, 10.5]]}]
    f.write_text(json.dumps(doc))
    assert import_labelme(f, tmp_path)[0][0].corners == [[10, 10], [40, 10], [40, 30], [10, 30]]


def test_bad_inputs_are_reported_not_fatal(tmp_path):
    (tmp_path / "ok.json").write_text(
        json.dumps(
            {
                "shapes": [{"label": "d", "points": [[1, 1], [5, 1], [5, 5]]}],
                "imagePath": "a.jpg",
                "imageWidth": 9,
                "imageHeight": 9,
            }
        )
    )
    (tmp_path / "broken.json").write_text("{ nope")
    recs, errs = import_labelme(tmp_path, tmp_path)
    assert len(recs) == 1 and recs[0].corners is None
    assert (
        len(errs) == 2
        and any("3 points" in e.message for e in errs)
        and any("broken.json" in e.file for e in errs)
    )
    xml = tmp_path / "c.xml"
    xml.write_text(
        '<annotations><version>1.1</version><image id="0" name="a.jpg" width="9" height="9">'
        '<polygon label="d" points="1,1;5,1;5,5"/></image>'
        '<image id="1" name="b.jpg" width="0" height="9"/></annotations>'
    )
    recs, errs = import_cvat(xml, tmp_path)
    assert len(recs) == 1 and len(errs) == 2
    assert errs[0].line == 1 and "3 points" in errs[0].message and errs[1].line == 2
    csv_path = tmp_path / "r.csv"
    (tmp_path / "bad.jpg").write_bytes(b"xx")
    csv_path.write_text("bad.jpg,letter,1,1,2,2,0\nmissing.jpg,letter,1,1,2,2,0\nonly,three,fields\n")
    recs, errs = import_annotations("csv", csv_path, tmp_path / "m.jsonl")
    assert recs == [] and [e.line for e in errs] == [1, 2, 3]
    assert "cannot read image" in errs[0].message and "7 fields" in errs[2].message
    with pytest.raises(ValueError, match="unknown format"):
        import_annotations("yolo", csv_path, tmp_path / "m.jsonl")
