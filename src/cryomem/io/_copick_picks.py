"""copick picks in and out as our standard particle table (see :mod:`cryomem.io._copick`)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cryomem.io._conventions import euler_zyz_deg_to_matrix, matrix_to_euler_zyz_deg
from cryomem.io._copick import _check_name, _copick, _declared, _existing, _guard, _listing, _open, _run
from cryomem.io._star import PARTICLE_COLUMNS

__all__ = ["read_copick_picks", "write_copick_picks"]

_ROTATION_ATOL = 1e-4


def _standard_rows(particles: pd.DataFrame, run: str) -> pd.DataFrame:
    if not isinstance(particles, pd.DataFrame):
        raise ValueError(f"particles must be a standard particle table (pandas DataFrame), got {type(particles)}")
    missing = [c for c in ("x_ang", "y_ang", "z_ang") if c not in particles.columns]
    if missing:
        raise ValueError(f"particles lacks required column(s) {missing}; it has {list(particles.columns)}")
    table = particles.copy()
    if "tomo_name" in table.columns:
        others = sorted(set(table["tomo_name"].astype(str)) - {str(run)})
        if others:
            raise ValueError(
                f"particles holds rows of tomograms {_listing(others)}, not only run {run!r}; pass "
                f"particles[particles.tomo_name == {run!r}]"
            )
    for column, default in (("rot_deg", 0.0), ("tilt_deg", 0.0), ("psi_deg", 0.0), ("class_number", 1)):
        if column not in table.columns:
            table[column] = default
    if "membrane_id" not in table.columns:
        table["membrane_id"] = -1
    if "score" not in table.columns:
        table["score"] = np.nan
    return table


def write_copick_picks(
    config_path: str | os.PathLike[str],
    run: str,
    *,
    object_name: str,
    particles: pd.DataFrame,
    user_id: str,
    session_id: str,
    overwrite: bool = False,
) -> str:
    """Write one run's particles (our standard table) as copick picks with 4x4 transforms.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON config.
    run : str
        Run name (must exist); ``particles['tomo_name']``, when present, must all be this run.
    object_name : str
        A pickable object declared with ``is_particle: true`` (e.g. ``"protein"``).
    particles : pandas.DataFrame
        Standard particle table (:data:`PARTICLE_COLUMNS`) of one class. Locations are
        ``x_ang, y_ang, z_ang``; each transform's rotation is
        ``euler_zyz_deg_to_matrix((rot, tilt, psi))`` (particle -> tomogram) with zero
        translation; ``score`` goes to the point's score (NaN: copick's default 1.0);
        ``membrane_id`` >= 1 to its ``instance_id`` (else 0).
    user_id, session_id : str
        copick names (no ``_`` or spaces).
    overwrite : bool, default False
        Replace existing picks of that object, user and session.

    Returns
    -------
    str
        Where copick stored the picks.
    """
    table = _standard_rows(particles, run)
    xyz = table[["x_ang", "y_ang", "z_ang"]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    angles = table[["rot_deg", "tilt_deg", "psi_deg"]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    if not (np.all(np.isfinite(xyz)) and np.all(np.isfinite(angles))):
        raise ValueError("particles has NaN, infinite or non-numeric coordinates or angles")
    classes = sorted(set(pd.to_numeric(table["class_number"]).astype(int)))
    if len(classes) > 1:
        raise ValueError(
            f"particles holds classes {classes}; copick picks hold one object: write each class under its own "
            "object_name (particles[particles.class_number == k])"
        )
    scores = pd.to_numeric(table["score"], errors="coerce").to_numpy(np.float64)
    scores = np.where(np.isfinite(scores), scores, 1.0)
    membrane = pd.to_numeric(table["membrane_id"], errors="coerce").fillna(-1).to_numpy()
    instance_ids = np.where(membrane >= 1, membrane, 0).astype(np.int64)
    transforms = np.tile(np.eye(4), (len(table), 1, 1))
    if len(table):
        transforms[:, :3, :3] = euler_zyz_deg_to_matrix(angles)
    root, where = _open(config_path)
    _copick()
    object_name = _check_name(object_name, "object_name")
    user_id = _check_name(user_id, "user_id")
    session_id = _check_name(session_id, "session_id")
    _declared(root, object_name, where, particle=True)
    copick_run = _run(root, run, where)
    found = copick_run.get_picks(object_name=object_name, user_id=user_id, session_id=session_id)
    _existing(found, f"picks of {object_name!r} by {user_id}/{session_id} in run {run!r}", overwrite)
    picks = copick_run.new_picks(object_name, session_id, user_id=user_id)
    _guard(picks, lambda: picks.from_numpy(xyz, transforms, instance_ids=instance_ids, scores=scores))
    return str(getattr(picks, "path", picks))


def read_copick_picks(
    config_path: str | os.PathLike[str],
    run: str,
    *,
    object_name: str,
    user_id: str | None = None,
    session_id: str | None = None,
    class_number: int = 1,
) -> pd.DataFrame:
    """Read one set of copick picks as our standard particle table.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON config.
    run : str
        Run name (our ``tomo_name``).
    object_name : str
        Pickable object name.
    user_id, session_id : str, optional
        Which picks, when the run holds several sets of ``object_name``.
    class_number : int, default 1
        ``class_number`` given to every row (copick keeps classes as object names).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PARTICLE_COLUMNS`: positions are copick's full positions (location +
        transform translation), Å; angles from the transform's rotation (particle -> tomogram;
        0 when the picks do not trust orientations); ``membrane_id`` = ``instance_id`` (0 -> -1);
        ``score`` = the point's score.
    """
    root, where = _open(config_path)
    copick_run = _run(root, run, where)
    found = copick_run.get_picks(object_name=object_name, user_id=user_id, session_id=session_id)
    if len(found) != 1:
        sets = sorted(f"{p.pickable_object_name}/{p.user_id}/{p.session_id}" for p in copick_run.picks)
        if not found:
            raise ValueError(
                f"run {run!r} has no picks of {object_name!r} (user_id={user_id}, session_id={session_id}); its "
                f"picks (object/user/session): {_listing(sets)}"
            )
        sets = sorted(f"{p.user_id}/{p.session_id}" for p in found)
        raise ValueError(
            f"run {run!r} has {len(found)} sets of {object_name!r} picks (user/session: {_listing(sets)}); pass "
            "user_id and session_id to choose one"
        )
    picks = found[0]
    _, transforms = picks.numpy()
    xyz = picks.full_positions()
    n = len(xyz)
    angles = np.zeros((n, 3))
    if n and picks.trust_orientation is not False:
        rotations = transforms[:, :3, :3]
        bad = ~np.isclose(np.linalg.det(rotations), 1.0, atol=_ROTATION_ATOL)
        bad |= ~np.all(
            np.isclose(rotations @ np.swapaxes(rotations, -1, -2), np.eye(3), atol=_ROTATION_ATOL), axis=(1, 2)
        )
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} of {n} transforms in {object_name!r} picks of run {run!r} are not rotations "
                f"(first: point {int(np.argmax(bad))}); fix the picks file"
            )
        angles = matrix_to_euler_zyz_deg(rotations)
    instance = picks.instance_ids() if n else np.zeros(0, dtype=np.int64)
    table = pd.DataFrame(
        {
            "tomo_name": pd.Series([copick_run.name] * n, dtype=object),
            "x_ang": xyz[:, 0] if n else np.zeros(0),
            "y_ang": xyz[:, 1] if n else np.zeros(0),
            "z_ang": xyz[:, 2] if n else np.zeros(0),
            "rot_deg": angles[:, 0],
            "tilt_deg": angles[:, 1],
            "psi_deg": angles[:, 2],
            "class_number": np.full(n, int(class_number), dtype=np.int64),
            "membrane_id": np.where(instance >= 1, instance, -1).astype(np.int64),
            "score": picks.scores() if n else np.zeros(0),
        }
    )
    return table[list(PARTICLE_COLUMNS)]
