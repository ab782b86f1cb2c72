"""`cryomem surface` on a tiny segmentation, and its bad-input messages."""

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from cryomem.cli._surface import surface
from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG
from cryomem.io import read_membrane_h5, read_mesh, write_mrc

runner = CliRunner()
app = typer.Typer()
app.command()(surface)


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _flat(text):
    return " ".join(text.split())


def _two_sheets(shape=(24, 32, 32)):
    mask = np.zeros(shape, dtype=np.uint8)
    mask[4:8, 3:-3, 3:-3] = 1
    mask[15:19, 3:-3, 3:-3] = 1
    return mask


@pytest.fixture()
def inputs(tmp_path):
    rng = np.random.default_rng(0)
    tomogram = rng.normal(size=(24, 32, 32)).astype(np.float32)
    tomo = write_mrc(tmp_path / "tomo.mrc", tomogram, voxel_size_ang=12.0, origin_xyz_ang=(5.0, 6.0, 7.0))
    seg = write_mrc(tmp_path / "tomo_seg.mrc", _two_sheets(), voxel_size_ang=12.0, origin_xyz_ang=(5.0, 6.0, 7.0))
    return seg, tomo


def test_surface_writes_one_h5_and_obj_per_membrane(inputs, tmp_path):
    seg, tomo = inputs
    result = _run(seg, "--tomogram", tomo, "--min-voxels", 500, "--spacing-ang", 20)
    assert result.exit_code == 0, result.output
    out = tmp_path / "membranes"  # default: next to the segmentation
    assert sorted(p.name for p in out.iterdir()) == ["tomo_mb1.h5", "tomo_mb1.obj", "tomo_mb2.h5", "tomo_mb2.obj"]
    lower, upper = read_membrane_h5(out / "tomo_mb1.h5"), read_membrane_h5(out / "tomo_mb2.h5")
    assert lower.voxel_size_ang == 12.0 and lower.origin_xyz_ang == (5.0, 6.0, 7.0)
    assert lower.vertices_xyz_ang[:, 2].mean() < upper.vertices_xyz_ang[:, 2].mean()
    assert lower.features.shape == (len(lower.vertices_xyz_ang), len(DEFAULT_FEATURE_OFFSETS_ANG))
    assert len(read_mesh(out / "tomo_mb2.obj").faces) == len(upper.faces)
    text = _flat(result.output)
    assert "2 membranes" in text and str(out) in _flat(result.output.replace("\n", ""))


def test_surface_out_and_overwrite(inputs, tmp_path):
    seg, tomo = inputs
    out = tmp_path / "elsewhere"
    assert _run(seg, "--tomogram", tomo, "--out", out, "--min-voxels", 500).exit_code == 0
    again = _run(seg, "--tomogram", tomo, "--out", out, "--min-voxels", 500)
    assert again.exit_code == 2 and "--overwrite" in _flat(again.output)
    assert _run(seg, "--tomogram", tomo, "--out", out, "--min-voxels", 500, "--overwrite").exit_code == 0


def test_feature_lowpass_is_applied_and_recorded(inputs, tmp_path):
    seg, tomo = inputs
    surfaces = {}
    for sigma in (None, 0, 30):
        out = tmp_path / f"lowpass{sigma}"
        extra = [] if sigma is None else ["--feature-lowpass", sigma]
        assert _run(seg, "--tomogram", tomo, "--out", out, "--min-voxels", 500, *extra).exit_code == 0
        surfaces[sigma] = read_membrane_h5(out / "tomo_mb1.h5")
    assert surfaces[None].attrs["feature_lowpass_ang"] == 15.0  # the default
    assert surfaces[0].attrs["feature_lowpass_ang"] == 0.0
    # white noise: the stronger the low-pass, the smaller the spread of the sampled densities
    spreads = [float(surfaces[s].features.std()) for s in (0, None, 30)]
    assert spreads[0] > spreads[1] > spreads[2]
    negative = _run(seg, "--tomogram", tomo, "--out", tmp_path / "neg", "--feature-lowpass", -1)
    assert negative.exit_code == 2 and not (tmp_path / "neg").exists()


def _write(path, data, voxel=12.0):
    return write_mrc(path, data, voxel_size_ang=voxel)


@pytest.mark.parametrize(
    "seg_data, tomo_shape, tomo_voxel, message",
    [
        (np.zeros((24, 32, 32), np.uint8), (24, 32, 32), 12.0, "no membrane of at least 500 voxels"),
        (_two_sheets(), (24, 32, 30), 12.0, "has shape (24, 32, 32) (z, y, x) but tomogram tomo.mrc has (24, 32, 30)"),
        (_two_sheets(), (24, 32, 32), 14.0, "voxel size 12 Å but tomogram tomo.mrc has 14 Å"),
        (None, (24, 32, 32), 12.0, "not a readable MRC"),
    ],
)
def test_bad_inputs_give_one_line_and_no_output(tmp_path, seg_data, tomo_shape, tomo_voxel, message):
    seg = tmp_path / "seg.mrc"
    if seg_data is None:
        seg.write_text("not an mrc")
    else:
        _write(seg, seg_data)
    noise = np.random.default_rng(0).normal(size=tomo_shape).astype(np.float32)  # a constant tomogram is refused
    tomo = _write(tmp_path / "tomo.mrc", noise, tomo_voxel)
    result = _run(seg, "--tomogram", tomo, "--min-voxels", 500)
    assert result.exit_code == 2
    assert message in _flat(result.output)
    assert "Traceback" not in result.output
    assert not (tmp_path / "membranes").exists()


def test_header_without_voxel_size_needs_the_option(tmp_path):
    seg = _write(tmp_path / "seg.mrc", _two_sheets(), 1.0)
    tomo = _write(tmp_path / "tomo.mrc", np.random.default_rng(0).normal(size=(24, 32, 32)).astype(np.float32), 1.0)
    result = _run(seg, "--tomogram", tomo, "--min-voxels", 500)
    assert result.exit_code == 2 and "--voxel-size" in _flat(result.output)
    assert _run(seg, "--tomogram", tomo, "--min-voxels", 500, "--voxel-size", 12).exit_code == 0


def test_missing_tomogram_is_named(inputs, tmp_path):
    seg, _ = inputs
    result = _run(seg, "--tomogram", tmp_path / "nope.mrc")
    assert result.exit_code == 2 and "nope.mrc does not exist" in _flat(result.output)
