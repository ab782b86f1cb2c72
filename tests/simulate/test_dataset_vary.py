"""`simulate dataset`: any setting drawn per tomogram (`vary`), deterministic, validated before any work."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cryomem.cli import app
from cryomem.simulate._dataset import DatasetConfig, tomogram_config

VARY = {
    "cytosol.microtubules": [0, 4],
    "microscope.noise_exponent": [0.0, 1.5],
    "microscope.reconstruction": {"choices": ["wbp", "sirt"]},
}


def test_varied_settings_are_drawn_in_range_per_tomogram_and_repeat():
    config = DatasetConfig.model_validate({"seed": 4, "vary": VARY})
    drawn = [tomogram_config(config, i) for i in range(24)]
    tubes = [c.cytosol.microtubules for c in drawn]
    noise = [c.microscope.noise_exponent for c in drawn]
    assert all(isinstance(n, int) and 0 <= n <= 4 for n in tubes) and len(set(tubes)) >= 4  # whole numbers
    assert all(0.0 <= a <= 1.5 for a in noise) and len(set(noise)) == 24
    assert {c.microscope.reconstruction for c in drawn} == {"wbp", "sirt"}
    again = [tomogram_config(config, i) for i in range(24)]
    assert drawn == again
    # the fixed ranges are drawn first and in the same way: adding vary leaves them as they were
    plain = [tomogram_config(DatasetConfig(seed=4), i) for i in range(24)]
    assert [c.voxel_size_ang for c in plain] == [c.voxel_size_ang for c in drawn]
    assert [c.seed for c in plain] == [c.seed for c in drawn]


@pytest.mark.parametrize(
    "vary, message",
    [
        ({"cytosol.nope": [0, 4]}, "unknown setting 'cytosol.nope'"),
        ({"microscope.snr": [2.0, 1.0]}, "low 2.0 is above high 1.0"),
        ({"microscope.reconstruction": {"choices": ["wbp", "art"]}}, "reconstruction"),
    ],
)
def test_bad_vary_entries_are_refused_before_any_work(tmp_path, vary, message):
    with pytest.raises(ValueError, match=message):
        DatasetConfig.model_validate({"vary": vary})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"vary": vary}))
    result = CliRunner().invoke(app, ["simulate", "dataset", str(tmp_path / "out"), "--config", str(path)])
    assert result.exit_code != 0 and not (tmp_path / "out").exists()
    assert message.split("'")[0] in " ".join(result.output.split())


def test_the_v3_dataset_config_is_valid_and_holds_out_its_test_factors():
    path = Path(__file__).parents[2] / "configs" / "default_segmentation_dataset_v3.yaml"
    config = DatasetConfig.model_validate(yaml.safe_load(path.read_text()))
    drawn = [tomogram_config(config, i) for i in range(16)]
    assert config.ignore_shell_voxels == 0
    for c in drawn:  # benchmarks/bench_segment_generalization.py tests on these; training never sees them
        assert c.microscope.reconstruction == "wbp" and c.microscope.noise_exponent == 0
        assert c.cytosol.actin_networks == 0 and c.cytosol.intermediate_filaments == 0
        assert c.hard_negatives.ice_crystals == 0
        assert c.cytosol.procedural_kinds.get("cage", 0) == 0 and c.cytosol.procedural_kinds.get("ring", 0) == 0
    assert np.ptp([c.hard_negatives.gold_fiducials for c in drawn]) > 0
    assert np.ptp([c.cytosol.procedural_classes for c in drawn]) > 0
