"""Membrane editor: instances from a segmentation, 3D lasso, merge, split, brush, undo, save.

The editing itself is :class:`cryomem.gui._instance_edit.InstanceEditor` and
:func:`cryomem.gui._lasso.lasso_mask`; this widget only wires them to napari layers. The lasso is the
last polygon of a shapes layer named "lasso", drawn on the current slice (2D view) or in the 3D view,
extruded along the viewing direction through the whole volume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import QComboBox, QLineEdit, QSpinBox

from cryomem.geometry._surface_settings import SurfaceSettings
from cryomem.gui._instance_edit import InstanceEditor, save_instances
from cryomem.gui._lasso import LASSO_MODES, lasso_mask
from cryomem.gui._panel import LayerPicker, Panel, notify_info

__all__ = ["EditorWidget", "parse_ids", "view_direction_zyx"]

LASSO_LAYER = "lasso"
INSTANCES_SUFFIX = " instances (edited)"


def parse_ids(text: str) -> list[int]:
    """``"1, 3 4"`` -> ``[1, 3, 4]``; a one-line error for anything else."""
    parts = text.replace(",", " ").split()
    try:
        ids = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"membrane ids must be whole numbers separated by commas, got {text!r}") from None
    if not ids or min(ids) < 1:
        raise ValueError(f"give membrane ids >= 1 (e.g. 1, 3), got {text!r}")
    return ids


def view_direction_zyx(viewer: Any) -> np.ndarray:
    """The direction the user looks along, world zyx: the camera's in 3D, the sliced axis in 2D."""
    if viewer.dims.ndisplay == 3:
        return np.asarray(viewer.camera.view_direction, dtype=np.float64)[-3:]
    direction = np.zeros(3)
    direction[viewer.dims.not_displayed[-1] - (viewer.dims.ndim - 3)] = 1.0
    return direction


