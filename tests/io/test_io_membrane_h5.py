"""The per-membrane HDF5 container: round trip, validation and clear errors."""

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from cryomem.io import MEMBRANE_FORMAT, MembraneSurface, read_membrane_h5, write_membrane_h5


def _surface(with_features: bool = True) -> MembraneSurface:
    rng = np.random.default_rng(7)
    n, k = 30, 7
    normals = rng.normal(size=(n, 3))
    return MembraneSurface(
        vertices_xyz_ang=rng.uniform(0, 2000, (n, 3)),
        faces=rng.integers(0, n, (50, 3)),
        normals_xyz=normals / np.linalg.norm(normals, axis=1, keepdims=True),
        membrane_id=4,
        voxel_size_ang=14.08,
        origin_xyz_ang=(10.0, 20.0, -30.0),
        tomogram_path="/data/tomo_01.mrc",
        features=rng.normal(size=(n, k)).astype(np.float32) if with_features else None,
        feature_offsets_ang=np.linspace(-30, 30, k) if with_features else None,
        point_data={
            "score": rng.random(n),
            "is_edge": rng.random(n) > 0.8,
            "pair": rng.random((n, 2)),
        },
        attrs={"model": "default-v1", "n_iterations": 3, "threshold": 0.5},
    )


def test_round_trip(tmp_path: Path) -> None:
    surface = _surface()
    read = read_membrane_h5(write_membrane_h5(tmp_path / "tomo_mb4.h5", surface))
    for name in ("vertices_xyz_ang", "faces", "normals_xyz", "features", "feature_offsets_ang"):
        np.testing.assert_array_equal(getattr(read, name), getattr(surface, name), err_msg=name)
    assert read.faces.dtype == np.int64 and read.features.dtype == np.float32
    assert (read.membrane_id, read.voxel_size_ang, read.origin_xyz_ang, read.tomogram_path) == (
        4,
        14.08,
        (10.0, 20.0, -30.0),
        "/data/tomo_01.mrc",
    )
    assert read.point_data.keys() == surface.point_data.keys()
    for name, values in surface.point_data.items():
        np.testing.assert_array_equal(read.point_data[name], values)
        assert read.point_data[name].dtype == values.dtype
    assert read.attrs == surface.attrs
    assert all(type(read.attrs[k]) is type(v) for k, v in surface.attrs.items())
    with h5py.File(tmp_path / "tomo_mb4.h5") as h5:
        assert h5.attrs["format"] == MEMBRANE_FORMAT and h5.attrs["format_version"] == 1


def test_round_trip_without_optional_parts(tmp_path: Path) -> None:
    surface = replace(_surface(with_features=False), tomogram_path=None, point_data={}, attrs={})
    read = read_membrane_h5(write_membrane_h5(tmp_path / "m.h5", surface))
    assert read.features is None and read.feature_offsets_ang is None and read.tomogram_path is None
    assert read.point_data == {} and read.attrs == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"normals_xyz": np.zeros((29, 3))}, r"normals_xyz must have shape \(30, 3\)"),
        ({"vertices_xyz_ang": np.zeros((30, 2))}, r"vertices_xyz_ang must have shape \(n, 3\)"),
        ({"faces": np.array([[0, 1, 30]])}, "faces must index vertices 0..29"),
        ({"faces": np.array([[0.0, 1.0, 2.0]])}, "faces must hold integers"),
        (
            {"features": np.zeros((30, 7)), "feature_offsets_ang": np.zeros(6)},
            r"feature_offsets_ang.*\(7,\)",
        ),
        ({"features": None}, "features and feature_offsets_ang must be given together"),
        ({"point_data": {"score": np.zeros(29)}}, r"point_data\['score'\].*first dimension 30"),
        ({"attrs": {"bad": [1, 2]}}, r"attrs\['bad'\]"),
        ({"voxel_size_ang": 0.0}, "finite and > 0"),
    ],
)
def test_bad_fields_are_named(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(_surface(), **change)


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        read_membrane_h5(tmp_path / "nope.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="text.h5 is not a readable HDF5 file"):
        read_membrane_h5(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5.create_dataset("x", data=[1, 2])
    with pytest.raises(ValueError, match="other.h5 is not a cryomem membrane file"):
        read_membrane_h5(tmp_path / "other.h5")
    write_membrane_h5(tmp_path / "new.h5", _surface())
    with h5py.File(tmp_path / "new.h5", "a") as h5:
        h5.attrs["format_version"] = 2
    with pytest.raises(ValueError, match="format version 2.*upgrade cryomem"):
        read_membrane_h5(tmp_path / "new.h5")
    write_membrane_h5(tmp_path / "cut.h5", _surface())
    with h5py.File(tmp_path / "cut.h5", "a") as h5:
        del h5["normals_xyz"]
    with pytest.raises(ValueError, match="incomplete membrane file"):
        read_membrane_h5(tmp_path / "cut.h5")


def test_write_is_atomic_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    surface = _surface()
    original = h5py.Group.create_group

    def failing(self: h5py.Group, name: str, *args: object, **kwargs: object) -> h5py.Group:
        if name == "attrs":
            raise OSError("disk full")
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_group", failing)
    with pytest.raises(OSError, match="disk full"):
        write_membrane_h5(tmp_path / "m.h5", surface)
    assert list(tmp_path.iterdir()) == []


def test_tomogram_name_and_label() -> None:
    surface = _surface()
    assert (surface.tomogram_name, surface.label) == ("tomo_01", "tomo_01_mb4")
    named = replace(surface, tomo_name="TS_02")
    assert (named.tomogram_name, named.label) == ("TS_02", "TS_02_mb4")
    bare = replace(surface, tomogram_path=None)
    assert (bare.tomogram_name, bare.label) == ("", "_mb4")
    zarr = replace(surface, tomogram_path="/data/TS_03.ome.zarr")  # an OME-Zarr image: its stem, not "TS_03.ome"
    assert zarr.tomogram_name == "TS_03"


def test_writing_a_surface_without_voxel_size_is_refused(tmp_path: Path) -> None:
    surface = replace(_surface(), voxel_size_ang=None, tomo_name="TS_02")
    assert surface.voxel_size_ang is None
    with pytest.raises(ValueError, match=r"^membrane TS_02_mb4 has no voxel size; set voxel_size_ang") as error:
        write_membrane_h5(tmp_path / "m.h5", surface)
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_round_trip_keeps_a_given_name_and_leaves_the_source_out(tmp_path: Path) -> None:
    unnamed = read_membrane_h5(write_membrane_h5(tmp_path / "tomo_01_mb4.h5", _surface()))
    assert (unnamed.tomo_name, unnamed.tomogram_name) == (None, "tomo_01")  # named by its tomogram's file
    surface = replace(_surface(), tomo_name="TS_02", source="/elsewhere/TS_02_mb4.obj")
    path = write_membrane_h5(tmp_path / "tomo_mb4.h5", surface)
    read = read_membrane_h5(path)
    assert (read.tomo_name, read.source, read.tomogram_name, read.label) == ("TS_02", str(path), "TS_02", "TS_02_mb4")
    assert (read.membrane_id, read.voxel_size_ang, read.origin_xyz_ang) == (4, 14.08, (10.0, 20.0, -30.0))
    np.testing.assert_array_equal(read.vertices_xyz_ang, surface.vertices_xyz_ang)
    with h5py.File(path) as h5:
        assert set(h5.attrs) == {
            "format",
            "format_version",
            "membrane_id",
            "voxel_size_ang",
            "origin_xyz_ang",
            "tomogram_path",
            "tomo_name",
        }
        assert h5.attrs["format_version"] == 1
