"""Each widget opens, runs on the demo data and produces its layers and files (headless napari)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from conftest import wait_for_job  # noqa: E402

from cryomem.gui._annotate_widget import AnnotateWidget  # noqa: E402
from cryomem.gui._editor_widget import EditorWidget  # noqa: E402
from cryomem.gui._folders import plan_view  # noqa: E402
from cryomem.gui._pick_widget import PickWidget  # noqa: E402
from cryomem.gui._segment_widget import SegmentWidget  # noqa: E402
from cryomem.gui._stats_widget import StatsWidget  # noqa: E402
from cryomem.gui._view import add_plan  # noqa: E402
from cryomem.io import read_membrane_h5, read_mrc, read_particles_star  # noqa: E402
from cryomem.pipeline import DEMO_PICK_MODEL_PATH  # noqa: E402


@pytest.fixture
def demo_viewer(make_napari_viewer, demo_dir, tmp_path):
    """A viewer with a private copy of the demo run (widgets write beside it)."""
    copy = tmp_path / "demo"
    shutil.copytree(demo_dir, copy)
    viewer = make_napari_viewer()
    add_plan(viewer, plan_view(copy / "run"))
    return viewer, copy


def test_segment_widget_segments_in_the_background_and_rethresholds_instantly(demo_viewer, qtbot, tmp_path):
    viewer, demo = demo_viewer
    widget = SegmentWidget(viewer)
    widget.tomogram.setCurrentText("demo")
    widget.out_dir.setText(str(tmp_path / "seg"))
    widget.segment()
    wait_for_job(qtbot, widget)
    assert "error" not in widget.status.text(), widget.status.text()
    seg = viewer.layers["demo_seg"]
    np.testing.assert_allclose(seg.scale, 10.0)
    fresh = read_mrc(tmp_path / "seg" / "demo_seg.mrc").data_zyx
    np.testing.assert_array_equal(seg.data, fresh)
    widget.threshold.setValue(0.8)  # re-thresholds the saved probabilities, no network
    from cryomem.segment import segmentation_from_probabilities

    scores = read_mrc(tmp_path / "seg" / "demo_scores.mrc").data_zyx
    expected, _ = segmentation_from_probabilities(scores, 10.0, 0.8, sheet_filter=True)
    np.testing.assert_array_equal(seg.data, expected)
    assert seg.data.sum() < fresh.sum()
    widget.save()
    np.testing.assert_array_equal(read_mrc(tmp_path / "seg" / "demo_seg.mrc").data_zyx, expected)


def test_a_widget_error_is_a_one_line_notification_not_a_traceback(make_napari_viewer):
    widget = SegmentWidget(make_napari_viewer())
    widget.run_button.click()
    assert widget.status.text().startswith("error: no tomogram opened from a file")


def test_editor_widget_lasso_merge_split_undo_and_save(demo_viewer, tmp_path):
    viewer, demo = demo_viewer
    widget = EditorWidget(viewer)
    widget.source.setCurrentText("demo_seg")
    widget.min_voxels.setValue(50)
    widget.start()
    layer = widget.layer
    before = layer.data.copy()
    n = len(widget.editor.instance_sizes())
    assert n >= 2
    viewer.dims.ndisplay = 2  # the lasso is drawn on the slice and extruded along z
    widget.new_lasso()
    half = before.shape[2] // 2
    y_end, x_end = (before.shape[1] - 0.5) * 10.0, (half - 0.5) * 10.0  # between voxel centres (10 Å apart)
    square = np.array([[0, -5.0, -5.0], [0, -5.0, x_end], [0, y_end, x_end], [0, y_end, -5.0]])
    viewer.layers["lasso"].add_polygons([square])
    widget.mode.setCurrentText("remove")
    widget.apply_lasso()  # every z: the polygon's prism along the viewing direction
    assert not layer.data[:, :, :half].any() and (layer.data[:, :, half:] == before[:, :, half:]).all()
    widget.undo()
    np.testing.assert_array_equal(layer.data, before)
    widget.ids.setText("1, 2")
    widget.merge()
    assert 2 not in widget.editor.instance_sizes()
    widget.ids.setText("1")
    widget.split()
    widget.relabel()
    widget.out_path.setText(str(tmp_path / "edited_instances.mrc"))
    saved = read_mrc(widget.save())
    assert saved.voxel_size_ang == pytest.approx(10.0)
    np.testing.assert_array_equal(saved.data_zyx, layer.data)


def test_annotator_adds_moves_deletes_on_the_surface_and_saves_star(demo_viewer, tmp_path):
    viewer, demo = demo_viewer
    widget = AnnotateWidget(viewer)
    widget.surface_picker.setCurrentText("demo_mb1")
    widget.start()
    surface = read_membrane_h5(viewer.layers["demo_mb1"].metadata["path"])
    widget.offset.setValue(5.0)  # recoloured by the density 5 Å outside the mid-plane
    vertices = surface.vertices_xyz_ang
    for index in (0, len(vertices) // 3, 2 * len(vertices) // 3):
        widget.add_at_world(vertices[index][::-1] + 7.0)  # a click beside the surface snaps onto it
    assert len(widget.points.data) == 3 and len(widget.arrows.data) == 3
    widget.points.selected_data = {1}
    widget.points.remove_selected()  # napari's delete: the arrow goes with the point
    assert len(widget.annotations) == 2 and len(widget.arrows.data) == 2
    moved = widget.points.data.copy()
    moved[0] += 25.0
    widget.points.data = moved  # a drag: the point is put back on the surface
    from cryomem.gui._snap import closest_points_on_mesh

    on_mesh, _, _ = closest_points_on_mesh(widget.annotations.positions_xyz_ang, vertices, surface.faces)
    np.testing.assert_allclose(widget.annotations.positions_xyz_ang, on_mesh, atol=1e-6)
    widget.undo()
    widget.out_path.setText(str(tmp_path / "annotations.star"))
    table = read_particles_star(widget.save())
    assert len(table) == len(widget.annotations) == 2


def test_pick_widget_trains_predicts_and_curates(demo_viewer, qtbot, tmp_path):
    viewer, demo = demo_viewer
    annotator = AnnotateWidget(viewer)
    annotator.surface_picker.setCurrentText("demo_mb1")
    annotator.start()
    annotator.load_path.setText("demo_particles")
    annotator.load()  # the run's picks on this membrane, to correct and train on
    assert len(annotator.annotations) > 0
    widget = PickWidget(viewer)
    widget.epochs.setValue(1)
    widget.train()
    wait_for_job(qtbot, widget, 600_000)
    assert "error" not in widget.status.text(), widget.status.text()
    assert len(widget.rows) == 1 and widget.model_path.text().endswith("model.pt")  # the live curve got the epoch
    widget.model_path.setText(str(DEMO_PICK_MODEL_PATH))  # predict with the demo model (meaningful picks)
    widget.predict()
    wait_for_job(qtbot, widget, 600_000)
    assert "error" not in widget.status.text(), widget.status.text()
    picks = widget.picks.layer()
    n = len(picks.data)
    assert n > 0 and any(layer.name.endswith("predicted distance") for layer in viewer.layers)
    picks.selected_data = {0}
    widget.reject_selected()
    assert len(picks.data) == n - 1 and len(viewer.layers[f"{picks.name} normals"].data) == n - 1
    assert len(read_particles_star(widget.save())) == n - 1


def test_stats_widget_shows_plots_and_vertex_maps(demo_viewer, qtbot, tmp_path):
    viewer, demo = demo_viewer
    widget = StatsWidget(viewer)
    widget.points.setCurrentText("demo_particles")
    widget.out_dir.setText(str(tmp_path / "stats"))
    widget.compute()
    wait_for_job(qtbot, widget)
    assert "error" not in widget.status.text(), widget.status.text()
    assert widget.plots.count() >= 3  # concentration, neighbours, orientation
    assert (tmp_path / "stats" / "concentration.csv").is_file()
    assert any(layer.name.endswith("statistics") for layer in viewer.layers)
