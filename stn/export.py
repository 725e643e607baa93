"""Export a model's prediction path (ONNX, TorchScript) and run it with another backend.

Convention:
    The exported graph is :class:`PredictionGraph` (ONNX opset 20): input ``image`` (B, C, H, W) float32 in
    [0, 1] at the model's ``input_size`` (B is dynamic); outputs ``theta`` (B, P) in reading order (output ->
    input, normalised, shared/DESIGN.md §2), ``corners`` (B, 4, 2) TL, TR, BR, BL in normalised input
    coordinates, ``confidence`` (B,) and, when the model has a classification head, ``class_logits``
    (B, n_labels). They are what :meth:`stn.model.DocSTN.predict` returns, with class logits in place of label
    names.

A backend is a callable ``(B, C, H, W) float32 array -> tuple of arrays`` in that order:

    >>> from stn.model import DocSTN, ModelConfig
    >>> model = DocSTN(ModelConfig(net="paper", input_size=(32, 32))).eval()
    >>> run = make_backend("torch", model)
    >>> [o.shape for o in run(np.zeros((2, 3, 32, 32), np.float32))]
    [(2, 8), (2, 4, 2), (2,)]
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import torch
from torch import nn

from .checks import check_choice
from .model import DocSTN

__all__ = [
    "BACKENDS",
    "FORMATS",
    "PredictionGraph",
    "export_model",
    "export_model_cmd",
    "make_backend",
    "output_names",
    "resolve_backend",
]

#: Export formats and their file extensions.
FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
#: ONNX opset of the export: 20 has AffineGrid (the turned view of test-time rotation); onnxruntime >= 1.17 runs it.
ONNX_OPSET = 20
#: Inference backends; "auto" is resolved by :func:`resolve_backend`.
BACKENDS = ("torch", "torchscript", "onnx", "auto")

Backend = Callable[[np.ndarray], tuple[np.ndarray, ...]]


class PredictionGraph(nn.Module):
    """``model.predict`` as a graph of tensors only: x -> (theta, corners, confidence[, class_logits])."""

    def __init__(self, model: DocSTN):
        super().__init__()
        self.model = model.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        p = self.model.predict(x)
        return (p.theta, p.corners, p.confidence) + (() if p.class_logits is None else (p.class_logits,))


class _PoolAsMatmul(nn.Module):
    """``nn.AdaptiveAvgPool2d`` for one fixed input size as two matrix products (the same bins and weights).

    ONNX has no adaptive pool whose output size does not divide the input size; at a fixed input size it is the
    linear map ``Y = P_h X P_w^T`` with ``P[i, j] = 1 / len(bin i)`` for ``j`` in bin ``i``.
    """

    def __init__(self, in_hw: tuple[int, int], out_hw: tuple[int, int]):
        super().__init__()
        self.register_buffer("p_h", self._bins(in_hw[0], out_hw[0]))
        self.register_buffer("p_w", self._bins(in_hw[1], out_hw[1]))

    @staticmethod
    def _bins(n_in: int, n_out: int) -> torch.Tensor:
        p = torch.zeros(n_out, n_in)
        for i in range(n_out):
            lo, hi = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)  # floor, ceil: PyTorch's bins
            p[i, lo:hi] = 1.0 / (hi - lo)
        return p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.p_h @ x @ self.p_w.T  # (B, C, h_out, w_out)


def _onnx_ready(model: DocSTN) -> DocSTN:
    """A copy of ``model`` with every adaptive average pool replaced by :class:`_PoolAsMatmul` at its input size."""
    model = copy.deepcopy(model).eval()
    pools = {name: m for name, m in model.named_modules() if isinstance(m, nn.AdaptiveAvgPool2d)}
    in_hw: dict[str, tuple[int, int]] = {}

    def record(name: str):
        def hook(_m, inputs, _out) -> None:
            in_hw[name] = tuple(inputs[0].shape[-2:])

        return hook

    hooks = [m.register_forward_hook(record(name)) for name, m in pools.items()]
    with torch.no_grad():
        PredictionGraph(model)(_example(model))
    for h in hooks:
        h.remove()
    for name, m in pools.items():
        if name not in in_hw:  # not on the prediction path
            continue
        size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size, m.output_size)
        out_hw = tuple(in_hw[name][k] if size[k] is None else size[k] for k in range(2))
        parent_name, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent_name), attr, _PoolAsMatmul(in_hw[name], out_hw))
    return model


def output_names(model: DocSTN) -> list[str]:
    """The graph's output names for ``model`` (``class_logits`` only with a classification head)."""
    return ["theta", "corners", "confidence"] + (["class_logits"] if model.classifier is not None else [])


