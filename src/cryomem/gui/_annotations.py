"""The state of the surface annotator: particles on one membrane surface, edited and saved as STAR.

Pure numpy/pandas (no napari, no Qt). A widget draws points and their orientation arrows from the
same :class:`SurfaceAnnotations`, so deleting a point always deletes its arrow, and every position
it holds lies on the surface (added and moved points are snapped).
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from cryomem.gui._snap import MeshSnapper
from cryomem.io import (
    PARTICLE_COLUMNS,
    MembraneSurface,
    normals_to_euler_zyz_deg,
    write_particles_star,
)
from cryomem.pick import tomogram_name

__all__ = ["SurfaceAnnotations", "density_at_offset"]

"""Membrane attribute holding the tomogram's shape as ``"nz,ny,nx"`` (as ``cryomem pick predict`` reads it)."""
_HISTORY = 100
_OFFSET_TOLERANCE_ANG = 1e-9


def density_at_offset(surface: MembraneSurface, offset_ang: float) -> NDArray[np.float32]:
    """Per-vertex density at a signed distance along the normal, from the sampled features.

    Parameters
    ----------
    surface : cryomem.io.MembraneSurface
        Membrane with ``features`` sampled at ``feature_offsets_ang``.
    offset_ang : float
        Signed distance along the outward normal, Å, within the sampled range.

    Returns
    -------
    (n,) float32 array
        The feature column at ``offset_ang`` where it was sampled, else the linear interpolation
        between the two sampled offsets around it.

    Raises
    ------
    ValueError
        If the surface has no features or ``offset_ang`` is outside the sampled offsets.
    """
    if surface.features is None or surface.feature_offsets_ang is None:
        raise ValueError(
            f"membrane {surface.label} has no density samples (features); rebuild it with `cryomem surface` "
            "to sample the tomogram along the normals"
        )
    offsets = np.asarray(surface.feature_offsets_ang, dtype=np.float64)
    order = np.argsort(offsets, kind="stable")
    offsets, columns = offsets[order], np.asarray(surface.features)[:, order]
    offset = float(offset_ang)
    if not (
        np.isfinite(offset) and offsets[0] - _OFFSET_TOLERANCE_ANG <= offset <= offsets[-1] + _OFFSET_TOLERANCE_ANG
    ):
        raise ValueError(
            f"offset_ang {offset:g} Å is outside the sampled offsets {offsets[0]:g}..{offsets[-1]:g} Å of membrane "
            f"{surface.label}; pick an offset in that range"
        )
    exact = np.flatnonzero(np.abs(offsets - offset) <= _OFFSET_TOLERANCE_ANG)
    if exact.size:
        return columns[:, exact[0]].astype(np.float32)
    upper = int(np.searchsorted(offsets, offset))
    lower = upper - 1
    weight = (offset - offsets[lower]) / (offsets[upper] - offsets[lower])
    blended = (1.0 - weight) * columns[:, lower].astype(np.float64) + weight * columns[:, upper].astype(np.float64)
    return blended.astype(np.float32)


@dataclass(frozen=True)
class _State:
    """One version of the annotations; rows in the order points were added."""

    ids: NDArray[np.int64]
    positions_xyz_ang: NDArray[np.float64]
    normals_xyz: NDArray[np.float64]
    inplane_deg: NDArray[np.float64]
    scores: NDArray[np.float64]

    @classmethod
    def empty(cls) -> _State:
        return cls(np.empty(0, np.int64), np.empty((0, 3)), np.empty((0, 3)), np.empty(0), np.empty(0))

    def select(self, rows: NDArray[np.bool_] | NDArray[np.int64]) -> _State:
        return _State(*(np.array(getattr(self, n)[rows]) for n in self.__dataclass_fields__))

    def append(self, other: _State) -> _State:
        return _State(*(np.concatenate([getattr(self, n), getattr(other, n)]) for n in self.__dataclass_fields__))


