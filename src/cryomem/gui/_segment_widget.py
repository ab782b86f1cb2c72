"""Segment widget: run ``cryomem segment`` on the open tomogram, then re-threshold instantly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import QCheckBox, QDoubleSpinBox, QLineEdit

from cryomem.gui._layer_data import labels_to_mrc, volume_layer
from cryomem.gui._panel import LayerPicker, Panel, notify_info
from cryomem.segment._settings import SegmentSettings

__all__ = ["SegmentWidget", "segment_tomogram_layer"]

_DEFAULT = SegmentSettings()


def _file_layer(layer: Any) -> bool:
    return bool(layer.metadata.get("path")) and layer.data.ndim == 3


def segment_tomogram_layer(
    tomogram_path: str | Path,
    out_dir: str | Path,
    settings: SegmentSettings,
    *,
    overwrite: bool,
    progress: Any = None,
) -> dict[str, Path]:
    """Segment a tomogram file with scores kept for re-thresholding (what the widget's button runs)."""
    from cryomem.segment import Segmenter, SegmentOutputs, segment_file

    segmenter = Segmenter.load(settings.model)
    return segment_file(
        tomogram_path,
        segmenter,
        out_dir,
        settings=settings,
        outputs=SegmentOutputs(scores=True),
        overwrite=overwrite,
        progress=progress,
    )


class SegmentWidget(Panel):
    """Membrane segmentation of the chosen tomogram layer in the background; threshold changes re-threshold
    the saved probabilities without running the network again."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(napari_viewer, "Segment membranes")
        self.tomogram = LayerPicker(napari_viewer, ("image",), _file_layer)
        self.model = QLineEdit("")
        self.model.setPlaceholderText("shipped model")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(_DEFAULT.threshold)
        self.tta = QCheckBox("8-fold flip TTA (8x slower)")
        self.tta.setChecked(False)
        self.sheet_filter = QCheckBox("keep sheet-like pieces only")
        self.sheet_filter.setChecked(_DEFAULT.sheet_filter)
        self.out_dir = QLineEdit("")
        self.out_dir.setPlaceholderText("beside the tomogram")
        self.overwrite = QCheckBox("replace existing outputs")
        for label, widget in (("tomogram", self.tomogram), ("model", self.model), ("threshold", self.threshold),
                              ("", self.tta), ("", self.sheet_filter), ("output folder", self.out_dir),
                              ("", self.overwrite)):  # fmt: skip
            self.form.addRow(label, widget)
        self.run_button = self.add_button("Segment", self.segment)
        self.save_button = self.add_button("Save segmentation at this threshold", self.save)
        self.threshold.valueChanged.connect(lambda *_: self.guarded(self.rethreshold))
        self.sheet_filter.toggled.connect(lambda *_: self.guarded(self.rethreshold))
        self.probabilities: np.ndarray | None = None
        self.voxel_size_ang: float | None = None
        self.seg_layer: Any = None

    def settings(self) -> SegmentSettings:
        model = self.model.text().strip() or None
        return SegmentSettings(model=model, threshold=self.threshold.value(), tta=self.tta.isChecked(),
                               sheet_filter=self.sheet_filter.isChecked())  # fmt: skip

    def segment(self) -> None:
        layer = self.tomogram.layer()
        if layer is None:
            raise ValueError("no tomogram opened from a file; open an .mrc tomogram first (File > Open)")
        path = Path(layer.metadata["path"])
        out_dir = Path(self.out_dir.text().strip() or path.parent)
        settings, overwrite = self.settings(), self.overwrite.isChecked()

        def work(progress):
            try:
                return segment_tomogram_layer(path, out_dir, settings, overwrite=overwrite, progress=progress)
            except FileExistsError:
                raise FileExistsError(
                    f"{out_dir} already holds a segmentation of {path.name}; tick 'replace existing outputs' "
                    "or choose another output folder"
                ) from None

        self.run_job(f"segmenting {path.name}", work, self._show)

    def _show(self, written: dict[str, Path]) -> None:
        scores_data, scores_meta, _ = volume_layer(written["scores"])
        self.probabilities = np.asarray(scores_data, dtype=np.float16)
        self.voxel_size_ang = scores_meta["metadata"]["voxel_size_ang"]
        self._replace("image", scores_data, scores_meta)
        seg_data, seg_meta, _ = volume_layer(written["seg"])
        self.seg_layer = self._replace("labels", np.array(seg_data), seg_meta)
        self.status.setText(f"segmentation in {written['seg']}; move the threshold to re-threshold instantly")

    def _replace(self, kind: str, data: Any, meta: dict) -> Any:
        if meta["name"] in self.viewer.layers:
            self.viewer.layers.remove(meta["name"])
        meta = {**meta, "visible": True}
        return getattr(self.viewer, f"add_{kind}")(data, **meta)

    def rethreshold(self) -> None:
        """The segmentation at the current threshold and sheet filter, from the saved probabilities."""
        if self.probabilities is None or self.seg_layer is None:
            return
        from cryomem.segment import segmentation_from_probabilities

        seg, decisions = segmentation_from_probabilities(
            self.probabilities, self.voxel_size_ang, self.threshold.value(), sheet_filter=self.sheet_filter.isChecked()
        )
        self.seg_layer.data = seg
        kept = "" if decisions is None else f", {int(decisions['kept'].sum())} of {len(decisions)} pieces kept"
        self.status.setText(f"threshold {self.threshold.value():.2f}: {100 * seg.mean():.2f} % membrane{kept}")

    def save(self) -> None:
        if self.seg_layer is None:
            raise ValueError("nothing to save yet; press Segment first")
        path = Path(self.seg_layer.metadata["path"])
        labels_to_mrc(path, self.seg_layer.data, scale_zyx=self.seg_layer.scale,
                      translate_zyx=self.seg_layer.translate)  # fmt: skip
        notify_info(f"saved {path}")
        self.status.setText(f"saved the segmentation at threshold {self.threshold.value():.2f} to {path}")
