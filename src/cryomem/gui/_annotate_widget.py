"""Surface annotator: particles on one membrane, added by clicking, moved and deleted on the surface.

The state is :class:`cryomem.gui._annotations.SurfaceAnnotations`; the points layer and the layer of
orientation arrows are both redrawn from it after every edit, so a deleted point takes its arrow
with it and a moved point is snapped back onto the surface with its new normal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import QDoubleSpinBox, QLineEdit

from cryomem.gui._annotations import SurfaceAnnotations, density_at_offset
from cryomem.gui._layer_data import points_to_particles
from cryomem.gui._panel import LayerPicker, Panel, notify_info

__all__ = ["AnnotateWidget", "ray_hit_zyx"]

ARROW_LENGTH_ANG = 60.0
LOAD_DISTANCE_ANG = 100.0  # farthest a loaded particle may lie from the surface, Å
_MOVED_ANG = 1e-6


def ray_hit_zyx(vertices_zyx: np.ndarray, faces: np.ndarray, start_zyx: np.ndarray, direction_zyx: np.ndarray):
    """The first point where a ray through the 3D view meets the mesh (world zyx, Å), or None."""
    from napari.utils.geometry import find_nearest_triangle_intersection

    index, point = find_nearest_triangle_intersection(
        ray_position=np.asarray(start_zyx, float), ray_direction=np.asarray(direction_zyx, float),
        triangles=vertices_zyx[faces],
    )  # fmt: skip
    return None if index is None else np.asarray(point, float)


def _membrane_layer(layer: Any) -> bool:
    path = layer.metadata.get("path")
    return bool(path) and Path(path).suffix.lower() == ".h5"


class AnnotateWidget(Panel):
    """Annotate particles on a membrane surface coloured by the density at an offset along the normal."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(napari_viewer, "Annotate particles on a membrane")
        self.surface_picker = LayerPicker(napari_viewer, ("surface",), _membrane_layer)
        self.offset = QDoubleSpinBox()
        self.offset.setRange(-200.0, 200.0)
        self.offset.setSingleStep(2.5)
        self.offset.setSuffix(" Å")
        self.load_path = QLineEdit("")
        self.load_path.setPlaceholderText("STAR file, or the name of a points layer")
        self.out_path = QLineEdit("")
        self.out_path.setPlaceholderText("<membrane folder>/<membrane>_annotations.star")
        for label, widget in (("membrane", self.surface_picker), ("density offset", self.offset),
                              ("load particles", self.load_path), ("save to", self.out_path)):  # fmt: skip
            self.form.addRow(label, widget)
        self.add_button("Start annotating (click the surface to add)", self.start)
        self.add_button("Load particles to correct", self.load)
        self.add_button("Undo", self.undo)
        self.add_button("Save STAR", self.save)
        self.offset.valueChanged.connect(lambda *_: self.guarded(self.recolour))
        self.annotations: SurfaceAnnotations | None = None
        self.surface_layer: Any = None
        self.points: Any = None
        self.arrows: Any = None
        self._syncing = False

    # -- the surface ------------------------------------------------------------------------------
    def start(self) -> None:
        from cryomem.io import read_membrane_h5

        layer = self.surface_picker.layer()
        if layer is None:
            raise ValueError("no membrane .h5 surface is open; open a run folder or a membrane file first")
        surface = read_membrane_h5(layer.metadata["path"])
        self.annotations = SurfaceAnnotations(surface)
        self.surface_layer = layer
        self.recolour()
        self._make_layers()
        if self._on_surface_click not in layer.mouse_drag_callbacks:
            layer.mouse_drag_callbacks.append(self._on_surface_click)
        self.status.setText(f"annotating {surface.label}: click the surface to add, drag a point to move it")

    def recolour(self) -> None:
        """Colour the surface by the tomogram density at the chosen offset along the normal."""
        if self.annotations is None or self.surface_layer is None:
            return
        values = density_at_offset(self.annotations.surface, self.offset.value())
        vertices, faces = self.surface_layer.data[:2]
        self.surface_layer.data = (vertices, faces, values)
        self.surface_layer.colormap = "gray"
        low, high = np.percentile(values, [1, 99])
        self.surface_layer.contrast_limits = (float(low), float(high) if high > low else float(low) + 1.0)

    # -- the layers, redrawn from the state ---------------------------------------------------------
    def _make_layers(self) -> None:
        label = self.annotations.surface.label
        for name in (f"{label} annotations", f"{label} annotation normals"):
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        metadata = {"annotations": self.annotations, "membrane_path": self.surface_layer.metadata["path"],
                    "tomo_name": self.annotations.tomo_name, "tomogram": self._placement()}  # fmt: skip
        self.points = self.viewer.add_points(np.zeros((0, 3)), ndim=3, name=f"{label} annotations", size=30.0,
                                             face_color="cyan", border_color="black", metadata=metadata,
                                             out_of_slice_display=True, blending="translucent_no_depth")  # fmt: skip
        self.arrows = self.viewer.add_vectors(
            np.zeros((0, 2, 3)), ndim=3, name=f"{label} annotation normals", edge_color="cyan", edge_width=5.0,
            blending="translucent_no_depth",
        )  # fmt: skip
        self.points.events.data.connect(self._on_points_edit)
        self.redraw()

    def _placement(self) -> dict | None:
        surface = self.annotations.surface
        try:
            shape = self.annotations.shape_zyx()
        except ValueError:
            return None
        return {"voxel_size_ang": surface.voxel_size_ang, "shape_zyx": shape, "origin_xyz_ang": surface.origin_xyz_ang}

    def redraw(self) -> None:
        self._syncing = True
        try:
            self.points.data = self.annotations.positions_zyx_ang()
            self.points.features = self.annotations.to_particles().drop(columns=["x_ang", "y_ang", "z_ang"])
            self.arrows.data = self.annotations.arrows_zyx_ang(ARROW_LENGTH_ANG)
        finally:
            self._syncing = False
        self.status.setText(f"{len(self.annotations)} particles on {self.annotations.surface.label}")

    # -- edits --------------------------------------------------------------------------------------
    def add_at_world(self, point_zyx_ang: np.ndarray) -> int:
        """Add a particle where the user clicked (snapped onto the surface)."""
        particle_id = self._state().add(np.asarray(point_zyx_ang, float)[-3:][::-1])
        self.redraw()
        return particle_id

    def _on_surface_click(self, layer: Any, event: Any):
        """A click without drag on the surface adds a particle; a drag rotates the view as usual."""
        if event.type != "mouse_press":
            return
        yield
        dragged = False
        while event.type == "mouse_move":
            dragged = True
            yield
        if dragged:
            return
        if len(event.dims_displayed) == 3:
            start, end = layer.get_ray_intersections(event.position, event.view_direction, event.dims_displayed,
                                                     world=True)  # fmt: skip
            if start is None:
                return
            vertices, faces = layer.data[0], layer.data[1]
            hit = ray_hit_zyx(vertices, faces, np.asarray(start)[-3:], np.asarray(end)[-3:] - np.asarray(start)[-3:])
            if hit is None:
                return
        else:
            hit = np.asarray(event.position)[-3:]
        self.guarded(lambda: self.add_at_world(hit))

    def _on_points_edit(self, event: Any) -> None:
        """Moves, deletions and additions made with napari's points tools go through the state."""
        if self._syncing or self.annotations is None:
            return
        action = str(getattr(event, "action", ""))
        self.guarded(lambda: self._apply_points_edit(action, getattr(event, "data_indices", ()) or ()))

    def _apply_points_edit(self, action: str, indices: tuple) -> None:
        annotations = self.annotations
        data = np.asarray(self.points.data, float).reshape(-1, 3)
        if action.endswith("removed"):
            annotations.delete([int(annotations.ids[i]) for i in indices if i < len(annotations)])
        elif action.endswith("added"):
            for row in data[len(annotations) :]:
                annotations.add(row[::-1])
        elif action.endswith("changed") and len(data) == len(annotations):
            moved = np.flatnonzero(np.abs(data - annotations.positions_zyx_ang()).max(axis=1) > _MOVED_ANG)
            for row in moved:
                annotations.move(int(annotations.ids[row]), data[row][::-1])
        else:
            return
        self.redraw()

    def _state(self) -> SurfaceAnnotations:
        if self.annotations is None:
            raise ValueError("press 'Start annotating' first")
        return self.annotations

    def load(self) -> None:
        """Add the particles of a STAR file or of a points layer (e.g. predictions) to correct them."""
        from cryomem.io import read_particles_star

        annotations = self._state()
        source = self.load_path.text().strip()
        if source in self.viewer.layers:
            layer = self.viewer.layers[source]
            table = points_to_particles(layer.data, layer.features, tomo_name=annotations.tomo_name)
        elif source:
            table = read_particles_star(source, voxel_size_ang=annotations.surface.voxel_size_ang)
        else:
            raise ValueError("type a STAR file or the name of a points layer in 'load particles'")
        n = annotations.load_particles(table, max_distance_ang=LOAD_DISTANCE_ANG)
        self.redraw()
        notify_info(f"loaded {n} particles onto {annotations.surface.label}")

    def undo(self) -> None:
        if not self._state().undo():
            raise ValueError("nothing to undo")
        self.redraw()

    def default_star_path(self) -> Path:
        from cryomem.io import annotation_star_name

        membrane = Path(self.surface_layer.metadata["path"])
        return membrane.parent / annotation_star_name(self._state().surface.label)

    def save(self) -> Path:
        annotations = self._state()
        path = Path(self.out_path.text().strip() or self.default_star_path())
        written = annotations.save_star(path)
        self.points.metadata["star_path"] = str(written)
        notify_info(f"saved {len(annotations)} particles to {written}")
        self.status.setText(f"saved {len(annotations)} particles to {written}")
        return written
