"""Bad inputs and faults for `cryomem simulate tomogram` and `cryomem simulate dataset`.

Each bad input ends in exit 2 with one line naming the problem and the value, before any work and
with nothing written; a full disk or Ctrl-C while writing leaves no folder behind, and a re-run works.
"""

from __future__ import annotations

import pytest
from bad_input import assert_leaves_nothing, assert_refuses, disk_full, interrupted, run_cli

SHAPE = ["--shape", "32,48,48"]

TOMOGRAM_CASES = {
    "shape with two axes": (["--shape", "40,64"], "--shape must be 3 integers"),
    "shape of words": (["--shape", "a,b,c"], "--shape must be 3 integers"),
    "shape too small": (["--shape", "8,64,64"], "too small"),
    "zero voxel size": ([*SHAPE, "--voxel-size", "0"], "voxel_size_ang"),
    "NaN voxel size": ([*SHAPE, "--voxel-size", "nan"], "got nan"),
    "negative seed": ([*SHAPE, "--seed", "-1"], "got -1"),
    "seed not a number": ([*SHAPE, "--seed", "x"], "Invalid value for '--seed'"),
    "zero SNR": ([*SHAPE, "--snr", "0"], "microscope.snr"),
    "reversed tilt range": ([*SHAPE, "--tilt-range", "60,-60"], "tilt_min_deg"),
    "empty tilt range": ([*SHAPE, "--tilt-range", "0,0"], "tilt_min_deg must be below tilt_max_deg"),
    "zero tilt step": ([*SHAPE, "--tilt-step", "0"], "tilt_step_deg"),
    "negative defocus": ([*SHAPE, "--defocus", "-1"], "defocus_um"),
    "unknown membrane kind": ([*SHAPE, "--membranes", "cube"], "got 'cube'"),
    "negative membrane weight": ([*SHAPE, "--membranes", "sphere=-1"], "weights must be >= 0"),
    "no membrane kind": ([*SHAPE, "--membranes", ""], "--membranes needs at least one name"),
    "membrane occupancy above 0.3": ([*SHAPE, "--membrane-occupancy", "1.5"], "got 1.5"),
    "negative protein occupancy": ([*SHAPE, "--protein-occupancy", "-0.1"], "got -0.1"),
    "missing template": ([*SHAPE, "--template", "/nonexistent/t.mrc"], "/nonexistent/t.mrc does not exist"),
    "missing atomic model": ([*SHAPE, "--atomic-model", "/nonexistent/m.pdb"], "does not exist"),
    "unknown reconstruction": ([*SHAPE, "--reconstruction", "fbp"], "got 'fbp'"),
    "zero SIRT iterations": ([*SHAPE, "--sirt-iterations", "0"], "sirt_iterations"),
    "negative dose": ([*SHAPE, "--dose", "-5"], "got -5"),
    "unknown denoiser": ([*SHAPE, "--denoise", "magic"], "got 'magic'"),
    "one distractor size": ([*SHAPE, "--distractor-size", "10"], "--distractor-size must be 2 numbers"),
    "negative gold count": ([*SHAPE, "--gold", "-1"], "gold_fiducials"),
    "3 protofilaments": ([*SHAPE, "--protofilaments", "3,5"], "11 <= low <= high <= 16"),
    "amplitude contrast above 1": ([*SHAPE, "--amplitude-contrast", "2"], "amplitude_contrast"),
    "name with a folder": ([*SHAPE, "--name", "a/b"], "must be a plain file name"),
    "empty name": ([*SHAPE, "--name", ""], "must be a plain file name"),
    "unknown option": ([*SHAPE, "--bogus"], "No such option: --bogus"),
}


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "bad.yaml").write_text("not: [valid\n")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "unknown.yaml").write_text("shape_zyx: [40, 64, 64]\nnosuch: 1\n")
    (tmp_path / "bad.pdb").write_text("HETATM garbage\n")
    (tmp_path / "empty.pdb").write_text("")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    return tmp_path


@pytest.mark.parametrize("case", TOMOGRAM_CASES)
def test_simulate_tomogram_refuses(tmp_path, case):
    args, message = TOMOGRAM_CASES[case]
    assert_refuses(["simulate", "tomogram", tmp_path / "out", *args], message, [tmp_path])
    assert not (tmp_path / "out").exists()


