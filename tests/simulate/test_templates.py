"""Procedural templates and MRC template loading."""

from __future__ import annotations

import mrcfile
import numpy as np
import pytest
from scipy import ndimage

from cryomem.simulate._templates import (
    ACTIN_RISE_ANG,
    ACTIN_TWIST_DEG,
    MICROTUBULE_RISE_ANG,
    Template,
    actin_unit,
    cytosolic_templates,
    load_template_mrc,
    membrane_protein_templates,
    microtubule_unit,
)


def _offsets_zyx_ang(t: Template) -> tuple[np.ndarray, np.ndarray]:
    """Voxel offsets from the anchor (Å, zyx) and densities of every voxel."""
    n = t.density_zyx.shape[0]
    c = n // 2
    ax = (np.arange(n) - c) * t.voxel_size_ang
    z, y, x = np.meshgrid(ax, ax, ax, indexing="ij")
    return np.stack((z, y, x), axis=-1), t.density_zyx


def _all_templates(voxel_size_ang: float) -> list[Template]:
    return (
        membrane_protein_templates(voxel_size_ang)
        + cytosolic_templates(voxel_size_ang)
        + [microtubule_unit(voxel_size_ang), actin_unit(voxel_size_ang)]
    )


@pytest.mark.parametrize("voxel_size_ang", [8.0, 10.0, 20.0])
def test_boxes_are_odd_cubes_with_float32_density(voxel_size_ang):
    for t in _all_templates(voxel_size_ang):
        n = t.density_zyx.shape[0]
        assert t.density_zyx.shape == (n, n, n) and n % 2 == 1, t.name
        assert t.density_zyx.dtype == np.float32
        assert not t.density_zyx.flags.writeable
        assert t.voxel_size_ang == voxel_size_ang
        assert 0.75 < t.density_zyx.max() <= 1.0 + 1e-6, t.name
        assert t.density_zyx.min() >= 0.0
        # trimmed to the object plus a small margin: faces nearly empty, object fills the box
        faces = [
            t.density_zyx[0],
            t.density_zyx[-1],
            t.density_zyx[:, 0],
            t.density_zyx[:, -1],
            t.density_zyx[:, :, 0],
            t.density_zyx[:, :, -1],
        ]
        assert max(float(f.max()) for f in faces) < 0.01, t.name
        assert t.radius_ang <= (n // 2) * voxel_size_ang * np.sqrt(3)


@pytest.mark.parametrize("voxel_size_ang", [8.0, 16.0])
def test_measured_radii_match_density(voxel_size_ang):
    for t in _all_templates(voxel_size_ang):
        off, dens = _offsets_zyx_ang(t)
        inside = off[dens > t.threshold]
        assert t.threshold == 0.5 < float(dens.max())  # the smooth edge's mid level
        assert t.radius_ang == pytest.approx(np.linalg.norm(inside, axis=1).max())
        assert t.inplane_radius_ang == pytest.approx(np.hypot(inside[:, 1], inside[:, 2]).max())
        assert t.z_extent_ang == pytest.approx((inside[:, 0].min(), inside[:, 0].max()))
        assert np.array_equal(t.mask_zyx, dens > t.threshold)


def test_names_are_distinct_and_sizes_between_5_and_25_nm():
    mem, cyt = membrane_protein_templates(10.0), cytosolic_templates(10.0)
    assert len(mem) >= 4 and len(cyt) >= 4
    names = [t.name for t in mem + cyt]
    assert len(set(names)) == len(names)
    assert all(t.kind == "membrane" for t in mem) and all(t.kind == "cytosolic" for t in cyt)
    for t in mem + cyt:
        idx = np.argwhere(t.mask_zyx)
        largest = float((idx.max(axis=0) - idx.min(axis=0) + 1).max()) * t.voxel_size_ang
        assert 50.0 <= largest <= 250.0 + t.voxel_size_ang, (t.name, largest)


def test_membrane_templates_are_deterministic():
    a = membrane_protein_templates(12.0)
    b = membrane_protein_templates(12.0)
    for ta, tb in zip(a, b):
        assert np.array_equal(ta.density_zyx, tb.density_zyx)


def test_membrane_templates_span_the_bilayer():
    for t in membrane_protein_templates(8.0):
        off, dens = _offsets_zyx_ang(t)
        mask = dens > t.threshold
        z_min, z_max = t.z_extent_ang
        assert z_min <= -24.0 and z_max >= 24.0, t.name
        # every slab of the bilayer core (|z| <= 20 Å) holds protein near the axis region
        for z in (-16.0, -8.0, 0.0, 8.0, 16.0):
            slab = mask & (np.abs(off[..., 0] - z) < 0.5)
            assert slab.sum() >= 4, (t.name, z)


def _mass_beyond(t: Template, z_lo: float | None = None, z_hi: float | None = None) -> float:
    off, dens = _offsets_zyx_ang(t)
    sel = np.ones(dens.shape, bool)
    if z_lo is not None:
        sel &= off[..., 0] > z_lo
    if z_hi is not None:
        sel &= off[..., 0] < z_hi
    return float(dens[sel].sum() / dens.sum())


def test_membrane_domains_sit_on_their_stated_side():
    t = {x.name: x for x in membrane_protein_templates(8.0)}
    # ATP synthase: big head far out on +z, nothing beyond the bilayer on -z
    atp = t["atp_synthase"]
    assert _mass_beyond(atp, z_lo=110.0) > 0.45
    assert _mass_beyond(atp, z_hi=-35.0) == pytest.approx(0.0, abs=1e-3)
    assert atp.z_extent_ang[1] >= 180.0
    # PSII dimer: lumenal extrinsic domains on -z, flat +z side; elongated along x
    psii = t["psii_dimer"]
    assert _mass_beyond(psii, z_hi=-35.0) > 4 * _mass_beyond(psii, z_lo=35.0)
    assert psii.z_extent_ang[0] <= -48.0 and psii.z_extent_ang[1] <= 40.0
    assert 85.0 <= psii.inplane_radius_ang <= 105.0
    idx = np.argwhere(psii.mask_zyx)
    ext_zyx = (idx.max(axis=0) - idx.min(axis=0) + 1) * psii.voxel_size_ang
    assert ext_zyx[2] == pytest.approx(200.0, abs=16.0)
    assert ext_zyx[1] == pytest.approx(100.0, abs=16.0)
    # receptor: large extracellular domain on +z, small cap on -z
    rec = t["receptor_ecd"]
    assert _mass_beyond(rec, z_lo=35.0) > 5 * _mass_beyond(rec, z_hi=-35.0) > 0
    assert rec.z_extent_ang[1] >= 120.0
    # channel: short caps on both sides, ~6 nm wide
    ch = t["channel_small"]
    assert _mass_beyond(ch, z_lo=28.0) > 0.05 and _mass_beyond(ch, z_hi=-28.0) > 0.05
    assert 2 * ch.inplane_radius_ang == pytest.approx(60.0, abs=10.0)


def test_cytosolic_templates_anchor_at_centre_of_mass():
    for vs in (8.0, 16.0):
        for t in cytosolic_templates(vs):
            com = np.array(ndimage.center_of_mass(t.density_zyx.astype(np.float64)))
            assert np.abs(com - t.density_zyx.shape[0] // 2).max() < 0.25, t.name


def test_ribosome_has_two_subunits_with_a_cleft():
    rib = {t.name: t for t in cytosolic_templates(8.0)}["ribosome_25nm"]
    assert 200.0 <= 2 * rib.radius_ang <= 270.0
    # a central xz section through the subunit interface shows background between the subunits
    mask = rib.mask_zyx
    c = mask.shape[0] // 2
    section = mask[:, c, :]
    filled = ndimage.binary_fill_holes(section)
    hull_gap = ndimage.binary_closing(filled, iterations=3) & ~filled
    assert hull_gap.sum() >= 3


def test_same_physical_extent_at_8_and_16_ang():
    fine, coarse = _all_templates(8.0), _all_templates(16.0)
    for a, b in zip(fine, coarse):
        assert a.name == b.name
        assert a.radius_ang == pytest.approx(b.radius_ang, abs=16.0), a.name
        assert a.inplane_radius_ang == pytest.approx(b.inplane_radius_ang, abs=16.0), a.name
        assert a.z_extent_ang[0] == pytest.approx(b.z_extent_ang[0], abs=16.0), a.name
        assert a.z_extent_ang[1] == pytest.approx(b.z_extent_ang[1], abs=16.0), a.name
        # same volume within the voxel quantisation of the surface
        va = a.mask_zyx.sum() * 8.0**3
        vb = b.mask_zyx.sum() * 16.0**3
        assert vb == pytest.approx(va, rel=0.25), a.name


def test_microtubule_unit_is_a_hollow_25_nm_ring():
    for vs in (8.0, 10.0, 16.0):
        t = microtubule_unit(vs)
        assert t.kind == "filament_unit"
        assert 2 * t.inplane_radius_ang + vs == pytest.approx(250.0, abs=10.0 + vs / 2)
        off, dens = _offsets_zyx_ang(t)
        rho = np.hypot(off[..., 1], off[..., 2])
        lumen = (rho < 60.0) & (np.abs(off[..., 0]) < 1.0)
        assert dens[lumen].max() < 0.05
        wall = (np.abs(rho - 100.0) < vs) & (np.abs(off[..., 0]) < 1.0)
        assert dens[wall].mean() > 0.7
    assert MICROTUBULE_RISE_ANG == pytest.approx(40.0)


def test_actin_unit_dimensions():
    t = actin_unit(8.0)
    assert 2 * t.inplane_radius_ang + 8.0 == pytest.approx(72.0, abs=12.0)
    # two subunits on either side of the axis along x
    half = t.density_zyx.shape[0] // 2
    profile = t.density_zyx[:, half, :].sum(axis=0)
    assert profile[half + 2] > 0 and profile[half - 2] > 0
    assert ACTIN_RISE_ANG == pytest.approx(55.0)
    assert 180.0 / abs(ACTIN_TWIST_DEG) * ACTIN_RISE_ANG == pytest.approx(370.0, abs=20.0)


def test_template_rejects_bad_boxes():
    with pytest.raises(ValueError, match="odd"):
        Template("x", np.zeros((4, 4, 4), np.float32), 10.0, 1.0, 1.0, (0.0, 0.0), 0.5, "cytosolic")
    with pytest.raises(ValueError, match="kind"):
        Template("x", np.zeros((5, 5, 5), np.float32), 10.0, 1.0, 1.0, (0.0, 0.0), 0.5, "blob")


def test_bad_voxel_size_is_rejected():
    with pytest.raises(ValueError, match="voxel_size_ang"):
        membrane_protein_templates(0.0)


# ------------------------------------------------------------------------------------------------
# MRC loading
# ------------------------------------------------------------------------------------------------


def _write_map(path, data_zyx, voxel_size):
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.asarray(data_zyx, dtype=np.float32))
        mrc.voxel_size = voxel_size


def _ellipsoid_map(n: int, vs: float, centre_xyz_ang, radii_xyz_ang) -> np.ndarray:
    c = (n - 1) / 2.0
    ax = (np.arange(n) - c) * vs
    z, y, x = np.meshgrid(ax, ax, ax, indexing="ij")
    cx, cy, cz = centre_xyz_ang
    rx, ry, rz = radii_xyz_ang
    r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2)
    return 3.0 * np.clip(1.5 - r, 0.0, 1.0)  # plateau 3.0 inside r < 0.5, zero beyond r = 1.5


