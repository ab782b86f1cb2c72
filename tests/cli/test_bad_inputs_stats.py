"""Bad inputs and faults for `cryomem stats *` on a simulated 48x64x64 tomogram (issue 17).

Every case ends in a correct result or in one line (exit 2) naming the problem, with nothing written.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import starfile
from bad_input import assert_leaves_nothing, assert_refuses, disk_full, interrupted, run_cli, snapshot

COMMANDS = ("concentration", "neighbours", "ripley", "orientation", "edges", "chains", "all")
FAST = {
    "ripley": ["--simulations", "1", "--max-radius-nm", "10"],
    "all": ["--simulations", "1", "--max-radius-nm", "10"],
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """`cryomem simulate tomogram --shape 48,64,64`: 8 membrane proteins on 2 membranes."""
    root = tmp_path_factory.mktemp("stats_bad")
    result = run_cli(["simulate", "tomogram", root / "sim", "--shape", "48,64,64"])
    assert result.exit_code == 0, result.output
    return root / "sim" / "tomo_meshes", root / "sim" / "tomo_membrane_proteins.star"


def _star(sim, tmp_path, name, edit):
    """A copy of the simulated STAR with ``edit(table)`` applied."""
    table = starfile.read(sim[1])
    table = edit(table.copy()) if edit else table
    path = tmp_path / name
    starfile.write({"particles": table}, path)
    return path


def _stats(command, meshes, star, out, *extra):
    return ["stats", command, meshes, "-p", star, "--out", out, *FAST.get(command, []), *extra]


def _summary(out, name):
    return json.loads((out / f"{name}_summary.json").read_text())


def test_membrane_ids_of_another_numbering_do_not_move_particles(sim, tmp_path):
    """Case 1: the ids name the other membrane (21+ nm away); the nearest membrane wins, and it is reported."""
    swapped = tmp_path / "swapped"
    swapped.mkdir()
    shutil.copy(sim[0] / "tomo_mb1.obj", swapped / "tomo_mb002.obj")  # old padded names load too
    shutil.copy(sim[0] / "tomo_mb2.obj", swapped / "tomo_mb001.obj")
    result = run_cli(_stats("concentration", swapped, sim[1], tmp_path / "out"))
    assert result.exit_code == 0, result.output
    particles = _summary(tmp_path / "out", "concentration")["particles"]
    assert particles["on_membranes"] == particles["total"] == 8
    assert particles["membrane_id_mismatch"] == 8
    assert "warning: 8 particles' cryomemMembraneId names another membrane" in " ".join(result.output.split())
    same = run_cli(_stats("concentration", sim[0], sim[1], tmp_path / "same"))
    assert (
        same.exit_code == 0 and _summary(tmp_path / "same", "concentration")["particles"]["membrane_id_mismatch"] == 0
    )
    pooled = [_summary(tmp_path / o, "concentration")["results"]["concentration"] for o in ("out", "same")]
    assert pooled[0] == pooled[1]


def test_ripley_with_one_particle_is_refused(sim, tmp_path):
    """Case 3: one particle gives an all-zero curve; no peak may be reported from it."""
    one = _star(sim, tmp_path, "one.star", lambda t: t.iloc[:1])
    assert_refuses(_stats("ripley", sim[0], one, tmp_path / "out"), "need at least 2 particles", [tmp_path])


def test_all_with_one_particle_reports_no_ripley_peak(sim, tmp_path):
    one = _star(sim, tmp_path, "one.star", lambda t: t.iloc[:1])
    result = run_cli(_stats("all", sim[0], one, tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert _summary(tmp_path / "out", "stats")["results"]["ripley"]["O_peak_r_nm"] is None


def test_voxel_size_flag_wins_over_the_star(sim, tmp_path):
    """Case 3: a STAR stating a wrong pixel size is refused; --voxel-size with the right one gives the right result."""

    def wrong_size(table):
        table["rlnTomoTiltSeriesPixelSize"] = 5.0
        return table

    wrong = _star(sim, tmp_path, "wrong.star", wrong_size)
    assert_refuses(_stats("ripley", sim[0], wrong, tmp_path / "out"), "pixel and Å coordinates disagree", [tmp_path])
    result = run_cli(_stats("ripley", sim[0], wrong, tmp_path / "out", "--voxel-size", "10"))
    assert result.exit_code == 0, result.output
    reference = run_cli(_stats("ripley", sim[0], sim[1], tmp_path / "ref"))
    assert reference.exit_code == 0, reference.output
    got, want = (_summary(tmp_path / o, "ripley")["results"]["ripley"] for o in ("out", "ref"))
    assert got == want


def test_a_tomogram_named_nan_is_matched(sim, tmp_path):
    """Case 7: 'nan' is a name, not a missing value."""
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    for mesh in sim[0].glob("*.obj"):
        shutil.copy(mesh, meshes / mesh.name.replace("tomo_", "nan_"))

    def rename(table):
        table["rlnTomoName"] = "nan"
        return table

    star = _star(sim, tmp_path, "nan.star", rename)
    other = tmp_path / "other_mb001.obj"  # a second tomogram, so the names must really match
    shutil.copy(sim[0] / "tomo_mb1.obj", other)
    result = run_cli(_stats("concentration", meshes, star, tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert _summary(tmp_path / "out", "concentration")["particles"]["on_membranes"] == 8
    result = run_cli(["stats", "concentration", meshes, other, "-p", star, "--out", tmp_path / "two"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("fault, writer", [(interrupted, "plot_concentration"), (disk_full, "write_mesh"),
                                           (interrupted, "write_mesh"), (disk_full, "write_table_csv")])  # fmt: skip
def test_fault_while_writing_leaves_nothing_and_a_rerun_works(sim, tmp_path, monkeypatch, fault, writer):
    """Cases 4/9 for stats: an interruption or a full disk mid-write leaves no output; a re-run works."""
    out = tmp_path / "out"
    args = _stats("concentration", sim[0], sim[1], out)
    with monkeypatch.context() as patch:
        patch.setattr(f"cryomem.stats._run.{writer}", fault)
        assert_leaves_nothing(args, [tmp_path])
    assert not out.exists()
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    assert (out / "concentration.csv").is_file() and (out / "concentration_summary.json").is_file()


def test_fault_in_a_rerun_keeps_the_earlier_results(sim, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = _stats("concentration", sim[0], sim[1], out)
    assert run_cli(args).exit_code == 0
    before = snapshot([out])
    monkeypatch.setattr("cryomem.stats._run.write_mesh", disk_full)
    text = assert_leaves_nothing(args, [tmp_path])
    assert "No space left on device" in text and snapshot([out]) == before


def test_rerun_removes_files_the_earlier_run_wrote_but_this_one_does_not(sim, tmp_path):
    out = tmp_path / "out"

    def far(table):  # particle 0 to the corner voxel (0, 0, 0), far from both membranes
        for axis, half in zip("XYZ", (320.0, 320.0, 240.0)):
            table.loc[0, f"rlnCoordinate{axis}"] = 0.0
            table.loc[0, f"rlnCenteredCoordinate{axis}Angst"] = -half
        return table

    assert run_cli(_stats("concentration", sim[0], _star(sim, tmp_path, "far.star", far), out)).exit_code == 0
    assert (out / "off_mesh_particles.csv").is_file()
    assert run_cli(_stats("concentration", sim[0], sim[1], out)).exit_code == 0
    assert not (out / "off_mesh_particles.csv").exists()


def _nan_coordinates(table):
    table.loc[2, "rlnCoordinateX"] = np.nan
    table.loc[5, "rlnCoordinateY"] = np.inf
    table.loc[2, "rlnCenteredCoordinateXAngst"] = np.nan
    table.loc[5, "rlnCenteredCoordinateYAngst"] = np.inf
    return table


def _shift_ang(table):
    table.loc[3, "rlnCenteredCoordinateXAngst"] += 300.0
    return table


STARS = {
    "missing": None,
    "no coordinates": lambda t: t.drop(columns=[c for c in t.columns if "Coordinate" in c]),
    "empty": lambda t: t.iloc[:0],
    "nan coordinates": _nan_coordinates,
    "pixel and Å disagree": _shift_ang,
    "no pixel size": lambda t: t.drop(columns=["rlnTomoTiltSeriesPixelSize"]),
    "other tomogram": lambda t: t.assign(rlnTomoName="elsewhere"),
}
STAR_MESSAGES = {
    "missing": "STAR file not found",
    "no coordinates": "has no particle coordinates",
    "empty": "the particle table is empty",
    "nan coordinates": "2 of 8 particles have NaN, infinite or non-numeric coordinates",
    "pixel and Å disagree": "pixel and Å coordinates disagree by 300 Å",
    "no pixel size": "pass voxel_size_ang (--voxel-size)",
    "other tomogram": "particles name tomograms ['elsewhere'] but the membranes are from ['other', 'tomo']",
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(STARS))
def test_bad_star_is_refused(sim, tmp_path, command, case):
    star = tmp_path / "missing.star" if STARS[case] is None else _star(sim, tmp_path, "p.star", STARS[case])
    if case == "other tomogram":  # a second tomogram's membranes: names must match
        extra = tmp_path / "extra"
        extra.mkdir()
        shutil.copy(sim[0] / "tomo_mb1.obj", extra / "other_mb001.obj")
        args = ["stats", command, sim[0], extra, "-p", star, "--out", tmp_path / "out", *FAST.get(command, [])]
    else:
        args = _stats(command, sim[0], star, tmp_path / "out")
    assert_refuses(args, STAR_MESSAGES[case], [tmp_path])


OPTION_CASES = {
    "tolerance 0": (["--mesh-tolerance-nm", "0"], "--mesh-tolerance-nm 0.0: input should be greater than 0", COMMANDS),
    "tolerance -1": (
        ["--mesh-tolerance-nm", "-1"],
        "--mesh-tolerance-nm -1.0: input should be greater than 0",
        COMMANDS,
    ),
    "tolerance too small": (["--mesh-tolerance-nm", "0.001"], "off every membrane", COMMANDS),
    "voxel size 0": (["--voxel-size", "0"], "--voxel-size 0.0: input should be greater than 0", COMMANDS),
    "unknown class": (["--classes", "9"], "no particle has class 9", ("concentration", "edges", "chains")),
    "unknown start class": (
        ["--start-classes", "9"],
        "no particle has class 9",
        ("neighbours", "ripley", "orientation"),
    ),
    "class not a number": (["--classes", "a"], "--classes must be class numbers", ("concentration", "edges", "chains")),
    "bad method": (["--method", "fast"], "--method 'fast': input should be 'heat' or 'exact'", COMMANDS[1:]),
    "bad mesh unit": (["--mesh-unit", "nm"], "--mesh-unit 'nm': input should be 'ang' or 'voxel'", COMMANDS),
    "voxel mesh without size": (["--mesh-unit", "voxel"], "needs voxel_size_ang (--voxel-size)", COMMANDS),
    "negative exclude": (["--exclude-edges-nm", "-5"], "--exclude-edges-nm -5.0", ("concentration", "neighbours")),
    "bad side": (["--side", "inner"], "--side 'inner'", ("concentration", "all")),
    "single side without band": (
        ["--side", "single"],
        "give exclude_edges_nm (--exclude-edges-nm)",
        ("concentration",),
    ),
    "k 0": (["--k", "0"], "--k 0: input should be greater than or equal to 1", ("neighbours", "orientation", "chains")),
    "radius below bin": (["--max-radius-nm", "1"], "--max-radius-nm) 1 nm must be at least one bin", ("ripley",)),
    "negative simulations": (["--simulations", "-1"], "--simulations -1", ("ripley",)),
    "workers 0": (["--workers", "0"], "--workers", ("ripley", "all")),
    "edge max below bin": (["--max-nm", "1"], "(--max-nm) 1 nm must be at least one bin", ("edges",)),
    "min length 1": (["--min-length", "1"], "--min-length 1", ("chains",)),
    "angle bin 0": (["--angle-bin-deg", "0"], "--angle-bin-deg 0.0", ("orientation",)),
}


@pytest.mark.parametrize(
    "command, case", [(c, case) for case, (_, _, commands) in OPTION_CASES.items() for c in commands]
)
def test_bad_option_is_refused(sim, tmp_path, command, case):
    extra, message, _ = OPTION_CASES[case]
    assert_refuses([*_stats(command, sim[0], sim[1], tmp_path / "out"), *extra], message, [tmp_path])


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", ["empty membranes folder", "missing membranes", "out is a file", "star is a folder"])
def test_bad_paths_are_refused(sim, tmp_path, command, case):
    meshes, star, out = sim[0], sim[1], tmp_path / "out"
    if case == "empty membranes folder":
        meshes = tmp_path / "empty"
        meshes.mkdir()
    elif case == "missing membranes":
        meshes = tmp_path / "nowhere"
    elif case == "out is a file":
        out.write_text("my notes")
    else:
        star = tmp_path
    message = {
        "empty membranes folder": "empty",
        "missing membranes": "nowhere",
        "out is a file": "is a file",
        "star is a folder": "is a folder; pass a STAR file",
    }[case]
    assert_refuses(_stats(command, meshes, star, out), message, [tmp_path])
