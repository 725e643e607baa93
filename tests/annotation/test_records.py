import json
import re

import pytest

from annotation.records import (
    ManifestError,
    Record,
    merge_manifests,
    read_manifest,
    split_records,
    write_manifest,
)

GOOD = {
    "image": "images/a.jpg",
    "width": 640,
    "height": 480,
    "corners": [[1, 2], [600, 3], [601, 470], [2, 469]],
}


def _write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_record_validation_and_extra_keys_roundtrip(tmp_path):
    rec = Record(**GOOD, label="invoice", source="phone", rotation=90)
    assert rec.corners[1] == [600.0, 3.0]
    assert rec.path(tmp_path) == tmp_path / "images" / "a.jpg"
    out = write_manifest(tmp_path / "m.jsonl", [rec])
    back, errors = read_manifest(out)
    assert errors == []
    assert back[0].model_dump() == rec.model_dump()
    assert back[0].source == "phone" and back[0].rotation == 90


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"corners": [[0, 0], [1, 0], [1, 1]]}, "expected 4 corners"),
        ({"corners": [[0, 0], [1, 0], [1, "nan"], [0, 1]]}, "not finite"),
        ({"corners": [[0, 0], [1, 0, 5], [1, 1], [0, 1]]}, "must be [x, y]"),
        ({"width": 0}, "width: Value error, must be > 0"),
        ({"height": -3}, "height"),
        ({"image": " "}, "image path is empty"),
    ],
)
def test_bad_records_are_reported_with_file_and_line(tmp_path, change, message):
    path = tmp_path / "m.jsonl"
    bad = {**GOOD, **change}
    _write_lines(path, [json.dumps(GOOD), json.dumps(bad), "", json.dumps({**GOOD, "image": "b.jpg"})])
    records, errors = read_manifest(path)
    assert [r.image for r in records] == ["images/a.jpg", "b.jpg"]
    assert len(errors) == 1
    assert (errors[0].file, errors[0].line) == (str(path), 2)
    assert message in errors[0].message
    with pytest.raises(ManifestError, match=rf"m\.jsonl:2: .*{re.escape(message)}"):
        read_manifest(path, strict=True)


def test_invalid_json_and_non_object_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    _write_lines(path, ['{"image": "a.jpg", "width": 1', "[1, 2]", json.dumps(GOOD)])
    records, errors = read_manifest(path)
    assert len(records) == 1
    assert [e.line for e in errors] == [1, 2]
    assert "invalid JSON" in errors[0].message and "JSON object" in errors[1].message
    assert str(errors[0]).startswith(f"{path}:1: ")


def test_null_corners_and_label_allowed_and_issues_flagged(tmp_path):
    rec = Record(image="x.png", width=10, height=10, corners=None, label=None)
    assert rec.issues() == []
    bow = Record(image="x.png", width=10, height=10, corners=[[0, 0], [9, 9], [9, 0], [0, 9]])
    assert "self_intersecting" in bow.issues()
    far = Record(image="x.png", width=10, height=10, corners=[[0, 0], [9, 0], [9, 9], [-500, 9]])
    assert far.issues() == ["corners_outside", "far_outside"]


def test_merge_rebases_paths_and_later_wins(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b" / "deep"
    a.mkdir()
    b.mkdir(parents=True)
    write_manifest(a / "m.jsonl", [Record(**GOOD, label="one"), Record(image="x.jpg", width=5, height=5)])
    write_manifest(b / "m.jsonl", [Record(**{**GOOD, "image": "../../a/images/a.jpg"}, label="two")])
    (b / "junk.jsonl").write_text("not json\n")
    _merged, errors = merge_manifests(
        [a / "m.jsonl", b / "m.jsonl", b / "junk.jsonl"], tmp_path / "out" / "all.jsonl"
    )
    assert len(errors) == 1 and errors[0].line == 1
    back, _ = read_manifest(tmp_path / "out" / "all.jsonl")
    assert {r.image: r.label for r in back} == {"../a/images/a.jpg": "two", "../a/x.jpg": None}


def test_split_is_seeded_disjoint_and_complete():
    recs = [Record(image=f"{i}.jpg", width=1, height=1) for i in range(103)]
    train, val, test = split_records(recs, (0.7, 0.2, 0.1), seed=5)
    names = [r.image for r in train + val + test]
    assert sorted(names) == sorted(r.image for r in recs)
    assert (len(train), len(val), len(test)) == (72, 21, 10)
    again = split_records(recs, (0.7, 0.2, 0.1), seed=5)
    assert [r.image for r in again[0]] == [r.image for r in train]
    other = split_records(recs, (0.7, 0.2, 0.1), seed=6)
    assert [r.image for r in other[0]] != [r.image for r in train]
    with pytest.raises(ValueError, match="sum"):
        split_records(recs, (0.5, 0.1, 0.1))