def test_load_template_mrc_rescales_and_measures(tmp_path):
    # 4 Å map, even box (64), an off-axis blob at +z: extent must survive rescaling to 10 Å
    data = _ellipsoid_map(64, 4.0, (0.0, 0.0, 40.0), (30.0, 30.0, 50.0))
    path = tmp_path / "blob.mrc"
    _write_map(path, data, 4.0)
    t = load_template_mrc(path, 10.0, kind="membrane")
    assert t.name == "blob" and t.kind == "membrane"
    n = t.density_zyx.shape[0]
    assert n % 2 == 1 and t.density_zyx.shape == (n, n, n)
    assert t.density_zyx.max() == pytest.approx(1.0)
    assert t.threshold == pytest.approx(0.5)
    # density 0.5 of max lies at r = 1 (plateau ends at 0.5, zero at 1.5): z in 40 ± 50 Å
    assert t.z_extent_ang[0] == pytest.approx(-10.0, abs=10.0)
    assert t.z_extent_ang[1] == pytest.approx(90.0, abs=10.0)
    assert t.inplane_radius_ang == pytest.approx(30.0, abs=10.0)
    com = np.array(ndimage.center_of_mass(t.density_zyx.astype(np.float64))) - n // 2
    assert com * 10.0 == pytest.approx([40.0, 0.0, 0.0], abs=3.0)


