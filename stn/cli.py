"""``docstn`` sub-commands of the stn package."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

__all__ = ["apply_overrides", "invocation", "parse_size", "parse_theta", "train", "warp"]


def parse_size(text: str) -> tuple[int, int]:
    """``"WxH"`` -> (H, W).

    Example:
        >>> parse_size("640x480")
        (480, 640)
    """
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not m or int(m[1]) <= 0 or int(m[2]) <= 0:
        raise click.BadParameter(f"expected WIDTHxHEIGHT with positive integers (e.g. 640x480), got {text!r}")
    return int(m[2]), int(m[1])


def parse_theta(text: str, num_params: int) -> list[float]:
    """θ from a JSON list (flat or nested) or numbers separated by commas/spaces.

    Example:
        >>> parse_theta("[[1, 0, 0], [0, 1, 0]]", 6)
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    """
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        values = [v for v in re.split(r"[,\s]+", text.strip()) if v]

    def flat(v):
        return [x for item in v for x in flat(item)] if isinstance(v, list) else [v]

    try:
        out = [float(v) for v in flat(values)]
    except (TypeError, ValueError):
        raise click.BadParameter(f"expected {num_params} numbers, got {text!r}") from None
    if len(out) != num_params:
        raise click.BadParameter(f"expected {num_params} numbers for this transform, got {len(out)}")
    return out


def invocation() -> str:
    """The running sub-command as a shell line, rebuilt from what the user gave (not ``sys.argv``, which is
    the test runner's or torchrun's when the command is invoked from there)."""
    import shlex

    from click.core import ParameterSource

    ctx = click.get_current_context()
    parts = ["docstn", ctx.info_name or ""]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) in (None, ParameterSource.DEFAULT):
            continue
        value = ctx.params[param.name]
        values = list(value) if getattr(param, "multiple", False) or getattr(param, "nargs", 1) == -1 else [value]
        if isinstance(param, click.Argument):
            parts += [str(v) for v in values]
        elif getattr(param, "is_flag", False):
            parts.append(param.opts[0] if value else (param.secondary_opts or param.opts)[0])
        else:
            for v in values:
                parts += [param.opts[0], str(v)]
    return shlex.join(parts)


@click.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--transform", "kind", default="affine", show_default=True, help="Transform kind.")
@click.option("--theta", required=True, help='Parameters, e.g. "1,0,0,0,1,0" or a JSON list.')
@click.option("--size", "size", default=None, help="Output WIDTHxHEIGHT (default: the input's size).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sampler", default="bilinear", type=click.Choice(["bilinear", "nearest", "bicubic"]))
@click.option("--padding", default="zeros", type=click.Choice(["zeros", "border", "reflection"]))
def warp(image: Path, kind: str, theta: str, size: str | None, out: Path, sampler: str, padding: str) -> None:
    """Warp IMAGE by θ (output -> input, normalised coordinates) at full resolution with OpenCV."""
    import cv2

    from .fullres import warp_image
    from .transforms import get, names

    if kind not in names():
        raise click.BadParameter(f"unknown transform {kind!r}; expected one of {names()}", param_hint="--transform")
    t = get(kind)
    values = parse_theta(theta, t.num_params)
    img = cv2.imread(str(image), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise click.ClickException(f"{image}: not a readable image")
    out_size = parse_size(size) if size else img.shape[:2]
    result = warp_image(img, values, t, out_size, interpolation=sampler, padding=padding)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), result):
        raise click.ClickException(f"{out}: could not write (unknown image extension?)")
    click.echo(f"wrote {out} ({out_size[1]}x{out_size[0]})")


def apply_overrides(config: dict, overrides: list[str]) -> dict:
    """Apply ``key.sub=value`` overrides (values parsed as JSON when they parse, else kept as strings).

    Example:
        >>> apply_overrides({"model": {"net": "paper"}}, ["model.net=docnet", "steps=5", "model.input_size=[96,128]"])
        {'model': {'net': 'docnet', 'input_size': [96, 128]}, 'steps': 5}
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = config
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return config


