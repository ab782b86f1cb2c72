"""``cryomem view``: open a tomogram, a run folder or the demo output in napari."""

from __future__ import annotations

from pathlib import Path

import typer

from cryomem.cli._common import console, one_line_errors


@one_line_errors
def view(
    path: Path = typer.Argument(..., help="A tomogram, a run folder (cryomem run --out), a demo folder or any folder."),
    tomogram: str | None = typer.Option(None, help="For a run with several tomograms: the one to show."),
    widgets: bool = typer.Option(True, "--widgets/--no-widgets", help="Dock cryomem's widgets."),
) -> None:
    """Look at membranes in napari: tomogram, segmentation, instances, membranes and particles, in Å."""
    from cryomem.gui._folders import plan_view

    plan = plan_view(path, tomogram)  # a bad path is refused before the window opens
    try:
        import napari  # noqa: F401
    except ImportError:
        raise ValueError("the viewer needs the gui extra: pip install 'cryomem[gui]'") from None
    from cryomem.gui._view import show

    for note in plan.notes:
        console.print(note, style="yellow", highlight=False)
    show(path, tomogram=tomogram, widgets=widgets)