def test_load_template_mrc_header_voxel_size_and_override(tmp_path):
    data = _ellipsoid_map(33, 5.0, (0.0, 0.0, 0.0), (40.0, 40.0, 40.0))
    path = tmp_path / "unset.mrc"
    _write_map(path, data, 1.0)
    with pytest.raises(ValueError, match="map_voxel_size_ang"):
        load_template_mrc(path, 10.0)
    _write_map(path, data, 0.0)
    with pytest.raises(ValueError, match="map_voxel_size_ang"):
        load_template_mrc(path, 10.0)
    t = load_template_mrc(path, 10.0, map_voxel_size_ang=5.0, kind="cytosolic", name="ball")
    assert t.name == "ball"
    assert t.radius_ang == pytest.approx(40.0, abs=10.0)


def test_load_template_mrc_inverts_dark_maps(tmp_path):
    data = -_ellipsoid_map(33, 5.0, (0.0, 0.0, 0.0), (40.0, 40.0, 40.0))
    path = tmp_path / "dark.mrc"
    _write_map(path, data, 5.0)
    with pytest.raises(ValueError, match="invert"):
        load_template_mrc(path, 10.0)
    t = load_template_mrc(path, 10.0, invert=True)
    assert t.radius_ang == pytest.approx(40.0, abs=10.0)


def test_load_template_mrc_bad_inputs(tmp_path):
    missing = tmp_path / "nope.mrc"
    with pytest.raises(FileNotFoundError, match="nope.mrc"):
        load_template_mrc(missing, 10.0)
    junk = tmp_path / "junk.mrc"
    junk.write_bytes(b"not an mrc file" * 10)
    with pytest.raises(ValueError, match="junk.mrc"):
        load_template_mrc(junk, 10.0)
    flat = tmp_path / "flat.mrc"
    _write_map(flat, np.ones((16, 16), np.float32), 5.0)
    with pytest.raises(ValueError, match="3D"):
        load_template_mrc(flat, 10.0)
    good = tmp_path / "good.mrc"
    _write_map(good, _ellipsoid_map(17, 5.0, (0, 0, 0), (20, 20, 20)), 5.0)
    with pytest.raises(ValueError, match="threshold_fraction"):
        load_template_mrc(good, 10.0, threshold_fraction=1.5)
    with pytest.raises(ValueError, match="kind"):
        load_template_mrc(good, 10.0, kind="nucleus")
