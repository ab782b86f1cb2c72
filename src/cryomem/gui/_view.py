"""Open a path in napari laid out for looking: volumes, membranes and particles in Å, in 3D."""

from __future__ import annotations

import os
from typing import Any

from cryomem.gui._folders import ViewPlan, layers_of, plan_view

__all__ = ["add_plan", "lay_out_3d", "show"]

_WIDGETS = ("Segment membranes", "Edit membrane instances", "Annotate particles on a membrane",
            "Train and predict picking", "Particle statistics")  # fmt: skip


def add_plan(viewer: Any, plan: ViewPlan) -> list[Any]:
    """Add every layer of ``plan`` to ``viewer``; return the layers (volumes first, particles last)."""
    layers = []
    for data, meta, kind in layers_of(plan):
        layers.append(getattr(viewer, f"add_{kind}")(data, **meta))
    return layers


def lay_out_3d(viewer: Any, layers: list[Any]) -> None:
    """A view a person can read in 3D: the tomogram as its middle z plane (not a volume that hides
    the membranes), label maps hidden when the membranes are shown as surfaces."""
    kinds = {type(layer).__name__ for layer in layers}
    for layer in layers:
        kind = type(layer).__name__
        if kind == "Image" and layer.visible and layer.data.ndim == 3:
            layer.depiction = "plane"
            layer.plane.normal = (1.0, 0.0, 0.0)
            layer.plane.position = tuple(s / 2 for s in layer.data.shape)
            layer.plane.thickness = 1.0
        elif kind == "Labels" and "Surface" in kinds:
            layer.visible = False
    viewer.dims.ndisplay = 3
    viewer.reset_view()


def show(
    path: str | os.PathLike[str],
    *,
    tomogram: str | None = None,
    widgets: bool = True,
    viewer: Any = None,
    block: bool = True,
) -> Any:
    """Open ``path`` (a tomogram, a run or demo folder, or a folder of files) in a napari viewer.

    The view is 3D with the tomogram's middle slice shown; ``widgets`` docks cryomem's widgets. With
    ``block`` the call returns when the window is closed.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`cryomem.gui._folders.plan_view`, checked before the window opens.
    """
    plan = plan_view(path, tomogram)
    import napari

    viewer = viewer if viewer is not None else napari.Viewer(title=f"cryomem — {path}")
    lay_out_3d(viewer, add_plan(viewer, plan))
    if widgets:
        for index, name in enumerate(_WIDGETS):
            viewer.window.add_plugin_dock_widget("cryomem", name, tabify=index > 0)
        first, _ = viewer.window.add_plugin_dock_widget("cryomem", _WIDGETS[0])
        first.raise_()
    for note in plan.notes:
        from napari.utils.notifications import show_info

        show_info(note)
    if block:
        napari.run()
    return viewer
