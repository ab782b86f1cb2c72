"""Random protein-like distractors, atomic-model templates and their wiring into the simulator."""

import time

import numpy as np
import pytest
from cli_refusal import assert_simulate_refuses
from scipy import ndimage

from cryomem.simulate import SimulationConfig, merge_config, simulate_tomogram
from cryomem.simulate._atomic_models import electron_weight, template_from_atomic_model
from cryomem.simulate._distractors import DISTRACTOR_KINDS, distractor_template, random_distractor_templates
from cryomem.simulate._pseudo_atoms import folded_chain

SMALL = {"shape_zyx": (48, 64, 64), "seed": 5, "cytosol.microtubules": 0, "cytosol.actin_filaments": 0}


def _config(**overrides):
    return merge_config(SimulationConfig(), **{**SMALL, **overrides})


@pytest.mark.parametrize("kind", DISTRACTOR_KINDS)
def test_sizes_fall_in_the_requested_range_and_generation_is_fast(kind):
    rng = np.random.default_rng(1)
    for size_nm in (12.0, 40.0):
        start = time.perf_counter()
        template = distractor_template(kind, size_nm, 10.0, rng)
        assert time.perf_counter() - start < 0.5
        assert template.kind == "cytosolic" and template.mask_zyx.any()
        assert 2 * template.radius_ang / 10 == pytest.approx(size_nm, abs=2.0)  # within one voxel (10 Å) each side


def test_random_templates_draw_sizes_from_the_range_with_unique_names():
    templates = random_distractor_templates(12, 10.0, np.random.default_rng(2), size_range_nm=(8.0, 20.0))
    sizes_nm = [2 * t.radius_ang / 10 for t in templates]
    assert min(sizes_nm) >= 8.0 - 1.0 and max(sizes_nm) <= 20.0 + 1.0
    assert len({t.name for t in templates}) == 12
    assert len({t.name.split("_")[1] for t in templates}) >= 3  # several architectures


def test_c4_assembly_is_invariant_under_a_quarter_turn_about_z():
    template = distractor_template("symmetric", 16.0, 8.0, np.random.default_rng(3), symmetry="C4")
    density = template.density_zyx.astype(np.float64)
    rotated = np.rot90(density, k=1, axes=(1, 2))  # (z, y, x): a 90° turn about z
    assert np.abs(rotated - density).max() < 1e-4 * density.max()
    assert np.abs(np.rot90(density, k=2, axes=(0, 1)) - density).max() > 0.05 * density.max()  # not D-symmetric


def test_d2_assembly_has_its_twofold_axes():
    density = distractor_template("symmetric", 14.0, 8.0, np.random.default_rng(4), symmetry="D2").density_zyx
    assert np.abs(np.rot90(density, 2, axes=(1, 2)) - density).max() < 1e-4 * density.max()  # C2 about z
    assert np.abs(density[::-1, ::-1, :] - density).max() < 1e-4 * density.max()  # 180° about x


def test_folded_chain_has_ca_like_steps_and_compact_domains():
    points, weights, spacing = folded_chain(600, np.random.default_rng(0), n_domains=2)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    assert spacing == 3.8 and weights.sum() == pytest.approx(len(points))
    assert 3.0 < np.median(steps) < 8.0
    radius_of_gyration = np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean())
    assert radius_of_gyration < 2.2 * 600**0.38 * 1.6  # compact, unlike a free walk (~37 Å)


def _write_pdb(path, atoms):
    lines = [
        f"ATOM  {i + 1:5d}  {el:<3s} ALA A{i + 1:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00          {el:>2s}"
        for i, (el, (x, y, z)) in enumerate(atoms)
    ]
    path.write_text("\n".join(lines) + "\nEND\n")


def test_atomic_model_template_sits_where_the_atoms_are(tmp_path):
    # a rod of carbons along x from 100 to 160 Å, at y = -30, z = 50 Å
    atoms = [("C", (100.0 + 1.5 * i, -30.0, 50.0)) for i in range(41)]
    _write_pdb(tmp_path / "rod.pdb", atoms)
    template = template_from_atomic_model(tmp_path / "rod.pdb", 5.0, kind="cytosolic")
    density = template.density_zyx.astype(np.float64)
    com_zyx = np.array(ndimage.center_of_mass(density)) - density.shape[0] // 2
    np.testing.assert_allclose(com_zyx * 5.0, 0.0, atol=1.0)  # anchored at the mass centre
    assert template.name == "rod" and template.inplane_radius_ang == pytest.approx(30.0, abs=6.0)
    assert template.z_extent_ang[1] - template.z_extent_ang[0] <= 10.0  # thin in z, long in x
    profile_x = density.sum(axis=(0, 1))
    assert (profile_x > 0.5 * profile_x.max()).sum() * 5.0 == pytest.approx(60.0, abs=10.0)
    assert electron_weight("C") == pytest.approx(2.51, abs=0.01) and electron_weight("S") > electron_weight("O")


