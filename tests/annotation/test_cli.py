import importlib
import json

from click.testing import CliRunner

from annotation.cli import augment, export_cmd, import_cmd, synth
from annotation.records import read_manifest


def test_commands_are_registered_in_the_root_group():
    from service.cli import COMMANDS

    for name in ("synth", "annotate", "import", "export", "augment"):
        module, attr = COMMANDS[name].split(":")
        assert callable(getattr(importlib.import_module(module), attr))


def test_synth_export_import_augment(tmp_path):
    runner = CliRunner()
    out = tmp_path / "syn"
    r = runner.invoke(
        synth, [str(out), "--n", "4", "--seed", "2", "--width", "160", "--height", "120", "--workers", "1"]
    )
    assert r.exit_code == 0, r.output
    recs, errs = read_manifest(out / "manifest.jsonl")
    assert len(recs) == 4 and errs == []
    r = runner.invoke(export_cmd, [str(out / "manifest.jsonl"), str(tmp_path / "ann.xml"), "--format", "cvat"])
    assert r.exit_code == 0 and "exported 4 records" in r.output
    r = runner.invoke(import_cmd, [str(tmp_path / "ann.xml"), str(out / "back.jsonl"), "--format", "cvat"])
    assert r.exit_code == 0, r.output
    back, _ = read_manifest(out / "back.jsonl")
    assert [b.image for b in back] == [a.image for a in recs]
    assert all(
        abs(x - y) < 1e-6
        for a, b in zip(recs, back, strict=True)
        for p, q in zip(a.corners, b.corners, strict=False)
        for x, y in zip(p, q, strict=False)
    )
    with open(out / "manifest.jsonl", "a") as f:
        f.write(json.dumps({"image": "images/000000.jpg", "width": 160, "height": 120, "corners": [[0, 0]]}) + "\n")
    aug = tmp_path / "aug"
    r = runner.invoke(augment, [str(out / "manifest.jsonl"), str(aug), "--per-image", "2", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "1 sources or lines skipped" in r.output
    assert len(read_manifest(aug / "manifest.jsonl")[0]) == 8
    r = runner.invoke(synth, [str(out), "--n", "1", "--classes", "poster"])
    assert r.exit_code != 0 and "unknown classes" in r.output


def test_synth_with_real_scans(tmp_path):
    import cv2
    import numpy as np

    scans = tmp_path / "scans"
    scans.mkdir()
    cv2.imwrite(str(scans / "page.png"), np.full((200, 140, 3), 250, np.uint8))
    runner = CliRunner()
    args = ["--n", "3", "--width", "160", "--height", "120", "--workers", "1", "--pages", str(scans)]
    r = runner.invoke(synth, [str(tmp_path / "out"), *args, "--pages-fraction", "1"])
    assert r.exit_code == 0, r.output
    records, _ = read_manifest(tmp_path / "out" / "manifest.jsonl")
    assert [x.label for x in records] == [None] * 3 and all(x.corners is not None for x in records)
    (scans / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")  # a JPEG header and nothing else
    r = runner.invoke(synth, [str(tmp_path / "out2"), *args, "--pages-fraction", "1", "--n", "12"])
    assert r.exit_code != 0 and "broken.jpg: the scan cannot be decoded" in r.output and r.exception is not None
    assert "Traceback" not in r.output
