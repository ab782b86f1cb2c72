"""Surface geometry: meshes from masks, normals, curvature, geodesics, patches, sampling along normals.

Vertices are ``(x, y, z)`` in Å and volumes ``(z, y, x)`` (see :mod:`cryomem.io`). The
``cryomem surface`` stage (:func:`membrane_surfaces`, :func:`surfaces_from_files`) turns a membrane
segmentation into one mesh per membrane with density profiles sampled along the vertex normals
(MemBrain-pick's input, MemBrain v2 paper, Methods).
"""

from typing import TYPE_CHECKING

from cryomem.io._lazy import lazy_exports

if TYPE_CHECKING:
    from cryomem.geometry._components import vertex_components
    from cryomem.geometry._curvature import gaussian_curvature, mean_curvature, vertex_normals
    from cryomem.geometry._geodesic import GeodesicSolver, geodesic_distances
    from cryomem.geometry._laplacian import face_areas, laplacian_and_mass, vertex_areas
    from cryomem.geometry._local_geodesic import LocalField, LocalGeodesics, chord_graph, ring_pairs
    from cryomem.geometry._membrane_files import (
        checked_membrane,
        membrane_files,
        membrane_surface,
        read_membrane_meshes,
    )
    from cryomem.geometry._mesh_from_mask import DEFAULT_SPACING_VOXELS, mesh_from_mask
    from cryomem.geometry._patches import GeodesicPatch, geodesic_patches
    from cryomem.geometry._sampling import (
        DEFAULT_FEATURE_LOWPASS_ANG,
        DEFAULT_FEATURE_OFFSETS_ANG,
        FEATURE_LOWPASS_ATTR,
        sample_along_normals,
        spline_coefficients,
    )
    from cryomem.geometry._surface_files import surface_output_paths, surfaces_from_files
    from cryomem.geometry._surface_settings import DEFAULT_MIN_VOXELS, SurfaceSettings
    from cryomem.geometry._surfaces import membrane_instances, membrane_surfaces

_EXPORTS = {
    "vertex_components": "cryomem.geometry._components",
    "gaussian_curvature": "cryomem.geometry._curvature",
    "mean_curvature": "cryomem.geometry._curvature",
    "vertex_normals": "cryomem.geometry._curvature",
    "GeodesicSolver": "cryomem.geometry._geodesic",
    "geodesic_distances": "cryomem.geometry._geodesic",
    "face_areas": "cryomem.geometry._laplacian",
    "laplacian_and_mass": "cryomem.geometry._laplacian",
    "vertex_areas": "cryomem.geometry._laplacian",
    "LocalField": "cryomem.geometry._local_geodesic",
    "LocalGeodesics": "cryomem.geometry._local_geodesic",
    "chord_graph": "cryomem.geometry._local_geodesic",
    "ring_pairs": "cryomem.geometry._local_geodesic",
    "checked_membrane": "cryomem.geometry._membrane_files",
    "membrane_files": "cryomem.geometry._membrane_files",
    "membrane_surface": "cryomem.geometry._membrane_files",
    "read_membrane_meshes": "cryomem.geometry._membrane_files",
    "DEFAULT_SPACING_VOXELS": "cryomem.geometry._mesh_from_mask",
    "mesh_from_mask": "cryomem.geometry._mesh_from_mask",
    "GeodesicPatch": "cryomem.geometry._patches",
    "geodesic_patches": "cryomem.geometry._patches",
    "DEFAULT_FEATURE_LOWPASS_ANG": "cryomem.geometry._sampling",
    "DEFAULT_FEATURE_OFFSETS_ANG": "cryomem.geometry._sampling",
    "FEATURE_LOWPASS_ATTR": "cryomem.geometry._sampling",
    "sample_along_normals": "cryomem.geometry._sampling",
    "spline_coefficients": "cryomem.geometry._sampling",
    "surface_output_paths": "cryomem.geometry._surface_files",
    "surfaces_from_files": "cryomem.geometry._surface_files",
    "SurfaceSettings": "cryomem.geometry._surface_settings",
    "DEFAULT_MIN_VOXELS": "cryomem.geometry._surface_settings",
    "membrane_instances": "cryomem.geometry._surfaces",
    "membrane_surfaces": "cryomem.geometry._surfaces",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "checked_membrane",
    "membrane_files",
    "membrane_surface",
    "read_membrane_meshes",
    "vertex_components",
    "DEFAULT_FEATURE_LOWPASS_ANG",
    "DEFAULT_FEATURE_OFFSETS_ANG",
    "DEFAULT_MIN_VOXELS",
    "DEFAULT_SPACING_VOXELS",
    "FEATURE_LOWPASS_ATTR",
    "GeodesicPatch",
    "GeodesicSolver",
    "LocalField",
    "LocalGeodesics",
    "chord_graph",
    "ring_pairs",
    "SurfaceSettings",
    "face_areas",
    "gaussian_curvature",
    "geodesic_distances",
    "geodesic_patches",
    "laplacian_and_mass",
    "mean_curvature",
    "membrane_instances",
    "membrane_surfaces",
    "mesh_from_mask",
    "sample_along_normals",
    "spline_coefficients",
    "surface_output_paths",
    "surfaces_from_files",
    "vertex_areas",
    "vertex_normals",
]
