"""OME-Zarr tomograms: pyramid round trips against MRC, placement per level, units, clear errors."""

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import zarr

from cryomem.io import (
    Volume,
    is_volume_path,
    is_zarr_path,
    ome_zarr_levels,
    read_mrc,
    read_ome_zarr,
    read_volume,
    write_mrc,
    write_ome_zarr,
)

VOXEL = 7.5
ORIGIN_XYZ = (100.0, -20.0, 35.5)


@pytest.fixture
def volume() -> Volume:
    data = np.random.default_rng(7).normal(size=(24, 40, 36)).astype(np.float32)
    return Volume(data_zyx=data, voxel_size_ang=VOXEL, origin_xyz_ang=ORIGIN_XYZ, start_xyz_vox=(3, 4, 5))


@pytest.fixture
def pyramid(tmp_path: Path, volume: Volume) -> Path:
    return write_ome_zarr(tmp_path / "tomo.zarr", volume, levels=3, chunks=(8, 16, 16))


def _pool(data: np.ndarray, f: int) -> np.ndarray:
    nz, ny, nx = (n // f for n in data.shape)
    return data[: nz * f, : ny * f, : nx * f].reshape(nz, f, ny, f, nx, f).mean(axis=(1, 3, 5), dtype=np.float64)


def _centre_xyz(origin_xyz, voxel: float, index_zyx) -> np.ndarray:
    return np.asarray(origin_xyz) + np.asarray(index_zyx[::-1], dtype=float) * voxel


def _hand_zarr(path: Path, shapes, axes, transforms, extra_attrs=None) -> Path:
    """An OME-Zarr written by hand with zarr, as another program would."""
    root = zarr.open_group(str(path), mode="w")
    datasets = []
    for k, (shape, ct) in enumerate(zip(shapes, transforms)):
        root.create_dataset(str(k), data=np.arange(np.prod(shape), dtype=np.float32).reshape(shape))
        datasets.append({"path": str(k), "coordinateTransformations": ct})
    root.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": datasets}]
    for key, value in (extra_attrs or {}).items():
        root.attrs[key] = value
    return path


def _axes(unit: str = "angstrom", leading: tuple[str, ...] = ()) -> list[dict]:
    kinds = {"c": "channel", "t": "time"}
    return [{"name": a, "type": kinds[a]} for a in leading] + [
        {"name": a, "type": "space", "unit": unit} for a in "zyx"
    ]


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_level0_equals_the_mrc_exactly(tmp_path: Path, volume: Volume, pyramid: Path) -> None:
    mrc = read_mrc(write_mrc(tmp_path / "tomo.mrc", volume.data_zyx, **volume.placement))
    zarr_volume = read_ome_zarr(pyramid)
    assert isinstance(zarr_volume.data_zyx, da.Array)  # lazy
    np.testing.assert_array_equal(np.asarray(zarr_volume.data_zyx), mrc.data_zyx)
    assert zarr_volume.data_zyx.dtype == mrc.data_zyx.dtype
    assert zarr_volume.voxel_size_ang == pytest.approx(mrc.voxel_size_ang)
    assert zarr_volume.origin_xyz_ang == pytest.approx(mrc.origin_xyz_ang)
    assert zarr_volume.start_xyz_vox == (3, 4, 5)


@pytest.mark.parametrize("level", [1, 2])
def test_pooled_level_is_placed_at_the_mean_of_the_voxels_it_pools(volume: Volume, pyramid: Path, level: int) -> None:
    f = 2**level
    read = read_ome_zarr(pyramid, level=level)
    assert read.voxel_size_ang == pytest.approx(VOXEL * f)
    np.testing.assert_allclose(np.asarray(read.data_zyx), _pool(volume.data_zyx, f), rtol=1e-6, atol=1e-6)
    for index in [(0, 0, 0), (1, 2, 3), tuple(n - 1 for n in read.data_zyx.shape)]:
        pooled = [
            _centre_xyz(ORIGIN_XYZ, VOXEL, (index[0] * f + a, index[1] * f + b, index[2] * f + c))
            for a in range(f)
            for b in range(f)
            for c in range(f)
        ]
        centre = _centre_xyz(read.origin_xyz_ang, read.voxel_size_ang, index)
        np.testing.assert_allclose(centre, np.mean(pooled, axis=0), atol=1e-9)


def test_levels_and_choice_by_target_voxel_size(pyramid: Path) -> None:
    assert ome_zarr_levels(pyramid) == [(0, 7.5, (24, 40, 36)), (1, 15.0, (12, 20, 18)), (2, 30.0, (6, 10, 9))]
    assert read_ome_zarr(pyramid, target_voxel_size_ang=14).voxel_size_ang == 15.0
    assert read_ome_zarr(pyramid, target_voxel_size_ang=100).voxel_size_ang == 30.0
    assert read_ome_zarr(pyramid).voxel_size_ang == 7.5
    assert read_ome_zarr(pyramid, level=0, target_voxel_size_ang=30).voxel_size_ang == 7.5  # level wins


def test_ome_zarr_reader_finds_our_shapes_and_scales(pyramid: Path) -> None:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    node = list(Reader(parse_url(str(pyramid)))())[0]
    assert [tuple(level.shape) for level in node.data] == [(24, 40, 36), (12, 20, 18), (6, 10, 9)]
    scales = [[t["scale"] for t in ct if t["type"] == "scale"][0] for ct in node.metadata["coordinateTransformations"]]
    assert scales == [[7.5] * 3, [15.0] * 3, [30.0] * 3]
    assert [axis["unit"] for axis in node.metadata["axes"]] == ["angstrom"] * 3


def test_voxel_size_override_keeps_relative_levels_and_origin(pyramid: Path) -> None:
    level0 = read_ome_zarr(pyramid, voxel_size_ang=10.0)
    level1 = read_ome_zarr(pyramid, voxel_size_ang=10.0, level=1)
    assert (level0.voxel_size_ang, level1.voxel_size_ang) == (10.0, 20.0)
    assert level0.origin_xyz_ang == pytest.approx(ORIGIN_XYZ)
    assert level1.origin_xyz_ang == pytest.approx(np.add(ORIGIN_XYZ, 5.0))  # half a level-0 voxel


def test_nanometer_units_are_converted_and_a_channel_axis_is_squeezed(tmp_path: Path) -> None:
    path = _hand_zarr(
        tmp_path / "nm.zarr",
        [(1, 4, 6, 8)],
        _axes("nanometer", leading=("c",)),
        [[{"type": "scale", "scale": [1.0, 0.75, 0.75, 0.75]}, {"type": "translation", "translation": [0, 3, 2, 1]}]],
    )
    read = read_ome_zarr(path)
    assert read.data_zyx.shape == (4, 6, 8)
    assert read.voxel_size_ang == pytest.approx(7.5)
    assert read.origin_xyz_ang == pytest.approx((10.0, 20.0, 30.0))
    np.testing.assert_array_equal(np.asarray(read.data_zyx), np.arange(192, dtype=np.float32).reshape(4, 6, 8))


def test_translation_is_read_literally_never_invented(tmp_path: Path) -> None:
    # copick / ome-zarr-py style: downsampled levels carry no translation, so voxel 0 stays at 0.
    path = _hand_zarr(
        tmp_path / "plain.zarr",
        [(4, 6, 8), (2, 3, 4)],
        _axes(),
        [[{"type": "scale", "scale": [10.0] * 3}], [{"type": "scale", "scale": [20.0] * 3}]],
    )
    assert read_ome_zarr(path, level=1).origin_xyz_ang == (0.0, 0.0, 0.0)


def test_no_ome_metadata_is_refused(tmp_path: Path) -> None:
    zarr.open_group(str(tmp_path / "group.zarr"), mode="w").create_dataset("0", data=np.zeros((2, 2, 2)))
    zarr.open_array(str(tmp_path / "array.zarr"), mode="w", shape=(2, 2, 2), dtype="f4")
    for name in ("group.zarr", "array.zarr"):
        with pytest.raises(ValueError, match="has no OME multiscales metadata") as exc:
            read_ome_zarr(tmp_path / name)
        assert "convert to MRC" in _one_line(exc)


def test_missing_level_is_refused_listing_the_levels(pyramid: Path) -> None:
    with pytest.raises(ValueError, match=r"level 3 does not exist") as exc:
        read_ome_zarr(pyramid, level=3)
    assert "0 (7.5 Å, 24x40x36), 1 (15 Å, 12x20x18), 2 (30 Å, 6x10x9)" in _one_line(exc)


def test_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        read_ome_zarr(tmp_path / "absent.zarr")


@pytest.mark.parametrize(
    ("unit", "scale", "match"),
    [
        ("angstrom", [0.0] * 3, "is 0 Å"),
        ("parsec", [7.5] * 3, "unit 'parsec'"),
        ("angstrom", [7.5, 7.5, 8.0], "anisotropic"),
    ],
)
def test_unusable_scales_are_refused_unless_overridden(tmp_path: Path, unit: str, scale: list, match: str) -> None:
    path = _hand_zarr(tmp_path / "bad.zarr", [(4, 6, 8)], _axes(unit), [[{"type": "scale", "scale": scale}]])
    with pytest.raises(ValueError, match=match) as exc:
        read_ome_zarr(path)
    assert "voxel_size_ang" in _one_line(exc)
    assert read_ome_zarr(path, voxel_size_ang=9.0).voxel_size_ang == 9.0


def test_real_4d_data_is_refused(tmp_path: Path) -> None:
    path = _hand_zarr(
        tmp_path / "c2.zarr", [(2, 4, 6, 8)], _axes(leading=("c",)), [[{"type": "scale", "scale": [1.0] + [7.5] * 3}]]
    )
    with pytest.raises(ValueError, match="c=2") as exc:
        read_ome_zarr(path)
    assert "single channel" in _one_line(exc)


def test_read_volume_dispatches_on_the_path(tmp_path: Path, volume: Volume, pyramid: Path) -> None:
    mrc = write_mrc(tmp_path / "tomo.mrc", volume.data_zyx, **volume.placement)
    assert isinstance(read_volume(mrc).data_zyx, np.ndarray)
    from_zarr = read_volume(pyramid, target_voxel_size_ang=14)
    assert (from_zarr.voxel_size_ang, from_zarr.data_zyx.shape) == (15.0, (12, 20, 18))
    assert is_volume_path(mrc) and is_volume_path(pyramid) and is_zarr_path("a/tomo.OME.ZARR")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"MRC file \(.mrc, .rec, .map\) or an OME-Zarr folder") as exc:
        read_volume(tmp_path / "notes.txt")
    _one_line(exc)
    with pytest.raises(FileNotFoundError):
        read_volume(tmp_path / "absent.txt")


