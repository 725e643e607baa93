"""``docstn`` sub-commands of the stn package."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

__all__ = ["parse_size", "parse_theta", "warp"]


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
