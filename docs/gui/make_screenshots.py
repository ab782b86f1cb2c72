"""Screenshots of `cryomem view` and of every cryomem napari widget at work on the demo output.

    xvfb-run -a -s "-screen 0 1600x1200x24" python docs/gui/make_screenshots.py [DEMO_FOLDER]

Runs `cryomem demo` into a temporary folder when no demo folder is given (it is copied first, so the
widgets' outputs do not land in it), drives each widget the way a user would (segment, cut
membranes with the lasso, annotate a membrane, predict picks, compute statistics) and writes
`docs/gui/<name>.png`. It fails when a canvas comes out blank (an OpenGL problem), so look at the
pictures as well: misaligned layers are a failure too.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent
WINDOW = (1500, 950)


def main() -> None:
    from qtpy.QtWidgets import QApplication

    from cryomem.gui._view import show

    work = Path(tempfile.mkdtemp(prefix="cryomem-shots-"))
    demo = work / "demo"
    if len(sys.argv) > 1:
        shutil.copytree(sys.argv[1], demo)
    else:
        from cryomem.pipeline import run_demo

        run_demo(demo)
    viewer = show(demo, block=False, widgets=False)
    viewer.window._qt_window.resize(*WINDOW)
    app = QApplication.instance()

    def settle(ms: int = 300) -> None:
        for _ in range(max(1, ms // 20)):
            app.processEvents()
            QApplication.instance().thread().msleep(20)

    def shoot(name: str) -> None:
        settle()
        canvas = viewer.screenshot(canvas_only=True, flash=False)
        if float(canvas[..., :3].std()) < 2.0:
            raise SystemExit(f"{name}: the canvas is blank; run under xvfb-run with Mesa's OpenGL")
        import imageio.v3 as iio

        iio.imwrite(OUT / f"{name}.png", viewer.screenshot(canvas_only=False, flash=False))
        print(f"wrote {OUT / name}.png")

    def wait(panel) -> None:
        while panel.job is not None and panel.job.running:
            settle(200)
        settle(300)
        if panel.status.text().startswith("error"):
            raise SystemExit(panel.status.text())

    viewer.camera.angles = (0.0, -35.0, 70.0)
    shoot("view")

    from cryomem.gui._segment_widget import SegmentWidget

    segment = SegmentWidget(viewer)
    viewer.window.add_dock_widget(segment, name="Segment membranes")
    segment.out_dir.setText(str(work / "segment"))
    segment.segment()
    wait(segment)
    segment.threshold.setValue(0.6)
    viewer.layers["demo"].visible = True
    viewer.dims.ndisplay = 2
    viewer.dims.set_point(0, viewer.layers["demo"].data.shape[0] * 10.0 / 2)
    viewer.reset_view()
    shoot("segment")

    from cryomem.gui._editor_widget import EditorWidget

    editor = EditorWidget(viewer)
    viewer.window.add_dock_widget(editor, name="Edit membrane instances", tabify=True)
    editor.source.setCurrentText("demo_seg")
    editor.start()
    editor.new_lasso()
    ny, nx = viewer.layers["demo"].data.shape[1:]
    z = viewer.dims.point[0]
    viewer.layers["lasso"].add_polygons([np.array([[z, 0, 0], [z, 0, nx * 4.0], [z, ny * 4.0, nx * 2.0]])])
    editor.mode.setCurrentText("remove")
    shoot("editor_lasso")
    editor.apply_lasso()
    shoot("editor")

    for layer in list(viewer.layers):
        if type(layer).__name__ == "Labels" or layer.name == "lasso":
            layer.visible = False
    viewer.dims.ndisplay = 3
    viewer.reset_view()
    viewer.camera.angles = (0.0, -35.0, 70.0)
    from cryomem.gui._annotate_widget import AnnotateWidget

    annotate = AnnotateWidget(viewer)
    viewer.window.add_dock_widget(annotate, name="Annotate particles", tabify=True)
    annotate.surface_picker.setCurrentText("demo_mb1")
    annotate.start()
    annotate.offset.setValue(7.5)
    annotate.load_path.setText("demo_particles")
    annotate.load()
    for layer in viewer.layers:
        if type(layer).__name__ == "Surface" and layer.name != "demo_mb1":
            layer.visible = False
    for name in ("demo_particles", "demo_particles normals", "demo_scores"):
        viewer.layers[name].visible = False
    shoot("annotate")

    from cryomem.gui._pick_widget import PickWidget
    from cryomem.pipeline import DEMO_PICK_MODEL_PATH

    pick = PickWidget(viewer)
    viewer.window.add_dock_widget(pick, name="Train and predict picking", tabify=True)
    pick.epochs.setValue(3)
    pick.train()
    wait(pick)
    pick.model_path.setText(str(DEMO_PICK_MODEL_PATH))
    pick.predict()
    wait(pick)
    for layer in viewer.layers:
        layer.visible = layer.name == "demo" or layer.name.endswith(("predicted distance", "picks", "picks normals"))
    shoot("pick")

    from cryomem.gui._stats_widget import StatsWidget

    stats = StatsWidget(viewer)
    viewer.window.add_dock_widget(stats, name="Particle statistics", tabify=True)
    stats.points.setCurrentText("demo_particles")
    stats.out_dir.setText(str(work / "stats"))
    stats.compute()
    wait(stats)
    for layer in viewer.layers:
        layer.visible = layer.name == "demo" or layer.name.endswith("statistics")
    if any(layer.name.endswith("statistics") for layer in viewer.layers):
        first = next(layer for layer in viewer.layers if layer.name.endswith("statistics"))
        first.visible = True
    shoot("stats")
    viewer.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