def test_write_is_atomic_and_refuses_to_overwrite(tmp_path: Path, volume: Volume, pyramid: Path) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tomo.zarr"]  # no temporary folder left
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_ome_zarr(pyramid, volume)
    smaller = Volume(volume.data_zyx[:8], VOXEL, ORIGIN_XYZ)
    write_ome_zarr(pyramid, smaller, overwrite=True)
    assert ome_zarr_levels(pyramid) == [(0, 7.5, (8, 40, 36))]

    class Failing:
        shape, dtype = (8, 8, 8), np.dtype(np.float32)

        def __getitem__(self, key):
            raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        write_ome_zarr(tmp_path / "failed.zarr", Volume(Failing(), VOXEL), levels=2)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tomo.zarr"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"levels": 6}, "below 1 voxel; use at most 5 levels"),
        ({"levels": (2, 4)}, "must start at 1"),
        ({"chunks": (0, 8, 8)}, "3 positive integers"),
    ],
)
def test_bad_write_arguments_are_refused(tmp_path: Path, volume: Volume, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        write_ome_zarr(tmp_path / "t.zarr", volume, **kwargs)
    with pytest.raises(ValueError, match="must end in .zarr"):
        write_ome_zarr(tmp_path / "t.mrc", volume)
    assert list(tmp_path.iterdir()) == []