def test_missing_or_unreadable_atomic_models_fail_before_simulating(tmp_path):
    (tmp_path / "junk.pdb").write_text("not a model\n")
    with pytest.raises(FileNotFoundError, match="absent.cif does not exist"):
        simulate_tomogram(_config(**{"cytosol.atomic_model_files": (tmp_path / "absent.cif",)}))
    with pytest.raises(ValueError, match="junk.pdb holds no atoms"):
        simulate_tomogram(_config(**{"membrane_proteins.atomic_model_files": (tmp_path / "junk.pdb",)}))


def test_atomic_models_become_cytosolic_and_membrane_templates(tmp_path):
    rng = np.random.default_rng(0)
    _write_pdb(tmp_path / "blob.pdb", [("CNOS"[i % 4], tuple(rng.normal(0, 12, 3))) for i in range(400)])
    config = _config(
        **{
            "cytosol.atomic_model_files": (tmp_path / "blob.pdb",),
            "membrane_proteins.atomic_model_files": (tmp_path / "blob.pdb",),
            "cytosol.procedural_classes": 0,
            "microscope.tilt_step_deg": 10.0,
        }
    )
    sim = simulate_tomogram(config)
    assert sim.cytosolic_templates[-1].name == "blob" and sim.cytosolic_templates[-1].kind == "cytosolic"
    assert sim.membrane_templates[-1].name == "blob" and sim.membrane_templates[-1].kind == "membrane"


def test_distractor_option_changes_only_the_cytosol_and_keeps_determinism():
    off = _config(
        **{"cytosol.procedural_classes": 0, "cytosol.cluster_fraction": 0.0, "microscope.tilt_step_deg": 10.0}
    )
    on = merge_config(off, **{"cytosol.procedural_classes": 4, "cytosol.occupancy": 0.1})
    a, b, c = simulate_tomogram(off), simulate_tomogram(on), simulate_tomogram(on)
    np.testing.assert_array_equal(a.phantom.membrane_ids_zyx, b.phantom.membrane_ids_zyx)  # own random stream
    assert not np.array_equal(a.phantom.density_zyx, b.phantom.density_zyx)
    np.testing.assert_array_equal(b.phantom.density_zyx, c.phantom.density_zyx)
    np.testing.assert_array_equal(b.tomogram_zyx, c.tomogram_zyx)
    assert [t.name for t in b.cytosolic_templates][-4:] == [t.name for t in c.cytosolic_templates][-4:]
    assert sum(t.name[0] == "d" and t.name[1].isdigit() for t in b.cytosolic_templates) == 4


def test_new_streams_leave_the_first_five_unchanged():
    old = [np.random.default_rng(s).random(4) for s in np.random.SeedSequence(11).spawn(5)]
    new = [np.random.default_rng(s).random(4) for s in np.random.SeedSequence(11).spawn(7)]
    for x, y in zip(old, new):
        np.testing.assert_array_equal(x, y)


def test_crowded_cytosol_reaches_high_occupancy():
    config = _config(
        **{"cytosol.occupancy": 0.25, "membranes.occupancy": 0.01, "cytosol.procedural_size_nm": (3.0, 8.0)}
    )
    sim = simulate_tomogram(merge_config(config, **{"microscope.tilt_step_deg": 10.0}))
    fraction = (sim.phantom.semantic_labels() == 3).mean()
    assert fraction > 0.125  # at least half of the requested crowding, or the simulator raises


@pytest.mark.parametrize(
    "args, message",
    [
        (["--distractor-classes", "-1"], "cytosol.procedural_classes"),
        (["--distractor-size", "1,500"], "procedural_size_nm must satisfy"),
        (["--distractors", "blob=1"], "cytosol.procedural_kinds"),
        (["--distractor-clusters", "2"], "cytosol.cluster_fraction"),
        (["--atomic-model", "absent_model.pdb"], "absent_model.pdb does not exist"),
        (["--membrane-atomic-model", "absent.cif"], "absent.cif does not exist"),
    ],
)
def test_cli_bad_distractor_values_give_one_clear_line(tmp_path, args, message):
    assert_simulate_refuses(tmp_path, args, message)
