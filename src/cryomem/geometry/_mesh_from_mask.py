"""Triangle meshes from binary masks: marching cubes, Voronoi-clustering remeshing, outward normals."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from cryomem.geometry._cleanup import clean_mesh
from cryomem.geometry._curvature import vertex_normals
from cryomem.geometry._laplacian import face_areas
from cryomem.io import Mesh, xyz_ang_to_zyx_index, zyx_index_to_xyz_ang

__all__ = ["DEFAULT_SPACING_VOXELS", "mesh_from_mask"]

DEFAULT_SPACING_VOXELS = 1.5
"""Default target vertex spacing (triangle edge length) in voxels when ``spacing_ang`` is None."""

_LEVEL = 0.5


def mesh_from_mask(
    mask_zyx: np.ndarray,
    voxel_size_ang: float,
    *,
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
    spacing_ang: float | None = None,
    smoothing_sigma_vox: float = 1.0,
) -> Mesh:
    """Mesh the boundary of a binary mask, with even vertex spacing and outward normals.

    Steps: Gaussian smoothing of the mask (``smoothing_sigma_vox``), marching cubes at level 0.5,
    isotropic remeshing by Voronoi clustering (pyacvd, Valette & Chassery 2004) to the target vertex
    spacing, clean-up (degenerate and duplicate triangles, edges shared by more than two
    triangles, unused vertices and components of fewer than 20 triangles removed), then every
    triangle wound so that its normal points out of the mask. A membrane segmentation is a thick
    sheet, so its mesh is the sheet's closed boundary: both sides of the membrane, each with
    normals pointing away from the membrane body.

    Parameters
    ----------
    mask_zyx : (nz, ny, nx) array
        Nonzero inside. The mask is padded with zeros, so surfaces touching the volume border close.
    voxel_size_ang : float
        Voxel size, Å.
    origin_xyz_ang : (3,) floats, default (0, 0, 0)
        Physical position of voxel ``(0, 0, 0)``, Å (vertices are physical, see :mod:`cryomem.io`).
    spacing_ang : float, optional
        Target distance between neighbouring vertices, Å; default ``1.5 * voxel_size_ang``.
    smoothing_sigma_vox : float, default 1.0
        Gaussian sigma in voxels applied to the mask before marching cubes; 0 disables it.

    Returns
    -------
    Mesh
        Vertices in Å (xyz), faces, unit normals. Empty (0 vertices) if the mask is empty or too
        small to survive smoothing.
    """
    from scipy import ndimage
    from skimage.measure import marching_cubes

    mask = np.asarray(mask_zyx)
    if mask.ndim != 3:
        raise ValueError(f"mask_zyx must be 3-D (z, y, x), got shape {mask.shape}")
    if not np.isfinite(voxel_size_ang) or voxel_size_ang <= 0:
        raise ValueError(f"voxel_size_ang must be finite and > 0, got {voxel_size_ang}")
    if not np.isfinite(smoothing_sigma_vox) or smoothing_sigma_vox < 0:
        raise ValueError(f"smoothing_sigma_vox must be >= 0, got {smoothing_sigma_vox}")
    spacing = DEFAULT_SPACING_VOXELS * voxel_size_ang if spacing_ang is None else float(spacing_ang)
    if not np.isfinite(spacing) or spacing <= 0:
        raise ValueError(f"spacing_ang must be finite and > 0, got {spacing_ang}")
    empty = Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros((0, 3)))
    nonzero = np.argwhere(mask)
    if len(nonzero) == 0:
        return empty
    pad = int(np.ceil(3 * smoothing_sigma_vox)) + 2
    low = nonzero.min(axis=0) - pad
    high = nonzero.max(axis=0) + pad + 1
    box = np.zeros(high - low, dtype=np.float32)
    inside_low, inside_high = np.maximum(low, 0), np.minimum(high, mask.shape)
    box[tuple(slice(a - b, c - b) for a, b, c in zip(inside_low, low, inside_high))] = (
        mask[tuple(slice(a, c) for a, c in zip(inside_low, inside_high))] != 0
    )
    if smoothing_sigma_vox > 0:
        box = ndimage.gaussian_filter(box, smoothing_sigma_vox, mode="constant")
    if box.max() <= _LEVEL:
        return empty
    verts_zyx, faces, _, _ = marching_cubes(box, level=_LEVEL, allow_degenerate=False)
    box_origin = zyx_index_to_xyz_ang(low[None, :].astype(np.float64), voxel_size_ang, origin_xyz_ang)[0]
    vertices = zyx_index_to_xyz_ang(verts_zyx, voxel_size_ang, (0.0, 0.0, 0.0)) + box_origin
    vertices, faces = _remesh(vertices, faces.astype(np.int64), spacing)
    vertices, faces = clean_mesh(vertices, faces)
    if len(faces) == 0:
        return empty
    faces = _wind_outward(box, vertices - box_origin, faces, voxel_size_ang)
    return Mesh(vertices, faces, vertex_normals(vertices, faces))


def _remesh(vertices: np.ndarray, faces: np.ndarray, spacing_ang: float) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi-clustering remeshing to about one vertex per ``(sqrt(3) / 2) * spacing²`` of area."""
    import pyacvd

    area = float(face_areas(vertices, faces).sum())
    clusters = int(round(area / (np.sqrt(3.0) / 2.0 * spacing_ang**2)))
    if clusters < 4:
        return vertices, faces
    surface = _acvd_polydata_class()(vertices, np.column_stack([np.full(len(faces), 3), faces]).ravel())
    subdivisions = 0
    while len(vertices) * 4**subdivisions < 3 * clusters and subdivisions < 3:
        subdivisions += 1
    clustering = pyacvd.Clustering(surface)
    if subdivisions:
        clustering.subdivide(subdivisions)
    clustering.cluster(clusters)
    # moveclus=False: keep the area-weighted cluster centroids (pyacvd's projection onto the
    # surface runs a 1000-neighbour search per vertex; the centroids lie within sagitta
    # (spacing² / 8 R, < 0.2 Å at R = 15 nm) of the surface); winding is fixed afterwards
    remeshed = clustering.create_mesh(moveclus=False, flipnorm=False)
    if remeshed.n_cells == 0:
        return vertices, faces
    new_faces = np.asarray(remeshed.faces).reshape(-1, 4)[:, 1:].astype(np.int64)
    return np.asarray(remeshed.points, dtype=np.float64), new_faces


