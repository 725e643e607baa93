"""Export round trips (ONNX, TorchScript) and the engine's backends against torch eager."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from service.cli import main as docstn
from stn.checkpoint import save_checkpoint
from stn.export import PredictionGraph, export_model, make_backend, output_names, resolve_backend
from stn.inference import Engine
from stn.model import DocSTN, ModelConfig
from tests.support import encode, make_checkpoint, photo

ATOL = 1e-4


def _model(labels=()) -> DocSTN:
    torch.manual_seed(0)
    model = DocSTN(ModelConfig(transform="projective", net="paper", input_size=(32, 48), labels=list(labels)))
    with torch.no_grad():  # a head that depends on the photo, so that a constant graph would fail
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return model.eval()


def _batch(b: int = 3) -> np.ndarray:
    return np.random.default_rng(1).random((b, 3, 32, 48), dtype=np.float32)


def _eager(model: DocSTN, x: np.ndarray) -> list[np.ndarray]:
    with torch.inference_mode():
        return [t.numpy() for t in PredictionGraph(model)(torch.from_numpy(x))]


def test_prediction_graph_matches_predict():
    model = _model(labels=["invoice", "receipt"])
    x = torch.from_numpy(_batch())
    theta, corners, conf, logits = PredictionGraph(model)(x)
    p = model.predict(x)
    assert torch.equal(theta, p.theta) and torch.equal(corners, p.corners) and torch.equal(conf, p.confidence)
    assert [model.config.labels[i] for i in logits.argmax(1).tolist()] == p.label
    assert model.classifier._forward_hooks == {}  # no hook left behind


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("labels", [(), ("invoice", "receipt")])
def test_export_round_trip(tmp_path, fmt, labels):
    model = _model(labels)
    path = tmp_path / f"m.{fmt}"
    export_model(model, fmt, path)
    x = _batch(5)  # exported with batch 2: the batch axis is dynamic
    if fmt == "onnx":
        onnx.checker.check_model(str(path))
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()] == output_names(model)
        got = session.run(None, {"image": x})
    else:
        with torch.inference_mode():
            got = [t.numpy() for t in torch.jit.load(str(path))(torch.from_numpy(x))]
    want = _eager(model, x)
    assert len(got) == len(want) == 3 + bool(labels)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, atol=ATOL)


@pytest.mark.parametrize("kind", ["torchscript", "onnx"])
def test_backends_match_eager(kind):
    model = _model()
    x = _batch(4)
    for g, w in zip(make_backend(kind, model)(x), _eager(model, x), strict=True):
        np.testing.assert_allclose(g, w, atol=ATOL)


def test_resolve_backend():
    assert resolve_backend("auto") == "onnx"  # onnxruntime is installed here
    assert resolve_backend("auto", "cuda") == "torch"
    assert resolve_backend("torchscript") == "torchscript"
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("tensorrt")


def test_engine_onnx_backend_gives_torch_corners(tmp_path):
    ckpt = make_checkpoint(tmp_path / "m", seed=1)
    images = [encode(photo(160, 120, seed=s)) for s in range(3)]
    results = {}
    for backend in ("torch", "onnx", "torchscript"):
        engine = Engine.from_checkpoint(ckpt, backend=backend)
        try:
            assert engine.backend == backend
            results[backend] = engine.rectify_many(images, fmt="png")
        finally:
            engine.close()
    for backend in ("onnx", "torchscript"):
        for r, t in zip(results[backend], results["torch"], strict=True):
            np.testing.assert_allclose(r.corners, t.corners, atol=1e-2)  # pixels
            np.testing.assert_allclose(r.theta, t.theta, atol=ATOL)
            assert r.confidence == pytest.approx(t.confidence, abs=ATOL)
            assert (r.width, r.height) == (t.width, t.height)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("command", ["export", "export-model"])  # the issue's `docstn export --format onnx`
def test_export_model_command(tmp_path, fmt, command):
    ckpt = save_checkpoint(tmp_path / "m", _model())
    out = tmp_path / "out" / f"model.{fmt}"
    r = CliRunner().invoke(docstn, [command, f"--format={fmt}", "--model", str(ckpt), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.is_file() and "theta, corners, confidence" in r.output
    r = CliRunner().invoke(docstn, ["export-model", "--model", str(tmp_path / "nope"), "--out", str(out)])
    assert r.exit_code != 0
