"""The file layout: every name cryomem writes parses back, old spellings included."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryomem.io import (
    DERIVED_VOLUME_SUFFIXES,
    MEMBRANE_SUFFIXES,
    MESH_SUFFIXES,
    MRC_SUFFIXES,
    SEGMENT_OUTPUTS,
    is_derived_volume,
    is_mrc_path,
    membrane_files_in,
    membrane_stem,
    parse_membrane_stem,
    particles_star_name,
    segment_output_name,
    segment_output_paths,
    simulation_file_names,
    skeleton_path,
    stats_mesh_name,
    stats_plot_name,
    stats_summary_name,
    stats_table_name,
    training_data_folders,
)

TOMO_NAMES = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="_-."), min_size=1)


def test_suffixes():
    assert MRC_SUFFIXES == (".mrc", ".rec", ".map")
    assert MEMBRANE_SUFFIXES == (".h5", *MESH_SUFFIXES)
    assert all(is_mrc_path(f"tomo{s.upper()}") for s in MRC_SUFFIXES)
    assert not is_mrc_path("tomo.h5") and not is_mrc_path("tomo")
    derived = ("_seg", "_scores", "_instances", "_uncertainty", "_skel", "_labels", "_membranes")
    assert DERIVED_VOLUME_SUFFIXES == derived


@given(TOMO_NAMES, st.integers(min_value=0, max_value=10**6))
def test_membrane_names_round_trip(tomo, membrane_id):
    stem = membrane_stem(tomo, membrane_id)
    assert stem == f"{tomo}_mb{membrane_id}"  # unpadded, as `cryomem surface` has always written it
    assert parse_membrane_stem(stem) == (tomo, membrane_id)
    assert parse_membrane_stem(f"{tomo}_mb{membrane_id:03d}") == (tomo, membrane_id)  # the simulator's old names


@pytest.mark.parametrize(
    "stem, tail, parsed",
    [("tomo_mb1", False, ("tomo", 1)), ("tomo_mb001", False, ("tomo", 1)), ("TS_01_mb12", False, ("TS_01", 12)),
     ("cell_mb2_tomo_mb3", False, ("cell_mb2_tomo", 3)), ("tomo", False, None), ("tomo_mb", False, None),
     ("tomo_mbx1", False, None), ("_mb1", False, None), ("tomo_mb1_stats", False, None),
     ("tomo_mb001_stats", True, ("tomo", 1)), ("tomo_mb7", True, ("tomo", 7))],
)  # fmt: skip
def test_membrane_stems_parse_in_both_spellings(stem, tail, parsed):
    assert parse_membrane_stem(stem, allow_tail=tail) == parsed


def test_membrane_files_of_one_tomogram_in_either_spelling(tmp_path):
    for name in ("tomo_mb1.h5", "tomo_mb002.h5", "tomo_mb3.obj", "tomo_2_mb1.h5", "other_mb1.h5", "tomo_mb4_x.h5"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "tomo_mb9.h5").mkdir()
    assert [p.name for p in membrane_files_in(tmp_path, "tomo")] == ["tomo_mb002.h5", "tomo_mb1.h5"]
    assert [p.name for p in membrane_files_in(tmp_path, "tomo", ".obj")] == ["tomo_mb3.obj"]
    assert membrane_files_in(tmp_path / "missing", "tomo") == []


@pytest.mark.parametrize(
    "name, derived",
    [("tomo.mrc", False), ("tomo_seg.mrc", True), ("TS_01_SCORES.mrc", True), ("a_instances.rec", True),
     ("a_uncertainty.mrc", True), ("a_seg_skel.mrc", True), ("tomo_labels.mrc", True), ("tomo_membranes.map", True),
     ("segment.mrc", False), ("tomo_density.mrc", False), ("tomo_mb1.mrc", False)],
)  # fmt: skip
def test_derived_volumes_are_recognised(name, derived):
    assert is_derived_volume(name) is derived


def test_every_derived_volume_we_write_is_recognised(tmp_path):
    volumes = [p for p in segment_output_paths("/data/TS_01.rec", tmp_path).values() if is_mrc_path(p)]
    volumes += [skeleton_path(tmp_path / "TS_01_seg.mrc")]
    files = simulation_file_names("TS_01")
    volumes += [Path(files[role]) for role in ("labels", "membrane_instances")]
    assert len(volumes) == len(DERIVED_VOLUME_SUFFIXES)
    assert all(is_derived_volume(p) for p in volumes)
    assert not is_derived_volume(files["tomogram"])


def test_segment_and_skeleton_names(tmp_path):
    paths = segment_output_paths("/data/TS_01.rec", tmp_path)
    assert set(paths) == set(SEGMENT_OUTPUTS)
    assert {p.name for p in paths.values()} == {
        "TS_01_seg.mrc", "TS_01_scores.mrc", "TS_01_instances.mrc", "TS_01_uncertainty.mrc", "TS_01_sheet_filter.csv"
    }  # fmt: skip
    assert all(p.parent == tmp_path for p in paths.values())
    assert segment_output_name("TS_01", "seg") == "TS_01_seg.mrc"
    with pytest.raises(ValueError, match="unknown segment output 'skel'; use one of seg, scores"):
        segment_output_name("TS_01", "skel")
    assert skeleton_path(Path("/d/tomo_seg.mrc")) == Path("/d/tomo_seg_skel.mrc")


def test_simulation_particle_and_stats_names():
    files = simulation_file_names("tomo")
    assert files == {
        "tomogram": "tomo.mrc", "labels": "tomo_labels.mrc", "membrane_instances": "tomo_membranes.mrc",
        "membrane_proteins": "tomo_membrane_proteins.star", "cytosolic_proteins": "tomo_cytosolic_proteins.star",
        "meshes": "tomo_meshes", "ground_truth": "tomo_ground_truth.json", "preview": "tomo_preview.png",
    }  # fmt: skip
    everything = simulation_file_names("tomo", density=True, tilt_series=True)
    assert list(everything)[len(files) :] == ["density", "tilt_series", "tilt_angles"]
    assert (everything["density"], everything["tilt_series"], everything["tilt_angles"]) == (
        "tomo_density.mrc", "tomo_tilt_series.mrc", "tomo.tlt"
    )  # fmt: skip
    assert particles_star_name("TS_01") == "TS_01_particles.star"
    assert stats_table_name("concentration") == "concentration.csv"
    assert stats_plot_name("ripley") == "ripley.png"
    assert stats_summary_name("pooled") == "pooled_summary.json"
    assert stats_mesh_name(membrane_stem("t", 1), "stats") == "t_mb1_stats.vtp"
    assert parse_membrane_stem(Path(stats_mesh_name("t_mb1", "stats")).stem, allow_tail=True) == ("t", 1)


def test_training_data_folders(tmp_path):
    assert training_data_folders(tmp_path, "Tr") == (tmp_path / "imagesTr", tmp_path / "labelsTr")
    assert training_data_folders(tmp_path, "Val") == (tmp_path / "imagesVal", tmp_path / "labelsVal")
    with pytest.raises(ValueError, match="unknown training split 'Ts'; use one of Tr, Val"):
        training_data_folders(tmp_path, "Ts")
