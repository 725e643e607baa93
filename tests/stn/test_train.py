"""A few steps of each mode on tiny data; overfitting one batch; resuming; bad configs fail at once."""

import json

import pytest
import torch
from click.testing import CliRunner

from stn.checkpoint import load_checkpoint
from stn.cli import train as train_cmd
from stn.data import DataError
from stn.train import TrainConfig, train


def _log(out, split="train"):
    return [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["split"] == split]


@pytest.mark.parametrize(
    ("mode", "data", "heads", "jitter"),
    [
        ("supervised", "full", {"corner", "orient"}, 0.0),
        ("supervised", "full", {"corner"}, 1.0),
        ("unsupervised", "labels_only", {"class"}, 0.0),
        ("unsupervised", "labels_only", {"class"}, 1.0),
        ("hybrid", "full", {"corner", "class"}, 0.5),
    ],
)
def test_each_mode_runs_a_few_steps(tiny_sets, make_config, tmp_path, mode, data, heads, jitter):
    model = {"orientation_head": mode == "supervised"}
    cfg = make_config(
        tmp_path / "out", tiny_sets[data], mode=mode, val=str(tiny_sets[data]), model=model, jitter=jitter
    )
    trained = train(cfg)
    rows = _log(tmp_path / "out")
    assert rows[-1]["step"] == 3 and heads <= rows[-1].keys()
    assert all(torch.isfinite(p).all() for p in trained.parameters())
    loaded, config = load_checkpoint(tmp_path / "out")
    assert config["train"]["step"] == 3 and config["train"]["mode"] == mode
    assert (mode == "supervised") == (loaded.config.labels == [])  # label modes learn the names from the data


def test_hybrid_mixes_corner_only_and_label_only_records(tiny_sets, make_config, tmp_path):
    rows = []
    for name in ("corners_only", "labels_only"):
        folder = tiny_sets[name].parent.name  # paths are relative to the manifest: re-root them one level up
        rows += [json.loads(x) for x in tiny_sets[name].read_text().splitlines()]
        rows[-8:] = [r | {"image": f"{folder}/{r['image']}"} for r in rows[-8:]]
    mixed = tiny_sets["full"].parent.parent / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    train(make_config(tmp_path / "out", mixed, mode="hybrid", batch_size=16, steps=2))
    last = _log(tmp_path / "out")[-1]
    assert last["corner"] > 0 and last["class"] > 0  # both kinds of record contributed in one batch


def test_loss_falls_when_overfitting_one_batch(tiny_sets, make_config, tmp_path):
    cfg = make_config(tmp_path / "out", tiny_sets["corners_only"], batch_size=8, steps=30, lr=3e-3, warmup_steps=5)
    train(cfg)
    losses = [r["loss"] for r in _log(tmp_path / "out")]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def test_resume_continues_from_the_checkpoint(tiny_sets, make_config, tmp_path):
    out = tmp_path / "out"
    train(make_config(out, tiny_sets["full"], steps=2, eval_interval=2, val=str(tiny_sets["full"])))
    with (out / "metrics.jsonl").open("a") as f:  # as if the run had gone on after its checkpoint and died
        f.write(json.dumps({"step": 3, "split": "train", "loss": 9.0}) + "\n")
    train(make_config(out, tiny_sets["full"], steps=4, eval_interval=2, resume=True, val=str(tiny_sets["full"])))
    steps = [r["step"] for r in _log(out)]
    assert steps == [1, 2, 3, 4]  # the second run started at step 3
    _, config = load_checkpoint(out)
    assert config["train"]["step"] == 4
    _, best = load_checkpoint(out / "best")  # the best validation checkpoint is kept beside the last one
    assert best["train"]["step"] in (2, 4) and "val_jaccard" in best["metrics"]


def test_bad_configs_fail_at_once(tiny_sets, make_config, tmp_path):
    with pytest.raises(ValueError, match="unknown transform 'nope'"):
        make_config(tmp_path, tiny_sets["full"], model={"transform": "nope"})
    with pytest.raises(DataError, match="manifest not found"):
        train(make_config(tmp_path, tmp_path / "missing.jsonl"))
    with pytest.raises(DataError, match="supervised mode needs corners"):
        train(make_config(tmp_path, tiny_sets["labels_only"], mode="supervised"))
    with pytest.raises(DataError, match="unsupervised mode needs labels"):
        train(make_config(tmp_path, tiny_sets["corners_only"], mode="unsupervised"))
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(data="synth:1", batch_size=0)


