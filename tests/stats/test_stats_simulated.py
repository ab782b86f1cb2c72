"""End to end on a simulated tomogram: ground-truth meshes and particles through the Python API."""

import json

import pytest

from cryomem.io import read_mesh
from cryomem.simulate import (
    CytosolConfig,
    MembraneConfig,
    MembraneProteinConfig,
    SimulationConfig,
    simulate_to_folder,
)
from cryomem.stats import StatsConfig, run_stats


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    config = SimulationConfig(
        shape_zyx=(48, 96, 96),
        voxel_size_ang=12.0,
        seed=1,
        membranes=MembraneConfig(occupancy=0.08, kinds={"sphere": 1, "sheet": 1}, radius_nm=(20, 40)),
        membrane_proteins=MembraneProteinConfig(concentration_per_um2=4000),
        cytosol=CytosolConfig(occupancy=0.0, microtubules=0, actin_filaments=0),
    )
    folder, files, _ = simulate_to_folder(config, tmp_path_factory.mktemp("sim") / "tomo")
    truth = json.loads((folder / files["ground_truth"]).read_text())
    return folder / files["meshes"], folder / files["membrane_proteins"], truth


def test_concentration_matches_the_ground_truth(simulated, tmp_path):
    meshes, star, truth = simulated
    config = StatsConfig(n_simulations=3, max_radius_nm=20.0, bin_size_nm=4.0)
    written = run_stats(["concentration", "neighbours", "ripley", "edges"], [meshes], [star], tmp_path, config)
    assert len(truth["membranes"]) >= 2
    table = (tmp_path / "concentration.csv").read_text().splitlines()
    header = table[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in table[1:]]
    for membrane in truth["membranes"]:
        row = next(
            r
            for r in rows
            if r["scope"] == "membrane" and r["class"] == "all" and int(r["membrane_id"]) == membrane["membrane_id"]
        )
        assert int(row["n_particles"]) == membrane["n_proteins"]
        assert float(row["concentration_per_um2"]) == pytest.approx(membrane["concentration_per_um2"], rel=0.005)
    summary = json.loads(written["summary"].read_text())
    assert summary["particles"]["off_mesh"] == 0
    assert summary["particles"]["on_membranes"] == truth["counts"]["membrane_proteins"]
    assert summary["results"]["concentration"]["pooled_per_um2"] == pytest.approx(
        truth["concentration_per_um2"], rel=0.005
    )
    mesh = read_mesh(next((tmp_path / "meshes").glob("*.vtp")))
    assert {"particle_count", "concentration_per_um2", "nn1_distance_nm", "distance_to_edge_nm"} <= set(mesh.point_data)
    assert {"ripley_plot", "concentration_plot", "edges_plot", "neighbours_plot"} <= set(written)
