"""MRC volumes: round trips, dtype choices, voxel size rules and clear errors."""

from pathlib import Path

import mrcfile
import numpy as np
import pytest

from cryomem.io import read_mrc, read_mrc_header, write_mrc


def _raw_mrc(path: Path, data: np.ndarray, voxel: tuple[float, float, float] | float | None) -> None:
    """An MRC written with plain mrcfile, as other programs would."""
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
        if voxel is not None:
            mrc.voxel_size = voxel


def test_round_trip_keeps_data_voxel_size_and_origin(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(size=(4, 5, 6)).astype(np.float32)
    path = write_mrc(tmp_path / "t.mrc", data, voxel_size_ang=13.7, origin_xyz_ang=(10.0, -5.0, 2.5))
    volume = read_mrc(path)
    np.testing.assert_array_equal(volume.data_zyx, data)
    assert volume.voxel_size_ang == pytest.approx(13.7, rel=1e-6)
    assert volume.origin_xyz_ang == pytest.approx((10.0, -5.0, 2.5))
    assert volume.data_zyx.flags.writeable
    assert read_mrc_header(path) == ((4, 5, 6), pytest.approx(13.7, rel=1e-6), (10.0, -5.0, 2.5))


def test_memory_map_reads_the_same_values(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    write_mrc(tmp_path / "t.mrc", data, voxel_size_ang=8.0)
    volume = read_mrc(tmp_path / "t.mrc", mmap=True)
    assert isinstance(volume.data_zyx, np.memmap)
    np.testing.assert_array_equal(volume.data_zyx, data)


@pytest.mark.parametrize(
    ("data", "stored"),
    [
        (np.zeros((2, 2, 2), np.float32), np.float32),
        (np.zeros((2, 2, 2), np.float16), np.float16),
        (np.zeros((2, 2, 2), np.int8), np.int8),
        (np.full((2, 2, 2), 255, np.uint8), np.uint8),
        (np.full((2, 2, 2), -300, np.int16), np.int16),
        (np.full((2, 2, 2), 60000, np.uint16), np.uint16),
        (np.zeros((2, 2, 2), np.float64), np.float32),
        (np.ones((2, 2, 2), bool), np.uint8),
        (np.array([0, 255], np.int64).reshape(1, 1, 2).repeat(2, 0), np.uint8),
        (np.array([-1, 5], np.int64).reshape(1, 1, 2).repeat(2, 0), np.int8),
        (np.array([-1, 200], np.int32).reshape(1, 1, 2).repeat(2, 0), np.int16),
        (np.array([0, 40000], np.int32).reshape(1, 1, 2).repeat(2, 0), np.uint16),
        (np.array([-40000, 5], np.int64).reshape(1, 1, 2).repeat(2, 0), np.float32),
    ],
)
def test_stored_dtype(tmp_path: Path, data: np.ndarray, stored: type) -> None:
    write_mrc(tmp_path / "t.mrc", data, voxel_size_ang=10.0)
    volume = read_mrc(tmp_path / "t.mrc")
    assert volume.data_zyx.dtype == np.dtype(stored)
    np.testing.assert_array_equal(volume.data_zyx, data)


def test_voxel_size_override_beats_header(tmp_path: Path) -> None:
    _raw_mrc(tmp_path / "t.mrc", np.zeros((3, 3, 3), np.float32), None)
    assert read_mrc(tmp_path / "t.mrc", voxel_size_ang=1.0).voxel_size_ang == 1.0


@pytest.mark.parametrize("voxel", [None, 1.0])
def test_header_without_voxel_size_is_an_error_naming_the_fix(tmp_path: Path, voxel: float | None) -> None:
    _raw_mrc(tmp_path / "t.mrc", np.zeros((3, 3, 3), np.float32), voxel)
    with pytest.raises(ValueError, match="t.mrc.*no voxel size; pass --voxel-size"):
        read_mrc(tmp_path / "t.mrc")


def test_anisotropic_voxels_are_rejected(tmp_path: Path) -> None:
    _raw_mrc(tmp_path / "t.mrc", np.zeros((3, 3, 3), np.float32), (10.0, 10.0, 12.0))
    with pytest.raises(ValueError, match="anisotropic"):
        read_mrc(tmp_path / "t.mrc")
    _raw_mrc(tmp_path / "ok.mrc", np.zeros((3, 3, 3), np.float32), (10.0, 10.0, 10.005))
    assert read_mrc(tmp_path / "ok.mrc").voxel_size_ang == pytest.approx(10.0)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere.mrc"):
        read_mrc(tmp_path / "nothere.mrc")
    with pytest.raises(FileNotFoundError, match="nothere.mrc"):
        read_mrc_header(tmp_path / "nothere.mrc")


def test_not_an_mrc(tmp_path: Path) -> None:
    (tmp_path / "junk.mrc").write_bytes(b"this is not a volume" * 10)
    with pytest.raises(ValueError, match="junk.mrc is not a readable MRC file"):
        read_mrc(tmp_path / "junk.mrc")


def test_truncated_mrc(tmp_path: Path) -> None:
    write_mrc(tmp_path / "t.mrc", np.ones((8, 8, 8), np.float32), voxel_size_ang=10.0)
    content = (tmp_path / "t.mrc").read_bytes()
    (tmp_path / "cut.mrc").write_bytes(content[: len(content) - 100])
    with pytest.raises(ValueError, match="cut.mrc is not a readable MRC file"):
        read_mrc(tmp_path / "cut.mrc")


@pytest.mark.parametrize("shape", [(5, 6), (1, 5, 6)])
def test_two_dimensional_data_is_not_a_volume(tmp_path: Path, shape: tuple[int, ...]) -> None:
    _raw_mrc(tmp_path / "img.mrc", np.zeros(shape, np.float32), 10.0)
    with pytest.raises(ValueError, match=r"\(1, 5, 6\), not a 3D volume"):
        read_mrc(tmp_path / "img.mrc")


def test_write_validates_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="finite and > 0"):
        write_mrc(tmp_path / "t.mrc", np.zeros((2, 2, 2)), voxel_size_ang=0.0)
    with pytest.raises(ValueError, match=r"3D \(nz, ny, nx\)"):
        write_mrc(tmp_path / "t.mrc", np.zeros((2, 2, 2, 2)), voxel_size_ang=5.0)
    write_mrc(tmp_path / "t.mrc", np.zeros((2, 2, 2)), voxel_size_ang=5.0)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_mrc(tmp_path / "t.mrc", np.zeros((2, 2, 2)), voxel_size_ang=5.0, overwrite=False)


def test_non_standard_axis_order_is_returned_as_zyx(tmp_path: Path) -> None:
    data_xyz_order = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # stored (x, y, z)
    with mrcfile.new(tmp_path / "t.mrc") as mrc:
        mrc.set_data(data_xyz_order)
        mrc.voxel_size = 5.0
        mrc.header.mapc, mrc.header.mapr, mrc.header.maps = 3, 2, 1  # columns are z, sections x
    volume = read_mrc(tmp_path / "t.mrc")
    np.testing.assert_array_equal(volume.data_zyx, data_xyz_order.transpose(2, 1, 0))
    assert read_mrc_header(tmp_path / "t.mrc").shape_zyx == (4, 3, 2)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_bytes_carry_imod_signedness(tmp_path: Path, dtype: type) -> None:
    data = np.arange(8, dtype=dtype).reshape(2, 2, 2) * (1 if dtype == np.int8 else 30)
    write_mrc(tmp_path / "b.mrc", data, voxel_size_ang=10.0)
    raw = (tmp_path / "b.mrc").read_bytes()
    stamp, flags = np.frombuffer(raw[152:160], "<i4")
    assert stamp == 1146047817 and flags & 1 == (dtype == np.int8)  # IMOD: bit 0 = signed
    with mrcfile.open(tmp_path / "b.mrc") as mrc:  # plain MRC2014 readers see signed bytes
        assert mrc.header.mode == 0 and mrc.data.dtype == np.int8
    for mmap in (False, True):
        volume = read_mrc(tmp_path / "b.mrc", mmap=mmap)
        assert volume.data_zyx.dtype == dtype
        np.testing.assert_array_equal(volume.data_zyx, data)


def test_mode0_without_imod_stamp_is_signed(tmp_path: Path) -> None:
    _raw_mrc(tmp_path / "s.mrc", np.full((2, 2, 2), -5, np.int8), 10.0)
    assert read_mrc(tmp_path / "s.mrc").data_zyx.dtype == np.int8
