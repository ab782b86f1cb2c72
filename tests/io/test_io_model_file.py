"""One save/load path for model files, and typed cards that keep unknown keys."""

import pytest
import torch

from cryomem.io import CardSection, ModelCard, card_dict, load_model_file, save_model_file

FORMAT = {"format_name": "cryomem-test-model", "format_version": 1}
READ = {**FORMAT, "kind": "test model", "command": "cryomem test train"}


class _Card(ModelCard):
    voxel_size_ang: float
    window: int = 32


def test_round_trip_keeps_weights_architecture_and_every_card_key(tmp_path):
    weights = {"w": torch.arange(6.0).reshape(2, 3)}
    card = _Card.model_validate({"voxel_size_ang": 10, "from_an_older_version": [1, 2]})
    path = save_model_file(tmp_path / "m.pt", architecture={"width": 4}, state_dict=weights, card=card, **FORMAT)
    payload = load_model_file(path, **READ)
    assert payload["architecture"] == {"width": 4}
    torch.testing.assert_close(payload["state_dict"]["w"], weights["w"])
    assert payload["card"] == {"voxel_size_ang": 10.0, "from_an_older_version": [1, 2]}  # no defaults added
    again = _Card.from_file(payload["card"], path=path, command="x")
    assert again == card and again.window == 32 and again.from_an_older_version == [1, 2]
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary file left


class _Section(CardSection):
    epochs: int


class _NestedCard(ModelCard):
    training: _Section


def test_a_card_is_read_by_attribute_and_stored_as_the_keys_it_was_made_from():
    card = _NestedCard.model_validate({"training": {"epochs": 3, "seed": 7}, "note": "x"})
    assert card.training.epochs == 3 and card.training.seed == 7 and card.note == "x"  # typed, extras kept
    assert card.to_dict() == {"training": {"epochs": 3, "seed": 7}, "note": "x"}
    assert card_dict(card) == card.to_dict() and card_dict({"a": 1}) == {"a": 1}
    with pytest.raises(TypeError):  # no dict-style reads: one way to read a card
        card["training"]
    with pytest.raises(ValueError):  # frozen
        card.note = "y"
    with pytest.raises(ValueError, match=r"m.pt has a malformed model card \(training.epochs: "):
        _NestedCard.from_file({"training": {"epochs": "many"}}, path="m.pt", command="x")


def test_missing_foreign_newer_and_malformed_files_are_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; give a model saved by `cryomem test train`"):
        load_model_file(tmp_path / "missing.pt", **READ)
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match=r"not a cryomem test model \(UnpicklingError|not a cryomem test model"):
        load_model_file(tmp_path / "text.pt", **READ)
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a cryomem test model \\(format 'something-else'\\)"):
        load_model_file(tmp_path / "other.pt", **READ)
    newer = save_model_file(
        tmp_path / "newer.pt", format_name=FORMAT["format_name"], format_version=2, architecture={}, state_dict={},
        card={},
    )  # fmt: skip
    with pytest.raises(ValueError, match="newer cryomem"):
        load_model_file(newer, **READ)
    with pytest.raises(ValueError, match=r"malformed model card \(voxel_size_ang: .*\); re-save it with `x`$"):
        _Card.from_file({"voxel_size_ang": "big"}, path=tmp_path / "m.pt", command="x")


def test_io_does_not_import_torch_at_import_time():
    import subprocess
    import sys

    code = "import sys, cryomem.io; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
