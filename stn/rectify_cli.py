"""``docstn rectify``: the inference engine on local files (what ``POST /v1/rectify`` does, without a server)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

__all__ = ["rectify"]


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output dir.")
@click.option(
    "--model",
    "model_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    envvar="DOCSTN_MODEL_DIR",
    help="Checkpoint folder (default: models/default).",
)
@click.option("--width", type=click.IntRange(1, 16384), default=None, help="Crop width (default: from the quad).")
@click.option("--height", type=click.IntRange(1, 16384), default=None, help="Crop height (default: from the quad).")
@click.option("--format", "fmt", type=click.Choice(["png", "jpeg", "webp"]), default="png", show_default=True)
@click.option("--batch", type=click.IntRange(1, 256), default=8, show_default=True, help="Images per forward pass.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result per line on stdout.")
def rectify(
    images: tuple[Path, ...],
    out_dir: Path,
    model_dir: Path | None,
    width: int | None,
    height: int | None,
    fmt: str,
    batch: int,
    as_json: bool,
) -> None:
    """Rectify IMAGES: write OUT/<name>.<format> (the crop) and OUT/<name>.json (θ, corners, angle, ...)."""
    from .imageio import ENCODINGS
    from .inference import Engine, ModelUnavailableError

    try:
        engine = Engine.from_checkpoint(model_dir, max_batch=batch)
    except ModelUnavailableError as e:
        raise click.ClickException(str(e)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    try:
        for start in range(0, len(images), batch):
            chunk = images[start : start + batch]
            results = engine.rectify_many([p.read_bytes() for p in chunk], width=width, height=height, fmt=fmt)
            for path, r in zip(chunk, results, strict=True):
                if isinstance(r, Exception):
                    failed += 1
                    body = {"image": str(path), "error": {"code": getattr(r, "code", "error"), "message": str(r)}}
                    click.echo(f"{path}: {body['error']['message']}", err=True)
                else:
                    crop_path = out_dir / f"{path.stem}{ENCODINGS[fmt][1]}"
                    crop_path.write_bytes(r.crop)
                    body = {"image": str(path), "crop_path": str(crop_path), **r.to_json(model=engine.info)}
                    (out_dir / f"{path.stem}.json").write_text(json.dumps(body, indent=2) + "\n")
                    if not as_json:
                        click.echo(f"{path} -> {crop_path} ({r.width}x{r.height}, angle {r.angle_deg:.1f} deg)")
                if as_json:
                    click.echo(json.dumps(body))
    finally:
        engine.close()
    if failed:
        sys.exit(1)
