"""The one typer app behind the ``cryomem`` console script."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

import cryomem
from cryomem.cli._common import console
from cryomem.cli._demo import demo
from cryomem.cli._export import export_app
from cryomem.cli._morph import morph
from cryomem.cli._pick import pick_app
from cryomem.cli._preprocess import preprocess_app
from cryomem.cli._run import report, run
from cryomem.cli._segment import segment_app
from cryomem.cli._segment_derived import instances_command, threshold_command
from cryomem.cli._segment_patches import patches_app
from cryomem.cli._simulate import simulate_app
from cryomem.cli._stats import stats_app
from cryomem.cli._surface import surface
from cryomem.cli._view import view


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


app = typer.Typer(
    name="cryomem",
    cls=_OneLineUsageErrors,
    help="Membranes in cryo-electron tomograms: simulate, segment, mesh, pick and measure.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(simulate_app, name="simulate")
app.add_typer(segment_app, name="segment")
segment_app.command("threshold")(threshold_command)
segment_app.command("instances")(instances_command)
segment_app.add_typer(patches_app, name="patches")
app.add_typer(preprocess_app, name="preprocess")
app.command("surface")(surface)
app.add_typer(pick_app, name="pick")
app.add_typer(stats_app, name="stats")
app.command("morph")(morph)
app.add_typer(export_app, name="export")
app.command("run")(run)
app.command("report")(report)
app.command("demo")(demo)
app.command("view")(view)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cryomem {cryomem.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Membranes in cryo-electron tomograms."""


def main() -> None:
    app()
