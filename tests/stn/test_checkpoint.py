"""Checkpoint save/load round trip is exact; broken folders fail with a clear message."""

import json

import pytest
import torch

from stn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from stn.model import DocSTN, ModelConfig


def test_round_trip_is_exact(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(
        net="paper", input_size=(24, 32), out_size=(24, 24), head="corners", orientation_head=True, labels=["a", "b"]
    )
    model = DocSTN(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)  # move off the identity initialisation
    model.eval()
    save_checkpoint(tmp_path / "ck", model, train={"command": "docstn train ..."}, metrics={"jaccard_mean": 0.5})
    loaded, config = load_checkpoint(tmp_path / "ck")
    assert loaded.config == cfg
    assert config["train"]["command"] == "docstn train ..." and config["metrics"]["jaccard_mean"] == 0.5
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.rand(3, 3, 24, 32)
    pa, pb = model.predict(x), loaded.predict(x)
    assert torch.equal(pa.theta, pb.theta) and torch.equal(pa.corners, pb.corners) and pa.label == pb.label


def test_mismatched_or_missing_checkpoints_fail_clearly(tmp_path):
    model = DocSTN(ModelConfig(net="paper", input_size=(24, 32)))
    d = save_checkpoint(tmp_path / "ck", model)
    cfg = json.loads((d / "config.json").read_text())
    cfg["model"]["orientation_head"] = True
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="weights do not match"):
        load_checkpoint(d)
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        load_checkpoint(tmp_path / "nothing")
