"""Data sets: manifests, synthetic specs, npz arrays, and the resumable stream sampler."""

import itertools

import numpy as np
import pytest
import torch

from stn.coords import norm_to_px
from stn.data import DataError, StreamSampler, open_dataset


def test_manifest_items_carry_normalised_corners(tiny_sets):
    ds = open_dataset(str(tiny_sets["full"]), input_size=(24, 32), labels=["tall", "wide"])
    assert len(ds) == 8 and ds.has_corners() and ds.label_names() == ["tall", "wide"]
    it = ds[1]
    assert it["image"].shape == (3, 24, 32) and it["image"].min() >= 0 and it["image"].max() <= 1
    assert it["label"] == 1 and bool(it["has_corners"]) and it["size"].tolist() == [48, 64]
    px = norm_to_px(it["corners"].double(), (48, 64)).numpy()
    assert np.allclose(px, ds.records[1].corners, atol=1e-4)  # back to the record's pixels at the original size


def test_label_only_manifest_and_errors(tiny_sets, tmp_path):
    ds = open_dataset(str(tiny_sets["labels_only"]), input_size=(24, 32), labels=["tall", "wide"])
    assert not ds.has_corners() and torch.isnan(ds[0]["corners"]).all() and not ds[0]["has_corners"]
    with pytest.raises(DataError, match="not found"):
        open_dataset(str(tmp_path / "missing.jsonl"), input_size=(24, 32))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image": "a.png", "width": 4, "height": 4}\nnot json\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2"):
        open_dataset(str(bad), input_size=(24, 32))
    with pytest.raises(DataError, match="synth:SEED"):
        open_dataset("synth:x", input_size=(24, 32))


def test_synthetic_spec_is_reproducible():
    a = open_dataset("synth:3:2", input_size=(24, 32), labels=[], synth={"width": 80, "height": 60})
    b = open_dataset("synth:3:2", input_size=(24, 32), labels=[], synth={"width": 80, "height": 60})
    assert len(a) == 2 and torch.equal(a[1]["image"], b[1]["image"]) and torch.equal(a[1]["corners"], b[1]["corners"])
    assert not torch.equal(a[0]["image"], a[1]["image"])


def test_npz_spec(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X_train=np.random.rand(5, 16).astype(np.float32), y_train=np.arange(5).reshape(5, 1))
    ds = open_dataset(f"{path}#train", input_size=(4, 4), labels=["0", "1", "2", "3", "4"])
    assert ds[3]["image"].shape == (1, 4, 4) and ds[3]["label"] == 3 and ds.label_names() == list("01234")
    with pytest.raises(DataError, match="X_test"):
        open_dataset(f"{path}#test", input_size=(4, 4))


def test_stream_sampler_splits_ranks_and_resumes():
    r0 = list(itertools.islice(iter(StreamSampler(10, rank=0, world=2, seed=1)), 12))
    r1 = list(itertools.islice(iter(StreamSampler(10, rank=1, world=2, seed=1)), 5))
    assert sorted(r0[:5] + r1) == list(range(10))  # one epoch: the two ranks share the data without overlap
    assert r0[5:10] != r0[:5]  # a new permutation next epoch
    resumed = list(itertools.islice(iter(StreamSampler(10, rank=0, world=2, seed=1, start=7)), 5))
    assert resumed == r0[7:12]
    assert list(itertools.islice(iter(StreamSampler(4, shuffle=False)), 6)) == [0, 1, 2, 3, 0, 1]
