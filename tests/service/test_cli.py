"""The root `docstn` command: lazy sub-commands, and `export` routed by its --format value."""

import json

from click.testing import CliRunner

from service.cli import COMMANDS, main


def test_every_sub_command_resolves_and_has_help():
    for name in COMMANDS:
        r = CliRunner().invoke(main, [name, "--help"])
        assert r.exit_code == 0, (name, r.output)
        assert "Usage:" in r.output


def test_export_with_an_annotation_format_exports_the_manifest(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    rec = {"image": "a.jpg", "width": 40, "height": 30, "corners": [[1, 2], [38, 1], [37, 28], [2, 27]], "label": "x"}
    manifest.write_text(json.dumps(rec) + "\n")
    out = tmp_path / "coco.json"
    r = CliRunner().invoke(main, ["export", str(manifest), str(out), "--format", "coco"])
    assert r.exit_code == 0, r.output
    coco = json.loads(out.read_text())
    assert coco["images"][0]["file_name"] == "a.jpg"


def test_unknown_command_is_a_clear_error():
    r = CliRunner().invoke(main, ["rectfy"])
    assert r.exit_code != 0 and "No such command 'rectfy'" in r.output
