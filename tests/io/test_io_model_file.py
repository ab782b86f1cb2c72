"""One save/load path for model files, and typed cards that keep unknown keys."""

import pytest
import torch

from cryomem.io import ModelCard, load_model_file, save_model_file

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


def test_a_card_reads_like_the_dict_it_replaces():
    card = _Card.model_validate({"voxel_size_ang": 12.0, "training": {"epochs": 3}})
    assert card["voxel_size_ang"] == 12.0 and card["training"]["epochs"] == 3
    assert card.get("window") is None and card.get("window", 5) == 5 and "window" not in card  # not in the file
    assert {**card, "x": 1} == {"voxel_size_ang": 12.0, "training": {"epochs": 3}, "x": 1}
    with pytest.raises(KeyError):
        card["missing"]
    with pytest.raises(ValueError):  # frozen
        card.voxel_size_ang = 3.0


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
