"""`cryomem morph` (issue 21) on a simulated 48x64x64 tomogram: a run and its refusals.

Refusals go through :func:`bad_input.assert_refuses`: exit 2, one line naming the problem, nothing
written.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import starfile
from bad_input import assert_refuses, run_cli

from cryomem.io import read_mesh, write_mesh


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """`cryomem simulate tomogram --shape 48,64,64`: membranes (mid-surface meshes in Å) and proteins on them."""
    root = tmp_path_factory.mktemp("morph")
    result = run_cli(["simulate", "tomogram", root / "sim", "--shape", "48,64,64"])
    assert result.exit_code == 0, result.output
    return root / "sim"


@pytest.fixture(scope="module")
def morphed(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("morph_out") / "morph"
    args = ["morph", sim / "tomo_meshes", "--tomogram", sim / "tomo.mrc", "-p", sim / "tomo_membrane_proteins.star"]
    result = run_cli([*args, "--out", out, "--curvature-scale-nm", "5", "--null-per-particle", "3"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_morph_writes_every_output(sim, morphed):
    out, output = morphed
    summary = json.loads((out / "morph_summary.json").read_text())
    meshes = sorted((sim / "tomo_meshes").glob("*.obj"))
    assert len(summary["membranes"]) == len(meshes) and "done" in output
    membranes = pd.read_csv(out / "morph_membranes.csv")
    assert len(membranes) == len(meshes) and (membranes["area_nm2"] > 0).all()
    for role, relative in summary["files"].items():
        assert (out / relative).is_file(), role
    mesh = read_mesh(out / summary["files"][f"mesh_{membranes['tomo_name'][0]}_mb{membranes['membrane_id'][0]}"])
    for name in ("mean_curvature_per_nm", "gaussian_curvature_per_nm2", "bilayer_thickness_nm", "distance_out_nm",
                 "normal_to_z_deg"):  # fmt: skip
        assert name in mesh.point_data and len(mesh.point_data[name]) == len(mesh.vertices_xyz_ang)
    angles = mesh.point_data["normal_to_z_deg"]
    assert np.nanmin(angles) >= 0 and np.nanmax(angles) <= 90
    particles = pd.read_csv(out / "morph_particles.csv")
    stars = starfile.read(sim / "tomo_membrane_proteins.star")
    assert 0 < len(particles) <= len(stars)
    assert (particles["distance_to_vertex_nm"] <= 15).all() and particles["axis_to_normal_deg"].between(0, 180).all()
    comparison = pd.read_csv(out / "morph_particle_patches.csv")
    assert "mean_curvature_per_nm" in set(comparison["quantity"])
    for png in ("morph_histograms.png", "morph_maps.png", "morph_particle_patches.png"):
        assert (out / png).stat().st_size > 5000


def test_morph_without_tomogram_or_particles(sim, tmp_path):
    result = run_cli(["morph", sim / "tomo_meshes", "--out", tmp_path / "m", "--curvature-scale-nm", "5"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "m" / "morph_summary.json").read_text())
    assert "bilayer_thickness_nm" not in summary["results"]["pooled_medians"] and "particles" not in summary["results"]


def test_mesh_in_voxels_is_refused(sim, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    mesh = read_mesh(sorted((sim / "tomo_meshes").glob("*.obj"))[0])
    write_mesh(folder / "tomo_mb1.obj", type(mesh)(mesh.vertices_xyz_ang / 10.0, mesh.faces, None))
    assert_refuses(["morph", folder, "--out", tmp_path / "o"], "in voxels", [tmp_path])


def test_scale_larger_than_every_membrane_is_refused(sim, tmp_path):
    assert_refuses(["morph", sim / "tomo_meshes", "--out", tmp_path / "o", "--curvature-scale-nm", "900"],
                   "larger than", [tmp_path, sim])  # fmt: skip


def test_tomogram_of_another_voxel_size_is_refused(sim, tmp_path):
    args = ["morph", sim / "tomo_meshes", "--tomogram", sim / "tomo.mrc", "--voxel-size", "4", "--out", tmp_path / "o"]
    assert_refuses(args, "tomogram", [tmp_path, sim])


def test_particles_off_the_membranes_are_refused(sim, tmp_path):
    table = starfile.read(sim / "tomo_membrane_proteins.star")
    for axis in ("X", "Y", "Z"):
        table[f"rlnCoordinate{axis}"] = table[f"rlnCoordinate{axis}"] + 500.0
    starfile.write({"particles": table}, tmp_path / "far.star")
    args = ["morph", sim / "tomo_meshes", "-p", tmp_path / "far.star", "--out", tmp_path / "o"]
    assert_refuses(args, "no particle lies within", [tmp_path, sim])


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--curvature-scale-nm", "0"), ("--curvature-scale-nm", "nan"), ("--max-distance-nm", "-1"),
     ("--patch-radius-nm", "0"), ("--null-per-particle", "0"), ("--mesh-unit", "parsec")],
)  # fmt: skip
def test_bad_settings_are_refused(sim, tmp_path, flag, value):
    assert_refuses(["morph", sim / "tomo_meshes", "--out", tmp_path / "o", flag, value], flag, [tmp_path])


def test_missing_inputs_are_refused(sim, tmp_path):
    assert_refuses(["morph", tmp_path / "none.obj", "--out", tmp_path / "o"], "does not exist", [tmp_path])
    args = ["morph", sim / "tomo_meshes", "--tomogram", tmp_path / "none.mrc", "--out", tmp_path / "o"]
    assert_refuses(args, "not found", [tmp_path])
