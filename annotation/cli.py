"""``docstn`` sub-commands of the annotation domain: synth, annotate, import, export, augment."""

from __future__ import annotations

import os
from pathlib import Path

import click

__all__ = ["annotate", "augment", "export_cmd", "import_cmd", "synth"]

FORMAT_CHOICE = click.Choice(["labelme", "coco", "cvat", "csv"])


def _report(errors: list, what: str) -> None:
    for e in errors[:20]:
        click.echo(f"warning: {e}", err=True)
    if len(errors) > 20:
        click.echo(f"warning: ... and {len(errors) - 20} more", err=True)
    if errors:
        click.echo(f"{len(errors)} {what} skipped", err=True)


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--n", "n", type=click.IntRange(min=1), default=1000, show_default=True, help="number of photos")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--width", type=int, default=640, show_default=True)
@click.option("--height", type=int, default=480, show_default=True)
@click.option("--classes", default=None, help="comma-separated subset of the document classes")
@click.option("--rotate", "max_rotation_deg", type=float, default=180.0, show_default=True, help="max |rotation|°")
@click.option("--perspective", type=float, default=0.08, show_default=True)
@click.option(
    "--pages",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="folder of real, flat, upright scans (.jpg/.png): a --pages-fraction of the photos show one of them",
)
@click.option("--pages-fraction", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--workers", type=int, default=os.cpu_count() or 1, show_default=True)
def synth(
    out: Path,
    n: int,
    seed: int,
    width: int,
    height: int,
    classes: str | None,
    max_rotation_deg: float,
    perspective: float,
    pages: str | None,
    pages_fraction: float,
    workers: int,
) -> None:
    """Render N synthetic document photos into OUT (images/ and manifest.jsonl). Same seed, same bytes."""
    from pydantic import ValidationError

    from annotation.synth import ScanError, SynthConfig, generate

    kwargs: dict = {
        "width": width,
        "height": height,
        "max_rotation_deg": max_rotation_deg,
        "perspective": perspective,
        "pages": pages,
        "pages_fraction": pages_fraction,
    }
    if classes:
        kwargs["classes"] = tuple(c.strip() for c in classes.split(",") if c.strip())
    try:
        cfg = SynthConfig(**kwargs)
    except ValidationError as exc:
        raise click.BadParameter(str(exc)) from exc
    try:
        manifest = generate(out, n, seed=seed, config=cfg, workers=workers)
    except ScanError as exc:  # a scan of --pages that does not decode
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {n} images and {manifest}")


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8765, show_default=True)
def annotate(folder: Path, host: str, port: int) -> None:
    """Serve the corner-capture page for the photos in FOLDER; records go to FOLDER/manifest.jsonl."""
    import uvicorn

    from annotation.capture import create_app

    click.echo(f"annotating {folder} at http://{host}:{port}/  (Ctrl+C to stop)")
    uvicorn.run(create_app(folder), host=host, port=port, log_level="warning")


@click.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMAT_CHOICE, required=True)
@click.option(
    "--images",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="folder the image names are relative to (COCO, CVAT, CSV; default: SOURCE's folder)",
)
@click.option(
    "--order",
    type=click.Choice(["given", "upright"]),
    default="given",
    show_default=True,
    help="labelme/CVAT polygons: first point is TL (given) or TL = nearest the image's top-left",
)
def import_cmd(source: Path, manifest: Path, fmt: str, images: Path | None, order: str) -> None:
    """Import SOURCE (labelme folder or file, COCO JSON, CVAT XML, CSV) into the JSON Lines MANIFEST."""
    from annotation.formats import import_annotations

    records, errors = import_annotations(fmt, source, manifest, images_root=images, order=order)  # type: ignore[arg-type]
    _report(errors, "entries")
    click.echo(f"imported {len(records)} records into {manifest}")


@click.command("export")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMAT_CHOICE, required=True)
def export_cmd(manifest: Path, out: Path, fmt: str) -> None:
    """Export MANIFEST to OUT (a folder for labelme, a file for COCO JSON, CVAT XML, CSV)."""
    from annotation.formats import export_annotations

    n, errors = export_annotations(fmt, manifest, out)
    _report(errors, "bad manifest lines")
    click.echo(f"exported {n} records to {out}")


@click.command()
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--per-image", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--rotate", type=float, default=180.0, show_default=True, help="max |rotation| in degrees")
@click.option("--perspective", type=float, default=0.06, show_default=True)
@click.option("--scale", nargs=2, type=float, default=(0.8, 1.1), show_default=True)
@click.option("--translate", type=float, default=0.1, show_default=True)
@click.option("--max-side", type=int, default=None, help="downscale sources whose longer side is larger")
@click.option("--no-photometric", is_flag=True, help="geometry only")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=int, default=os.cpu_count() or 1, show_default=True)
def augment(
    manifest: Path,
    out: Path,
    per_image: int,
    rotate: float,
    perspective: float,
    scale: tuple[float, float],
    translate: float,
    max_side: int | None,
    no_photometric: bool,
    seed: int,
    workers: int,
) -> None:
    """Write PER_IMAGE augmented copies of every record of MANIFEST into OUT, corners carried exactly.

    Resumable: sources already done are skipped. Corners leaving the frame are kept and flagged.
    Bad sources are listed in OUT/errors.jsonl.
    """
    from pydantic import ValidationError

    from annotation.augment import AugmentConfig, augment_manifest

    try:
        cfg = AugmentConfig(
            rotate=rotate,
            perspective=perspective,
            scale=scale,
            translate=translate,
            max_side=max_side,
            photometric=not no_photometric,
        )
    except ValidationError as exc:
        raise click.BadParameter(str(exc)) from exc
    result = augment_manifest(manifest, out, per_image=per_image, config=cfg, seed=seed, workers=workers)
    n_err = sum(1 for line in (out / "errors.jsonl").read_text().splitlines() if line.strip())
    if n_err:
        click.echo(f"warning: {n_err} sources or lines skipped, see {out / 'errors.jsonl'}", err=True)
    click.echo(f"wrote {result}")