class SurfaceAnnotations:
    """The particles annotated on one membrane surface, with undo.

    Every position lies on the surface (the exact closest point of its mesh) and carries the
    surface's interpolated unit normal there, which is the particle's z axis. Each particle keeps
    the id it was given when added, through moves, deletions of others and undos.

    Parameters
    ----------
    surface : cryomem.io.MembraneSurface
        The membrane (vertices Å, xyz, physical; outward normals).
    tomo_name : str, optional
        ``rlnTomoName`` of the particles. Default: the membrane's tomogram name as
        ``cryomem pick train`` matches it (stem of its tomogram path, else of its file name).
    shape_zyx : (nz, ny, nx) ints, optional
        Shape of the tomogram, for the STAR's RELION-5 centred coordinates. Default: the
        membrane's ``tomogram_shape_zyx`` attribute, else the header of its tomogram file.
    """

    def __init__(
        self,
        surface: MembraneSurface,
        *,
        tomo_name: str | None = None,
        shape_zyx: tuple[int, int, int] | None = None,
    ) -> None:
        self.surface = surface
        self.tomo_name = _tomo_name(surface, tomo_name)
        self._shape_zyx = None if shape_zyx is None else _checked_shape(shape_zyx)
        self._snapper = MeshSnapper(surface.vertices_xyz_ang, surface.faces, surface.normals_xyz)
        self._state = _State.empty()
        self._history: deque[_State] = deque(maxlen=_HISTORY)
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._state.ids)

    @property
    def ids(self) -> NDArray[np.int64]:
        """(p,) int64 array: the particles' ids, in row order (the order of every other array)."""
        return self._state.ids.copy()

    @property
    def positions_xyz_ang(self) -> NDArray[np.float64]:
        """(p, 3) float64 array: positions on the surface, Å, xyz."""
        return self._state.positions_xyz_ang.copy()

    @property
    def normals_xyz(self) -> NDArray[np.float64]:
        """(p, 3) float64 array: unit surface normals at the positions (the particles' z axes)."""
        return self._state.normals_xyz.copy()

    @property
    def inplane_deg(self) -> NDArray[np.float64]:
        """(p,) float64 array: in-plane angles about the normals (``rlnAngleRot``), degrees."""
        return self._state.inplane_deg.copy()

    @property
    def scores(self) -> NDArray[np.float64]:
        """(p,) float64 array: scores of predicted particles; NaN for particles added by hand."""
        return self._state.scores.copy()

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` has an edit to revert."""
        return bool(self._history)

    def rows_of(self, ids: int | Iterable[int]) -> NDArray[np.int64]:
        """Row indices of the given ids (as in napari's layer data), in the order given.

        Raises
        ------
        ValueError
            If an id is not annotated (deleted, never added, or reverted by undo).
        """
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        lookup = {int(i): row for row, i in enumerate(self._state.ids)}
        unknown = [int(i) for i in wanted if int(i) not in lookup]
        if unknown:
            raise ValueError(
                f"particle id(s) {unknown[:5]} are not annotated on {self.surface.label}; use ids from .ids"
            )
        return np.array([lookup[int(i)] for i in wanted], dtype=np.int64)

    def add(self, point_xyz_ang: ArrayLike, inplane_deg: float | None = None) -> int:
        """Add a particle at the surface point closest to ``point_xyz_ang``; return its new id.

        Parameters
        ----------
        point_xyz_ang : (3,) float array
            Clicked point, Å, xyz (physical).
        inplane_deg : float, optional
            In-plane angle about the normal, degrees. None stores 0.0 (a hand-made particle has no
            in-plane orientation; ``cryomem pick train`` uses only the normal).

        Returns
        -------
        int
            The particle's id, never reused in this object.
        """
        positions, normals = self._snapper.snap(_one_point(point_xyz_ang))
        new_id = self._next_id
        added = _State(
            np.array([new_id], dtype=np.int64),
            positions,
            normals,
            np.array([0.0 if inplane_deg is None else _finite(inplane_deg, "inplane_deg")]),
            np.array([np.nan]),
        )
        self._commit(self._state.append(added))
        self._next_id += 1
        return new_id

    def move(self, particle_id: int, point_xyz_ang: ArrayLike) -> None:
        """Move a particle to the surface point closest to ``point_xyz_ang``; its normal follows.

        The id, in-plane angle and score stay.
        """
        row = int(self.rows_of(particle_id)[0])
        positions, normals = self._snapper.snap(_one_point(point_xyz_ang))
        moved_positions, moved_normals = self._state.positions_xyz_ang.copy(), self._state.normals_xyz.copy()
        moved_positions[row], moved_normals[row] = positions[0], normals[0]
        self._commit(replace(self._state, positions_xyz_ang=moved_positions, normals_xyz=moved_normals))

    def delete(self, ids: int | Iterable[int]) -> None:
        """Delete the particles with these ids (their arrows go with them); one undo restores all."""
        rows = self.rows_of(ids)
        if rows.size == 0:
            return
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        self._commit(self._state.select(keep))

    def undo(self) -> bool:
        """Revert the last add, move, delete or load; return False when there is nothing to revert."""
        if not self._history:
            return False
        self._state = self._history.pop()
        return True

    def positions_zyx_ang(self) -> NDArray[np.float64]:
        """(p, 3) float64 array: positions, Å, zyx (napari world coordinates of Å-scaled layers)."""
        return self._state.positions_xyz_ang[:, ::-1].copy()

    def arrows_zyx_ang(self, length_ang: float) -> NDArray[np.float64]:
        """Orientation arrows as napari vectors data, one per particle, in row order.

        Parameters
        ----------
        length_ang : float
            Arrow length, Å (> 0).

        Returns
        -------
        (p, 2, 3) float64 array
            ``[start, direction * length]`` in zyx Å: the position and the normal scaled to the length.
        """
        length = _finite(length_ang, "length_ang")
        if length <= 0:
            raise ValueError(f"length_ang must be > 0, got {length:g}; pass an arrow length in Å")
        state = self._state
        return np.stack([state.positions_xyz_ang[:, ::-1], state.normals_xyz[:, ::-1] * length], axis=1)

    def load_particles(self, table: pd.DataFrame, max_distance_ang: float) -> int:
        """Add the particles of a table that belong to this membrane (see :meth:`from_particles`).

        Returns
        -------
        int
            Number of particles added (one undo removes them all).
        """
        limit_ang = _distance(max_distance_ang)
        xyz, inplane, scores = _own_rows(table, self.surface, self.tomo_name)
        positions, normals = self._snapper.snap(xyz)
        near = np.linalg.norm(positions - xyz, axis=1) <= limit_ang
        if not near.any():
            return 0
        ids = np.arange(self._next_id, self._next_id + int(near.sum()), dtype=np.int64)
        self._commit(self._state.append(_State(ids, positions[near], normals[near], inplane[near], scores[near])))
        self._next_id += len(ids)
        return len(ids)

    @classmethod
    def from_particles(
        cls,
        surface: MembraneSurface,
        table: pd.DataFrame,
        max_distance_ang: float,
        *,
        tomo_name: str | None = None,
        shape_zyx: tuple[int, int, int] | None = None,
    ) -> SurfaceAnnotations:
        """Annotations holding a table's particles on this membrane, snapped onto it.

        Parameters
        ----------
        surface : cryomem.io.MembraneSurface
            The membrane.
        table : pandas.DataFrame
            Particle table as :func:`cryomem.io.read_particles_star` reads it or
            :func:`cryomem.pick.pick_surface` predicts it. Kept: rows of this tomogram (or with an
            empty ``tomo_name``, as files without names read), of this membrane (or ``membrane_id``
            -1, unknown), and within ``max_distance_ang`` of the surface. Their ``rot_deg`` is the
            in-plane angle and ``score`` the score; the normal is the surface's where they snap.
        max_distance_ang : float
            Farthest a particle may lie from the surface, Å (predicted particles sit on the
            membrane's mid-surface, about half its thickness below this side).
        tomo_name, shape_zyx
            As for :class:`SurfaceAnnotations`.
        """
        annotations = cls(surface, tomo_name=tomo_name, shape_zyx=shape_zyx)
        annotations.load_particles(table, max_distance_ang)
        annotations._history.clear()
        return annotations

    def to_particles(self) -> pd.DataFrame:
        """The particles as a standard particle table (:data:`cryomem.io.PARTICLE_COLUMNS`), in row order.

        Angles are RELION ZYZ with the particle z axis along the surface normal and ``rot_deg`` the
        in-plane angle; ``class_number`` is 1, ``membrane_id`` the surface's.
        """
        state = self._state
        angles = normals_to_euler_zyz_deg(state.normals_xyz, state.inplane_deg) if len(self) else np.empty((0, 3))
        table = pd.DataFrame(
            {
                "tomo_name": pd.Series([self.tomo_name] * len(self), dtype=str),
                "x_ang": state.positions_xyz_ang[:, 0],
                "y_ang": state.positions_xyz_ang[:, 1],
                "z_ang": state.positions_xyz_ang[:, 2],
                "rot_deg": angles[:, 0],
                "tilt_deg": angles[:, 1],
                "psi_deg": angles[:, 2],
                "class_number": np.ones(len(self), dtype=np.int64),
                "membrane_id": np.full(len(self), self.surface.membrane_id, dtype=np.int64),
                "score": state.scores,
            }
        )
        return table.loc[:, list(PARTICLE_COLUMNS)]

    def save_star(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write the particles as a STAR file, atomically (:func:`cryomem.io.write_particles_star`).

        Raises
        ------
        ValueError
            If the membrane has no voxel size, the tomogram name is empty or has spaces, or the
            tomogram's shape is unknown.
        """
        if self.surface.voxel_size_ang is None:
            raise ValueError(
                f"membrane {self.surface.label} has no voxel size; read it from its .h5 file to save pixel coordinates"
            )
        if not self.tomo_name or re.search(r"\s", self.tomo_name):
            raise ValueError(
                f"tomogram name {self.tomo_name!r} must be non-empty without spaces; pass tomo_name= to "
                "SurfaceAnnotations"
            )
        return write_particles_star(
            path,
            self.to_particles(),
            voxel_size_ang=self.surface.voxel_size_ang,
            shape_zyx=self.shape_zyx(),
            origin_xyz_ang=self.surface.origin_xyz_ang,
            overwrite=overwrite,
        )

    def shape_zyx(self) -> tuple[int, int, int]:
        """The tomogram's shape (nz, ny, nx): as given, else the membrane's attribute, else its MRC header."""
        if self._shape_zyx is not None:
            return self._shape_zyx
        return _checked_shape(self.surface.tomogram_shape_zyx())

    def _commit(self, state: _State) -> None:
        self._history.append(self._state)
        self._state = state


def _tomo_name(surface: MembraneSurface, override: str | None) -> str:
    if override is not None:
        return str(override)
    if surface.tomo_name is not None:
        return surface.tomo_name
    if surface.tomogram_path or surface.source:
        return tomogram_name(surface, surface.source or None)
    return ""


def _own_rows(
    table: pd.DataFrame, surface: MembraneSurface, name: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Positions (xyz Å), in-plane angles and scores of the rows of this tomogram and membrane."""
    missing = [c for c in ("tomo_name", "x_ang", "y_ang", "z_ang") if c not in table.columns]
    if missing:
        raise ValueError(f"particle table lacks column(s) {missing}; read it with cryomem.io.read_particles_star")
    names = table["tomo_name"].astype(str)
    mine = (names == name) | (names == "")
    if "membrane_id" in table.columns:
        membrane = pd.to_numeric(table["membrane_id"], errors="coerce")
        mine &= (membrane == surface.membrane_id) | (membrane == -1)
    rows = table.loc[mine.to_numpy()]
    xyz = rows[["x_ang", "y_ang", "z_ang"]].to_numpy(dtype=np.float64)
    if not np.isfinite(xyz).all():
        raise ValueError("particle table has NaN or infinite coordinates; fix or drop those rows")
    inplane = _column(rows, "rot_deg", 0.0)
    return xyz, np.where(np.isfinite(inplane), inplane, 0.0), _column(rows, "score", np.nan)


def _column(rows: pd.DataFrame, name: str, default: float) -> NDArray[np.float64]:
    if name not in rows.columns:
        return np.full(len(rows), default)
    return pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=np.float64)


def _one_point(point_xyz_ang: ArrayLike) -> NDArray[np.float64]:
    point = np.asarray(point_xyz_ang, dtype=np.float64)
    if point.size != 3 or not np.isfinite(point).all():
        raise ValueError(f"point_xyz_ang must be 3 finite numbers (x, y, z in Å), got {point.tolist()}")
    return point.reshape(1, 3)


def _finite(value: float, name: str) -> float:
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def _distance(max_distance_ang: float) -> float:
    distance = _finite(max_distance_ang, "max_distance_ang")
    if distance < 0:
        raise ValueError(f"max_distance_ang must be >= 0, got {distance:g}; pass a distance from the surface in Å")
    return distance


def _checked_shape(shape_zyx: Iterable[int]) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in shape_zyx)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape_zyx must be 3 positive sizes (nz, ny, nx), got {shape}; pass the tomogram's shape")
    return shape  # type: ignore[return-value]
