"""Tiny data for the training tests: documents drawn with OpenCV, written as §3 manifests."""

import cv2
import numpy as np
import pytest
import torch

from annotation.records import Record, write_manifest

torch.set_num_threads(1)  # tiny models: threads only add overhead, and the CI machine is shared


def draw_document(rng: np.random.Generator, w: int = 64, h: int = 48):
    """A bright quad with a dark band along its top edge on a dark background; corners TL, TR, BR, BL (pixels)."""
    cx, cy = w / 2 + rng.uniform(-6, 6), h / 2 + rng.uniform(-4, 4)
    a = rng.uniform(-np.pi, np.pi)
    half = np.array([[-14, -10], [14, -10], [14, 10], [-14, 10]], float) * rng.uniform(0.8, 1.2)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    corners = half @ rot.T + [cx, cy]
    img = np.full((h, w, 3), 30, np.uint8)
    cv2.fillConvexPoly(img, np.round(corners).astype(np.int32), (230, 230, 230))
    top = np.array([corners[0], corners[1], corners[1] * 0.7 + corners[2] * 0.3, corners[0] * 0.7 + corners[3] * 0.3])
    cv2.fillConvexPoly(img, np.round(top).astype(np.int32), (40, 40, 200))
    return img, corners


def write_set(folder, n, *, corners=True, labels=True, seed=0):
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        img, c = draw_document(rng)
        name = f"images/{i:03d}.png"
        cv2.imwrite(str(folder / name), img[..., ::-1])
        records.append(
            Record(
                image=name,
                width=img.shape[1],
                height=img.shape[0],
                corners=c.tolist() if corners else None,
                label=("wide" if i % 2 else "tall") if labels else None,
                source="test",  # an extra key, kept and ignored
            )
        )
    return write_manifest(folder / "manifest.jsonl", records)


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {
        "full": write_set(root / "full", 8),
        "corners_only": write_set(root / "corners_only", 8, labels=False, seed=1),
        "labels_only": write_set(root / "labels_only", 8, corners=False, seed=2),
    }


TINY_MODEL = {"net": "paper", "input_size": [24, 32], "out_size": [24, 24], "head": "corners"}


def tiny_config(out, data, **kw):
    from stn.train import TrainConfig

    base = dict(
        data=str(data),
        out=str(out),
        model=dict(TINY_MODEL),
        steps=3,
        batch_size=4,
        warmup_steps=1,
        eval_interval=100,
        val_batches=1,
        log_interval=1,
        workers=0,
        progress=False,
        plots=False,
        resume=False,
    )
    for k, v in kw.items():
        if k == "model":
            base["model"].update(v)
        else:
            base[k] = v
    return TrainConfig(**base)


@pytest.fixture()
def make_config():
    return tiny_config
