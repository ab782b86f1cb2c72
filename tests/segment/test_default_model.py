"""The shipped default model: loads offline, describes itself, and finds simulated membranes."""

import pytest

from cryomem.segment import DEFAULT_MODEL_PATH, Segmenter, load_model
from cryomem.segment._metrics import dice
from cryomem.simulate import SimulationConfig, simulate_tomogram
from cryomem.simulate._dataset import training_labels


def test_shipped_model_is_small_and_describes_itself():
    assert DEFAULT_MODEL_PATH.is_file() and DEFAULT_MODEL_PATH.stat().st_size <= 25 * 2**20
    model, card = load_model()
    assert card.voxel_size_ang > 0 and card.inference_window % model.config.divisor == 0
    assert card.parameter_count == sum(p.numel() for p in model.parameters())
    assert {"dice", "surface_dice"} <= set(card.validation)
    assert card.training.config["seed"] is not None


@pytest.mark.slow
def test_shipped_model_finds_the_membranes_of_a_simulated_tomogram():
    config = SimulationConfig.model_validate(
        {
            "shape_zyx": (48, 96, 96),
            "seed": 77,
            "voxel_size_ang": 12.0,
            "membranes": {"occupancy": 0.06},
            "microscope": {"snr": 1.0},
        }
    )
    sim = simulate_tomogram(config)
    labels = training_labels(sim.phantom.membrane_ids_zyx > 0, 1)
    probabilities = Segmenter.load(None, "cpu").probabilities(sim.tomogram_zyx, 12.0, tta=False, batch_size=2)
    chance = float((labels == 1).mean())
    assert chance < 0.15
    assert dice(probabilities > 0.5, labels) > 0.6  # chance level is about the membrane fraction
