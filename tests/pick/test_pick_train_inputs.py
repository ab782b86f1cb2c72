"""Picking training refuses non-finite membranes and particles before computing anything."""

import numpy as np
import pandas as pd
import pytest
from pick_model_meshes import plane_surface

from cryomem.io import write_membrane_h5
from cryomem.pick._dataset import load_training_membranes

WINDOW = np.arange(-25.0, 25.1, 2.5)
PARTICLE = pd.DataFrame({"tomo_name": ["tomo"], "x_ang": [30.0], "y_ang": [30.0], "z_ang": [0.0]})


def _load(paths, particles=PARTICLE, shift=0):
    return load_training_membranes(
        paths, particles, window_offsets_ang=WINDOW, max_distance_ang=100.0, k_eig=8, max_shift_samples=shift
    )


@pytest.mark.parametrize(
    "column, shift, refused",
    [(12, 0, True), (0, 0, False), (0, 2, True)],  # column 0 (-30 Å) is read only by the shifted windows
)
def test_non_finite_features_in_a_window_the_model_reads_are_refused(tmp_path, column, shift, refused):
    surface = plane_surface(8, 8, offsets_ang=np.arange(-30.0, 30.1, 2.5))
    surface.features[:4, column] = np.nan
    path = write_membrane_h5(tmp_path / "tomo_mb1.h5", surface)
    if refused:
        with pytest.raises(ValueError, match=r"tomo_mb1.h5 has NaN or infinite features at 4 of 64 vertices"):
            _load([path], shift=shift)
    else:
        assert len(_load([path], shift=shift)) == 1


def test_non_finite_vertices_are_refused(tmp_path):
    surface = plane_surface(8, 8)
    surface.vertices_xyz_ang[3] = np.inf
    path = write_membrane_h5(tmp_path / "tomo_mb1.h5", surface)
    with pytest.raises(ValueError, match="has 1 vertices with NaN or infinite coordinates"):
        _load([path])


def test_particles_with_non_finite_coordinates_are_refused(tmp_path):
    path = write_membrane_h5(tmp_path / "tomo_mb1.h5", plane_surface(8, 8))
    particles = pd.concat([PARTICLE, PARTICLE.assign(x_ang=np.nan)], ignore_index=True)
    with pytest.raises(ValueError, match="1 of 2 particles have NaN or infinite coordinates"):
        _load([path], particles)
