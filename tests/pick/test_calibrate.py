"""Mean-shift calibration on membranes with known particles."""

import numpy as np
from pick_model_meshes import plane_surface

from cryomem.pick import calibrate_mean_shift, distance_targets_ang
from cryomem.pick._calibrate import BANDWIDTH_FACTORS, THRESHOLD_FACTORS


def test_exact_predictions_calibrate_to_a_perfect_score():
    surface = plane_surface(40, 40, 10.0)  # 390 x 390 Å
    grid = np.stack(np.meshgrid([80.0, 200.0, 320.0], [80.0, 200.0, 320.0]), axis=-1).reshape(-1, 2)
    particles = np.c_[grid, np.zeros(len(grid))]
    exact = distance_targets_ang(surface, particles, max_distance_ang=100.0)
    result = calibrate_mean_shift([surface], [exact], ["tomo"], [particles], max_distance_ang=100.0)
    assert result["f1"] == 1.0 and result["f1_one_to_one"] == 1.0 and result["n_true"] == 9
    assert len(result["sweep"]) == len(BANDWIDTH_FACTORS) * len(THRESHOLD_FACTORS)
    assert result["bandwidth_ang"] in [100.0 * f for f in BANDWIDTH_FACTORS]
    # ties go to the threshold nearest 0.6 x the maximum distance
    best = [r for r in result["sweep"] if r["f1_one_to_one"] == 1.0 and r["bandwidth_ang"] == result["bandwidth_ang"]]
    assert (
        result["seed_threshold_ang"]
        == min((abs(r["seed_threshold_ang"] - 60.0), r["seed_threshold_ang"]) for r in best)[1]
    )


def test_settings_that_pick_everything_are_not_chosen():
    surface = plane_surface(40, 40, 10.0)
    particles = np.array([[200.0, 200.0, 0.0]])
    flat = np.full(len(surface.vertices_xyz_ang), 30.0, dtype=np.float32)  # "a particle everywhere"
    result = calibrate_mean_shift([surface], [flat], ["tomo"], [particles], max_distance_ang=100.0)
    chosen = next(
        r
        for r in result["sweep"]
        if r["bandwidth_ang"] == result["bandwidth_ang"] and r["seed_threshold_ang"] == result["seed_threshold_ang"]
    )
    assert chosen["n_picked"] <= 1.5 or all(r["n_picked"] > 1.5 for r in result["sweep"])


def test_no_true_particles_gives_no_calibration():
    surface = plane_surface(10, 10, 10.0)
    none = np.zeros((0, 3))
    assert calibrate_mean_shift([surface], [np.zeros(100)], ["tomo"], [none], max_distance_ang=100.0) is None
