"""Stats widget: the statistics of the current picks on the open membranes, plots and maps in napari."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QPixmap
from qtpy.QtWidgets import QCheckBox, QLabel, QLineEdit, QScrollArea, QTabWidget

from cryomem.gui._layer_data import write_points_star
from cryomem.gui._panel import LayerPicker, Panel
from cryomem.io import GUI_OUTPUT_FOLDERS

__all__ = ["StatsWidget", "membrane_paths_of", "stats_inputs"]

_DEFAULT_ANALYSES = ("concentration", "neighbours", "ripley", "orientation")
_ANALYSIS_PLOTS = {"concentration": "concentration", "neighbours": "neighbours", "ripley": "ripley",
                   "orientation": "orientation"}  # fmt: skip


def membrane_paths_of(viewer: Any) -> list[Path]:
    """The membrane ``.h5`` files behind the viewer's surface layers, one per membrane (``<tomo>_mb<N>``):
    the first layer of a membrane wins over later copies (e.g. a prediction's)."""
    paths: dict[str, Path] = {}
    for layer in viewer.layers:
        path = layer.metadata.get("path") if type(layer).__name__ == "Surface" else None
        if path and Path(path).suffix.lower() == ".h5" and Path(path).is_file():
            paths.setdefault(Path(path).name, Path(path))
    return list(paths.values())


def stats_inputs(points_layer: Any, membranes: list[Path], out_dir: Path) -> tuple[list[Path], Path]:
    """The membrane files and a STAR of the points layer as it is now (edits included), written to ``out_dir``."""
    if not membranes:
        raise ValueError("no membrane .h5 files are open; open a run folder or the membranes (File > Open)")
    tomogram = points_layer.metadata.get("tomogram")
    if not tomogram:
        raise ValueError(
            f"points layer {points_layer.name!r} does not know its tomogram; open the particles with their "
            "tomogram (cryomem view RUN) or make them with the annotator"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    star = write_points_star(out_dir / "particles.star", points_layer.data, points_layer.features,
                             tomo_name=points_layer.metadata.get("tomo_name"), **tomogram)  # fmt: skip
    return membranes, star


def _finite(values: np.ndarray) -> np.ndarray | None:
    """A per-vertex map napari can colour: undefined vertices (NaN) get the largest defined value."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        return None
    return np.where(finite, values, values[finite].max())


class StatsWidget(Panel):
    """Run the statistics on the chosen particles and show their plots; per-vertex maps go on the surfaces."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(napari_viewer, "Particle statistics")
        self.points = LayerPicker(napari_viewer, ("points",))
        self.analysis_boxes = {}
        for analysis in _DEFAULT_ANALYSES:
            box = QCheckBox(analysis)
            box.setChecked(analysis != "ripley")
            self.analysis_boxes[analysis] = box
        self.out_dir = QLineEdit("")
        self.out_dir.setPlaceholderText(f"<membranes folder>/../{GUI_OUTPUT_FOLDERS['stats']}")
        self.form.addRow("particles", self.points)
        for box in self.analysis_boxes.values():
            self.form.addRow("", box)
        self.form.addRow("output folder", self.out_dir)
        self.add_button("Compute statistics", self.compute)
        self.plots = QTabWidget()
        self.plots.setMinimumHeight(320)
        self.layout().insertWidget(self.layout().count() - 1, self.plots)
        self.written: dict[str, Path] = {}

    def analyses(self) -> list[str]:
        chosen = [name for name, box in self.analysis_boxes.items() if box.isChecked()]
        if not chosen:
            raise ValueError("tick at least one analysis")
        return chosen

    def compute(self) -> None:
        from cryomem.stats import StatsConfig, run_stats

        layer = self.points.layer()
        if layer is None:
            raise ValueError("no points layer; open particles (a STAR file or a run folder) or pick some first")
        membranes = membrane_paths_of(self.viewer)
        base = membranes[0].parent.parent if membranes else Path.cwd()
        out_dir = Path(self.out_dir.text().strip() or base / GUI_OUTPUT_FOLDERS["stats"])
        membranes, star = stats_inputs(layer, membranes, out_dir)
        analyses = self.analyses()

        def work(progress):
            return run_stats(analyses, membranes, [star], out_dir, StatsConfig(), name="napari", progress=progress)

        self.run_job("statistics", work, self._show)

    def _show(self, written: dict[str, Path]) -> None:
        self.written = written
        self.plots.clear()
        for role, path in written.items():
            if path.suffix == ".png":
                label = QLabel()
                pixmap = QPixmap(str(path))
                label.setPixmap(pixmap.scaledToWidth(max(280, self.plots.width() - 30), Qt.SmoothTransformation))
                scroll = QScrollArea()
                scroll.setWidget(label)
                self.plots.addTab(scroll, role)
        self._add_vertex_maps(written)
        self.status.setText(f"{len(written)} files in {Path(next(iter(written.values()))).parent}")

    def _add_vertex_maps(self, written: dict[str, Path]) -> None:
        """The per-vertex statistics as surface layers, coloured by the map defined on most vertices
        (the membrane's concentration on our meshes), with one colour scale across the membranes."""
        from cryomem.io import read_mesh

        meshes = {role.removeprefix("mesh_"): read_mesh(path) for role, path in written.items()
                  if role.startswith("mesh_")}  # fmt: skip
        maps = {label: _vertex_maps(mesh) for label, mesh in meshes.items()}
        names = [name for label_maps in maps.values() for name in label_maps]
        if not names:
            return

        def telling(n: str) -> tuple[float, int]:  # defined on most vertices, then the most distinct values
            pooled = np.concatenate([m[n][1] for m in maps.values() if n in m])
            return sum(m[n][0] for m in maps.values() if n in m), len(np.unique(pooled))

        shown = max(sorted(set(names)), key=telling)
        values = [m[shown][1] for m in maps.values() if shown in m]
        limits = (float(min(v.min() for v in values)), float(max(v.max() for v in values)))
        limits = limits if limits[1] > limits[0] else (limits[0], limits[0] + 1.0)
        for label, mesh in meshes.items():
            if shown not in maps[label]:
                continue
            name = f"{label} statistics"
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            colourings = {n: v for n, (_, v) in maps[label].items()}
            self.viewer.add_surface((mesh.vertices_xyz_ang[:, ::-1].copy(), mesh.faces, colourings[shown]), name=name,
                                    colormap="plasma", contrast_limits=limits, visible=False,
                                    metadata={"path": str(written[f"mesh_{label}"]), "colourings": colourings,
                                              "colouring": shown})  # fmt: skip


def _vertex_maps(mesh: Any) -> dict[str, tuple[float, np.ndarray]]:
    """Each 1D per-vertex map of a statistics mesh: (share of vertices where it is defined, values with the
    undefined ones set to the largest defined value)."""
    maps = {}
    for name, raw in mesh.point_data.items():
        raw = np.asarray(raw, dtype=float)
        if raw.ndim == 1 and np.isfinite(raw).any():
            maps[name] = (float(np.isfinite(raw).mean()), _finite(raw))
    return maps
