"""The one place for cryomem's coordinate, unit and angle conventions.

Coordinates
    Arrays are numpy in MRC order ``(z, y, x)``. Physical points are ``(x, y, z)`` in Å: voxel
    ``(i_z, i_y, i_x)`` is centred at ``(i_x * s, i_y * s, i_z * s) + origin_xyz_ang`` for voxel
    size ``s``. Pixel coordinates ``xyz_px`` are the same voxel indices in ``(x, y, z)`` order,
    0-based (STAR ``rlnCoordinateX/Y/Z``). RELION-5 centred coordinates are
    ``(px - N / 2) * s`` in Å with ``N`` the tomogram size along that axis.

Angles
    RELION ZYZ Euler angles in degrees ``(rot, tilt, psi)``. The rotation that places the
    reference particle in the tomogram (acting on column vectors ``xyz``) is
    ``Rotation.from_euler("ZYZ", [rot, tilt, psi], degrees=True).inv()``, that is
    ``Rz(-psi) @ Ry(-tilt) @ Rz(-rot)``. Its third column is the particle's z axis (the outward
    membrane normal); ``rot`` spins the particle about that axis (the in-plane angle).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "centered_ang_to_xyz_px",
    "ctf_1d",
    "electron_wavelength_ang",
    "euler_zyz_deg_to_matrix",
    "matrix_to_euler_zyz_deg",
    "normals_to_euler_zyz_deg",
    "validate_voxel_size_ang",
    "xyz_ang_to_xyz_px",
    "xyz_ang_to_zyx_index",
    "xyz_px_to_centered_ang",
    "xyz_px_to_xyz_ang",
    "zyx_index_to_xyz_ang",
]

_POLE_TOLERANCE = 1e-12


def validate_voxel_size_ang(value: object, source: str, *, explicit: bool = False) -> float:
    """Return ``value`` as a float voxel size in Å, or raise a ``ValueError`` saying how to fix it.

    Parameters
    ----------
    value : float-like
        Candidate voxel size, Å.
    source : str
        Where the value came from (e.g. ``"header of tomo.mrc"``), named in the message.
    explicit : bool, default False
        True for a value the user gave on purpose (``--voxel-size``): then 1 Å is accepted.
        Otherwise 0 and 1 Å, the defaults many writers leave in headers, are rejected.

    Returns
    -------
    float
        The voxel size, Å, finite and > 0.
    """
    try:
        size = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(
            f"voxel size from {source} is {value!r}, not a number; pass --voxel-size (voxel_size_ang=...) in Å"
        ) from None
    if not explicit and (size == 0.0 or math.isclose(size, 1.0, rel_tol=0.0, abs_tol=1e-6)):
        raise ValueError(
            f"voxel size from {source} is {size:g} Å, which usually means the header has no "
            "voxel size; pass --voxel-size (voxel_size_ang=...) with the real value in Å"
        )
    if not math.isfinite(size) or size <= 0.0:
        raise ValueError(
            f"voxel size from {source} is {size:g} Å; it must be finite and > 0; pass "
            "--voxel-size (voxel_size_ang=...) in Å"
        )
    return size


def _points(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (n, 3) (or (3,)), got {array.shape}")
    return array


def _positive_size(voxel_size_ang: float) -> float:
    return validate_voxel_size_ang(voxel_size_ang, "argument voxel_size_ang", explicit=True)


def _xyz_sizes(shape_zyx: Sequence[int]) -> NDArray[np.float64]:
    sizes = np.asarray(shape_zyx, dtype=np.float64)
    if sizes.shape != (3,) or np.any(sizes < 1):
        raise ValueError(f"shape_zyx must be 3 positive sizes (nz, ny, nx), got {shape_zyx!r}")
    return sizes[::-1].copy()


def zyx_index_to_xyz_ang(
    indices_zyx: ArrayLike,
    voxel_size_ang: float,
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
) -> NDArray[np.float64]:
    """Voxel indices ``(i_z, i_y, i_x)`` (may be fractional) -> physical points, Å, xyz.

    Parameters
    ----------
    indices_zyx : (n, 3) array
        Voxel indices in array order.
    voxel_size_ang : float
        Voxel size, Å.
    origin_xyz_ang : (3,) floats, default (0, 0, 0)
        Physical position of voxel (0, 0, 0), Å, xyz (the MRC header origin).

    Returns
    -------
    (n, 3) float64 array
        Points, Å, xyz.
    """
    indices = _points(indices_zyx, "indices_zyx")
    origin = _points(origin_xyz_ang, "origin_xyz_ang")
    return indices[..., ::-1] * _positive_size(voxel_size_ang) + origin


def xyz_ang_to_zyx_index(
    points_xyz_ang: ArrayLike,
    voxel_size_ang: float,
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
) -> NDArray[np.float64]:
    """Physical points, Å, xyz -> fractional voxel indices ``(i_z, i_y, i_x)`` (no rounding).

    Inverse of :func:`zyx_index_to_xyz_ang`; returns an (n, 3) float64 array.
    """
    return xyz_ang_to_xyz_px(points_xyz_ang, voxel_size_ang, origin_xyz_ang)[..., ::-1].copy()


def xyz_ang_to_xyz_px(
    points_xyz_ang: ArrayLike,
    voxel_size_ang: float,
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
) -> NDArray[np.float64]:
    """Physical points, Å, xyz -> pixel coordinates xyz (0-based voxel indices, float).

    Parameters
    ----------
    points_xyz_ang : (n, 3) array
        Points, Å, xyz.
    voxel_size_ang : float
        Voxel size, Å.
    origin_xyz_ang : (3,) floats, default (0, 0, 0)
        Physical position of voxel (0, 0, 0), Å, xyz.

    Returns
    -------
    (n, 3) float64 array
        Pixel coordinates, xyz (as STAR ``rlnCoordinateX/Y/Z``).
    """
    points = _points(points_xyz_ang, "points_xyz_ang")
    return (points - _points(origin_xyz_ang, "origin_xyz_ang")) / _positive_size(voxel_size_ang)


def xyz_px_to_xyz_ang(
    points_xyz_px: ArrayLike,
    voxel_size_ang: float,
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
) -> NDArray[np.float64]:
    """Pixel coordinates xyz -> physical points, Å, xyz. Inverse of :func:`xyz_ang_to_xyz_px`."""
    points = _points(points_xyz_px, "points_xyz_px")
    return points * _positive_size(voxel_size_ang) + _points(origin_xyz_ang, "origin_xyz_ang")


def xyz_px_to_centered_ang(
    points_xyz_px: ArrayLike, voxel_size_ang: float, shape_zyx: Sequence[int]
) -> NDArray[np.float64]:
    """Pixel coordinates xyz -> RELION-5 centred coordinates, Å: ``(px - N / 2) * s``.

    Parameters
    ----------
    points_xyz_px : (n, 3) array
        Pixel coordinates, xyz, 0-based.
    voxel_size_ang : float
        Voxel size of the pixel grid, Å.
    shape_zyx : (nz, ny, nx) ints
        Tomogram shape; ``N`` is ``nx``, ``ny``, ``nz`` for x, y, z (``N / 2`` as a float).

    Returns
    -------
    (n, 3) float64 array
        ``rlnCenteredCoordinateX/Y/ZAngst``.
    """
    points = _points(points_xyz_px, "points_xyz_px")
    return (points - _xyz_sizes(shape_zyx) / 2.0) * _positive_size(voxel_size_ang)


def centered_ang_to_xyz_px(
    points_centered_ang: ArrayLike, voxel_size_ang: float, shape_zyx: Sequence[int]
) -> NDArray[np.float64]:
    """RELION-5 centred coordinates, Å -> pixel coordinates xyz. Inverse of
    :func:`xyz_px_to_centered_ang`."""
    points = _points(points_centered_ang, "points_centered_ang")
    return points / _positive_size(voxel_size_ang) + _xyz_sizes(shape_zyx) / 2.0


def _rotation_z(angle_rad: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    zero, one = np.zeros_like(c), np.ones_like(c)
    return np.stack([c, -s, zero, s, c, zero, zero, zero, one], axis=-1).reshape(*c.shape, 3, 3)


def _rotation_y(angle_rad: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    zero, one = np.zeros_like(c), np.ones_like(c)
    return np.stack([c, zero, s, zero, one, zero, -s, zero, c], axis=-1).reshape(*c.shape, 3, 3)


def euler_zyz_deg_to_matrix(angles_deg: ArrayLike) -> NDArray[np.float64]:
    """RELION ZYZ Euler angles -> rotation matrices placing the particle in the tomogram.

    Parameters
    ----------
    angles_deg : (n, 3) array
        ``(rot, tilt, psi)`` in degrees (``rlnAngleRot``, ``rlnAngleTilt``, ``rlnAnglePsi``).

    Returns
    -------
    (n, 3, 3) float64 array
        ``M = Rz(-psi) Ry(-tilt) Rz(-rot)``, acting on column vectors xyz: ``M @ v_particle``
        is ``v`` in the tomogram, and ``M[:, :, 2]`` is the particle's z axis there. Equal to
        ``Rotation.from_euler("ZYZ", angles_deg, degrees=True).inv().as_matrix()``.
    """
    angles = np.radians(_points(angles_deg, "angles_deg"))
    rot, tilt, psi = angles[..., 0], angles[..., 1], angles[..., 2]
    return _rotation_z(-psi) @ _rotation_y(-tilt) @ _rotation_z(-rot)


def matrix_to_euler_zyz_deg(matrices: ArrayLike) -> NDArray[np.float64]:
    """Rotation matrices (particle -> tomogram) -> RELION ZYZ Euler angles in degrees.

    Inverse of :func:`euler_zyz_deg_to_matrix`.

    Parameters
    ----------
    matrices : (n, 3, 3) array
        Proper rotations acting on column vectors xyz.

    Returns
    -------
    (n, 3) float64 array
        ``(rot, tilt, psi)`` in degrees; ``rot, psi`` in [-180, 180], ``tilt`` in [0, 180].
        Where ``tilt`` is 0 or 180 (gimbal lock) ``psi`` is 0 and ``rot`` carries the spin.
    """
    m = np.asarray(matrices, dtype=np.float64)
    if m.ndim < 2 or m.shape[-2:] != (3, 3):
        raise ValueError(f"matrices must have shape (n, 3, 3), got {m.shape}")
    r = np.swapaxes(m, -1, -2)  # forward rotation Rz(rot) Ry(tilt) Rz(psi)
    sin_tilt = np.hypot(r[..., 0, 2], r[..., 1, 2])
    tilt = np.arctan2(sin_tilt, r[..., 2, 2])
    pole = sin_tilt < _POLE_TOLERANCE
    rot = np.where(pole, np.arctan2(-r[..., 0, 1], r[..., 1, 1]), np.arctan2(r[..., 1, 2], r[..., 0, 2]))
    rest = _rotation_z(-rot) @ r  # = Ry(tilt) Rz(psi); its middle row is (sin psi, cos psi, 0)
    psi = np.arctan2(rest[..., 1, 0], rest[..., 1, 1])
    return np.degrees(np.stack([rot, tilt, psi], axis=-1))


def normals_to_euler_zyz_deg(normals_xyz: ArrayLike, inplane_deg: ArrayLike = 0.0) -> NDArray[np.float64]:
    """Euler angles whose particle z axis is the given normal, spun by ``inplane_deg`` about it.

    Parameters
    ----------
    normals_xyz : (n, 3) array
        Normals, xyz, any non-zero length (normalised here).
    inplane_deg : float or (n,) array, default 0
        In-plane rotation about the normal in degrees; returned unchanged as ``rot``.

    Returns
    -------
    (n, 3) float64 array
        ``(rot, tilt, psi)`` in degrees with ``euler_zyz_deg_to_matrix(...)[:, :, 2]`` equal
        to the unit normal. For normals along +z or -z, ``psi`` is 0 (no arbitrary flips).
    """
    normals = _points(normals_xyz, "normals_xyz")
    lengths = np.linalg.norm(normals, axis=-1)
    if np.any(~np.isfinite(lengths) | (lengths == 0.0)):
        raise ValueError("normals_xyz must be finite and non-zero; found a zero or NaN normal")
    unit = normals / lengths[..., None]
    in_plane = np.hypot(unit[..., 0], unit[..., 1])
    tilt = np.arctan2(in_plane, unit[..., 2])
    pole = in_plane < _POLE_TOLERANCE
    psi = np.where(pole, 0.0, np.arctan2(unit[..., 1], -unit[..., 0]))
    rot = np.broadcast_to(np.asarray(inplane_deg, dtype=np.float64), tilt.shape)
    return np.stack([rot, np.degrees(tilt), np.degrees(psi)], axis=-1)


_PLANCK_J_S = 6.62607015e-34
_ELECTRON_MASS_KG = 9.1093837015e-31
_ELEMENTARY_CHARGE_C = 1.602176634e-19
_LIGHT_SPEED_M_S = 299792458.0


def electron_wavelength_ang(voltage_kv: float) -> float:
    """Relativistic electron wavelength, Å: ``λ = h / sqrt(2·m0·e·V·(1 + e·V / (2·m0·c²)))``.

    Raises
    ------
    ValueError
        ``voltage_kv`` not > 0.
    """
    if not voltage_kv > 0:
        raise ValueError(
            f"the acceleration voltage voltage_kv (--voltage-kv) must be > 0 kV, got {voltage_kv}; "
            "typical values are 200 or 300"
        )
    energy_j = _ELEMENTARY_CHARGE_C * voltage_kv * 1e3
    momentum = np.sqrt(
        2 * _ELECTRON_MASS_KG * energy_j * (1 + energy_j / (2 * _ELECTRON_MASS_KG * _LIGHT_SPEED_M_S**2))
    )
    return float(_PLANCK_J_S / momentum * 1e10)


def ctf_1d(
    frequency_per_ang: np.ndarray,
    *,
    defocus_ang: float,
    voltage_kv: float = 300.0,
    cs_mm: float = 2.7,
    amplitude_contrast: float = 0.07,
) -> np.ndarray:
    """CTF ``H(k) = sqrt(1 - A²) sin χ + A cos χ`` with ``χ = π λ Δz k² − (π/2) Cs λ³ k⁴`` (no envelope).

    Parameters
    ----------
    frequency_per_ang : array
        ``|k|``, 1/Å.
    defocus_ang : float
        Defocus ``Δz``, Å, positive for underfocus (``H > 0`` at low frequency).
    voltage_kv, cs_mm, amplitude_contrast : float
        Acceleration voltage (kV), spherical aberration (mm), amplitude contrast ``A`` in [0, 1].

    Returns
    -------
    float64 array of ``frequency_per_ang``'s shape
    """
    wavelength = electron_wavelength_ang(voltage_kv)
    k2 = np.square(np.asarray(frequency_per_ang, dtype=np.float64))
    chi = np.pi * wavelength * defocus_ang * k2 - 0.5 * np.pi * cs_mm * 1e7 * wavelength**3 * k2**2
    return np.sqrt(1 - amplitude_contrast**2) * np.sin(chi) + amplitude_contrast * np.cos(chi)
