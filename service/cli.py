"""The ``docstn`` console script.

Each package owns the sub-commands of its own domain (``stn.cli``, ``annotation.cli``, ``workers.cli``,
``service.commands``); this root only names them and imports a sub-command's module when it is run, so that
``docstn synth`` does not pay for importing torch and ``docstn warp`` does not import FastAPI.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["COMMANDS", "main"]

# sub-command -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "warp": "stn.cli:warp",
    "rectify": "stn.rectify_cli:rectify",
    "export-model": "stn.export:export_model_cmd",
    "serve": "service.commands:serve",
    "worker": "workers.cli:worker",
    "train": "stn.cli:train",
    "evaluate": "stn.cli:evaluate",
    "synth": "annotation.cli:synth",
    "annotate": "annotation.cli:annotate",
    "import": "annotation.cli:import_cmd",
    "export": "annotation.cli:export_cmd",
    "augment": "annotation.cli:augment",
}


# A sub-command name two packages share, told apart by the value of its --format option:
# `docstn export MANIFEST OUT --format coco` exports annotations (annotation), while
# `docstn export --format onnx|torchscript --out FILE` exports the model (stn, also `docstn export-model`).
FORMAT_ROUTES: dict[str, tuple[frozenset[str], str]] = {
    "export": (frozenset({"onnx", "torchscript"}), "export-model"),
}


def _option_value(args: list[str], option: str) -> str | None:
    """The value given to ``option`` in ``args`` (``--opt v`` or ``--opt=v``), else None."""
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] in FORMAT_ROUTES:
            formats, target = FORMAT_ROUTES[args[0]]
            if _option_value(args[1:], "--format") in formats:
                args = [target, *args[1:]]
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing help imports every module; keep `docstn --help` honest but cheap by showing names only.
        with formatter.section("Commands"):
            formatter.write_dl([(name, self.lazy[name].split(":")[0]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="docstn")
def main() -> None:
    """DocSTN: find the document in a photo, tell which way is up, return the rectified crop."""


if __name__ == "__main__":
    main()