FILE_CASES = {
    "config not YAML": (["--config", "bad.yaml"], "is not valid YAML (line 2, column 1)"),
    "config a list": (["--config", "list.yaml"], "must hold a mapping of settings, got list"),
    "config with an unknown key": (["--config", "unknown.yaml"], "nosuch"),
    "missing config": (["--config", "missing.yaml"], "does not exist"),
    "atomic model gemmi cannot read": (["--atomic-model", "bad.pdb"], "cannot be read as PDB or mmCIF"),
    "atomic model without atoms": (["--atomic-model", "empty.pdb"], "holds no atoms"),
}


@pytest.mark.parametrize("case", FILE_CASES)
def test_simulate_tomogram_refuses_bad_files(files, case):
    args, message = FILE_CASES[case]
    args = [str(files / a) if a.endswith((".yaml", ".pdb")) else a for a in args]
    assert_refuses(["simulate", "tomogram", files / "out", *SHAPE, *args], message, [files])


@pytest.mark.parametrize(
    ("target", "message"),
    [("afile", "is a file"), ("full", "exists and is not empty"), ("missing/out", "does not exist")],
)
@pytest.mark.parametrize("command", ["tomogram", "dataset"])
def test_simulate_refuses_an_output_folder_in_the_way(files, target, message, command):
    extra = SHAPE if command == "tomogram" else ["--n-tomograms", "1", *SHAPE, "--patch-size", "16"]
    text = assert_refuses(["simulate", command, files / target, *extra], message, [files])
    assert "%" not in text  # refused before any progress bar


DATASET_CASES = {
    "no tomograms": (["--n-tomograms", "0"], "got 0"),
    "patch below 16": (["--patch-size", "8"], "got 8"),
    "patch larger than the tomogram": (["--patch-size", "500"], "larger than the tomogram shape"),
    "validation fraction above 1": (["--val-fraction", "1.5"], "got 1.5"),
    "reversed voxel sizes": (["--voxel-size-range", "20,8"], "got (20.0, 8.0)"),
    "zero SNR": (["--snr-range", "0,1"], "got (0.0, 1.0)"),
    "two-axis shape": (["--shape", "32,48"], "--shape must be 3 integers"),
    "zero workers": (["--workers", "0"], "'--workers'"),
    "negative seed": (["--seed", "-3"], "got -3"),
    "no patches": (["--patches-per-tomogram", "0"], "got 0"),
}


@pytest.mark.parametrize("case", DATASET_CASES)
def test_simulate_dataset_refuses(tmp_path, case):
    args, message = DATASET_CASES[case]
    assert_refuses(["simulate", "dataset", tmp_path / "out", *args], message, [tmp_path])


@pytest.mark.parametrize("fault", [disk_full, interrupted], ids=["disk_full", "interrupted"])
def test_simulate_tomogram_fault_leaves_nothing_and_a_rerun_works(tmp_path, monkeypatch, fault):
    import cryomem.simulate._write as writer

    real = writer.write_mrc
    calls = []

    def second_write_fails(*args, **kwargs):  # the tomogram is written, then the labels fail
        calls.append(args[0])
        if len(calls) == 2:
            fault()
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "write_mrc", second_write_fails)
    text = assert_leaves_nothing(["simulate", "tomogram", tmp_path / "out", *SHAPE], [tmp_path])
    assert not list(tmp_path.iterdir()), "a temporary folder was left behind"
    if fault is disk_full:
        assert "No space left on device" in text and "nothing was written" in text
    monkeypatch.setattr(writer, "write_mrc", real)
    assert run_cli(["simulate", "tomogram", tmp_path / "out", *SHAPE]).exit_code == 0
    assert (tmp_path / "out" / "tomo.mrc").is_file()


def test_simulate_dataset_disk_full_leaves_nothing(tmp_path, monkeypatch):
    import cryomem.simulate._dataset as dataset

    monkeypatch.setattr(dataset, "write_mrc", disk_full)
    args = ["simulate", "dataset", tmp_path / "out", "--n-tomograms", "1", *SHAPE, "--patch-size", "16"]
    text = assert_leaves_nothing(args, [tmp_path])
    assert "No space left on device" in text and not list(tmp_path.iterdir())
