"""Surface geometry: meshes from masks, normals, curvature, geodesics, patches, sampling along normals.

Vertices are ``(x, y, z)`` in Å and volumes ``(z, y, x)`` (see :mod:`cryomem.io`). The
``cryomem surface`` stage (:func:`membrane_surfaces`, :func:`surfaces_from_files`) turns a membrane
segmentation into one mesh per membrane with density profiles sampled along the vertex normals
(MemBrain-pick's input, MemBrain v2 paper, Methods).
"""

from cryomem.geometry._curvature import gaussian_curvature, mean_curvature, vertex_normals
from cryomem.geometry._geodesic import GeodesicSolver, geodesic_distances
from cryomem.geometry._laplacian import face_areas, laplacian_and_mass, vertex_areas
from cryomem.geometry._mesh_from_mask import DEFAULT_SPACING_VOXELS, mesh_from_mask
from cryomem.geometry._patches import GeodesicPatch, geodesic_patches
from cryomem.geometry._sampling import (
    DEFAULT_FEATURE_LOWPASS_ANG,
    DEFAULT_FEATURE_OFFSETS_ANG,
    FEATURE_LOWPASS_ATTR,
    sample_along_normals,
)
from cryomem.geometry._steiner import LocalExactDistances
from cryomem.geometry._surface_files import surface_output_paths, surfaces_from_files
from cryomem.geometry._surface_settings import SurfaceSettings
from cryomem.geometry._surfaces import DEFAULT_MIN_VOXELS, membrane_instances, membrane_surfaces

__all__ = [
    "DEFAULT_FEATURE_LOWPASS_ANG",
    "DEFAULT_FEATURE_OFFSETS_ANG",
    "FEATURE_LOWPASS_ATTR",
    "DEFAULT_MIN_VOXELS",
    "DEFAULT_SPACING_VOXELS",
    "GeodesicPatch",
    "GeodesicSolver",
    "face_areas",
    "gaussian_curvature",
    "geodesic_distances",
    "LocalExactDistances",
    "SurfaceSettings",
    "geodesic_patches",
    "laplacian_and_mass",
    "mean_curvature",
    "mesh_from_mask",
    "membrane_instances",
    "membrane_surfaces",
    "sample_along_normals",
    "surface_output_paths",
    "surfaces_from_files",
    "vertex_areas",
    "vertex_normals",
]