class EditorWidget(Panel):
    """Edit the membrane instances of a segmentation or instance map (labels layer)."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(napari_viewer, "Edit membrane instances")
        self.source = LayerPicker(napari_viewer, ("labels",))
        self.min_voxels = QSpinBox()
        self.min_voxels.setRange(0, 10**9)
        self.min_voxels.setValue(SurfaceSettings().min_voxels)
        self.mode = QComboBox()
        self.mode.addItems(list(LASSO_MODES))
        self.ids = QLineEdit("")
        self.ids.setPlaceholderText("e.g. 2, 5")
        self.out_path = QLineEdit("")
        self.out_path.setPlaceholderText("<segmentation folder>/<stem>_instances.mrc")
        for label, widget in (("labels", self.source), ("min voxels", self.min_voxels), ("lasso", self.mode),
                              ("membrane ids", self.ids), ("save to", self.out_path)):  # fmt: skip
            self.form.addRow(label, widget)
        self.add_button("Instances from segmentation", self.start)
        self.add_button("Draw lasso (shapes layer 'lasso')", self.new_lasso)
        self.add_button("Apply lasso", self.apply_lasso)
        self.add_button("Merge ids", self.merge)
        self.add_button("Split id into connected pieces", self.split)
        self.add_button("Number by size (1 = largest)", self.relabel)
        self.add_button("Undo", self.undo)
        self.add_button("Save instance map", self.save)
        self.editor: InstanceEditor | None = None
        self.layer: Any = None

    def start(self) -> None:
        """An editable instance map: the chosen labels' connected pieces, 1 = largest."""
        source = self.source.layer()
        if source is None:
            raise ValueError("no labels layer; open a segmentation (_seg.mrc) or instance map first")
        self.editor = InstanceEditor.from_segmentation(np.asarray(source.data) > 0, self.min_voxels.value())
        name = source.name + INSTANCES_SUFFIX
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        metadata = {**source.metadata, "edited_from": source.metadata.get("path")}
        self.layer = self.viewer.add_labels(self.editor.labels, name=name, scale=source.scale,
                                            translate=source.translate, metadata=metadata)  # fmt: skip
        self.source.setCurrentText(name)
        self._report("instances")

    def _editor(self) -> InstanceEditor:
        """The editor, taking in the brush strokes made with napari's own paint tools since the last edit."""
        if self.editor is None or self.layer is None or self.layer not in self.viewer.layers:
            raise ValueError("press 'Instances from segmentation' first")
        if self.layer.data is not self.editor.labels:
            self.editor = InstanceEditor(np.asarray(self.layer.data))
        return self.editor

    def _show(self) -> None:
        if self.layer.data is not self.editor.labels:
            self.layer.data = self.editor.labels
        self.layer.refresh()

    def _report(self, what: str) -> None:
        sizes = self.editor.instance_sizes() if self.editor else {}
        self.status.setText(f"{what}: {len(sizes)} membranes (ids {', '.join(map(str, list(sizes)[:12]))})")

    def new_lasso(self) -> None:
        """A shapes layer to draw the lasso polygon in (polygon tool selected)."""
        if LASSO_LAYER not in self.viewer.layers:
            self.viewer.add_shapes(name=LASSO_LAYER, ndim=3, edge_color="yellow", face_color="transparent",
                                   edge_width=4)  # fmt: skip
        layer = self.viewer.layers[LASSO_LAYER]
        self.viewer.layers.selection.active = layer
        layer.mode = "add_polygon"

    def apply_lasso(self) -> None:
        editor = self._editor()
        if LASSO_LAYER not in self.viewer.layers or not len(self.viewer.layers[LASSO_LAYER].data):
            raise ValueError("no lasso drawn; press 'Draw lasso' and draw a polygon around what to keep or remove")
        lasso = self.viewer.layers[LASSO_LAYER]
        polygon_world = np.asarray([lasso.data_to_world(p) for p in lasso.data[-1]])[:, -3:]
        mask = lasso_mask(editor.labels.shape, polygon_world, view_direction_zyx(self.viewer),
                          scale_zyx=self.layer.scale[-3:], translate_zyx=self.layer.translate[-3:])  # fmt: skip
        changed = editor.apply_mask(mask, self.mode.currentText())
        lasso.data = lasso.data[:-1]
        self._show()
        self._report(f"lasso {self.mode.currentText()}: {changed} voxels changed")

    def merge(self) -> None:
        target = self._editor().merge(parse_ids(self.ids.text()))
        self._show()
        self._report(f"merged into {target}")

    def split(self) -> None:
        (instance_id,) = parse_ids(self.ids.text())[:1]
        new = self._editor().split(instance_id)
        self._show()
        self._report(f"split {instance_id} into {1 + len(new)} pieces")

    def relabel(self) -> None:
        self._editor().relabel_by_size()
        self._show()
        self._report("renumbered by size")

    def undo(self) -> None:
        if not self._editor().undo():
            raise ValueError("nothing to undo")
        self._show()
        self._report("undone")

    def save(self) -> Path:
        editor = self._editor()
        default = self._default_save_path()
        path = Path(self.out_path.text().strip() or default)
        written = save_instances(path, editor.labels, voxel_size_ang=float(self.layer.scale[-1]),
                                 origin_xyz_ang=tuple(float(v) for v in self.layer.translate[-3:][::-1]))  # fmt: skip
        notify_info(f"saved {written}")
        self.status.setText(f"saved {len(editor.instance_sizes())} membranes to {written}")
        return written

    def _default_save_path(self) -> Path:
        from cryomem.io import segment_output_name

        source = self.layer.metadata.get("edited_from") or self.layer.metadata.get("path")
        if not source:
            raise ValueError("the labels were not opened from a file; type where to save them in 'save to'")
        source = Path(source)
        stem = source.stem.removesuffix("_seg").removesuffix("_instances")
        return source.parent / segment_output_name(stem, "instances")
