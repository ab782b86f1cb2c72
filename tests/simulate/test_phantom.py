"""Exact-answer tests of the phantom: membranes, proteins on mid-surfaces, no overlaps, true concentration."""

import numpy as np
import pytest

from cryomem.simulate._config import MembraneConfig, SimulationConfig
from cryomem.simulate._membranes import Bilayer
from cryomem.simulate._phantom import add_membrane_group, empty_phantom
from cryomem.simulate._render import rotated_template_box
from cryomem.simulate._shapes import Sphere
from cryomem.simulate._tomogram import simulate_tomogram


def test_simulated_sphere_label_volume_and_area_match_analytic():
    voxel, radius = 10.0, 350.0
    phantom = empty_phantom((96, 96, 96), voxel)
    bilayer = Bilayer(thickness_ang=42.0, leaflet_sigma_ang=7.0)
    labelled = add_membrane_group(phantom, [(Sphere(np.full(3, 475.0), radius), bilayer)], "sphere", MembraneConfig())
    h = bilayer.half_label_ang
    shell = 4 / 3 * np.pi * ((radius + h) ** 3 - (radius - h) ** 3)
    assert labelled == np.count_nonzero(phantom.membrane_ids_zyx)
    assert labelled * voxel**3 == pytest.approx(shell, rel=0.02)
    assert phantom.membranes[0].area_ang2 == pytest.approx(4 * np.pi * radius**2, rel=0.02)


def test_membranes_keep_their_gap():
    phantom = empty_phantom((96, 96, 96), 10.0)
    bilayer = Bilayer(40.0, 6.0)  # label half-thickness 20 + 1.18 x 6 = 27 Å
    config = MembraneConfig(min_gap_nm=4.0)
    assert add_membrane_group(phantom, [(Sphere(np.full(3, 475.0), 200.0), bilayer)], "sphere", config)
    # 6 nm further out leaves 60 - 2 * 27 < 40 Å between the labels: refused
    assert not add_membrane_group(phantom, [(Sphere(np.full(3, 475.0), 260.0), bilayer)], "sphere", config)
    # 11 nm further out leaves 110 - 54 = 56 Å >= 40 Å: accepted
    assert add_membrane_group(phantom, [(Sphere(np.full(3, 475.0), 310.0), bilayer)], "sphere", config)


@pytest.fixture(scope="module")
def crowded():
    config = SimulationConfig.model_validate(
        {
            "shape_zyx": (64, 128, 128),
            "seed": 11,
            "membranes": {"occupancy": 0.04, "radius_nm": (25, 45), "kinds": {"sphere": 1, "ellipsoid": 1, "sheet": 1}},
            "membrane_proteins": {"occupancy": 0.3},
            "cytosol": {"occupancy": 0.04, "microtubules": 1, "actin_filaments": 2},
        }
    )
    return simulate_tomogram(config)


def test_every_membrane_protein_sits_on_its_mid_surface(crowded):
    phantom = crowded.phantom
    assert len(phantom.membrane_proteins) > 20
    by_id = {m.membrane_id: m for m in phantom.membranes}
    for protein in phantom.membrane_proteins:
        membrane = by_id[protein.membrane_id]
        point = protein.center_xyz_ang[None]
        assert abs(membrane.shape.signed_distance_ang(point)[0]) <= phantom.voxel_size_ang
        nearest_vertex = np.linalg.norm(membrane.vertices_xyz_ang - point, axis=1).min()
        assert nearest_vertex <= 2.0 * phantom.voxel_size_ang  # mesh edges are ~1.5 voxels
        _, normal = membrane.shape.project(point)
        np.testing.assert_allclose(protein.rotation[:, 2], normal[0], atol=1e-6)  # particle z = outward normal
        np.testing.assert_allclose(np.linalg.det(protein.rotation), 1.0, atol=1e-9)


