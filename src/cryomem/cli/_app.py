"""The one typer app behind the ``cryomem`` console script."""

from __future__ import annotations

import functools
import importlib
import sys

import typer
from typer.core import TyperGroup

import cryomem
from cryomem.cli._common import console


class _OneLineUsageErrors(TyperGroup):
    """The root command group: a usage error (missing argument, a value of the wrong type, an unknown
    option) prints one line with the command's help to read, not click's multi-line box."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as err:  # click's usage errors, as typer vendors them
            ctx = getattr(err, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            message = err.format_message() if hasattr(err, "format_message") else str(err)
            console.print(f"[bold red]error:[/] {message}{hint}", highlight=False, soft_wrap=True)
            sys.exit(getattr(err, "exit_code", 2))
        except typer.Abort:
            console.print("aborted")
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def _add_segment(app: typer.Typer) -> None:
    from cryomem.cli._segment import segment_app
    from cryomem.cli._segment_derived import instances_command, threshold_command
    from cryomem.cli._segment_patches import patches_app

    if not any(info.name == "threshold" for info in segment_app.registered_commands):
        segment_app.command("threshold")(threshold_command)
        segment_app.command("instances")(instances_command)
        segment_app.add_typer(patches_app, name="patches")
    app.add_typer(segment_app, name="segment")


# Each top-level command: (module, attribute, a group of subcommands?), in the order of --help.
# Only the command being run is imported (some modules build settings models on import).
_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "simulate": ("cryomem.cli._simulate", "simulate_app", True),
    "segment": ("", "", True),  # _add_segment: the segment group gathers three modules
    "preprocess": ("cryomem.cli._preprocess", "preprocess_app", True),
    "surface": ("cryomem.cli._surface", "surface", False),
    "pick": ("cryomem.cli._pick", "pick_app", True),
    "stats": ("cryomem.cli._stats", "stats_app", True),
    "morph": ("cryomem.cli._morph", "morph", False),
    "export": ("cryomem.cli._export", "export_app", True),
    "run": ("cryomem.cli._run", "run", False),
    "report": ("cryomem.cli._run", "report", False),
    "demo": ("cryomem.cli._demo", "demo", False),
    "view": ("cryomem.cli._view", "view", False),
}


def build_app(only: str | None = None) -> typer.Typer:
    """The ``cryomem`` app with every command, or with only the command ``only`` (for a quick start)."""
    app = typer.Typer(
        name="cryomem",
        cls=_OneLineUsageErrors,
        help="Membranes in cryo-electron tomograms: simulate, segment, mesh, pick and measure.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for name, (module, attribute, group) in _COMMANDS.items():
        if only is not None and name != only:
            continue
        if name == "segment":
            _add_segment(app)
            continue
        target = getattr(importlib.import_module(module), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cryomem {cryomem.__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Membranes in cryo-electron tomograms."""


@functools.cache
def _full_app() -> typer.Typer:
    return build_app()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # built on first use: ``main`` builds only the command it runs
        return _full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """The console script: builds only the command named first (about 0.3 s less start-up), or all."""
    first = sys.argv[1] if len(sys.argv) > 1 else None
    build_app(first if first in _COMMANDS else None)()
