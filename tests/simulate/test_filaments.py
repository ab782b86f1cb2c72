"""Worm-like-chain filaments and their unit poses."""

from __future__ import annotations

import numpy as np
import pytest

from cryomem.simulate._filaments import (
    ACTIN_PERSISTENCE_ANG,
    MICROTUBULE_PERSISTENCE_ANG,
    filament_rise_ang,
    filament_unit_template,
    filament_units,
)
from cryomem.simulate._render import render_units
from cryomem.simulate._templates import ACTIN_RISE_ANG, ACTIN_TWIST_DEG, MICROTUBULE_RISE_ANG


@pytest.mark.parametrize("kind", ["microtubule", "actin"])
def test_units_are_one_rise_apart_with_proper_rotations(kind):
    rng = np.random.default_rng(0)
    start = np.array([100.0, -50.0, 20.0])
    centres, rots = filament_units(kind, start, [1.0, 2.0, 0.5], 4000.0, persistence_length_ang=2000.0, rng=rng)
    rise = filament_rise_ang(kind)
    n = int(round(4000.0 / rise))
    assert centres.shape == (n, 3) and rots.shape == (n, 3, 3)
    assert np.allclose(centres[0], start)
    steps = np.diff(centres, axis=0)
    assert np.allclose(np.linalg.norm(steps, axis=1), rise, atol=1e-9)
    # each step goes along the unit's own z axis (the local tangent)
    assert np.allclose(steps / rise, rots[:-1, :, 2], atol=1e-9)
    assert np.allclose(rots @ rots.transpose(0, 2, 1), np.eye(3), atol=1e-10)
    assert np.allclose(np.linalg.det(rots), 1.0, atol=1e-10)
    assert np.allclose(rots[0, :, 2], np.array([1.0, 2.0, 0.5]) / np.linalg.norm([1.0, 2.0, 0.5]))


@pytest.mark.parametrize("kind", ["microtubule", "actin"])
def test_tangent_correlation_decays_with_the_persistence_length(kind):
    rng = np.random.default_rng(42)
    p = 800.0
    rise = filament_rise_ang(kind)
    lags = np.array([1, 5, 10, 20, 30])
    corr = np.zeros(len(lags))
    n_chains = 150
    for _ in range(n_chains):
        _, rots = filament_units(kind, np.zeros(3), [0, 0, 1], 60 * rise, persistence_length_ang=p, rng=rng)
        t = rots[:, :, 2]
        for j, k in enumerate(lags):
            corr[j] += np.mean(np.sum(t[:-k] * t[k:], axis=1))
    corr /= n_chains
    expected = np.exp(-lags * rise / p)
    assert corr == pytest.approx(expected, abs=0.06)


def test_microtubule_frame_does_not_twist_and_actin_twists():
    rng = np.random.default_rng(1)
    _, mt = filament_units("microtubule", np.zeros(3), [0, 0, 1], 2000.0, persistence_length_ang=np.inf, rng=rng)
    assert np.allclose(mt, mt[0], atol=1e-12)  # straight, no twist: identical frames
    _, act = filament_units("actin", np.zeros(3), [0, 0, 1], 2000.0, persistence_length_ang=np.inf, rng=rng)
    assert np.allclose(act[:, :, 2], [0, 0, 1])
    x = act[:, :, 0]
    angles = np.degrees(np.arctan2(np.cross(x[:-1], x[1:])[:, 2], np.sum(x[:-1] * x[1:], axis=1)))
    assert np.allclose(angles, ACTIN_TWIST_DEG)


def test_bending_carries_no_twist():
    # parallel transport: the frame's change about the tangent is second order in the bend
    rng = np.random.default_rng(5)
    _, rots = filament_units("microtubule", np.zeros(3), [0, 1, 0], 20000.0, persistence_length_ang=5000.0, rng=rng)
    rel = rots[:-1].transpose(0, 2, 1) @ rots[1:]  # R_i^T R_{i+1}, in the unit frame
    twist = np.arctan2(rel[:, 1, 0] - rel[:, 0, 1], rel[:, 0, 0] + rel[:, 1, 1])
    assert np.abs(twist).max() < 1e-12


def test_same_seed_same_filament():
    a = filament_units("actin", np.zeros(3), [1, 0, 0], 3000.0, rng=np.random.default_rng(9))
    b = filament_units("actin", np.zeros(3), [1, 0, 0], 3000.0, rng=np.random.default_rng(9))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_defaults_and_constants():
    assert filament_rise_ang("microtubule") == MICROTUBULE_RISE_ANG
    assert filament_rise_ang("actin") == ACTIN_RISE_ANG
    assert MICROTUBULE_PERSISTENCE_ANG > ACTIN_PERSISTENCE_ANG >= 1e4
    # default persistence: a 1 µm actin filament stays nearly straight
    centres, _ = filament_units("actin", np.zeros(3), [0, 0, 1], 10000.0, rng=np.random.default_rng(2))
    end_to_end = np.linalg.norm(centres[-1] - centres[0])
    assert end_to_end > 0.9 * (len(centres) - 1) * ACTIN_RISE_ANG
    assert filament_unit_template("microtubule", 10.0).name == "microtubule_unit"
    assert filament_unit_template("actin", 10.0).name == "actin_unit"


def test_bad_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="kind"):
        filament_units("tubulin", np.zeros(3), [0, 0, 1], 100.0, rng=rng)
    with pytest.raises(ValueError, match="direction_xyz"):
        filament_units("actin", np.zeros(3), [0, 0, 0], 100.0, rng=rng)
    with pytest.raises(ValueError, match="length_ang"):
        filament_units("actin", np.zeros(3), [0, 0, 1], -5.0, rng=rng)
    with pytest.raises(ValueError, match="persistence_length_ang"):
        filament_units("actin", np.zeros(3), [0, 0, 1], 100.0, persistence_length_ang=0.0, rng=rng)


def test_rendered_microtubule_is_a_continuous_hollow_tube():
    vs = 10.0
    unit = filament_unit_template("microtubule", vs)
    shape = (40, 40, 80)
    start_xyz = np.array([100.0, 200.0, 200.0])
    centres, rots = filament_units(
        "microtubule", start_xyz, [1, 0, 0], 600.0, persistence_length_ang=np.inf, rng=np.random.default_rng(0)
    )
    vol = np.zeros(shape, np.float32)
    drawn = render_units(vol, unit, rots, centres[:, ::-1] / vs, labels_zyx=None)
    assert drawn == len(centres)
    # cross-section in the middle of the tube (x = 400 Å -> index 40): ring, empty lumen
    section = vol[:, :, 40]
    zz, yy = np.meshgrid(np.arange(40) * vs - 200.0, np.arange(40) * vs - 200.0, indexing="ij")
    rho = np.hypot(zz, yy)
    assert section[rho < 50.0].max() < 0.05
    assert section[np.abs(rho - 100.0) < 5.0].min() > 0.5
    # continuous along the axis: the wall never drops between units
    wall_line = vol[20, 30, 15:65]  # y = 300 Å -> 100 Å off axis
    assert wall_line.min() > 0.6
