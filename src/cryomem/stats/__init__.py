"""Statistics of particles on membranes: concentration, geodesic neighbours, Ripley's K/L/O, edges,
in-plane orientation and chains (MemBrain v2, "MemBrain-stats"; ``cryomem stats``).

Particles are snapped to their membrane's nearest vertex; geodesic distances come from
:class:`cryomem.geometry.GeodesicSolver` (heat method by default, near-exact as an option) and are
computed once per membrane and reused by every analysis. Lengths are reported in nm, areas in µm²,
concentrations in particles/µm².
"""

from cryomem.geometry import membrane_files, membrane_surface, read_membrane_meshes
from cryomem.io import MEMBRANE_SUFFIXES
from cryomem.stats._areas import sublevel_areas_ang2, sublevel_fraction
from cryomem.stats._chains import ChainResult, extract_chains
from cryomem.stats._concentration import concentration, measured_region
from cryomem.stats._config import ANALYSES, StatsConfig
from cryomem.stats._edge_profile import edge_profile
from cryomem.stats._edges import EdgeSettings, edge_distance_ang, edge_vertex_mask, surface_bending
from cryomem.stats._envelopes import csr_sums, uniform_vertices
from cryomem.stats._neighbours import NeighbourResult, nearest_neighbours
from cryomem.stats._orientation import (
    inplane_angle_deg,
    inplane_vectors,
    min_angle_histogram,
    neighbour_orientations,
    uniform_min_angle_cdf,
)
from cryomem.stats._particles import MembraneParticles, ParticleAssignment, assign_particles
from cryomem.stats._ripley import RipleyResult, radius_edges_ang, ripley, ripley_statistics
from cryomem.stats._run import compute_stats, load_inputs, run_stats

__all__ = [
    "ANALYSES",
    "MEMBRANE_SUFFIXES",
    "ChainResult",
    "EdgeSettings",
    "MembraneParticles",
    "NeighbourResult",
    "ParticleAssignment",
    "RipleyResult",
    "StatsConfig",
    "assign_particles",
    "compute_stats",
    "concentration",
    "csr_sums",
    "edge_distance_ang",
    "edge_profile",
    "edge_vertex_mask",
    "extract_chains",
    "inplane_angle_deg",
    "inplane_vectors",
    "load_inputs",
    "measured_region",
    "membrane_files",
    "membrane_surface",
    "min_angle_histogram",
    "nearest_neighbours",
    "neighbour_orientations",
    "radius_edges_ang",
    "read_membrane_meshes",
    "ripley",
    "ripley_statistics",
    "run_stats",
    "sublevel_areas_ang2",
    "sublevel_fraction",
    "surface_bending",
    "uniform_min_angle_cdf",
    "uniform_vertices",
]
