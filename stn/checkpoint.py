"""Checkpoints (shared/DESIGN.md §4): a folder with ``model.safetensors`` and ``config.json``.

``config.json`` holds ``{"model": ModelConfig, "train": {...command, data, seeds...}, "metrics": {...}}``;
weights are never pickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .model import DocSTN, ModelConfig

__all__ = ["DEFAULT_MODEL_DIR", "CheckpointError", "load_checkpoint", "read_config", "save_checkpoint"]

#: The default model, loaded when nothing else is named (repository root / models / default).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"


class CheckpointError(ValueError):
    """A checkpoint folder is missing, incomplete or does not match its config."""


def save_checkpoint(directory: str | Path, model: DocSTN, *, train: dict | None = None, metrics: dict | None = None):
    """Write ``model`` to ``directory`` (created) as model.safetensors + config.json; return the folder."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = d / "model.safetensors.tmp"
    save_file(state, str(tmp))
    tmp.replace(d / "model.safetensors")
    config = {"model": model.config.model_dump(mode="json"), "train": train or {}, "metrics": metrics or {}}
    (d / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return d


def read_config(directory: str | Path) -> dict:
    """The parsed config.json of a checkpoint folder."""
    d = Path(directory)
    path = d / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{d}: not a checkpoint (no config.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: invalid JSON ({e})") from None


def load_checkpoint(directory: str | Path | None = None, *, device: str | torch.device = "cpu") -> tuple[DocSTN, dict]:
    """Load a checkpoint folder (the default model when ``None``) in eval mode; return (model, config dict)."""
    d = Path(directory) if directory is not None else DEFAULT_MODEL_DIR
    config = read_config(d)
    weights = d / "model.safetensors"
    if not weights.is_file():
        raise CheckpointError(f"{d}: no model.safetensors")
    model = DocSTN(ModelConfig(**config["model"]))
    try:
        model.load_state_dict(load_file(str(weights), device=str(device)))
    except RuntimeError as e:
        raise CheckpointError(f"{d}: weights do not match config.json ({str(e).splitlines()[0]})") from None
    return model.to(device).eval(), config
