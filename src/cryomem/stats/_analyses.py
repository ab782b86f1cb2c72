"""The analyses of ``cryomem stats`` as a table: each step fills tables, per-vertex arrays and a summary.

:func:`compute_stats` runs the chosen steps in the table's order (edges read the neighbour
distances when both run; orientation and chains share one neighbour search). Each step is a small
function of the shared :class:`_Work`, so adding an analysis is adding one row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cryomem.io import FractionProgress
from cryomem.stats._chains import extract_chains
from cryomem.stats._concentration import concentration
from cryomem.stats._config import ANALYSES, StatsConfig
from cryomem.stats._edge_profile import edge_profile
from cryomem.stats._edges import edge_distance_ang, edge_vertex_mask
from cryomem.stats._neighbours import nearest_neighbours
from cryomem.stats._orientation import min_angle_histogram, neighbour_orientations
from cryomem.stats._particles import MembraneParticles, ParticleAssignment
from cryomem.stats._ripley import ripley

__all__ = ["compute_stats"]


@dataclass
class _Work:
    """What the steps share: inputs, and the tables, per-vertex arrays and summary they fill."""

    membranes: list[MembraneParticles]
    config: StatsConfig
    progress: FractionProgress | None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    point_data: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def classes(self) -> dict:
        return {"start_classes": self.config.start_classes, "target_classes": self.config.target_classes}

    def per_vertex(self, name: str, values: Callable[[MembraneParticles], np.ndarray]) -> None:
        for m in self.membranes:
            self.point_data[m.mesh.label][name] = values(m)

    @functools.cached_property
    def orientation_neighbours(self):
        """The ``orientation_k`` nearest neighbours, shared by orientation and chains."""
        config = self.config
        return nearest_neighbours(
            self.membranes, k=config.orientation_k, exclude_edges_nm=config.exclude_edges_nm,
            edge_settings=config.edges, **self.classes,
        )  # fmt: skip


def _on_vertices(membrane: MembraneParticles, values: pd.Series) -> np.ndarray:
    """Per-vertex array: the mean of ``values`` (indexed by particle_index) at particle vertices, NaN elsewhere."""
    out = np.full(membrane.n_vertices, np.nan)
    ids = membrane.particles["particle_index"].to_numpy()
    found = values.reindex(ids).to_numpy(dtype=np.float64)
    ok = np.isfinite(found)
    total = np.bincount(membrane.vertices[ok], weights=found[ok], minlength=membrane.n_vertices)
    count = np.bincount(membrane.vertices[ok], minlength=membrane.n_vertices)
    np.divide(total, count, out=out, where=count > 0)
    return out


def _concentration(work: _Work) -> None:
    config = work.config
    table = concentration(
        work.membranes, classes=config.classes, side=config.side, exclude_edges_nm=config.exclude_edges_nm,
        edge_settings=config.edges,
    )  # fmt: skip
    work.tables["concentration"] = table
    mine = table[(table["scope"] == "membrane") & (table["class"] == "all")]
    for m, value in zip(work.membranes, mine["concentration_per_um2"]):
        work.point_data[m.mesh.label]["concentration_per_um2"] = np.full(m.n_vertices, value)
    pooled = table[(table["scope"] == "all") & (table["class"] == "all")].iloc[0]
    work.summary["concentration"] = {
        "pooled_per_um2": float(pooled["concentration_per_um2"]),
        "area_um2": float(pooled["area_um2"]),
        "n_particles": int(pooled["n_particles"]),
    }


def _neighbours(work: _Work) -> None:
    config = work.config
    result = nearest_neighbours(
        work.membranes, k=config.k, exclude_edges_nm=config.exclude_edges_nm, edge_settings=config.edges,
        **work.classes,
    )  # fmt: skip
    work.tables["neighbours"], work.tables["neighbours_per_membrane"] = result.per_particle, result.per_membrane
    first = result.per_particle["nn1_distance_nm"] if len(result.per_particle) else pd.Series(dtype=float)
    nn1 = pd.Series(first.to_numpy(), index=result.per_particle.get("particle_index"))
    work.per_vertex("nn1_distance_nm", lambda m: _on_vertices(m, nn1))
    work.summary["neighbours"] = {"k": config.k, "n_start": len(first), "nn1_mean_nm": float(first.mean())}


def _orientation(work: _Work) -> None:
    config = work.config
    angles = neighbour_orientations(work.membranes, work.orientation_neighbours)
    work.tables["orientation"] = angles
    histogram = min_angle_histogram(angles, config.orientation_k, bin_deg=config.angle_bin_deg)
    work.tables["orientation_min_angle"] = histogram
    work.summary["orientation"] = {
        "k": config.orientation_k,
        "min_angle_mean_deg": float(angles["min_angle_deg"].mean()),
    }


def _chains(work: _Work) -> None:
    config = work.config
    chains = extract_chains(
        work.membranes, work.orientation_neighbours, max_distance_nm=config.chain_distance_nm,
        max_inplane_deg=config.chain_inplane_deg, max_turn_deg=config.chain_turn_deg,
        min_length=config.chain_min_length,
    )  # fmt: skip
    work.tables["chains"], work.tables["chains_particles"] = chains.chains, chains.per_particle
    ids = pd.Series(chains.per_particle["chain_id"].to_numpy(), index=chains.per_particle["particle_index"])
    work.per_vertex("chain_id", lambda m: np.nan_to_num(_on_vertices(m, ids.where(ids >= 0)), nan=-1))
    work.summary["chains"] = {"n_chains": len(chains.chains), "n_in_chains": int((ids >= 0).sum())}


def _edges(work: _Work) -> None:
    config, edges = work.config, work.config.edges
    nn1 = None
    if "neighbours" in work.tables and len(work.tables["neighbours"]):
        nn1 = work.tables["neighbours"].set_index("particle_index")["nn1_distance_nm"]
    work.tables["edges"] = edge_profile(
        work.membranes, bin_size_nm=config.edge_bin_nm, max_distance_nm=config.edge_max_nm, classes=config.classes,
        nearest_distance_nm=nn1, edge_settings=edges,
    )  # fmt: skip
    work.per_vertex("edge", lambda m: edge_vertex_mask(m.mesh, edges).astype(np.uint8))
    work.per_vertex("distance_to_edge_nm", lambda m: edge_distance_ang(m, edges) / 10.0)
    n_edge = int(sum(p["edge"].sum() for p in work.point_data.values()))
    work.summary["edges"] = {"n_edge_vertices": n_edge}


def _ripley(work: _Work) -> None:
    config = work.config
    result = ripley(
        work.membranes, bin_size_nm=config.bin_size_nm, max_radius_nm=config.max_radius_nm,
        exclude_edges_nm=config.exclude_edges_nm, edge_settings=config.edges, n_simulations=config.n_simulations,
        seed=config.seed, pool_factor=config.pool_factor, workers=config.workers, progress=work.progress,
        **work.classes,
    )  # fmt: skip
    work.tables["ripley"] = result.table
    curve = result.table["O_per_um2"]
    peak = curve.idxmax() if (curve.fillna(0.0) > 0).any() else None  # no pair within reach: no peak
    work.summary["ripley"] = {
        "n_start": result.n_start,
        "n_target": result.n_target,
        "n_simulations": result.n_simulations,
        "max_distance_nm": result.max_distance_nm,
        "O_peak_r_nm": None if peak is None else float(result.table.loc[peak, ["r_lo_nm", "r_nm"]].mean()),
    }


_STEPS: tuple[tuple[str, Callable[[_Work], None], float | None], ...] = (
    ("concentration", _concentration, 0.1),
    ("neighbours", _neighbours, 0.3),
    ("orientation", _orientation, 0.3),
    ("chains", _chains, 0.3),
    ("edges", _edges, 0.5),
    ("ripley", _ripley, None),
)
"""Each analysis, in the order it runs, with the progress fraction reported after it (Ripley reports its own)."""


def compute_stats(
    assignment: ParticleAssignment,
    analyses: Sequence[str],
    config: StatsConfig = StatsConfig(),
    progress: FractionProgress | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, np.ndarray]], dict]:
    """Run the chosen analyses; return tables by file stem, per-vertex arrays by membrane label, summary."""
    unknown = [a for a in analyses if a not in ANALYSES]
    if unknown or not analyses:
        raise ValueError(f"unknown analyses {unknown}; choose from {', '.join(ANALYSES)}")
    work = _Work(list(assignment.membranes), config, progress)
    if list(analyses) == ["ripley"]:
        _check_ripley_pairs(work.membranes, config)
    work.point_data = {m.mesh.label: {} for m in work.membranes}
    work.per_vertex("particle_count", lambda m: np.bincount(m.vertices, minlength=m.n_vertices))
    for name, step, fraction in _STEPS:
        if name in analyses:
            step(work)
        if progress and fraction is not None:
            progress("statistics", fraction)
    if config.exclude_edges_nm is not None:
        limit_ang = 10.0 * config.exclude_edges_nm
        work.per_vertex("edge_excluded", lambda m: (edge_distance_ang(m, config.edges) < limit_ang).astype(np.uint8))
    return work.tables, work.point_data, work.summary


def _check_ripley_pairs(membranes: Sequence[MembraneParticles], config: StatsConfig) -> None:
    """Ripley's functions count pairs: refuse when no membrane holds a start and another target particle."""
    most = 0
    for m in membranes:
        start, target = m.class_mask(config.start_classes), m.class_mask(config.target_classes)
        if start.any() and target.any():
            most = max(most, int((start | target).sum()))
    if most < 2:
        n = sum(len(m.particles) for m in membranes)
        raise ValueError(
            f"Ripley's functions need at least 2 particles (a start and a target) on one membrane, got {n} "
            "particle(s) on membranes and no such pair; pass more particles (or other --start-classes/--target-classes)"
        )
