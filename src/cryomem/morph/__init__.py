"""Membrane morphometrics: curvature, bilayer thickness, inter-membrane distance, orientation, particle patches.

Works on :class:`cryomem.io.MembraneSurface` meshes in Å (``cryomem surface`` output or any mesh in
Å) and, for the bilayer thickness, on the tomogram they came from (``cryomem morph``).
"""

from typing import TYPE_CHECKING

from cryomem.io._lazy import lazy_exports

if TYPE_CHECKING:
    from cryomem.morph._config import MorphConfig
    from cryomem.morph._curvature import Curvature, curvature_at_scale
    from cryomem.morph._distances import NormalDistances, normal_axis_angles_deg, normal_distances
    from cryomem.morph._leaflet_fit import LeafletCtf, LeafletFit, fit_two_leaflets
    from cryomem.morph._measures import MembraneMeasures, measure_membranes
    from cryomem.morph._neighbourhoods import Neighbourhoods, surface_neighbourhoods
    from cryomem.morph._particles import compare_patches, particles_on_membranes, patch_means
    from cryomem.morph._run import run_morph
    from cryomem.morph._thickness import Thickness, bilayer_thickness

_EXPORTS = {
    "MorphConfig": "cryomem.morph._config",
    "Curvature": "cryomem.morph._curvature",
    "curvature_at_scale": "cryomem.morph._curvature",
    "NormalDistances": "cryomem.morph._distances",
    "normal_axis_angles_deg": "cryomem.morph._distances",
    "normal_distances": "cryomem.morph._distances",
    "MembraneMeasures": "cryomem.morph._measures",
    "measure_membranes": "cryomem.morph._measures",
    "Neighbourhoods": "cryomem.morph._neighbourhoods",
    "surface_neighbourhoods": "cryomem.morph._neighbourhoods",
    "compare_patches": "cryomem.morph._particles",
    "particles_on_membranes": "cryomem.morph._particles",
    "patch_means": "cryomem.morph._particles",
    "run_morph": "cryomem.morph._run",
    "LeafletCtf": "cryomem.morph._leaflet_fit",
    "LeafletFit": "cryomem.morph._leaflet_fit",
    "Thickness": "cryomem.morph._thickness",
    "bilayer_thickness": "cryomem.morph._thickness",
    "fit_two_leaflets": "cryomem.morph._leaflet_fit",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "Curvature",
    "LeafletCtf",
    "LeafletFit",
    "MembraneMeasures",
    "MorphConfig",
    "Neighbourhoods",
    "NormalDistances",
    "Thickness",
    "bilayer_thickness",
    "compare_patches",
    "curvature_at_scale",
    "fit_two_leaflets",
    "measure_membranes",
    "normal_axis_angles_deg",
    "normal_distances",
    "particles_on_membranes",
    "patch_means",
    "run_morph",
    "surface_neighbourhoods",
]
