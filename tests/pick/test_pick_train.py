"""Training on a simulated membrane lowers the loss; config, windows and bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from pick_model_meshes import plane_surface

from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG, membrane_surfaces
from cryomem.io import euler_zyz_deg_to_matrix, write_membrane_h5
from cryomem.pick import (
    OperatorCache,
    PickNet,
    PickTrainConfig,
    distance_targets_ang,
    load_pick_model,
    predict_distances_ang,
    train_pick_model,
    window_columns,
)
from cryomem.pick._calibrate import BANDWIDTH_FACTORS, THRESHOLD_FACTORS
from cryomem.pick._dataset import load_training_membranes
from cryomem.simulate import SimulationConfig, particles_table, simulate_tomogram

SMALL = {
    "width": 16,
    "n_blocks": 2,
    "mlp_hidden": 16,
    "k_eig": 32,
    "patch_vertices": 600,
    "batch_patches": 2,
    "learning_rate": 3e-3,
    "threads": 1,
    "window_offsets_ang": tuple(np.arange(-25.0, 25.1, 2.5)),  # a narrower window than the default: faster
}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny networks run fastest (and steadiest on a shared machine) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """One simulated sheet membrane with its proteins, as an h5 file, plus the particle table."""
    config = SimulationConfig.model_validate(
        {
            "shape_zyx": (48, 128, 128),
            "voxel_size_ang": 10.0,
            "seed": 1,
            "membranes": {"max_count": 1, "kinds": {"sheet": 1.0}, "occupancy": 0.05},
            "membrane_proteins": {"occupancy": 0.5},
            "cytosol": {"occupancy": 0.0, "microtubules": 0, "actin_filaments": 0},
        }
    )
    sim = simulate_tomogram(config)
    folder = tmp_path_factory.mktemp("membranes")
    surfaces = membrane_surfaces(sim.phantom.membrane_ids_zyx, sim.tomogram_zyx, 10.0, tomogram_path="sim1.mrc")
    paths = [write_membrane_h5(folder / f"sim1_mb{s.membrane_id}.h5", s) for s in surfaces]
    particles = particles_table(sim.phantom.membrane_proteins, "sim1")
    assert len(surfaces) == 1 and len(particles) >= 5
    return paths, surfaces, particles


@pytest.fixture(scope="module")
def trained(simulated, tmp_path_factory):
    paths, _, particles = simulated
    out = tmp_path_factory.mktemp("training")
    config = PickTrainConfig(**SMALL, epochs=12, seed=0)
    model_path = train_pick_model(paths, particles, out / "run", config, cache_dir=out / "cache")
    return model_path, out


def _targets(surface, particles):
    xyz = particles[["x_ang", "y_ang", "z_ang"]].to_numpy()
    normals = euler_zyz_deg_to_matrix(particles[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy())[:, :, 2]
    return distance_targets_ang(surface, xyz, particle_normals_xyz=normals)


def test_training_writes_its_files_and_lowers_the_loss(trained):
    model_path, out = trained
    run = out / "run"
    for name in ("model.pt", "model_final.pt", "checkpoint_last.pt", "training_log.csv", "learning_curves.png"):
        assert (run / name).is_file(), name
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    log = pd.read_csv(run / "training_log.csv")
    assert list(log["epoch"]) == list(range(1, 13))
    assert log["train_loss"].iloc[-3:].mean() < 0.5 * log["train_loss"].iloc[0]
    assert json.loads((run / "train_config.json").read_text())["epochs"] == 12


def test_trained_model_beats_an_untrained_one(trained, simulated):
    model_path, out = trained
    _, surfaces, particles = simulated
    surface = surfaces[0]
    targets = _targets(surface, particles)
    model, card = load_pick_model(model_path)
    torch.manual_seed(0)
    untrained = PickNet(model.config).eval()
    kwargs = {"tta_shifts": (0,), "cache_dir": out / "cache"}
    mse_trained = np.mean((predict_distances_ang(model, card, surface, **kwargs) - targets) ** 2)
    mse_untrained = np.mean((predict_distances_ang(untrained, card, surface, **kwargs) - targets) ** 2)
    assert mse_trained < 0.3 * mse_untrained
    assert np.sqrt(mse_trained) < 30.0  # Å, targets span 0..100 Å


def test_card_describes_the_model(trained, simulated):
    model_path, _ = trained
    paths, _, particles = simulated
    _, card = load_pick_model(model_path)
    assert card.window_offsets_ang == pytest.approx(np.arange(-25, 25.1, 2.5))
    assert card.feature_step_ang == pytest.approx(2.5)
    assert card.units == "Å" and card.max_distance_ang == 100.0 and card.voxel_size_ang == 10.0
    assert card.k_eig == 32 and card.patch_vertices == 600
    assert card.architecture["width"] == 16 and card.architecture["in_samples"] == 21
    assert card.training.membranes == [str(paths[0])]
    assert card.training.particles == len(particles)
    assert card.training.config["epochs"] == 12
    assert {"normalisation", "output", "code_version"} <= set(card.to_dict())


def test_default_window_and_its_test_time_shifts_fit_the_default_sampling():
    window = PickTrainConfig().window_offsets_ang
    assert window == pytest.approx(np.arange(-50.0, 50.1, 2.5))
    for shift in (-2, -1, 0, 1, 2):  # the default test-time shifts and the training shift augmentation
        columns = window_columns(DEFAULT_FEATURE_OFFSETS_ANG, window, shift_samples=shift)
        np.testing.assert_allclose(DEFAULT_FEATURE_OFFSETS_ANG[columns], np.asarray(window) + 2.5 * shift)


def test_window_columns_pick_and_shift_the_window():
    offsets = np.arange(-30.0, 30.1, 2.5)
    window = np.arange(-25.0, 25.1, 2.5)
    np.testing.assert_array_equal(window_columns(offsets, window), np.arange(2, 23))
    np.testing.assert_array_equal(window_columns(offsets, window, shift_samples=-2), np.arange(0, 21))
    with pytest.raises(ValueError, match="shifted by 3 samples"):
        window_columns(offsets, window, shift_samples=3)


def test_window_at_another_sampling_is_a_clear_error():
    with pytest.raises(ValueError, match=r"steps of 2 Å.*model needs -25\.\.25 Å in steps of 2\.5 Å"):
        window_columns(np.arange(-30.0, 30.1, 2.0), np.arange(-25.0, 25.1, 2.5), where="tomo_mb1.h5")


def test_config_rejects_an_uneven_window():
    with pytest.raises(ValueError, match="evenly spaced"):
        PickTrainConfig(window_offsets_ang=(-5.0, 0.0, 2.0))


def test_particles_far_from_every_membrane_are_an_error_and_leave_nothing(tmp_path):
    path = write_membrane_h5(tmp_path / "tomo_mb1.h5", plane_surface(10, 10))
    far = pd.DataFrame({"tomo_name": ["tomo"], "x_ang": [50.0], "y_ang": [50.0], "z_ang": [5000.0]})
    with pytest.raises(ValueError, match=r"none of the 1 particles lies within 100 Å of a membrane"):
        train_pick_model([path], far, tmp_path / "out", PickTrainConfig(**SMALL, epochs=1), cache_dir=tmp_path / "c")
    assert not (tmp_path / "out").exists()


def test_particles_of_another_tomogram_are_an_error(tmp_path):
    path = write_membrane_h5(tmp_path / "tomo_mb1.h5", plane_surface(10, 10))
    other = pd.DataFrame({"tomo_name": ["elsewhere"], "x_ang": [50.0], "y_ang": [50.0], "z_ang": [0.0]})
    with pytest.raises(ValueError, match="elsewhere"):
        train_pick_model([path], other, tmp_path / "out", PickTrainConfig(**SMALL, epochs=1))


def test_membranes_at_another_feature_sampling_are_an_error(tmp_path):
    surface = plane_surface(10, 10, offsets_ang=np.arange(-20.0, 20.1, 2.0))
    path = write_membrane_h5(tmp_path / "tomo_mb1.h5", surface)
    particles = pd.DataFrame({"tomo_name": ["tomo"], "x_ang": [50.0], "y_ang": [50.0], "z_ang": [0.0]})
    with pytest.raises(ValueError, match="tomo_mb1.h5 has features at -20..20 Å in steps of 2 Å"):
        train_pick_model([path], particles, tmp_path / "out", PickTrainConfig(**SMALL, epochs=1))
    assert not (tmp_path / "out").exists()


def test_missing_membrane_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5 does not exist"):
        train_pick_model([tmp_path / "nope.h5"], pd.DataFrame(), tmp_path / "out")


def test_two_membranes_split_into_training_and_validation(tmp_path):
    paths = [write_membrane_h5(tmp_path / f"tomo_mb{i}.h5", plane_surface(12, 12, seed=i)) for i in (1, 2)]
    particles = pd.DataFrame(
        {"tomo_name": ["tomo"] * 2, "x_ang": [30.0, 80.0], "y_ang": [40.0, 60.0], "z_ang": [0.0] * 2}
    )
    config = PickTrainConfig(**{**SMALL, "patch_vertices": 100, "k_eig": 16}, epochs=2, validation_fraction=0.5)
    model_path = train_pick_model(paths, particles, tmp_path / "out", config, cache_dir=tmp_path / "cache")
    _, card = load_pick_model(model_path)
    assert len(card.training.membranes) == 1 and len(card.training.validation_membranes) == 1
    assert set(card.validation) == {"loss", "rmse_ang"}
    calibration = card.calibration  # mean-shift settings chosen on the validation membrane
    assert calibration.n_true >= 1 and len(calibration.sweep) == len(BANDWIDTH_FACTORS) * len(THRESHOLD_FACTORS)
    assert {"bandwidth_ang", "seed_threshold_ang", "f1"} <= set(calibration.to_dict())
    log = pd.read_csv(tmp_path / "out" / "training_log.csv")
    assert {"val_loss", "val_rmse_ang", "seconds"} <= set(log.columns)


def test_normal_shift_augmentation_uses_only_windows_the_offsets_provide(tmp_path):
    wide = write_membrane_h5(tmp_path / "wide_mb1.h5", plane_surface(8, 8, offsets_ang=np.arange(-30.0, 30.1, 2.5)))
    narrow = write_membrane_h5(tmp_path / "narrow_mb1.h5", plane_surface(8, 8, offsets_ang=np.arange(-27.5, 27.6, 2.5)))
    particles = pd.DataFrame({"tomo_name": ["tomo"], "x_ang": [30.0], "y_ang": [30.0], "z_ang": [0.0]})
    loaded = load_training_membranes(
        [wide, narrow],
        particles,
        window_offsets_ang=np.arange(-25.0, 25.1, 2.5),
        max_distance_ang=100.0,
        k_eig=8,
        max_shift_samples=2,
        cache=OperatorCache(tmp_path / "c"),
    )
    assert [len(m.shifted_columns) for m in loaded] == [5, 3]
    np.testing.assert_array_equal(loaded[0].shifted_columns[0], np.arange(0, 21))
    np.testing.assert_array_equal(loaded[1].shifted_columns[1], loaded[1].columns)
