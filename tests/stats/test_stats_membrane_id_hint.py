"""A STAR's membrane id is a hint: the nearest membrane within tolerance wins, disagreements are counted."""

import numpy as np
from stats_helpers import particle_table, sphere

from cryomem.stats import assign_particles, membrane_surface


def _spheres():
    vertices, faces = sphere(300.0, 3)
    return [membrane_surface("t", i + 1, vertices + (1000.0 * i, 0, 0), faces) for i in range(2)]


def test_ids_of_another_numbering_do_not_move_particles():
    xyz = np.array([[300.0, 0, 0], [0, 300, 0], [1300, 0, 0]])
    table = particle_table(xyz)
    table["membrane_id"] = [2, 2, 1]  # numbered by another program: every id names the other sphere
    result = assign_particles(_spheres(), table, tolerance_nm=100.0)
    assert [m.particles["particle_index"].tolist() for m in result.membranes] == [[0, 1], [2]]
    assert result.n_membrane_id_mismatch == 3 and result.n_assigned == 3


def test_an_id_decides_a_tie_and_unknown_ids_are_ignored():
    meshes = _spheres()
    twin = membrane_surface("t", 7, meshes[0].vertices_xyz_ang, meshes[0].faces)  # the same surface twice
    table = particle_table(np.array([[300.0, 0, 0], [300.0, 0, 0]]))
    table["membrane_id"] = [7, 99]
    result = assign_particles([meshes[0], meshes[1], twin], table, tolerance_nm=10.0)
    assert [len(m.particles) for m in result.membranes] == [1, 0, 1]
    assert result.n_membrane_id_mismatch == 0


def test_a_far_particle_stays_off_mesh_whatever_its_id():
    table = particle_table(np.array([[0.0, 0, 5000], [300.0, 0, 0]])).assign(membrane_id=[2, 1])
    result = assign_particles(_spheres(), table, tolerance_nm=10.0)
    assert result.off_mesh["particle_index"].tolist() == [0] and result.n_membrane_id_mismatch == 0
