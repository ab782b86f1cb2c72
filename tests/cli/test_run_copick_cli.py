"""`cryomem run --copick`: a copick project's tomogram run from the command line, and its bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_input import assert_refuses, run_cli

from cryomem.io import read_mrc

copick = pytest.importorskip("copick")

SPACING = 10.0


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copick project with run TS-1: a small simulated tomogram as ``wbp`` at 10 Å."""
    from cryomem.pipeline import demo_simulation_config
    from cryomem.simulate import simulate_to_folder

    root_dir = tmp_path_factory.mktemp("copick_cli")
    folder, _, _ = simulate_to_folder(demo_simulation_config(21, (48, 96, 96)), root_dir / "sim", name="t1")
    config = {
        "config_type": "filesystem",
        "name": "cli",
        "pickable_objects": [
            {"name": "membrane", "is_particle": False, "label": 1},
            {"name": "ribosome", "is_particle": True, "label": 2, "radius": 120.0},
        ],
        "overlay_root": f"local://{root_dir / 'overlay'}",
        "overlay_fs_args": {"auto_mkdir": True},
    }
    path = root_dir / "copick.json"
    path.write_text(json.dumps(config))
    data = read_mrc(folder / "t1.mrc").data_zyx.astype(np.float32)
    copick.from_file(str(path)).new_run("TS-1").new_voxel_spacing(SPACING).new_tomogram("wbp").from_numpy(data)
    run_config = root_dir / "run.yaml"
    run_config.write_text("cluster:\n  workers: 1\n  processes: false\nmorph:\n  enabled: false\n")
    return path, run_config


def test_run_copick_writes_the_membranes_back(project, tmp_path):
    path, run_config = project
    out = tmp_path / "run"
    args = ["run", "--copick", path, "--tomo-type", "wbp", "--voxel-spacing", "10", "--out", out]
    result = run_cli([*args, "--config", run_config, "--no-tta", "--session-id", "7", "--no-report"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "wrote segmentation in 1 runs; instances in 1 runs" in text and "as user 'cryomem', session '7'" in text
    run = copick.from_file(str(path)).get_run("TS-1")
    (seg,) = run.get_segmentations(user_id="cryomem", session_id="7", name="membrane", voxel_size=SPACING)
    ours = read_mrc(out / "tomograms" / "TS-1" / "segment" / "TS-1_seg.mrc").data_zyx
    np.testing.assert_array_equal(seg.numpy(), ours)
    assert run.get_meshes(object_name="membrane", user_id="cryomem", session_id="7")
    again = run_cli([*args, "--config", run_config, "--session-id", "7"])
    assert again.exit_code == 2
    assert "already holds results of user 'cryomem', session '7'" in " ".join(again.output.split())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--copick", "{config}"], "--copick needs --tomo-type; the project's tomograms are: wbp at 10 Å"),
        (["--copick", "{config}", "--tomo-type", "wbp"], "--copick needs --voxel-spacing; the project's tomograms"),
        (["--tomo-type", "wbp", "{root}"], "--tomo-type is a copick option; pass --copick CONFIG with it"),
        ([], "no tomograms given; pass MRC/OME-Zarr tomograms or folders, or --copick CONFIG"),
        (["{root}", "--copick", "{config}"], "pass one of them"),
        (["--copick", "{root}/nope.json", "--tomo-type", "wbp", "--voxel-spacing", "10"], "copick config not found"),
        (["--copick", "{config}", "--tomo-type", "denoised", "--voxel-spacing", "10"], "types there: wbp"),
        (["--copick", "{config}", "--tomo-type", "wbp", "--voxel-spacing", "13.1"], "voxel spacing 13.1 Å does not"),
        (
            ["--copick", "{config}", "--tomo-type", "wbp", "--voxel-spacing", "10", "--copick-run", "TS-2"],
            "run 'TS-2' is not in",
        ),
        (
            ["--copick", "{config}", "--tomo-type", "wbp", "--voxel-spacing", "10", "--session-id", "a b"],
            "--session-id 'a b' is not a valid copick name",
        ),
        (
            ["--copick", "{config}", "--tomo-type", "wbp", "--voxel-spacing", "10", "--membrane-object", "ribosome"],
            "object 'ribosome' is a particle",
        ),
    ],
)
def test_run_copick_bad_input_is_refused(project, tmp_path, args, message):
    path, _ = project
    args = [a.format(config=path, root=tmp_path) for a in args]
    assert_refuses(["run", *args, "--out", tmp_path / "run"], message, [tmp_path])
    assert not (tmp_path / "run").exists()
