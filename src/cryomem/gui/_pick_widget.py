"""Pick widget: train a picking model on the annotated membranes, predict on the others, curate the picks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QCheckBox, QLineEdit, QSpinBox

from cryomem.gui._layer_data import membrane_layer, particle_layers, write_points_star
from cryomem.gui._panel import LayerPicker, Panel, notify_info
from cryomem.io import GUI_OUTPUT_FOLDERS, accepted_star_name

__all__ = ["PickWidget", "training_data"]

PICKS_SUFFIX = " picks"


def training_data(viewer: Any) -> tuple[list[Path], pd.DataFrame]:
    """The annotated membranes of the viewer (the annotator's layers) and their particles.

    Raises
    ------
    ValueError
        No membrane has annotated particles.
    """
    membranes, tables = [], []
    for layer in viewer.layers:
        annotations = layer.metadata.get("annotations") if type(layer).__name__ == "Points" else None
        if annotations is not None and len(annotations):
            membranes.append(Path(layer.metadata["membrane_path"]))
            tables.append(annotations.to_particles())
    if not membranes:
        raise ValueError("no annotated membrane; annotate particles on a membrane with the annotator first")
    return membranes, pd.concat(tables, ignore_index=True)


class _EpochRows(QObject):
    """Carries training log rows from the worker thread to the viewer's thread."""

    row = Signal(dict)


class PickWidget(Panel):
    """Train on annotated membranes (background, live loss curve, cancel), predict, accept or reject picks."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(napari_viewer, "Train and predict picking")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        self.epochs.setValue(30)
        self.model_path = QLineEdit("")
        self.model_path.setPlaceholderText("the model trained here, or a model file")
        self.tta = QCheckBox("shifted-window TTA (5x slower)")
        self.picks = LayerPicker(napari_viewer, ("points",), lambda layer: layer.name.endswith(PICKS_SUFFIX))
        for label, widget in (("epochs", self.epochs), ("model", self.model_path), ("", self.tta),
                              ("picks", self.picks)):  # fmt: skip
            self.form.addRow(label, widget)
        self.add_button("Train on annotated membranes", self.train)
        self.add_button("Predict on the open membranes", self.predict)
        self.add_button("Reject selected picks", self.reject_selected)
        self.add_button("Save accepted picks (STAR)", self.save)
        self.curve = self._make_curve()
        self.rows: list[dict] = []
        self._epoch_rows = _EpochRows()
        self._epoch_rows.row.connect(self._on_epoch)

    def _make_curve(self) -> Any:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(3.6, 2.2), tight_layout=True)
        canvas = FigureCanvasQTAgg(figure)
        canvas.setMinimumHeight(200)
        self.axes = figure.add_subplot(111)
        self.axes.set_xlabel("epoch")
        self.axes.set_ylabel("loss")
        self.layout().insertWidget(self.layout().count() - 1, canvas)
        return canvas

    def _on_epoch(self, row: dict) -> None:
        self.rows.append(row)
        self.axes.clear()
        epochs = [r["epoch"] for r in self.rows]
        self.axes.plot(epochs, [r["train_loss"] for r in self.rows], label="training")
        if any("val_loss" in r for r in self.rows):
            self.axes.plot(epochs, [r.get("val_loss", np.nan) for r in self.rows], label="validation")
        self.axes.set_xlabel("epoch")
        self.axes.set_ylabel("loss")
        self.axes.legend(fontsize=7)
        self.curve.draw_idle()

    def train(self) -> None:
        from cryomem.pick import PickTrainConfig, train_pick_model

        membranes, particles = training_data(self.viewer)
        out_dir = membranes[0].parent.parent / GUI_OUTPUT_FOLDERS["pick_model"]
        config = PickTrainConfig(epochs=self.epochs.value(), validation_fraction=0.2 if len(membranes) > 1 else 0.0)
        self.rows = []
        emit = self._epoch_rows.row.emit

        def work(progress):
            return train_pick_model(membranes, particles, out_dir, config, progress=progress, on_epoch=emit,
                                    cache_dir=out_dir / "operator-cache")  # fmt: skip

        self.run_job(f"training on {len(particles)} particles", work, self._trained)

    def _trained(self, model: Path) -> None:
        self.model_path.setText(str(model))
        notify_info(f"trained {model}")
        self.status.setText(f"model saved to {model}; press 'Predict' to pick the open membranes")

    def predict(self) -> None:
        from cryomem.gui._stats_widget import membrane_paths_of
        from cryomem.pick import Picker, PickSettings, predict_membranes

        model = self.model_path.text().strip()
        if not model:
            raise ValueError("no picking model; train one here or type a model file in 'model'")
        membranes = membrane_paths_of(self.viewer)
        if not membranes:
            raise ValueError("no membrane .h5 surface is open; open a run folder or membrane files first")
        picker = Picker.load(model)
        out_dir = membranes[0].parent.parent / GUI_OUTPUT_FOLDERS["picks"]
        settings = PickSettings(tta=self.tta.isChecked())

        def work(progress):
            return predict_membranes(picker, membranes, out_dir, settings=settings, overwrite=True, progress=progress,
                                     cache_dir=out_dir / "operator-cache")  # fmt: skip

        self.run_job(f"predicting {len(membranes)} membranes", work, lambda stars: self._show(stars, out_dir))

    def _show(self, stars: list[Path], out_dir: Path) -> None:
        from cryomem.gui._stats_widget import membrane_paths_of
        from cryomem.pick import predicted_membrane_path

        for source in membrane_paths_of(self.viewer):
            predicted = predicted_membrane_path(out_dir, source)
            if predicted.is_file() and predicted != source:
                data, meta, _ = membrane_layer(predicted)
                name = f"{meta['name']} predicted distance"
                if name in self.viewer.layers:
                    self.viewer.layers.remove(name)
                self.viewer.add_surface(data, **{**meta, "name": name})
        for star in stars:
            placement = self._placement(star)
            (points, points_meta, _), (arrows, arrows_meta, _) = particle_layers(star, tomogram=placement)
            name = f"{points_meta['name']}{PICKS_SUFFIX}"
            for old in (name, f"{name} normals"):
                if old in self.viewer.layers:
                    self.viewer.layers.remove(old)
            self.viewer.add_points(points, **{**points_meta, "name": name, "face_color": "magenta"})
            self.viewer.add_vectors(arrows, **{**arrows_meta, "name": f"{name} normals", "edge_color": "magenta"})
        self.picks.refresh()
        self.status.setText(f"{len(stars)} STAR file(s) in {out_dir}; select wrong picks and reject them, then save")

    def _placement(self, star: Path) -> dict | None:
        for layer in self.viewer.layers:
            if layer.metadata.get("tomogram"):
                return layer.metadata["tomogram"]
        from cryomem.gui._layer_data import tomogram_placement

        for layer in self.viewer.layers:
            path = layer.metadata.get("path")
            if type(layer).__name__ == "Image" and path:
                return tomogram_placement(path)
        return None

    def _picks_layer(self) -> Any:
        layer = self.picks.layer()
        if layer is None:
            raise ValueError("no picks yet; press 'Predict' first")
        return layer

    def reject_selected(self) -> None:
        layer = self._picks_layer()
        rows = sorted(layer.selected_data)
        if not rows:
            raise ValueError(f"no pick selected; select wrong picks in {layer.name!r} (select mode) first")
        layer.remove_selected()
        self._redraw_normals(layer)
        self.status.setText(f"rejected {len(rows)} picks; {len(layer.data)} remain")

    def _redraw_normals(self, layer: Any) -> None:
        from cryomem.io import euler_zyz_deg_to_matrix

        name = f"{layer.name} normals"
        if name not in self.viewer.layers:
            return
        angles = layer.features[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy(float)
        normals = euler_zyz_deg_to_matrix(angles)[:, :, 2][:, ::-1] if len(angles) else np.zeros((0, 3))
        self.viewer.layers[name].data = np.stack([np.asarray(layer.data), normals * 60.0], axis=1).reshape(-1, 2, 3)

    def save(self) -> Path:
        layer = self._picks_layer()
        tomogram = layer.metadata.get("tomogram")
        if not tomogram:
            raise ValueError("the picks do not know their tomogram; open the tomogram with them and predict again")
        path = Path(layer.metadata["path"]).with_name(accepted_star_name(layer.metadata["path"]))
        written = write_points_star(path, layer.data, layer.features, **tomogram)
        notify_info(f"saved {len(layer.data)} picks to {written}")
        self.status.setText(f"saved {len(layer.data)} accepted picks to {written}")
        return written