@functools.cache
def _acvd_polydata_class() -> type:
    """A ``pyvista.PolyData`` whose ``_connectivity_array`` (read by pyacvd) raises no deprecation warning.

    pyacvd 0.4 reads ``PolyData._connectivity_array``, which pyvista 0.49 deprecates in favour of the
    read-only ``face_connectivity`` (and will turn into an error in 0.52). Answering that read here, with a
    writeable copy, keeps the warning from being raised at all: no warnings filter, whether process-wide at
    import or in a ``warnings.catch_warnings`` block (not thread-safe: surfaces are built in dask worker
    threads, where one thread leaving the block restores the filters under another).
    """
    import pyvista as pv

    class _AcvdPolyData(pv.PolyData):
        @property
        def _connectivity_array(self) -> np.ndarray:
            if not hasattr(pv.PolyData, "face_connectivity"):  # pyvista < 0.49: not deprecated there
                return super()._connectivity_array
            return np.array(self.face_connectivity)

    return _AcvdPolyData


def _wind_outward(
    smoothed_zyx: np.ndarray, local_vertices_xyz_ang: np.ndarray, faces: np.ndarray, voxel_size_ang: float
) -> np.ndarray:
    """Flip every triangle whose normal points into the mask (smoothed mask larger ahead than behind)."""
    from scipy import ndimage

    corners = local_vertices_xyz_ang[faces]
    centroid = corners.mean(axis=1)
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-30)
    step = 0.5 * voxel_size_ang
    ahead = xyz_ang_to_zyx_index(centroid + step * normal, voxel_size_ang)
    behind = xyz_ang_to_zyx_index(centroid - step * normal, voxel_size_ang)
    value_ahead = ndimage.map_coordinates(smoothed_zyx, ahead.T, order=1, mode="nearest")
    value_behind = ndimage.map_coordinates(smoothed_zyx, behind.T, order=1, mode="nearest")
    inward = value_ahead > value_behind
    faces = faces.copy()
    faces[inward] = faces[inward][:, ::-1]
    return faces
