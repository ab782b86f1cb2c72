"""Tomogram values checked where they enter (NaN/inf, constant), and the MRC nxstart fields kept."""

import mrcfile
import numpy as np
import pytest

from cryomem.io import check_tomogram_values, read_mrc, write_mrc


def _noise(shape=(12, 16, 20)):
    return np.random.default_rng(0).normal(size=shape).astype(np.float32)


def test_a_clean_tomogram_passes_with_no_border():
    assert check_tomogram_values(_noise(), "t.mrc") is None
    assert check_tomogram_values(np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4), "t.mrc") is None


@pytest.mark.parametrize("value", [0.0, 7.5, np.nan, np.inf])
def test_constant_or_all_nonfinite_is_refused(value):
    data = np.full((4, 5, 6), value, np.float32)
    with pytest.raises(ValueError, match="t.mrc is constant|every voxel of t.mrc is NaN"):
        check_tomogram_values(data, "t.mrc")


def test_constant_apart_from_a_nan_border_is_refused():
    data = np.ones((4, 5, 6), np.float32)
    data[:, 0] = np.nan
    with pytest.raises(ValueError, match="is constant"):
        check_tomogram_values(data, "t.mrc")


def test_nan_inside_is_refused_with_its_count_and_first_voxel():
    data = _noise()
    data[5, 6, 7:10] = np.nan
    data[0, 0, 0] = np.inf  # on a face: border, not counted as inside
    with pytest.raises(
        ValueError, match=r"3 NaN or infinite voxels inside the volume \(first at z=5, y=6, x=7; 4 in all\)"
    ):
        check_tomogram_values(data, "t.mrc")


def test_a_rotation_border_is_found_and_filled_with_the_mean():
    data = _noise()
    z, y, x = np.indices(data.shape)
    corners = (y + x < 6) | (y - x > 10)  # wedge-shaped corners touching the faces, as a rotation leaves
    data[corners] = np.nan
    border = check_tomogram_values(data, "t.mrc")
    assert border is not None and border.voxels == int(corners.sum())
    np.testing.assert_array_equal(border.mask_zyx, corners)
    filled = border.filled(data)
    assert np.isfinite(filled).all() and filled[corners] == pytest.approx(float(np.nanmean(data)), rel=1e-5)
    np.testing.assert_array_equal(filled[~corners], data[~corners])
    assert "border of" in border.note("t.mrc") and f"{border.voxels} NaN" in border.note("t.mrc")


def test_slabs_give_the_same_answer(monkeypatch):
    import cryomem.io._volume_values as values

    data = _noise((40, 8, 8))
    data[30, 4, 4] = np.nan
    monkeypatch.setattr(values, "_SLAB_VOXELS", 64)  # one z slice per slab
    with pytest.raises(ValueError, match="1 NaN or infinite voxels inside the volume \\(first at z=30"):
        check_tomogram_values(data, "t.mrc")


def test_start_fields_round_trip_and_default_to_zero(tmp_path):
    path = write_mrc(tmp_path / "a.mrc", _noise(), voxel_size_ang=10.0, start_xyz_vox=(-8, 3, 120))
    with mrcfile.open(path, header_only=True) as mrc:
        assert (int(mrc.header.nxstart), int(mrc.header.nystart), int(mrc.header.nzstart)) == (-8, 3, 120)
    volume = read_mrc(path)
    assert volume.start_xyz_vox == (-8, 3, 120)
    copy = write_mrc(tmp_path / "b.mrc", volume.data_zyx > 0, **volume.placement)
    assert read_mrc(copy).start_xyz_vox == (-8, 3, 120)
    assert read_mrc(write_mrc(tmp_path / "c.mrc", _noise(), voxel_size_ang=10.0)).start_xyz_vox == (0, 0, 0)


@pytest.mark.parametrize("start", [(1, 2), (1.5, 0, 0), (True, 0, 0)])
def test_bad_start_fields_are_refused(tmp_path, start):
    with pytest.raises(ValueError, match="start_xyz_vox must be 3 integers"):
        write_mrc(tmp_path / "a.mrc", _noise(), voxel_size_ang=10.0, start_xyz_vox=start)
    assert not list(tmp_path.iterdir())
