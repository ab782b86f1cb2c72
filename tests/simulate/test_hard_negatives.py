"""Hard negatives: gold fiducials, ice contamination, carbon edges, dense granules."""

import json

import numpy as np
import pytest
from cli_refusal import assert_simulate_refuses
from typer.testing import CliRunner

from cryomem.cli import app
from cryomem.io import read_mrc
from cryomem.simulate import SimulationConfig, merge_config, simulate_tomogram
from cryomem.simulate._hard_negatives import gold_template, granule_template, ice_template
from cryomem.simulate._phantom import LABEL_HARD_NEGATIVE

BASE = {
    "shape_zyx": (48, 64, 64),
    "seed": 7,
    "cytosol.microtubules": 0,
    "cytosol.actin_filaments": 1,
    "cytosol.procedural_classes": 2,
    "microscope.tilt_step_deg": 10.0,
}
ALL = {
    "hard_negatives.gold_fiducials": 4,
    "hard_negatives.ice_crystals": 1,
    "hard_negatives.ice_size_nm": (15.0, 25.0),
    "hard_negatives.carbon_edges": 1,
    "hard_negatives.granules": 1,
    "hard_negatives.granule_diameter_nm": (15.0, 20.0),
}


@pytest.fixture(scope="module")
def sims():
    off = merge_config(SimulationConfig(), **BASE)
    on = merge_config(off, **ALL)
    return simulate_tomogram(off), simulate_tomogram(on), simulate_tomogram(on)


def test_templates_have_their_size_and_density():
    gold = gold_template(10.0, 8.0, 5.0)
    assert gold.density_zyx.max() == pytest.approx(8.0, rel=0.02)
    assert 2 * gold.radius_ang == pytest.approx(100.0, abs=5.0)
    ice = ice_template(30.0, 2.0, 10.0, np.random.default_rng(0))
    assert ice.density_zyx.max() == pytest.approx(2.0, rel=0.02) and 100.0 < ice.radius_ang < 300.0
    granule = granule_template(40.0, 2.5, 10.0, np.random.default_rng(0))
    assert granule.density_zyx.max() == pytest.approx(2.5, rel=0.02) and granule.radius_ang <= 210.0


def test_every_kind_is_placed_labelled_and_never_membrane(sims):
    _, on, _ = sims
    phantom = on.phantom
    kinds = [h["kind"] for h in phantom.hard_negatives]
    assert sorted(set(kinds)) == ["carbon_edge", "gold", "granule", "ice"] and kinds.count("gold") == 4
    labels = phantom.semantic_labels()
    ids = np.array([h["object_id"] for h in phantom.hard_negatives])
    mine = np.isin(phantom.object_ids_zyx, ids)
    assert mine.any() and np.all(labels[mine] == LABEL_HARD_NEGATIVE)
    assert not np.any(phantom.membrane_ids_zyx[mine])  # no overlap with membranes
    assert np.array_equal(labels == LABEL_HARD_NEGATIVE, mine)


def test_gold_fiducials_are_the_densest_objects(sims):
    phantom = sims[1].phantom
    gold_ids = [h["object_id"] for h in phantom.hard_negatives if h["kind"] == "gold"]
    gold = np.isin(phantom.object_ids_zyx, gold_ids)
    assert phantom.density_zyx[gold].max() > 2.0 * phantom.density_zyx[~gold].max()
    assert phantom.density_zyx[gold].max() >= 6.0 * 0.9


def test_hard_negatives_change_the_output_keep_other_streams_and_determinism(sims):
    off, on, again = sims
    np.testing.assert_array_equal(off.phantom.membrane_ids_zyx, on.phantom.membrane_ids_zyx)
    assert not np.array_equal(off.tomogram_zyx, on.tomogram_zyx)
    np.testing.assert_array_equal(on.phantom.density_zyx, again.phantom.density_zyx)
    np.testing.assert_array_equal(on.tomogram_zyx, again.tomogram_zyx)
    assert on.phantom.hard_negatives == again.phantom.hard_negatives
    assert not off.phantom.hard_negatives and not (off.phantom.semantic_labels() == LABEL_HARD_NEGATIVE).any()


def test_cli_gold_is_written_to_labels_and_ground_truth(tmp_path):
    out = tmp_path / "run"
    args = ["simulate", "tomogram", str(out), "--shape", "40,64,64", "--microtubules", "0", "--actin", "0"]
    args += ["--gold", "3", "--distractor-classes", "1", "--tilt-step", "10", "--seed", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "tomo_ground_truth.json").read_text())
    assert truth["counts"]["hard_negatives"] == 3 and truth["volume_fraction"]["hard_negative"] > 0
    assert [h["kind"] for h in truth["hard_negatives"]] == ["gold"] * 3
    assert truth["config"]["hard_negatives"]["gold_fiducials"] == 3
    assert LABEL_HARD_NEGATIVE in np.unique(read_mrc(out / "tomo_labels.mrc").data_zyx)
    assert "3 hard negatives" in " ".join(result.output.split())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gold", "-1"], "hard_negatives.gold_fiducials"),
        (["--ice", "1000"], "hard_negatives.ice_crystals"),
        (["--carbon-edges", "4"], "hard_negatives.carbon_edges"),
        (["--granules", "-2"], "hard_negatives.granules"),
    ],
)
def test_cli_bad_hard_negative_values_give_one_clear_line(tmp_path, args, message):
    assert_simulate_refuses(tmp_path, args, message)


def test_dense_hard_negatives_do_not_raise_the_noise_on_everything_else():
    """With the density without gold as the SNR reference, adding gold adds its image and nothing else."""
    from cryomem.simulate._microscope import simulate_tilt_series

    rng = np.random.default_rng(0)
    biology = np.zeros((16, 32, 32), np.float32)
    biology[6:10, 8:24, 8:24] = rng.uniform(0.5, 1.0, (4, 16, 16))
    gold = np.zeros_like(biology)
    gold[4:7, 2:5, 26:29] = 8.0
    common = dict(voxel_size_ang=10.0, defocus_ang=3e4, angles_deg=[-30.0, 0.0, 30.0], phase_flip=False)

    def images(density, snr, **extra):
        return simulate_tilt_series(density, snr=snr, rng=np.random.default_rng(5), **common, **extra).images

    plain = images(biology, 0.5)
    with_gold = images(biology + gold, 0.5, snr_reference_zyx=biology)
    gold_signal = images(biology + gold, 1e12) - images(biology, 1e12)
    np.testing.assert_allclose(with_gold - plain, gold_signal, atol=1e-3 * np.abs(gold_signal).max())
    # without the reference, the gold's variance would have set the noise: much more of it
    assert np.std(images(biology + gold, 0.5) - images(biology + gold, 1e12)) > 2 * np.std(
        plain - images(biology, 1e12)
    )
