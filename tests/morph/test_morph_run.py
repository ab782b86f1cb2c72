"""run_morph on cryomem surface meshes (both faces of a segmented slab): spacing, thickness, refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cryomem.geometry import membrane_surfaces
from cryomem.io import write_membrane_h5, write_mrc
from cryomem.morph import MorphConfig, run_morph

VOXEL = 10.0
RADII_ANG = (120.0, 220.0)  # two concentric membranes, mid-surfaces 10 nm apart
LEAFLET_HALF_ANG = 20.0  # leaflets at r ± 20 Å: a 4 nm bilayer


@pytest.fixture(scope="module")
def double_membrane(tmp_path_factory):
    """Two concentric spherical bilayers in a 64³ tomogram (dark leaflets, a little noise) and their
    ``cryomem surface`` meshes."""
    root = tmp_path_factory.mktemp("double")
    grid = (np.indices((64, 64, 64)).astype(np.float64) - 31.5) * VOXEL
    r = np.sqrt((grid**2).sum(0))
    density = np.zeros_like(r)
    labels = np.zeros(r.shape, dtype=np.uint8)
    for label, radius in enumerate(RADII_ANG, start=1):
        for leaflet in (-LEAFLET_HALF_ANG, LEAFLET_HALF_ANG):
            density -= np.exp(-((r - radius - leaflet) ** 2) / (2 * 7.0**2))
        labels[np.abs(r - radius) <= 25.0] = label
    tomogram = density + np.random.default_rng(0).normal(scale=0.05, size=density.shape)
    tomo = write_mrc(root / "tomo.mrc", tomogram.astype(np.float32), voxel_size_ang=VOXEL)
    paths = []
    for surface in membrane_surfaces(labels, tomogram, VOXEL, tomogram_path=str(tomo)):
        paths.append(write_membrane_h5(root / f"tomo_mb{surface.membrane_id}.h5", surface))
    return tomo, paths


def test_spacing_and_thickness_of_a_double_membrane(double_membrane, tmp_path):
    tomo, paths = double_membrane
    written = run_morph(paths, tmp_path / "out", MorphConfig(curvature_scale_nm=5.0), tomogram=tomo)
    summary = json.loads(written["summary"].read_text())
    assert len(summary["membranes"]) == 2
    inner = pd.read_csv(next((tmp_path / "out" / "vertices").glob("tomo_mb*_morph.csv")))
    tables = {p.name: pd.read_csv(p) for p in (tmp_path / "out" / "vertices").glob("*.csv")}
    assert len(tables) == 2 and len(inner) > 0
    spacing = np.concatenate([t["spacing_nm"].to_numpy() for t in tables.values()])
    spacing = spacing[np.isfinite(spacing)]
    truth_nm = (RADII_ANG[1] - RADII_ANG[0]) / 10.0
    assert len(spacing) > 100 and np.mean(np.abs(spacing - truth_nm) <= 1.0) >= 0.9
    thickness = np.concatenate([t["bilayer_thickness_nm"].to_numpy() for t in tables.values()])
    fitted = thickness[np.isfinite(thickness)]
    assert len(fitted) >= 0.8 * len(thickness)
    assert np.mean(np.abs(fitted - 2 * LEAFLET_HALF_ANG / 10.0) <= 0.3) >= 0.9
    # on the outer face of each sphere, the mean curvature is +1/(r + slab half), on the inner face negative
    h = np.concatenate([t["mean_curvature_per_nm"].to_numpy() for t in tables.values()])
    assert (h > 0).any() and (h < 0).any()


def test_a_tomogram_of_another_voxel_size_is_refused(double_membrane, tmp_path):
    tomo, paths = double_membrane
    with pytest.raises(ValueError, match="10 Å voxels"):
        run_morph(paths, tmp_path / "out", MorphConfig(voxel_size_ang=7.0), tomogram=tomo)
    assert not (tmp_path / "out").exists()


def test_an_earlier_runs_extra_files_are_removed_and_inputs_kept(double_membrane, tmp_path):
    tomo, paths = double_membrane
    before = {p: p.read_bytes() for p in [tomo, *paths]}
    run_morph(paths, tmp_path / "out", MorphConfig(curvature_scale_nm=5.0))
    first = json.loads((tmp_path / "out" / "morph_summary.json").read_text())["files"]
    run_morph(paths[:1], tmp_path / "out", MorphConfig(curvature_scale_nm=5.0))
    second = json.loads((tmp_path / "out" / "morph_summary.json").read_text())["files"]
    gone = set(first.values()) - set(second.values())
    assert gone and not any((tmp_path / "out" / g).exists() for g in gone)
    assert {p: p.read_bytes() for p in [tomo, *paths]} == before
