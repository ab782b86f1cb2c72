"""PNG figures: matplotlib's object API (no global pyplot state), written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from cryomem.io._atomic import atomic_write_path

__all__ = ["new_figure", "save_png"]


def new_figure(
    rows: int = 1, columns: int = 1, *, width: float = 5.0, height: float = 3.8, layout: str | None = "constrained"
):
    """A figure of ``rows x columns`` panels, each ``width x height`` inches, and its axes (2-D array).

    ``layout=None`` skips matplotlib's layout engine (about 1-2 s for a grid of panels on a slow CPU);
    the caller then spaces the panels with ``figure.subplots_adjust``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * columns, height * rows), layout=layout)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, columns, squeeze=False)


def save_png(figure, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Write ``figure`` as a PNG at ``path`` atomically. Returns the path."""
    path = Path(path)
    with atomic_write_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return path