def _fail(e: Exception) -> None:
    from pydantic import ValidationError

    if isinstance(e, ValidationError):
        msgs = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in e.errors())
        raise click.ClickException(f"bad config: {msgs}") from None
    raise click.ClickException(str(e)) from None


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON file of TrainConfig fields; the options below override it.",
)
@click.option("--mode", type=click.Choice(["supervised", "unsupervised", "hybrid"]), default=None)
@click.option("--transform", default=None, help="Transform kind (affine, projective, tps, ...).")
@click.option("--net", default=None, help="Localisation net (paper, docnet).")
@click.option("--data", default=None, help="Training data: manifest.jsonl, synth:SEED or file.npz#split.")
@click.option("--val", default=None, help="Validation data (same forms as --data).")
@click.option("--out", default=None, help="Output folder (checkpoint, metrics.jsonl, plots).")
@click.option("--steps", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--lr", type=float, default=None)
@click.option("--input-size", default=None, help="WIDTHxHEIGHT the localisation net sees.")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:N.")
@click.option("--resume/--no-resume", default=None, help="Continue from the checkpoint in --out (default: yes).")
@click.option("--init", default=None, help="Fine-tune: start from this checkpoint folder's model and weights.")
@click.option("--set", "overrides", multiple=True, help="KEY=VALUE override, e.g. model.orientation_head=true.")
def train(
    config_file,
    mode,
    transform,
    net,
    data,
    val,
    out,
    steps,
    batch_size,
    lr,
    input_size,
    device,
    resume,
    init,
    overrides,
) -> None:
    """Train a spatial transformer: supervised (corners), unsupervised (labels) or hybrid."""

    from pydantic import ValidationError

    from .data import DataError
    from .train import TrainConfig
    from .train import train as run_training

    config = json.loads(config_file.read_text()) if config_file else {}
    flat = {
        "mode": mode,
        "data": data,
        "val": val,
        "out": out,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "device": device,
        "resume": resume,
        "init": init,
    }
    config.update({k: v for k, v in flat.items() if v is not None})
    model = config.setdefault("model", {})
    for k, v in {"transform": transform, "net": net}.items():
        if v is not None:
            model[k] = v
    if input_size:
        model["input_size"] = list(parse_size(input_size))
    apply_overrides(config, list(overrides))
    config["command"] = invocation()
    try:
        cfg = TrainConfig(**config)
        run_training(cfg)
    except (ValidationError, DataError) as e:
        _fail(e)
    click.echo(f"checkpoint in {cfg.out}")


@click.command()
@click.option(
    "--data", required=True, help="Test data: manifest.jsonl (any §3 manifest), synth:SEED:N or file.npz#split."
)
@click.option("--model", "model_dir", default=None, help="Checkpoint folder (default: models/default).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the metrics here.")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--record", is_flag=True, help="Also store the metrics in the checkpoint's config.json (metrics.test).")
def evaluate(
    data: str, model_dir: str | None, json_out: Path | None, batch_size: int, device: str, record: bool
) -> None:
    """Evaluate a model: Jaccard index, corner error, orientation, angle, classes, images/s."""

    from .checkpoint import DEFAULT_MODEL_DIR, CheckpointError, load_checkpoint
    from .data import DataError, open_dataset
    from .evaluate import evaluate as run_eval
    from .evaluate import format_table

    try:
        model, config = load_checkpoint(model_dir, device=device)
        mc = model.config
        synth = config.get("train", {}).get("synth") or {}
        ds = open_dataset(data, input_size=mc.input_size, labels=mc.labels, in_channels=mc.in_channels, synth=synth)
        metrics = run_eval(model, ds, batch_size=batch_size, device=device, progress=True)
    except (CheckpointError, DataError) as e:
        _fail(e)
    click.echo(format_table(metrics))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(
            json.dumps({"data": data, "model": str(model_dir or "default"), **metrics}, indent=2) + "\n"
        )
        click.echo(f"wrote {json_out}")
    if record:
        path = Path(model_dir or DEFAULT_MODEL_DIR) / "config.json"
        config.setdefault("metrics", {})["test"] = {
            "command": invocation(),
            "data": data,
            **metrics,
        }
        path.write_text(json.dumps(config, indent=2) + "\n")
        click.echo(f"recorded the metrics in {path}")