def _example(model: DocSTN, batch: int = 2) -> torch.Tensor:
    h, w = model.config.input_size
    return torch.rand(batch, model.config.in_channels, h, w, generator=torch.Generator().manual_seed(0))


def export_model(model: DocSTN, fmt: str, out: str | Path | io.BytesIO) -> None:
    """Write ``model``'s :class:`PredictionGraph` as ONNX (opset ``ONNX_OPSET``, dynamic batch) or TorchScript
    (traced).

    Args:
        model: the model (on CPU).
        fmt: "onnx" or "torchscript".
        out: a file path or a binary buffer.
    """
    check_choice("format", fmt, FORMATS)
    graph = PredictionGraph(_onnx_ready(model.cpu()) if fmt == "onnx" else model.cpu())
    x = _example(model)
    names = output_names(model)
    with warnings.catch_warnings():  # tracing warns about Python-side checks that are constant for the graph
        warnings.simplefilter("ignore")
        if fmt == "onnx":
            torch.onnx.export(
                graph,
                (x,),
                out,
                dynamo=False,  # the TorchScript-based exporter needs no onnxscript and handles grid_sample
                opset_version=ONNX_OPSET,
                input_names=["image"],
                output_names=names,
                dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            )
        else:
            with torch.no_grad():
                traced = torch.jit.trace(graph, (x,), check_trace=False)
            torch.jit.save(traced, out)


def make_backend(kind: str, model: DocSTN, *, threads: int = 0) -> Backend:
    """A prediction backend for ``model``: "torch" (eager), "torchscript" or "onnx" (onnxruntime, CPU).

    The exported backends are built in memory from ``model`` (a second or two at load). ``threads``: onnxruntime
    intra-op threads (0: its default, one per core); they sleep when idle rather than spin.
    """
    if kind == "torch":
        graph = PredictionGraph(model)
        device = next(model.parameters()).device

        def run_torch(x: np.ndarray) -> tuple[np.ndarray, ...]:
            with torch.inference_mode():
                return tuple(t.detach().cpu().numpy() for t in graph(torch.from_numpy(x).to(device)))

        return run_torch
    if kind not in FORMATS:
        raise ValueError(f"backend: expected one of {list(BACKENDS)}, got {kind!r}")
    buf = io.BytesIO()
    export_model(model, kind, buf)
    if kind == "torchscript":
        buf.seek(0)
        module = torch.jit.load(buf, map_location="cpu").eval()

        def run_torchscript(x: np.ndarray) -> tuple[np.ndarray, ...]:
            with torch.inference_mode():
                return tuple(t.numpy() for t in module(torch.from_numpy(x)))

        return run_torchscript
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # Idle pool threads must not spin: they would take the cores that decode, warp and encode (and the other
    # requests) need. On 2 cores: 1.7x the in-process images/s at concurrency 1, 1.25x at 4 (bench/http_service.py).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = threads
    session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])

    def run_onnx(x: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(session.run(None, {"image": x}))

    return run_onnx


def resolve_backend(kind: str, device: str = "cpu") -> str:
    """ "auto" -> the fastest backend available (bench/README.md): onnxruntime on CPU when it is installed,
    torch eager otherwise (and on GPUs, where only the torch path is wired)."""
    if kind != "auto":
        check_choice("backend", kind, BACKENDS)
        return kind
    if not str(device).startswith("cpu"):
        return "torch"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "torch"
    return "onnx"


@click.command("export-model", context_settings={"show_default": True})
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="onnx")
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Checkpoint folder [default: models/default].")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_model_cmd(fmt: str, model_dir: Path | None, out: Path) -> None:
    """Export the model's prediction path (image (B, C, H, W) in [0, 1] -> theta, corners, confidence[,
    class_logits]) as ONNX or TorchScript."""
    from .checkpoint import CheckpointError, load_checkpoint

    try:
        model, _ = load_checkpoint(model_dir, device="cpu")
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    export_model(model, fmt, out)
    h, w = model.config.input_size
    shape = f"(B, {model.config.in_channels}, {h}, {w})"
    click.echo(f"wrote {out} ({fmt}; image {shape} -> {', '.join(output_names(model))})")
