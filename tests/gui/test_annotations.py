"""The surface annotator's state: density at an offset, edits with undo, STAR round trip, training on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import trimesh
from typer.testing import CliRunner

from cryomem.cli import app
from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG
from cryomem.gui._annotations import SurfaceAnnotations, density_at_offset
from cryomem.gui._snap import closest_points_on_mesh
from cryomem.io import (
    PARTICLE_COLUMNS,
    MembraneSurface,
    euler_zyz_deg_to_matrix,
    read_particles_star,
    write_membrane_h5,
    write_mrc,
)
from cryomem.pick import read_pick_model_card

RADIUS_ANG = 300.0
CENTRE_XYZ_ANG = np.array([400.0, 420.0, 380.0])
ORIGIN_XYZ_ANG = (12.0, -8.0, 30.0)
TINY_TRAINING = {
    "width": 8,
    "n_blocks": 1,
    "mlp_hidden": 8,
    "k_eig": 16,
    "patch_vertices": 300,
    "conv_channels": 4,
    "epochs": 1,
    "threads": 1,
    "augment": False,
}


def _plane(tomogram_path: str = "tomo.mrc", nx: int = 20, spacing_ang: float = 10.0) -> MembraneSurface:
    """A flat membrane side z = 150 Å with normals +z and random features."""
    xs, ys = np.meshgrid(np.arange(nx) * spacing_ang + 20.0, np.arange(nx) * spacing_ang + 20.0, indexing="xy")
    vertices = np.stack([xs.ravel(), ys.ravel(), np.full(nx * nx, 150.0)], axis=1)
    index = np.arange(nx * nx).reshape(nx, nx)
    a, b, c, d = index[:-1, :-1].ravel(), index[:-1, 1:].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel()
    features = np.random.default_rng(0).normal(size=(len(vertices), len(DEFAULT_FEATURE_OFFSETS_ANG)))
    return MembraneSurface(
        vertices_xyz_ang=vertices,
        faces=np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)]),
        normals_xyz=np.tile([0.0, 0.0, 1.0], (len(vertices), 1)),
        membrane_id=1,
        voxel_size_ang=10.0,
        tomogram_path=tomogram_path,
        features=features.astype(np.float32),
        feature_offsets_ang=DEFAULT_FEATURE_OFFSETS_ANG,
    )


def _sphere() -> MembraneSurface:
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=RADIUS_ANG)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    return MembraneSurface(
        vertices_xyz_ang=vertices + CENTRE_XYZ_ANG,
        faces=np.asarray(mesh.faces, dtype=np.int64),
        normals_xyz=vertices / RADIUS_ANG,
        membrane_id=3,
        voxel_size_ang=8.0,
        origin_xyz_ang=ORIGIN_XYZ_ANG,
        tomogram_path="/data/TS_01.mrc",
        attrs={"tomogram_shape_zyx": "100,110,120"},
    )


def _distance_to_mesh_ang(points: np.ndarray, surface: MembraneSurface) -> np.ndarray:
    closest, _, _ = closest_points_on_mesh(points, surface.vertices_xyz_ang, surface.faces)
    return np.linalg.norm(closest - points, axis=1)


def _random_points_near_sphere(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(count, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return CENTRE_XYZ_ANG + directions * rng.uniform(270.0, 330.0, (count, 1))


@pytest.fixture(scope="module")
def sphere() -> MembraneSurface:
    return _sphere()


def test_density_at_a_sampled_offset_is_that_column_and_between_two_is_linear():
    surface = _plane()
    offsets = surface.feature_offsets_ang
    features = surface.features

    for column in (0, 24, len(offsets) - 1):
        np.testing.assert_array_equal(density_at_offset(surface, offsets[column]), features[:, column])
    between = density_at_offset(surface, offsets[10] + 0.3 * (offsets[11] - offsets[10]))
    expected = 0.7 * features[:, 10].astype(np.float64) + 0.3 * features[:, 11].astype(np.float64)
    assert between.dtype == np.float32
    np.testing.assert_allclose(between, expected, rtol=1e-6, atol=1e-6)


def test_density_outside_the_samples_or_without_features_names_the_range():
    surface = _plane()
    with pytest.raises(ValueError, match=r"outside the sampled offsets -60\.\.60 Å"):
        density_at_offset(surface, 61.0)
    with pytest.raises(ValueError, match="has no density samples"):
        density_at_offset(_sphere(), 0.0)


def test_add_move_delete_undo_keep_ids_points_and_arrows_together(sphere):
    annotations = SurfaceAnnotations(sphere)
    clicks = _random_points_near_sphere(5, seed=0)

    ids = [annotations.add(click) for click in clicks]

    assert ids == [0, 1, 2, 3, 4] and annotations.ids.tolist() == ids
    assert _distance_to_mesh_ang(annotations.positions_xyz_ang, sphere).max() < 1e-9
    assert np.all(np.isnan(annotations.scores)) and np.all(annotations.inplane_deg == 0.0)
    arrows = annotations.arrows_zyx_ang(length_ang=40.0)
    assert arrows.shape == (5, 2, 3)
    np.testing.assert_allclose(arrows[:, 0], annotations.positions_zyx_ang())
    np.testing.assert_allclose(arrows[:, 0], annotations.positions_xyz_ang[:, ::-1])
    np.testing.assert_allclose(np.linalg.norm(arrows[:, 1], axis=1), 40.0)
    radial = (annotations.positions_xyz_ang - CENTRE_XYZ_ANG)[:, ::-1]
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    assert np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", arrows[:, 1] / 40.0, radial), -1, 1))).max() < 1.0

    target = CENTRE_XYZ_ANG + np.array([0.0, 0.0, 1.0]) * 350.0  # off the surface, above the north pole
    annotations.move(2, target)
    row = annotations.rows_of(2)[0]
    moved = annotations.positions_xyz_ang[row]
    assert _distance_to_mesh_ang(moved[None], sphere)[0] < 1e-9
    assert abs(np.linalg.norm(moved - CENTRE_XYZ_ANG) - RADIUS_ANG) < 0.5
    np.testing.assert_allclose(annotations.normals_xyz[row], [0.0, 0.0, 1.0], atol=0.02)
    np.testing.assert_allclose(annotations.arrows_zyx_ang(40.0)[row, 0], moved[::-1])

    kept_positions = annotations.positions_xyz_ang[[0, 2, 4]]
    annotations.delete([1, 3])
    assert annotations.ids.tolist() == [0, 2, 4]
    assert len(annotations.arrows_zyx_ang(40.0)) == len(annotations.positions_zyx_ang()) == 3
    np.testing.assert_allclose(annotations.arrows_zyx_ang(40.0)[:, 0], kept_positions[:, ::-1])

    assert annotations.add(clicks[0]) == 5  # ids are never reused
    assert annotations.undo() and annotations.ids.tolist() == [0, 2, 4]
    assert annotations.undo() and annotations.ids.tolist() == ids  # the delete reverted
    assert len(annotations.arrows_zyx_ang(40.0)) == 5
    assert annotations.undo()  # the move reverted
    np.testing.assert_allclose(annotations.positions_xyz_ang[2], sphere_snapped(sphere, clicks[2]))
    while annotations.undo():
        pass
    assert len(annotations) == 0 and not annotations.can_undo
    assert annotations.arrows_zyx_ang(40.0).shape == (0, 2, 3)


def sphere_snapped(surface: MembraneSurface, point: np.ndarray) -> np.ndarray:
    closest, _, _ = closest_points_on_mesh(point[None], surface.vertices_xyz_ang, surface.faces)
    return closest[0]


def test_edits_of_unknown_ids_are_refused(sphere):
    annotations = SurfaceAnnotations(sphere)
    annotations.add(_random_points_near_sphere(1, seed=1)[0])
    annotations.delete(0)
    with pytest.raises(ValueError, match=r"particle id\(s\) \[0\] are not annotated"):
        annotations.move(0, CENTRE_XYZ_ANG)
    with pytest.raises(ValueError, match="are not annotated"):
        annotations.delete([7])
    with pytest.raises(ValueError, match="3 finite numbers"):
        annotations.add([1.0, 2.0])


def test_from_particles_keeps_this_membranes_particles_snapped(sphere):
    rng = np.random.default_rng(2)
    near = _random_points_near_sphere(6, seed=3)
    near = CENTRE_XYZ_ANG + (near - CENTRE_XYZ_ANG) * (RADIUS_ANG - 20.0) / np.linalg.norm(
        near - CENTRE_XYZ_ANG, axis=1, keepdims=True
    )  # 20 Å below the surface, like predictions on the mid-surface
    far = CENTRE_XYZ_ANG + np.array([[0.0, 0.0, 450.0]])
    xyz = np.concatenate([near, far, near[:2], near[:1]])
    table = pd.DataFrame(
        {
            "tomo_name": ["TS_01"] * 7 + ["TS_02"] * 2 + ["TS_01"],
            "x_ang": xyz[:, 0],
            "y_ang": xyz[:, 1],
            "z_ang": xyz[:, 2],
            "rot_deg": rng.uniform(-180, 180, len(xyz)),
            "tilt_deg": 0.0,
            "psi_deg": 0.0,
            "class_number": 1,
            "membrane_id": [3, -1, 3, 3, 3, 3, 3, 3, 3, 4],
            "score": rng.uniform(0, 1, len(xyz)),
        }
    )

    annotations = SurfaceAnnotations.from_particles(sphere, table, max_distance_ang=30.0)

    assert len(annotations) == 6 and not annotations.can_undo
    assert _distance_to_mesh_ang(annotations.positions_xyz_ang, sphere).max() < 1e-9
    np.testing.assert_allclose(annotations.scores, table["score"][:6])
    np.testing.assert_allclose(annotations.inplane_deg, table["rot_deg"][:6])
    assert len(SurfaceAnnotations.from_particles(sphere, table, max_distance_ang=10.0)) == 0


def test_star_round_trip_keeps_positions_normals_and_names(tmp_path, sphere):
    annotations = SurfaceAnnotations(sphere)
    for i, click in enumerate(_random_points_near_sphere(12, seed=4)):
        annotations.add(click, inplane_deg=10.0 * i - 50.0)
    annotations.add(CENTRE_XYZ_ANG + [0.0, 0.0, 320.0])  # the pole, where psi is 0 by convention
    table = annotations.to_particles()
    assert list(table.columns) == list(PARTICLE_COLUMNS)

    path = annotations.save_star(tmp_path / "TS_01_particles.star")
    read = read_particles_star(path, origin_xyz_ang=ORIGIN_XYZ_ANG)

    assert (read["tomo_name"] == "TS_01").all() and (read["membrane_id"] == 3).all()
    assert np.all(np.isnan(read["score"]))
    positions = read[["x_ang", "y_ang", "z_ang"]].to_numpy()
    assert np.abs(positions - annotations.positions_xyz_ang).max() < 1e-3
    normals = euler_zyz_deg_to_matrix(read[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy())[:, :, 2]
    cosines = np.clip(np.einsum("ij,ij->i", normals, annotations.normals_xyz), -1.0, 1.0)
    assert np.degrees(np.arccos(cosines)).max() < 0.01
    np.testing.assert_allclose(read["rot_deg"], annotations.inplane_deg, atol=1e-9)
    reloaded = SurfaceAnnotations.from_particles(sphere, read, max_distance_ang=1.0)
    assert np.abs(reloaded.positions_xyz_ang - annotations.positions_xyz_ang).max() < 1e-3


def test_saving_needs_the_tomogram_shape(tmp_path):
    annotations = SurfaceAnnotations(_plane(tomogram_path=str(tmp_path / "missing.mrc")))
    annotations.add([50.0, 50.0, 170.0])
    with pytest.raises(ValueError, match=r"cannot find the tomogram of .*put the tomogram back at that path"):
        annotations.save_star(tmp_path / "out.star")
    tomogram = write_mrc(tmp_path / "tomo.mrc", np.zeros((32, 30, 28), np.float32), voxel_size_ang=10.0)
    assert SurfaceAnnotations(_plane(tomogram_path=str(tomogram))).shape_zyx() == (32, 30, 28)


def test_annotated_star_trains_a_picking_model(tmp_path):
    membranes = tmp_path / "membranes"
    membranes.mkdir()
    surface = _plane(tomogram_path=str(tmp_path / "tomo.mrc"))
    write_membrane_h5(membranes / "tomo_mb1.h5", surface)
    annotations = SurfaceAnnotations(surface, shape_zyx=(32, 32, 32))
    rng = np.random.default_rng(5)
    for click in np.column_stack([rng.uniform(30.0, 200.0, (10, 2)), rng.uniform(140.0, 160.0, 10)]):
        annotations.add(click)
    star = annotations.save_star(tmp_path / "tomo_particles.star")
    config = tmp_path / "tiny.yaml"
    config.write_text("".join(f"{k}: {v}\n" for k, v in TINY_TRAINING.items()))

    result = CliRunner().invoke(
        app,
        ["pick", "train", "--membranes", str(membranes), "--particles", str(star), "--out", str(tmp_path / "run"),
         "--config", str(config)],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    card = read_pick_model_card(tmp_path / "run" / "model.pt")
    assert card.training.particles == 10
