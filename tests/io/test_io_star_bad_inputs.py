"""STAR files a user may bring: names pandas would read as NaN, non-finite or disagreeing coordinates."""

import numpy as np
import pandas as pd
import pytest
import starfile

from cryomem.io import read_particles_star, write_particles_star


def _star(tmp_path, names=("t", "t", "t"), voxel=10.0):
    xyz = np.array([[100.0, 200.0, 300.0], [150.0, 250.0, 50.0], [10.0, 20.0, 30.0]])[: len(names)]
    table = pd.DataFrame({"tomo_name": list(names), "x_ang": xyz[:, 0], "y_ang": xyz[:, 1], "z_ang": xyz[:, 2]})
    return write_particles_star(tmp_path / "p.star", table, voxel_size_ang=voxel, shape_zyx=(40, 40, 40))


@pytest.mark.parametrize("name", ["nan", "NaN", "NA", "null", "None", "<NA>"])
def test_names_pandas_reads_as_missing_stay_names(tmp_path, name):
    read = read_particles_star(_star(tmp_path, names=(name, name, "other")))
    assert read["tomo_name"].tolist() == [name, name, "other"]


def _edit(path, edit):
    table = starfile.read(path)
    starfile.write({"particles": edit(table)}, path)
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf, "abc"])
def test_non_finite_coordinates_are_refused_with_the_row_count(tmp_path, value):
    def edit(table):
        table["rlnCoordinateY"] = table["rlnCoordinateY"].astype(object)
        table.loc[1, "rlnCoordinateY"] = value
        return table

    path = _edit(_star(tmp_path), edit)
    with pytest.raises(
        ValueError, match=r"p.star: 1 of 3 particles have NaN, infinite or non-numeric coordinates \(rows 2\)"
    ):
        read_particles_star(path)


def test_pixel_and_angstrom_columns_that_disagree_are_refused(tmp_path):
    def edit(table):
        table.loc[2, "rlnCenteredCoordinateZAngst"] -= 300.0
        return table

    path = _edit(_star(tmp_path), edit)
    with pytest.raises(ValueError, match=r"disagree by 300 Å \(row 3: rlnCoordinateZ 3 px x 10 Å is -170 Å"):
        read_particles_star(path)


def test_a_shift_of_every_particle_is_seen_when_the_shape_is_known(tmp_path):
    def edit(table):
        table["rlnCenteredCoordinateXAngst"] += 300.0
        return table

    path = _edit(_star(tmp_path), edit)
    assert len(read_particles_star(path)) == 3  # consistent with a larger tomogram: cannot be seen
    with pytest.raises(ValueError, match="disagree by 300 Å"):
        read_particles_star(path, shape_zyx=(40, 40, 40))


def test_a_given_voxel_size_replaces_the_stated_one_and_both_are_recorded(tmp_path):
    path = _star(tmp_path, voxel=10.0)
    with pytest.raises(ValueError, match="disagree"):
        read_particles_star(path, voxel_size_ang=20.0)  # the Å columns contradict 20 Å pixels
    ok = read_particles_star(path, voxel_size_ang=10.0)
    assert ok.attrs["stated_pixel_sizes_ang"] == [10.0] and ok.attrs["pixel_size_ang"] == 10.0
    np.testing.assert_allclose(ok["x_ang"], [100.0, 150.0, 10.0])