def test_no_two_objects_overlap(crowded):
    phantom = crowded.phantom
    count = np.zeros(phantom.shape_zyx, np.uint8)
    templates = {"membrane": crowded.membrane_templates, "cytosolic": crowded.cytosolic_templates}
    for kind, objects in (("membrane", phantom.membrane_proteins), ("cytosolic", phantom.cytosolic_proteins)):
        for obj in objects:
            template = templates[kind][obj.class_number - 1]
            box = rotated_template_box(
                template, obj.rotation, obj.center_xyz_ang[::-1] / phantom.voxel_size_ang, phantom.shape_zyx
            )
            slices, _, mask = box
            count[slices] += mask
            # a protein never reaches into a membrane other than its own
            others = phantom.membrane_ids_zyx[slices][mask]
            assert np.all((others == 0) | (others == max(obj.membrane_id, 0)))
    assert count.max() == 1
    labels = phantom.semantic_labels()
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4}


def test_occupancies_reached(crowded):
    phantom = crowded.phantom
    membrane_fraction = np.count_nonzero(phantom.membrane_ids_zyx) / phantom.membrane_ids_zyx.size
    assert membrane_fraction >= 0.04
    assert len(phantom.cytosolic_proteins) > 10
    assert {f["kind"] for f in phantom.filaments} == {"microtubule", "actin"}


def test_same_seed_same_arrays_different_seed_different():
    base = {
        "shape_zyx": (40, 64, 64),
        "membranes": {"radius_nm": (20, 30)},
        "cytosol": {"microtubules": 0, "actin_filaments": 1},
    }
    a = simulate_tomogram(SimulationConfig.model_validate({**base, "seed": 5}))
    b = simulate_tomogram(SimulationConfig.model_validate({**base, "seed": 5}))
    c = simulate_tomogram(SimulationConfig.model_validate({**base, "seed": 6}))
    np.testing.assert_array_equal(a.tomogram_zyx, b.tomogram_zyx)
    np.testing.assert_array_equal(a.phantom.semantic_labels(), b.phantom.semantic_labels())
    np.testing.assert_array_equal(a.tilt_series.images, b.tilt_series.images)
    assert not np.array_equal(a.tomogram_zyx, c.tomogram_zyx)
    assert not np.array_equal(a.phantom.membrane_ids_zyx, c.phantom.membrane_ids_zyx)


def test_psii_like_concentration_is_reached():
    config = SimulationConfig.model_validate(
        {
            "shape_zyx": (64, 128, 128),
            "seed": 4,
            "membranes": {"occupancy": 0.05, "kinds": {"sheet": 1, "stack": 1}},
            "membrane_proteins": {"concentration_per_um2": 1800.0, "clustered_fraction": 0.0},
            "cytosol": {"occupancy": 0.0, "microtubules": 0, "actin_filaments": 0},
        }
    )
    phantom = simulate_tomogram(config).phantom
    area_um2 = sum(m.area_ang2 for m in phantom.membranes) / 1e8
    assert len(phantom.membrane_proteins) / area_um2 == pytest.approx(1800.0, rel=0.03)


def test_clustered_proteins_have_close_neighbours():
    def nearest_mean(clustered_fraction):
        config = SimulationConfig.model_validate(
            {
                "shape_zyx": (64, 128, 128),
                "seed": 8,
                "membranes": {"occupancy": 0.04, "kinds": {"sheet": 1}},
                "membrane_proteins": {"concentration_per_um2": 300.0, "clustered_fraction": clustered_fraction},
                "cytosol": {"occupancy": 0.0, "microtubules": 0, "actin_filaments": 0},
            }
        )
        centres = np.array([p.center_xyz_ang for p in simulate_tomogram(config).phantom.membrane_proteins])
        distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        np.fill_diagonal(distances, np.inf)
        return distances.min(axis=1).mean()

    assert nearest_mean(1.0) < 0.7 * nearest_mean(0.0)
