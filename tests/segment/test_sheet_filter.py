"""The sheet prior: membranes kept, filaments, protein clusters and specks dropped, each decision explained."""

import json

import numpy as np
import pandas as pd
import pytest

from cryomem.segment import SheetFilterRules, filter_sheets, load_sheet_filter
from cryomem.segment._sheet_filter import component_features
from cryomem.simulate import SimulationConfig, simulate_tomogram

VESICLE, TUBE, ROD, CLUSTER = 1, 2, 3, 4


def analytic_scene() -> np.ndarray:
    """At 10 Å: a vesicle (radius 30 nm, 5 nm thick), a microtubule-like tube (radius 12 nm), a rod, a cluster."""
    z, y, x = np.mgrid[:100, :160, :160].astype(np.float32)
    scene = np.zeros((100, 160, 160), np.uint8)
    scene[np.abs(np.sqrt((z - 50) ** 2 + (y - 50) ** 2 + (x - 50) ** 2) - 30) <= 2.5] = VESICLE
    scene[(np.abs(np.sqrt((z - 50) ** 2 + (y - 125) ** 2) - 12) <= 2.5) & (x >= 40) & (x < 150)] = TUBE
    scene[(np.sqrt((z - 20) ** 2 + (x - 130) ** 2) <= 4) & (y >= 10) & (y < 90)] = ROD
    for c in np.random.default_rng(0).normal([80, 110, 40], 6, (8, 3)):
        scene[np.sqrt((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) <= 5] = CLUSTER
    return scene


def _kind_of_each_component(scene: np.ndarray, table: pd.DataFrame, labels: np.ndarray) -> list[int]:
    return [int(np.bincount(scene[labels == c]).argmax()) for c in table["component"]]


@pytest.mark.parametrize("rules", [SheetFilterRules(), None], ids=["default-rules", "shipped-rules"])
def test_analytic_shapes_vesicle_kept_tube_rod_and_cluster_dropped(rules):
    scene = analytic_scene()
    before = scene.copy()
    filtered, table = filter_sheets(scene > 0, None, 10.0, rules)
    np.testing.assert_array_equal(scene, before)  # input untouched
    labels, _ = component_features(scene > 0, None, 10.0)
    kinds = dict(zip(_kind_of_each_component(scene, table, labels), table["kept"]))
    assert kinds == {VESICLE: True, TUBE: False, ROD: False, CLUSTER: False}
    np.testing.assert_array_equal(filtered.astype(bool), scene == VESICLE)
    reasons = dict(zip(_kind_of_each_component(scene, table, labels), table["reason"]))
    assert reasons[VESICLE] == "sheet-like" and "tube" in reasons[TUBE]


def test_measured_area_thickness_and_tube_radius_follow_the_geometry():
    labels, table = component_features(analytic_scene() > 0, None, 10.0)
    vesicle = table.loc[table["area_nm2"].idxmax()]
    assert vesicle["area_nm2"] == pytest.approx(4 * np.pi * 30.0**2, rel=0.15)  # mid-surface skeleton area
    assert vesicle["thickness_nm"] == pytest.approx(5.0, abs=1.0)
    centre = vesicle[["centre_x_vox", "centre_y_vox", "centre_z_vox"]].to_numpy(float)
    np.testing.assert_allclose(centre, [50.0, 50.0, 50.0], atol=0.5)  # where to find it in a viewer
    hollow = table[table["area_nm2"] > 1000]  # the solid rod has no sheet to speak of
    tube = hollow.loc[hollow["tubularity"].idxmax()]
    assert tube["tube_radius_nm"] == pytest.approx(12.0, rel=0.1)


def test_halving_the_voxel_size_keeps_the_decisions():
    """Units are physical: the same objects sampled twice as finely get the same verdicts."""
    coarse = analytic_scene()[::2, ::2, ::2]
    fine = analytic_scene()
    _, t_coarse = filter_sheets(coarse > 0, None, 20.0, SheetFilterRules())
    _, t_fine = filter_sheets(fine > 0, None, 10.0, SheetFilterRules())
    assert sorted(t_coarse["kept"]) == sorted(t_fine["kept"])


@pytest.fixture(scope="module")
def simulated():
    config = SimulationConfig.model_validate(
        {
            "shape_zyx": (64, 128, 128),
            "voxel_size_ang": 10.0,
            "seed": 3,
            "membranes": {"occupancy": 0.02, "kinds": {"sphere": 1.0}, "radius_nm": (25.0, 40.0)},
            "membrane_proteins": {"occupancy": 0.0},
            "cytosol": {"occupancy": 0.04, "microtubules": 1, "actin_filaments": 2},
        }
    )
    return simulate_tomogram(config).phantom.semantic_labels()


def test_simulated_membrane_kept_filaments_and_protein_clusters_dropped(simulated):
    """Ground-truth masks of the simulator, each made as thick as a network's output, go through the filter."""
    from scipy import ndimage

    for label, keep in ((1, True), (4, False), (3, False)):
        mask = ndimage.binary_dilation(simulated == label, iterations=1)
        assert mask.any()
        _, table = filter_sheets(mask, None, 10.0)
        big = table[table["voxels"] >= 200]
        assert len(big) > 0
        assert big["kept"].all() if keep else not big["kept"].any(), big.to_string()


def test_probabilities_enter_as_the_mean_probability():
    scene = analytic_scene() == VESICLE
    probabilities = np.where(scene, 0.55, 0.0).astype(np.float32)
    _, table = filter_sheets(scene, probabilities, 10.0, SheetFilterRules(min_mean_probability=0.6))
    assert table["mean_probability"].iloc[0] == pytest.approx(0.55, abs=1e-4)
    assert not table["kept"].iloc[0] and "mean probability" in table["reason"].iloc[0]


def test_empty_segmentation_gives_an_empty_table():
    filtered, table = filter_sheets(np.zeros((8, 8, 8), np.uint8), None, 10.0)
    assert not filtered.any() and len(table) == 0 and {"kept", "reason"} <= set(table.columns)


def test_rules_round_trip_and_clear_errors(tmp_path):
    rules = SheetFilterRules(min_area_nm2=123.0, fitted_on="test")
    rules.save(tmp_path / "r.json")
    assert load_sheet_filter(tmp_path / "r.json") == rules
    (tmp_path / "bad.json").write_text(json.dumps({"min_area": 1}))
    with pytest.raises(ValueError, match="unknown setting 'min_area'"):
        load_sheet_filter(tmp_path / "bad.json")
    (tmp_path / "neg.json").write_text(json.dumps({"min_tubularity": 2}))
    with pytest.raises(ValueError, match="min_tubularity must be in"):
        load_sheet_filter(tmp_path / "neg.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_sheet_filter(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="voxel_size_ang"):
        filter_sheets(np.ones((4, 4, 4)), None, 0.0)


def test_decisions_csv_is_what_pandas_writes(tmp_path):
    """The pandas-free writer behind ``<stem>_sheet_filter.csv`` gives pandas' bytes, reasons and all."""
    from cryomem.segment._sheet_filter import sheet_decisions, write_decisions_csv

    scene = analytic_scene() > 0
    probabilities = np.where(scene, 0.9, 0.0)
    filtered, columns = sheet_decisions(scene, probabilities, 10.0)
    write_decisions_csv(columns, tmp_path / "ours.csv")
    reference_filtered, table = filter_sheets(scene, probabilities, 10.0)
    table.to_csv(tmp_path / "pandas.csv", index=False, float_format="%.4g")
    np.testing.assert_array_equal(filtered, reference_filtered)
    assert (tmp_path / "ours.csv").read_text() == (tmp_path / "pandas.csv").read_text()
    assert set(pd.read_csv(tmp_path / "ours.csv")["reason"]) > {"sheet-like"}  # dropped pieces say why
    empty = np.zeros_like(scene)
    write_decisions_csv(sheet_decisions(empty, None, 10.0)[1], tmp_path / "none.csv")
    filter_sheets(empty, None, 10.0)[1].to_csv(tmp_path / "none_pandas.csv", index=False, float_format="%.4g")
    assert (tmp_path / "none.csv").read_text() == (tmp_path / "none_pandas.csv").read_text()  # header only
