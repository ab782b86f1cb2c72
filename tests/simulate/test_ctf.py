"""CTF: wavelength, sign convention, first zero where the formula puts it."""

import numpy as np
import pytest

from cryomem.io import electron_wavelength_ang
from cryomem.simulate._ctf import ctf_2d


@pytest.mark.parametrize(("voltage_kv", "wavelength_ang"), [(300, 0.019687), (200, 0.025079), (100, 0.037014)])
def test_relativistic_wavelength_matches_tabulated_values(voltage_kv, wavelength_ang):
    assert electron_wavelength_ang(voltage_kv) == pytest.approx(wavelength_ang, rel=1e-4)


def _radial_profile(amplitude_contrast, defocus_ang, voxel_size_ang=2.0, n=4096):
    ctf = ctf_2d(
        (1, n),
        voxel_size_ang=voxel_size_ang,
        defocus_ang=defocus_ang,
        voltage_kv=300,
        cs_mm=2.7,
        amplitude_contrast=amplitude_contrast,
    )[0]
    return np.fft.rfftfreq(n, d=voxel_size_ang), ctf


def test_first_zero_is_where_chi_equals_pi_for_pure_phase_contrast():
    defocus, cs_ang, lam = 20000.0, 2.7e7, electron_wavelength_ang(300)
    k, ctf = _radial_profile(0.0, defocus)
    # χ(k) = π λ Δf k² − (π/2) Cs λ³ k⁴ = π  →  (Cs λ³/2) q² − λ Δf q + 1 = 0 with q = k²
    q = (lam * defocus - np.sqrt((lam * defocus) ** 2 - 2 * cs_ang * lam**3)) / (cs_ang * lam**3)
    first_zero = np.sqrt(q)
    sign_change = np.flatnonzero((ctf[1:-1] > 0) & (ctf[2:] <= 0))[0] + 1
    assert k[sign_change] <= first_zero <= k[sign_change + 1]
    assert np.all(ctf[1:sign_change] > 0)  # positive before it: underfocus, χ > 0


def test_underfocus_ctf_is_positive_at_low_frequency_and_equals_a_at_dc():
    k, ctf = _radial_profile(0.07, 30000.0)
    assert ctf[0] == pytest.approx(0.07, rel=1e-5)
    assert np.all(ctf[k < 1 / 50.0] > 0)
    _, overfocus = _radial_profile(0.0, -30000.0)
    assert overfocus[1] < 0


def test_ctf_is_in_rfft2_layout_and_radially_symmetric():
    ctf = ctf_2d((48, 64), voxel_size_ang=10, defocus_ang=30000)
    assert ctf.shape == (48, 33) and ctf.dtype == np.float32
    np.testing.assert_allclose(ctf[5, 0], ctf[-5, 0])
    square = ctf_2d((64, 64), voxel_size_ang=10, defocus_ang=30000)
    np.testing.assert_allclose(square[7, 0], square[0, 7], rtol=1e-6)
    assert np.all(np.abs(ctf) <= 1 + 1e-6)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(voxel_size_ang=0), "voxel_size_ang"),
        (dict(voltage_kv=-1), "voltage_kv"),
        (dict(cs_mm=-0.1), "cs_mm"),
        (dict(amplitude_contrast=1.5), "amplitude_contrast"),
        (dict(defocus_ang=np.nan), "defocus_ang"),
    ],
)
def test_bad_optics_name_the_parameter(kwargs, name):
    args = dict(voxel_size_ang=10.0, defocus_ang=30000.0) | kwargs
    with pytest.raises(ValueError, match=name):
        ctf_2d((16, 16), **args)