def test_cli_reports_bad_configs_without_traceback(tiny_sets, tmp_path):
    runner = CliRunner()
    r = runner.invoke(train_cmd, ["--data", str(tiny_sets["full"]), "--transform", "nope", "--out", str(tmp_path)])
    assert r.exit_code != 0 and "unknown transform 'nope'" in r.output and "Traceback" not in r.output
    r = runner.invoke(train_cmd, ["--data", str(tiny_sets["labels_only"]), "--out", str(tmp_path)])
    assert r.exit_code != 0 and "supervised mode needs corners" in r.output
    r = runner.invoke(train_cmd, ["--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path)])
    assert r.exit_code != 0 and "manifest not found" in r.output


def test_cli_trains_with_config_file_and_overrides(tiny_sets, tmp_path):
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(
        json.dumps(
            {
                "steps": 50,
                "workers": 0,
                "progress": False,
                "plots": True,
                "batch_size": 4,
                "model": {"net": "paper", "input_size": [24, 32], "out_size": [24, 24]},
            }
        )
    )
    out = tmp_path / "out"
    r = CliRunner().invoke(
        train_cmd,
        [
            "--config",
            str(cfg_file),
            "--data",
            str(tiny_sets["full"]),
            "--val",
            str(tiny_sets["full"]),
            "--out",
            str(out),
            "--steps",
            "2",
            "--set",
            "model.head=corners",
            "--set",
            "model.orientation_head=true",
        ],
    )
    assert r.exit_code == 0, r.output
    _, config = load_checkpoint(out)
    assert config["train"]["steps"] == 2 and config["model"]["head"] == "corners"
    # rebuilt from the options given, whatever argv the process has (here pytest's)
    cmd = config["train"]["command"].split()
    assert cmd[:2] == ["docstn", "train"] and cmd[cmd.index("--config") + 1] == str(cfg_file)
    assert (out / "loss.png").stat().st_size > 1000 and (out / "val_predictions.png").stat().st_size > 1000


def test_fine_tuning_from_a_checkpoint_with_a_frozen_localisation_net(tiny_sets, make_config, tmp_path):
    """init= starts from a checkpoint's model and weights; freeze= keeps a part's weights and BN statistics."""
    model = {"net": "convnet", "net_options": {"widths": [8, 16]}, "orientation_head": True}
    base_cfg = make_config(tmp_path / "base", tiny_sets["full"], model=model, steps=3)
    train(base_cfg)
    base, _ = load_checkpoint(tmp_path / "base")
    cfg = make_config(tmp_path / "ft", tiny_sets["full"], steps=4, lr=1e-2).model_dump()
    # no model field set explicitly: the model is the checkpoint's
    train(TrainConfig(**{**cfg, "model": {}, "init": str(tmp_path / "base"), "freeze": ["loc"]}))
    tuned, config = load_checkpoint(tmp_path / "ft")
    assert tuned.config == base.config and config["train"]["init"] == str(tmp_path / "base")
    a, b = base.state_dict(), tuned.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("loc."))  # weights and running statistics
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("orientation."))


def test_fine_tuning_overrides_model_fields_and_reports_bad_parts(tiny_sets, make_config, tmp_path):
    train(make_config(tmp_path / "base", tiny_sets["full"], steps=1))
    cfg = make_config(tmp_path / "ft", tiny_sets["full"], steps=1, model={"orientation_head": True})
    cfg = TrainConfig(**{**cfg.model_dump(), "model": {"orientation_head": True}, "init": str(tmp_path / "base")})
    train(cfg)  # the new head starts afresh, the rest comes from the checkpoint
    tuned, _ = load_checkpoint(tmp_path / "ft")
    assert tuned.orientation is not None and tuned.config.input_size == (24, 32)
    with pytest.raises(DataError, match=r"init: .*missing"):
        train(cfg.model_copy(update={"init": str(tmp_path / "missing")}))
    with pytest.raises(DataError, match="freeze: this model has no classifier"):
        train(cfg.model_copy(update={"freeze": ["classifier"]}))
    with pytest.raises(ValueError, match="freeze"):
        TrainConfig(data="synth:1", freeze=["everything"])
