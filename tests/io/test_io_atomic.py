"""Atomic writes: success replaces the target, any failure leaves nothing behind."""

from pathlib import Path

import numpy as np
import pytest

from cryomem.io import atomic_directory, atomic_file_set, atomic_write_path, created_folders, write_mrc


def test_atomic_write_path_keeps_suffix_and_replaces_target(tmp_path: Path) -> None:
    target = tmp_path / "result.star"
    target.write_text("old")
    with atomic_write_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".result.star.tmp-") and tmp.suffix == ".star"
        assert not tmp.exists()
        tmp.write_text("new")
        assert target.read_text() == "old"  # untouched until the block succeeds
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["result.star"]


def test_atomic_write_path_removes_temp_when_writer_raises(tmp_path: Path) -> None:
    target = tmp_path / "tomo.mrc"
    with pytest.raises(RuntimeError, match="boom"), atomic_write_path(target) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("previous")
    with pytest.raises(ValueError), atomic_write_path(target) as tmp:
        tmp.write_text("partial")
        raise ValueError("writer failed")
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_write_mrc_that_fails_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3D"):
        write_mrc(tmp_path / "x.mrc", np.zeros((4, 4)), voxel_size_ang=10.0)
    with pytest.raises(ValueError, match="cannot store"):
        write_mrc(tmp_path / "x.mrc", np.zeros((2, 2, 2), np.complex64), voxel_size_ang=10.0)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_path_refuses_existing_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("x")
    with (
        pytest.raises(FileExistsError, match="overwrite=True"),
        atomic_write_path(target, overwrite=False),
    ):
        pass


def test_atomic_write_path_needs_existing_folder(tmp_path: Path) -> None:
    with (
        pytest.raises(FileNotFoundError, match="create it first"),
        atomic_write_path(tmp_path / "no" / "a.txt"),
    ):
        pass


def test_atomic_write_path_errors_when_nothing_written(tmp_path: Path) -> None:
    with (
        pytest.raises(FileNotFoundError, match="produced no file"),
        atomic_write_path(tmp_path / "a.txt"),
    ):
        pass


def test_atomic_directory_success_and_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        assert tmp.is_dir() and tmp.parent == tmp_path
        (tmp / "a.txt").write_text("a")
    assert (target / "a.txt").read_text() == "a"

    with pytest.raises(FileExistsError, match="overwrite=True"), atomic_directory(target):
        pass

    with pytest.raises(KeyError), atomic_directory(target, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("half")
        raise KeyError("crash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]

    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("b")
        assert (target / "a.txt").exists()  # old folder kept until the new one is complete
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_rows_csv_columns_in_first_appearance_order_and_missing_cells_empty(tmp_path):
    from cryomem.io import write_rows_csv

    path = write_rows_csv(
        tmp_path / "log.csv", [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "val_dice": 0.8, "loss": 0.25}]
    )
    assert path.read_text().splitlines() == ["epoch,loss,val_dice", "1,0.5,", "2,0.25,0.8"]
    assert not [p for p in tmp_path.iterdir() if p.name != "log.csv"]  # no temporary left behind


def test_atomic_file_set_appears_together_and_drops_stale(tmp_path):
    stale = tmp_path / "tomo_instances.mrc"
    stale.write_text("old instances")
    (tmp_path / "tomo_seg.mrc").write_text("old seg")
    with atomic_file_set([tmp_path / "tomo_seg.mrc", tmp_path / "tomo_scores.mrc"], stale=[stale]) as (seg, scores):
        seg.write_text("new seg")
        scores.write_text("new scores")
        assert (tmp_path / "tomo_seg.mrc").read_text() == "old seg"  # nothing moves before the set is complete
    assert (tmp_path / "tomo_seg.mrc").read_text() == "new seg"
    assert (tmp_path / "tomo_scores.mrc").read_text() == "new scores"
    assert not stale.exists()


def test_atomic_file_set_failure_leaves_the_old_set(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file_set([tmp_path / "a.txt", tmp_path / "b.txt"]) as (a, b):
            a.write_text("new a")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old a"


def test_created_folders_are_removed_again_when_the_block_fails(tmp_path):
    out, meshes = tmp_path / "out", tmp_path / "out" / "meshes"
    with pytest.raises(KeyboardInterrupt), created_folders(out, meshes):
        assert meshes.is_dir()
        raise KeyboardInterrupt
    assert not out.exists()
    (tmp_path / "kept").mkdir()
    with created_folders(tmp_path / "kept", tmp_path / "kept" / "new"):
        pass
    assert (tmp_path / "kept" / "new").is_dir()


def test_json_ready_gives_strict_json():
    import json
    from pathlib import Path

    import numpy as np

    from cryomem.io import json_ready

    value = {"a": np.float32(1.5), "b": [np.int64(3), float("nan"), (float("inf"), 2)], "c": Path("x/y")}
    assert json.dumps(json_ready(value), allow_nan=False) == '{"a": 1.5, "b": [3, null, [null, 2]], "c": "x/y"}'


def test_files_listed_in_summary_stay_inside_the_folder(tmp_path):
    import json

    from cryomem.io import files_listed_in_summary

    summary = tmp_path / "s.json"
    assert files_listed_in_summary(summary, tmp_path) == []
    summary.write_text(json.dumps({"files": {"a": "a.csv", "b": "../outside.csv", "c": "meshes/m.vtp"}}))
    assert files_listed_in_summary(summary, tmp_path) == [tmp_path / "a.csv", tmp_path / "meshes" / "m.vtp"]
    summary.write_text("not json")
    assert files_listed_in_summary(summary, tmp_path) == []


def test_write_numeric_csv_round_trips_through_pandas(tmp_path):
    import numpy as np
    import pandas as pd
    import pytest

    from cryomem.io import write_numeric_csv

    columns = {"id": np.array([1, -1, 7]), "value_nm": np.array([0.1234567, np.nan, 1e-9])}
    table = pd.read_csv(write_numeric_csv(tmp_path / "t.csv", columns))
    assert list(table.columns) == ["id", "value_nm"] and table["id"].tolist() == [1, -1, 7]
    np.testing.assert_allclose(table["value_nm"], [0.123457, np.nan, 1e-9], rtol=1e-6)
    with pytest.raises(ValueError, match="differ in length"):
        write_numeric_csv(tmp_path / "u.csv", {"a": [1, 2], "b": [1.0]})
    assert not (tmp_path / "u.csv").exists()
