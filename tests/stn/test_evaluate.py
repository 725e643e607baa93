"""``docstn evaluate``: metrics worked out by hand for a model whose quad is known (the whole image)."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from annotation.records import Record, write_manifest
from stn.checkpoint import save_checkpoint
from stn.cli import evaluate
from stn.model import DocSTN, ModelConfig

W, H = 64, 48
FULL = [[-0.5, -0.5], [W - 0.5, -0.5], [W - 0.5, H - 0.5], [-0.5, H - 0.5]]  # the image's outer corners


@pytest.fixture()
def setup(tmp_path):
    # a model without a transformer (θ stays the identity) always predicts the whole image, upright
    model = DocSTN(ModelConfig(net="paper", localise=False, input_size=(24, 32), out_size=(24, 24)))
    save_checkpoint(tmp_path / "model", model)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((H, W, 3), np.uint8))
    records = [
        Record(image="a.png", width=W, height=H, corners=FULL),  # exact
        Record(image="a.png", width=W, height=H, corners=FULL[2:] + FULL[:2]),  # the page is upside down
        Record(image="a.png", width=W, height=H, corners=[[-0.5, -0.5], [31.5, -0.5], [31.5, 47.5], [-0.5, 47.5]]),
        Record(image="a.png", width=W, height=H, corners=None, note="no corners: skipped by the quad metrics"),
    ]
    return tmp_path, write_manifest(tmp_path / "test.jsonl", records)


def test_metrics_match_hand_computed_values(setup):
    tmp_path, manifest = setup
    out = tmp_path / "m.json"
    r = CliRunner().invoke(evaluate, ["--data", str(manifest), "--model", str(tmp_path / "model"), "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "jaccard_mean" in r.output
    m = json.loads(out.read_text())
    diag = np.hypot(W, H)  # 80 px
    assert m["n"] == 4 and m["n_corners"] == 3
    assert m["jaccard_mean"] == pytest.approx((1 + 1 + 0.5) / 3) and m["jaccard_median"] == pytest.approx(1.0)
    # corner errors: 0 (exact), the diagonal (every corner on its opposite), 16 (two corners off by half the width)
    assert m["corner_error_px_median"] == pytest.approx(16.0)
    assert m["corner_error_px_mean"] == pytest.approx((0 + diag + 16) / 3)
    assert m["corner_error_pct_median"] == pytest.approx(100 * 16 / diag)
    assert m["orientation_accuracy"] == pytest.approx(2 / 3)
    assert m["angle_error_deg_median"] == pytest.approx(0.0, abs=1e-9)
    assert m["angle_error_deg_mean"] == pytest.approx(60.0)
    assert m["images_per_s"] > 0 and "class_accuracy" not in m


def test_record_stores_metrics_in_the_checkpoint(setup):
    tmp_path, manifest = setup
    r = CliRunner().invoke(evaluate, ["--data", str(manifest), "--model", str(tmp_path / "model"), "--record"])
    assert r.exit_code == 0, r.output
    cfg = json.loads((tmp_path / "model" / "config.json").read_text())
    assert cfg["metrics"]["test"]["n"] == 4 and cfg["metrics"]["test"]["data"] == str(manifest)


def test_missing_model_or_data_fail_clearly(setup, tmp_path):
    _, manifest = setup
    r = CliRunner().invoke(evaluate, ["--data", str(manifest), "--model", str(tmp_path / "none")])
    assert r.exit_code != 0 and "not a checkpoint" in r.output
    r = CliRunner().invoke(evaluate, ["--data", str(tmp_path / "x.jsonl"), "--model", str(tmp_path / "model")])
    assert r.exit_code != 0 and "manifest not found" in r.output
