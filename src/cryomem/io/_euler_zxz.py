"""ZXZ Euler angles of STOPGAP and Dynamo, and their conversion to and from RELION's ZYZ angles.

The standard particle table holds RELION ZYZ angles ``(rot, tilt, psi)`` whose matrix ``M`` (see
:func:`cryomem.io.euler_zyz_deg_to_matrix`) places the reference particle in the tomogram
(particle z axis = outward membrane normal). The other packages write the same ``M`` as ZXZ Euler
angles:

* STOPGAP (AV3/TOM convention), motive-list fields ``phi, psi, the``: ``M = Rz(psi) Rx(the) Rz(phi)``
  (the rotation that takes the reference onto the particle). ``phi`` spins the particle about its
  own axis.
* Dynamo, table columns 7-9 ``tdrot, tilt, narot``: Dynamo's matrix is ``Rz(narot) Rx(tilt)
  Rz(tdrot)`` = ``M.T`` (the same frame as RELION's angles; STOPGAP's own converter maps ``phi, psi,
  the = -narot, -tdrot, -tilt``). ``narot`` spins the particle.

All ``Rz, Rx`` are right-handed (counter-clockwise for positive angles) acting on column vectors
``(x, y, z)``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from cryomem.io._conventions import euler_zyz_deg_to_matrix, matrix_to_euler_zyz_deg

__all__ = ["Software", "matrix_to_zxz_deg", "relion_to_zxz", "zxz_deg_to_matrix", "zxz_to_relion"]

Software = Literal["stopgap", "dynamo"]
_SOFTWARE = ("stopgap", "dynamo")
_POLE_TOLERANCE = 1e-12


# --------------------------------------------------------------------------------------- angles
def _rz(angle_rad: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    zero, one = np.zeros_like(c), np.ones_like(c)
    return np.stack([c, -s, zero, s, c, zero, zero, zero, one], axis=-1).reshape(*c.shape, 3, 3)


def _rx(angle_rad: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    zero, one = np.zeros_like(c), np.ones_like(c)
    return np.stack([one, zero, zero, zero, c, -s, zero, s, c], axis=-1).reshape(*c.shape, 3, 3)


def _zxz_factors(r: np.ndarray) -> np.ndarray:
    """``(a, b, c)`` in degrees with ``r = Rz(a) Rx(b) Rz(c)``, ``b`` in [0, 180]; ``c = 0`` at the poles.

    Column 3 of ``r`` is ``(sin a sin b, -cos a sin b, cos b)``, row 3 is ``(sin b sin c, sin b cos c, cos b)``.
    """
    sin_b = np.hypot(r[..., 0, 2], r[..., 1, 2])
    b = np.arctan2(sin_b, r[..., 2, 2])
    pole = sin_b < _POLE_TOLERANCE
    a = np.where(pole, np.arctan2(r[..., 1, 0], r[..., 0, 0]), np.arctan2(r[..., 0, 2], -r[..., 1, 2]))
    c = np.where(pole, 0.0, np.arctan2(r[..., 2, 0], r[..., 2, 1]))
    return np.degrees(np.stack([a, b, c], axis=-1))


def _check_software(software: str) -> None:
    if software not in _SOFTWARE:
        raise ValueError(f"software must be one of {_SOFTWARE}, got {software!r}")


def _angles(values: object, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (n, 3) (or (3,)), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} has NaN or infinite angles")
    return array


def zxz_deg_to_matrix(angles_deg: object, *, software: Software) -> np.ndarray:
    """ZXZ Euler angles of STOPGAP or Dynamo -> matrices placing the particle in the tomogram.

    Parameters
    ----------
    angles_deg : (n, 3) array
        STOPGAP ``(phi, psi, the)`` or Dynamo ``(tdrot, tilt, narot)``, degrees, in that order.
    software : {"stopgap", "dynamo"}

    Returns
    -------
    (n, 3, 3) float64 array
        ``M`` as :func:`cryomem.io.euler_zyz_deg_to_matrix` returns it: STOPGAP
        ``Rz(psi) Rx(the) Rz(phi)``, Dynamo ``(Rz(narot) Rx(tilt) Rz(tdrot)).T``.
    """
    _check_software(software)
    a = np.radians(_angles(angles_deg, "angles_deg"))
    if software == "stopgap":
        phi, psi, the = a[..., 0], a[..., 1], a[..., 2]
        return _rz(psi) @ _rx(the) @ _rz(phi)
    tdrot, tilt, narot = a[..., 0], a[..., 1], a[..., 2]
    return np.swapaxes(_rz(narot) @ _rx(tilt) @ _rz(tdrot), -1, -2)


def matrix_to_zxz_deg(matrices: object, *, software: Software) -> np.ndarray:
    """Inverse of :func:`zxz_deg_to_matrix`: STOPGAP ``(phi, psi, the)`` or Dynamo ``(tdrot, tilt, narot)``.

    The middle angle is in [0, 180], the others in [-180, 180]; at the poles (middle angle 0 or
    180) the in-plane angle (``phi`` / ``narot``) is 0 and the first rotation carries the spin.
    """
    _check_software(software)
    m = np.asarray(matrices, dtype=np.float64)
    if m.ndim < 2 or m.shape[-2:] != (3, 3):
        raise ValueError(f"matrices must have shape (n, 3, 3), got {m.shape}")
    if software == "stopgap":
        psi, the, phi = np.moveaxis(_zxz_factors(m), -1, 0)
        return np.stack([phi, psi, the], axis=-1)
    narot, tilt, tdrot = np.moveaxis(_zxz_factors(np.swapaxes(m, -1, -2)), -1, 0)
    return np.stack([tdrot, tilt, narot], axis=-1)


def relion_to_zxz(angles_deg: object, *, software: Software) -> np.ndarray:
    """RELION ``(rot, tilt, psi)`` -> the same poses as STOPGAP ``(phi, psi, the)`` or Dynamo ``(tdrot, tilt, narot)``.

    Returns an (n, 3) float64 array, degrees (see :func:`matrix_to_zxz_deg` for the ranges).
    """
    return matrix_to_zxz_deg(euler_zyz_deg_to_matrix(_angles(angles_deg, "angles_deg")), software=software)


def zxz_to_relion(angles_deg: object, *, software: Software) -> np.ndarray:
    """STOPGAP ``(phi, psi, the)`` or Dynamo ``(tdrot, tilt, narot)`` -> RELION ``(rot, tilt, psi)``, degrees."""
    return matrix_to_euler_zyz_deg(zxz_deg_to_matrix(angles_deg, software=software))


# ----------------------------------------------------------------------------- shared checks
