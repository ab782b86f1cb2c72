"""`cryomem view`, the plugin's reader and writers, on the demo run (headless napari)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from cryomem.gui._npe2 import get_reader, write_labels, write_points  # noqa: E402
from cryomem.gui._view import show  # noqa: E402
from cryomem.io import read_mrc, read_particles_star  # noqa: E402


def test_view_lays_out_the_demo_in_angstrom(make_napari_viewer, demo_dir):
    viewer = make_napari_viewer()
    show(demo_dir, viewer=viewer, widgets=True, block=False)
    kinds = {layer.name: type(layer).__name__ for layer in viewer.layers}
    assert kinds["demo"] == "Image" and kinds["demo_seg"] == "Labels" and kinds["demo_instances"] == "Labels"
    assert kinds["demo_particles"] == "Points" and kinds["demo_particles normals"] == "Vectors"
    surfaces = [layer for layer in viewer.layers if type(layer).__name__ == "Surface"]
    assert len(surfaces) >= 1
    tomogram = viewer.layers["demo"]
    np.testing.assert_allclose(tomogram.scale, 10.0)  # voxels of 10 Å: world coordinates are Å
    extent_zyx = np.asarray(tomogram.data.shape) * 10.0
    for surface in surfaces:  # every membrane lies inside the tomogram, in the same world frame
        vertices = surface.data[0]
        assert vertices.min() > -10.0 and (vertices.max(axis=0) < extent_zyx + 10.0).all()
        assert surface.metadata["colouring"] == "predicted distance (Å)"  # the pick stage's copies
    star = read_particles_star(demo_dir / "run" / "tomograms" / "demo" / "picks" / "demo_particles.star")
    np.testing.assert_allclose(viewer.layers["demo_particles"].data, star[["z_ang", "y_ang", "x_ang"]].to_numpy())
    assert viewer.dims.ndisplay == 3 and tomogram.depiction == "plane"
    docked = [name for name in viewer.window.dock_widgets]
    assert sum("(cryomem)" in name for name in docked) == 5


def test_reader_opens_run_folders_and_files_and_declines_others(demo_dir, tmp_path):
    reader = get_reader(str(demo_dir / "run"))
    layers = reader(str(demo_dir / "run"))
    assert [kind for _, _, kind in layers][:3] == ["image", "labels", "labels"]
    assert get_reader(str(tmp_path / "notes.txt")) is None
    labels_path = str(demo_dir / "data" / "demo_labels.mrc")
    ((data, meta, kind),) = get_reader(labels_path)(labels_path)
    assert kind == "labels" and meta["scale"] == (10.0, 10.0, 10.0)


def test_writers_round_trip_points_and_labels(demo_dir, tmp_path):
    run = demo_dir / "run"
    layers = get_reader(str(run))(str(run))
    ((points, points_meta, _),) = [layer for layer in layers if layer[2] == "points"]
    (labels, labels_meta, _) = next(layer for layer in layers if layer[2] == "labels")
    star = write_points(str(tmp_path / "picks.star"), points, points_meta)[0]
    back = read_particles_star(star)
    np.testing.assert_allclose(back[["z_ang", "y_ang", "x_ang"]].to_numpy(), points, atol=1e-3)
    np.testing.assert_allclose(back["tilt_deg"], points_meta["features"]["tilt_deg"], atol=1e-3)
    mrc = write_labels(str(tmp_path / "labels.mrc"), labels, labels_meta)[0]
    volume = read_mrc(mrc)
    assert volume.voxel_size_ang == pytest.approx(10.0)
    np.testing.assert_array_equal(volume.data_zyx, labels)
    with pytest.raises(ValueError, match="do not know their tomogram"):
        write_points(str(tmp_path / "loose.star"), points, {"features": points_meta["features"]})


def test_the_view_renders_something(make_napari_viewer, demo_dir):
    """A blank canvas means no OpenGL: the pictures a user (and docs/gui) would see are empty."""
    import os

    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        pytest.skip("Qt's offscreen platform has no OpenGL; CI runs this under Xvfb with Mesa")
    viewer = make_napari_viewer(show=True)
    show(demo_dir, viewer=viewer, widgets=False, block=False)
    canvas = viewer.screenshot(canvas_only=True, flash=False)
    assert canvas[..., :3].std() > 10.0


def test_cryomem_view_command_opens_the_demo(make_napari_viewer, demo_dir, monkeypatch):
    from typer.testing import CliRunner

    import cryomem.gui._view as view_module
    from cryomem.cli import app

    viewer = make_napari_viewer()
    real_show = view_module.show
    monkeypatch.setattr(
        view_module, "show", lambda path, **kw: real_show(path, **{**kw, "viewer": viewer, "block": False})
    )
    result = CliRunner().invoke(app, ["view", str(demo_dir), "--no-widgets"])
    assert result.exit_code == 0, result.output
    assert {"demo", "demo_seg", "demo_instances", "demo_particles"} <= {layer.name for layer in viewer.layers}
