"""Prediction over files: STAR per tomogram, distances in copies of the h5 (inputs untouched), bad inputs leave
nothing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.spatial import Delaunay

from cryomem.geometry import DEFAULT_FEATURE_LOWPASS_ANG, DEFAULT_FEATURE_OFFSETS_ANG, FEATURE_LOWPASS_ATTR
from cryomem.io import (
    MembraneSurface,
    euler_zyz_deg_to_matrix,
    read_membrane_h5,
    read_particles_star,
    write_membrane_h5,
    write_mrc,
)
from cryomem.pick import (
    PREDICTED_DISTANCE_KEY,
    Picker,
    PickNet,
    PickSettings,
    PickTrainConfig,
    particles_star_path,
    predict_membranes,
    predicted_membrane_path,
    save_pick_model,
)

OFFSETS_ANG = DEFAULT_FEATURE_OFFSETS_ANG
SMALL = {"width": 8, "n_blocks": 1, "mlp_hidden": 8, "k_eig": 16, "patch_vertices": 300}
_SETTINGS = ("tta", "bandwidth_ang", "seed_threshold_ang", "seed")


def predict(model_paths, membranes, out, **kwargs):
    """predict_membranes with a Picker of ``model_paths`` (one file or an ensemble) and PickSettings of ``kwargs``."""
    settings = PickSettings(**{k: kwargs.pop(k) for k in _SETTINGS if k in kwargs})
    return predict_membranes(Picker.load(model_paths), membranes, out, settings=settings, **kwargs)


def _plane(n_side: int = 24, spacing_ang: float = 10.0, z_ang: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(np.arange(n_side) * spacing_ang, np.arange(n_side) * spacing_ang)
    vertices = np.column_stack([x.ravel() + 20.0, y.ravel() + 20.0, np.full(x.size, z_ang)])
    return vertices, Delaunay(vertices[:, :2]).simplices.astype(np.int64)


def make_surface(tomogram_path, membrane_id: int, *, z_ang: float = 100.0, offsets=OFFSETS_ANG) -> MembraneSurface:
    vertices, faces = _plane(z_ang=z_ang)
    rng = np.random.default_rng(membrane_id)
    return MembraneSurface(
        vertices_xyz_ang=vertices,
        faces=faces,
        normals_xyz=np.tile([0.0, 0.0, 1.0], (len(vertices), 1)),
        membrane_id=membrane_id,
        voxel_size_ang=10.0,
        tomogram_path=str(tomogram_path),
        features=rng.normal(size=(len(vertices), len(offsets))).astype(np.float32),
        feature_offsets_ang=np.asarray(offsets, dtype=np.float64),
    )


def save_tiny_model(path, *, window=None, seed: int = 0):
    config = PickTrainConfig(**SMALL, **({"window_offsets_ang": window} if window is not None else {}))
    torch.manual_seed(seed)
    card = {
        "window_offsets_ang": list(config.window_offsets_ang),
        "max_distance_ang": 100.0,
        "k_eig": config.k_eig,
        "patch_vertices": config.patch_vertices,
    }
    return save_pick_model(path, PickNet(config.architecture()), card)


@pytest.fixture()
def membranes(tmp_path):
    """Two membranes of tomogram ``tomoA`` (a written MRC) and one of ``tomoB``, in one folder."""
    folder = tmp_path / "membranes"
    folder.mkdir()
    paths = []
    for name, ids in (("tomoA", (1, 2)), ("tomoB", (1,))):
        tomogram = write_mrc(tmp_path / f"{name}.mrc", np.zeros((32, 40, 40), np.float32), voxel_size_ang=10.0)
        for membrane_id in ids:
            surface = make_surface(tomogram, membrane_id, z_ang=100.0 + 50.0 * membrane_id)
            paths.append(write_membrane_h5(folder / f"{name}_mb{membrane_id}.h5", surface))
    return paths


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt")


def _confident_model(path):
    """A tiny model whose output is ~0 everywhere (bias -> large negative is clipped to 0)."""
    model_path = save_tiny_model(path)
    payload = torch.load(model_path, weights_only=True)
    for key in [k for k in payload["state_dict"] if k.endswith("bias")][-1:]:
        payload["state_dict"][key] = payload["state_dict"][key] - 0.7
    torch.save(payload, model_path)
    return model_path


def test_writes_a_star_per_tomogram_and_distances_into_copies_of_the_h5(membranes, tmp_path):
    model = _confident_model(tmp_path / "confident.pt")
    out = tmp_path / "particles"
    inputs = {path: path.read_bytes() for path in membranes}
    written = predict(model, membranes, out, tta=False, cache_dir=tmp_path / "cache", fixed_inplane_deg=12.0)
    assert written == [particles_star_path(out, "tomoA"), particles_star_path(out, "tomoB")]
    table = read_particles_star(written[0])
    assert len(table) > 0 and set(table["membrane_id"]) <= {1, 2} and (table["tomo_name"] == "tomoA").all()
    np.testing.assert_allclose(table["rot_deg"], 12.0)
    z_axis = euler_zyz_deg_to_matrix(table[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy())[:, :, 2]
    np.testing.assert_allclose(z_axis, np.tile([0.0, 0.0, 1.0], (len(table), 1)), atol=1e-9)
    np.testing.assert_allclose(table["z_ang"], 100.0 + 50.0 * table["membrane_id"], atol=1e-6)  # on the membrane
    for path in membranes:
        assert path.read_bytes() == inputs[path]  # the input is never written
        assert predicted_membrane_path(out, path) == out / path.name
        surface = read_membrane_h5(out / path.name)
        distances = surface.point_data[PREDICTED_DISTANCE_KEY]
        assert distances.shape == (len(surface.vertices_xyz_ang),) and distances.dtype == np.float32
        assert 0.0 <= distances.min() <= distances.max() <= 100.0
        assert surface.attrs["pick_model"].endswith("confident.pt")
        original = read_membrane_h5(path)  # the rest of the file is kept
        np.testing.assert_array_equal(surface.features, original.features)
        np.testing.assert_array_equal(surface.vertices_xyz_ang, original.vertices_xyz_ang)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_an_output_folder_that_holds_the_inputs_is_refused(membranes, tiny_model, tmp_path):
    inputs = {path: path.read_bytes() for path in membranes}
    with pytest.raises(ValueError, match="never into them: pass another output folder"):
        predict(tiny_model, membranes, membranes[0].parent, tta=False, cache_dir=tmp_path / "cache")
    assert {path: path.read_bytes() for path in membranes} == inputs
    assert not list(membranes[0].parent.glob("*.star"))
    other = tmp_path / "elsewhere"
    other.mkdir()
    twin = write_membrane_h5(other / membranes[0].name, read_membrane_h5(membranes[0]))
    with pytest.raises(ValueError, match="would both be written to"):
        predict(tiny_model, [membranes[0], twin], tmp_path / "out", tta=False)
    assert not (tmp_path / "out").exists()


def test_same_seed_same_output_and_existing_outputs_need_overwrite(membranes, tiny_model, tmp_path):
    out = tmp_path / "out"
    first = predict(tiny_model, membranes[:1], out, tta=False, cache_dir=tmp_path / "cache", seed=3)
    before = first[0].read_text().split("\n", 1)[1]  # skip the time-stamped header line
    with pytest.raises(FileExistsError, match="overwrite"):
        predict(tiny_model, membranes[:1], out, tta=False, cache_dir=tmp_path / "cache")
    first[0].unlink()  # the membrane file with predictions is an output too
    with pytest.raises(FileExistsError, match=f"{membranes[0].name} already exists; pass --overwrite"):
        predict(tiny_model, membranes[:1], out, tta=False, cache_dir=tmp_path / "cache")
    again = predict(tiny_model, membranes[:1], out, overwrite=True, tta=False, seed=3, cache_dir=tmp_path / "cache")
    assert again[0].read_text().split("\n", 1)[1] == before


def test_model_at_another_feature_sampling_is_refused_before_anything_is_written(membranes, tmp_path):
    model = save_tiny_model(tmp_path / "coarse.pt", window=tuple(np.arange(-25.0, 25.1, 5.0)[:-1] + 1.0))
    before = [p.read_bytes() for p in membranes]
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="model needs"):
        predict(model, membranes, out, tta=False, cache_dir=tmp_path / "cache")
    assert not out.exists()
    assert [p.read_bytes() for p in membranes] == before


def test_surfaces_with_another_feature_lowpass_are_refused_naming_the_fix(membranes, tiny_model, tmp_path):
    changed = dataclasses.replace(
        read_membrane_h5(membranes[0]), attrs={FEATURE_LOWPASS_ATTR: DEFAULT_FEATURE_LOWPASS_ANG}
    )
    write_membrane_h5(membranes[0], changed)  # the tiny model's card has no low-pass: 0 Å
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="--feature-lowpass 0"):
        predict(tiny_model, membranes, out, tta=False, cache_dir=tmp_path / "cache")
    assert not out.exists()


def test_tta_needs_features_beyond_the_window(tmp_path, tiny_model):
    tomogram = write_mrc(tmp_path / "t.mrc", np.zeros((32, 32, 32), np.float32), voxel_size_ang=10.0)
    narrow = np.asarray(PickTrainConfig().window_offsets_ang)  # exactly the model window: no room to shift
    path = write_membrane_h5(tmp_path / "t_mb1.h5", make_surface(tomogram, 1, offsets=narrow))
    with pytest.raises(ValueError, match="shifted by"):
        predict(tiny_model, [path], tmp_path / "out", tta=True, cache_dir=tmp_path / "cache")
    assert predict(tiny_model, [path], tmp_path / "out", tta=False, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    "break_it, error, message",
    [
        (lambda model, paths, tmp: (tmp / "no_model.pt", paths), FileNotFoundError, "does not exist"),
        (
            lambda model, paths, tmp: ((tmp / "junk.pt").write_text("junk") and tmp / "junk.pt", paths),
            ValueError,
            "not a cryomem picking model",
        ),
        (lambda model, paths, tmp: (model, []), ValueError, "no membrane files"),
        (lambda model, paths, tmp: (model, [paths[0], tmp / "gone.h5"]), FileNotFoundError, "gone.h5"),
        (lambda model, paths, tmp: (model, [paths[0], model]), ValueError, "not a readable HDF5"),
    ],
)
def test_bad_inputs_fail_with_one_message_and_no_output(membranes, tiny_model, tmp_path, break_it, error, message):
    model, paths = break_it(tiny_model, membranes, tmp_path)
    with pytest.raises(error, match=message):
        predict(model, paths, tmp_path / "out", tta=False, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "out").exists()


def test_unknown_position_is_refused_before_any_work(membranes, tiny_model, tmp_path):
    with pytest.raises(ValueError, match="position must be 'mid' or 'surface'"):
        predict(tiny_model, membranes, tmp_path / "out", tta=False, position="centre")
    assert not (tmp_path / "out").exists()


def test_missing_tomogram_shape_is_an_error_naming_the_fix(tmp_path, tiny_model):
    surface = make_surface(tmp_path / "moved.mrc", 1)
    path = write_membrane_h5(tmp_path / "moved_mb1.h5", surface)
    with pytest.raises(ValueError, match="put the tomogram back"):
        predict(tiny_model, [path], tmp_path / "out", tta=False, cache_dir=tmp_path / "cache")
    stored = dataclasses.replace(surface, attrs={"tomogram_shape_zyx": "32,40,40"})
    path = write_membrane_h5(tmp_path / "moved_mb1.h5", stored)
    assert predict(tiny_model, [path], tmp_path / "out", tta=False, cache_dir=tmp_path / "cache")


@pytest.fixture(scope="module")
def simulated_membrane(tmp_path_factory):
    """One simulated sheet with its proteins (clear signal: SNR 10), as an h5 file with its tomogram."""
    from cryomem.geometry import membrane_surfaces
    from cryomem.simulate import SimulationConfig, particles_table, simulate_tomogram

    config = SimulationConfig.model_validate(
        {
            "shape_zyx": (40, 96, 96),
            "voxel_size_ang": 10.0,
            "seed": 32,
            "membranes": {"max_count": 1, "kinds": {"sheet": 1.0}, "occupancy": 0.05},
            "membrane_proteins": {"occupancy": 0.5},
            "cytosol": {"occupancy": 0.0, "microtubules": 0, "actin_filaments": 0},
            "microscope": {"snr": 10.0},
        }
    )
    sim = simulate_tomogram(config)
    folder = tmp_path_factory.mktemp("simulated")
    tomogram = write_mrc(folder / "sim.mrc", sim.tomogram_zyx, voxel_size_ang=10.0)
    (surface,) = membrane_surfaces(sim.phantom.membrane_ids_zyx, sim.tomogram_zyx, 10.0, tomogram_path=str(tomogram))
    path = write_membrane_h5(folder / "sim_mb1.h5", surface)
    return path, particles_table(sim.phantom.membrane_proteins, "sim"), folder


def test_a_short_training_run_beats_an_untrained_model(simulated_membrane):
    from cryomem.pick import evaluate_picks, load_pick_model, train_pick_model

    path, truth, folder = simulated_membrane
    settings = {"width": 16, "n_blocks": 2, "mlp_hidden": 16, "k_eig": 32, "patch_vertices": 600}
    config = PickTrainConfig(**settings, batch_patches=2, learning_rate=3e-3, augment=False, epochs=12, seed=0)
    trained = train_pick_model([path], truth, folder / "run", config, cache_dir=folder / "cache")
    network, card = load_pick_model(trained)
    torch.manual_seed(0)
    untrained = save_pick_model(folder / "untrained.pt", PickNet(network.config), card)
    scores = {}
    for name, model in (("trained", trained), ("untrained", untrained)):
        (star,) = predict(model, [path], folder / name, tta=False, cache_dir=folder / "cache")
        picked = read_particles_star(star)
        scores[name] = {
            matching: evaluate_picks(picked, truth, radius_nm=6.3, matching=matching).iloc[-1].f1
            for matching in ("nearest", "one_to_one")
        }
    assert scores["trained"]["nearest"] > max(0.6, scores["untrained"]["nearest"] + 0.1), scores
    assert scores["trained"]["one_to_one"] > scores["untrained"]["one_to_one"] + 0.25, scores


def test_an_ensemble_averages_the_distances_of_its_models(membranes, tmp_path):
    first, second = save_tiny_model(tmp_path / "a.pt", seed=1), save_tiny_model(tmp_path / "b.pt", seed=2)
    single = []
    for model in (first, second):
        predict(model, membranes[:1], tmp_path / model.stem, tta=False, cache_dir=tmp_path / "cache")
        predicted = read_membrane_h5(predicted_membrane_path(tmp_path / model.stem, membranes[0]))
        single.append(predicted.point_data[PREDICTED_DISTANCE_KEY].astype(np.float64))
    assert np.abs(single[0] - single[1]).max() > 1.0  # two different networks
    predict([first, second], membranes[:1], tmp_path / "both", tta=False, cache_dir=tmp_path / "cache")
    surface = read_membrane_h5(predicted_membrane_path(tmp_path / "both", membranes[0]))
    np.testing.assert_allclose(surface.point_data[PREDICTED_DISTANCE_KEY], np.mean(single, axis=0), atol=1e-4)
    assert surface.attrs["pick_model"].split(";") == [str(first.resolve()), str(second.resolve())]


def test_an_ensemble_of_models_with_other_max_distances_is_refused(membranes, tmp_path):
    first = save_tiny_model(tmp_path / "a.pt")
    payload = torch.load(save_tiny_model(tmp_path / "b.pt"), weights_only=True)
    payload["card"]["max_distance_ang"] = 50.0
    torch.save(payload, tmp_path / "b.pt")
    with pytest.raises(ValueError, match="differ in max_distance_ang"):
        predict([first, tmp_path / "b.pt"], membranes, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "out").exists()
