"""The one typer app behind the ``cryomem`` console script."""

from __future__ import annotations

import typer

import cryomem
from cryomem.cli._demo import demo
from cryomem.cli._pick import pick_app
from cryomem.cli._run import report, run
from cryomem.cli._segment import segment_app
from cryomem.cli._simulate import simulate_app
from cryomem.cli._stats import stats_app
from cryomem.cli._surface import surface

app = typer.Typer(
    name="cryomem",
    help="Membranes in cryo-electron tomograms: simulate, segment, mesh, pick and measure.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(simulate_app, name="simulate")
app.add_typer(segment_app, name="segment")
app.command("surface")(surface)
app.add_typer(pick_app, name="pick")
app.add_typer(stats_app, name="stats")
app.command("run")(run)
app.command("report")(report)
app.command("demo")(demo)


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
