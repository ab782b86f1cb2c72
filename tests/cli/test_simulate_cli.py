"""`cryomem simulate` on tiny inputs, and its bad-input messages (`cryomem demo`: test_demo_cli.py)."""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cryomem.cli import app
from cryomem.io import read_mesh, read_mrc, read_particles_star

runner = CliRunner()
TINY = ["--shape", "40,64,64", "--membrane-occupancy", "0.02", "--microtubules", "0", "--actin", "1", "--seed", "2"]


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _flat(text):
    return " ".join(text.split())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "run"
    result = _run("simulate", "tomogram", out, *TINY, "--save-tilt-series", "--save-density", "--name", "t1")
    assert result.exit_code == 0, result.output
    return out, result


def test_simulate_tomogram_writes_everything(tiny_run):
    out, result = tiny_run
    truth = json.loads((out / "t1_ground_truth.json").read_text())
    tomo = read_mrc(out / "t1.mrc")
    assert tomo.data_zyx.shape == (40, 64, 64) and tomo.data_zyx.dtype == np.float32
    assert tomo.voxel_size_ang == pytest.approx(10.0)
    assert abs(float(tomo.data_zyx.mean())) < 1e-3 and float(tomo.data_zyx.std()) == pytest.approx(1.0, rel=1e-3)
    labels = read_mrc(out / "t1_labels.mrc").data_zyx
    assert labels.dtype == np.uint8 and set(np.unique(labels)) <= {0, 1, 2, 3, 4}
    instances = read_mrc(out / "t1_membranes.mrc").data_zyx
    assert set(np.unique(instances)) == set(range(truth["counts"]["membranes"] + 1))
    np.testing.assert_array_equal(instances > 0, labels == 1)
    particles = read_particles_star(out / "t1_membrane_proteins.star")
    assert len(particles) == truth["counts"]["membrane_proteins"]
    for membrane in truth["membranes"]:
        mesh = read_mesh(out / membrane["mesh"])
        tri = mesh.vertices_xyz_ang[mesh.faces]
        area_ang2 = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
        count = int((particles["membrane_id"] == membrane["membrane_id"]).sum())
        assert membrane["n_proteins"] == count
        assert membrane["concentration_per_um2"] == pytest.approx(count / (area_ang2 / 1e8), rel=1e-6)
    assert read_mrc(out / "t1_tilt_series.mrc").data_zyx.shape == (41, 64, 64)
    assert len((out / "t1.tlt").read_text().split()) == 41
    assert (out / "t1_density.mrc").is_file()
    assert (out / "t1_preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "membrane proteins" in result.output and str(out) in _flat(result.output)


def test_existing_folder_is_refused_then_overwritten(tiny_run):
    out, _ = tiny_run
    result = _run("simulate", "tomogram", out, *TINY)
    assert result.exit_code == 2 and "--overwrite" in result.output
    result = _run("simulate", "tomogram", out, *TINY, "--overwrite", "--name", "t2")
    assert result.exit_code == 0, result.output
    assert (out / "t2.mrc").is_file() and not (out / "t1.mrc").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--voxel-size", "0"], "voxel_size_ang"),
        (["--voxel-size", "-3"], "voxel_size_ang"),
        (["--shape", "8,64,64"], "too small"),
        (["--shape", "64,64"], "--shape must be 3 integers"),
        (["--template", "missing_template.mrc"], "missing_template.mrc does not exist"),
        (["--config", "no_such.yaml"], "no_such.yaml does not exist"),
        (["--protein-occupancy", "0.9"], "membrane_proteins.occupancy"),
        (["--membranes", "cube=1"], "membranes.kinds"),
        (["--tilt-range", "30,-30"], "tilt_min_deg"),
        (["--snr", "0"], "microscope.snr"),
        (["--membrane-occupancy", "0.25", "--cytosolic-occupancy", "0.3"], "exceeds half the volume"),
    ],
)
def test_bad_input_gives_one_clear_line_and_no_output(tmp_path, args, message):
    out = tmp_path / "never"
    result = _run("simulate", "tomogram", out, *TINY, *args)
    assert result.exit_code == 2, result.output
    assert message in _flat(result.output)
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2
    assert not out.exists()


def test_occupancy_that_cannot_fit_fails_cleanly(tmp_path):
    settings = tmp_path / "crowded.yaml"
    settings.write_text("membranes: {occupancy: 0.28, radius_nm: [40, 50], kinds: {sphere: 1}, max_failures: 50}\n")
    out = tmp_path / "never"
    result = _run("simulate", "tomogram", out, "--config", settings, "--shape", "40,64,64")
    assert result.exit_code == 2, result.output
    assert "could not be reached" in _flat(result.output) and "lower the membrane occupancy" in _flat(result.output)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["crowded.yaml"]


def test_config_file_round_trip(tmp_path):
    result = _run("simulate", "config")
    assert result.exit_code == 0
    settings = yaml.safe_load(result.stdout)
    settings["shape_zyx"] = [40, 64, 64]
    settings["cytosol"]["microtubules"] = 0
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(settings))
    result = _run("simulate", "tomogram", tmp_path / "out", "--config", path, "--seed", "4")
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "out" / "tomo_ground_truth.json").read_text())
    assert truth["seed"] == 4 and truth["config"]["shape_zyx"] == [40, 64, 64]
    (tmp_path / "bad.yaml").write_text("membranes: {occupancy: lots}\n")
    result = _run("simulate", "tomogram", tmp_path / "out2", "--config", tmp_path / "bad.yaml")
    assert result.exit_code == 2 and "membranes.occupancy" in result.output


DATASET_ARGS = ("--n-tomograms", "2", "--shape", "40,64,64", "--patch-size", "32", "--patches-per-tomogram", "2")


def test_dataset_workers_do_not_change_the_output(tmp_path):
    for workers in ("1", "2"):
        result = _run("simulate", "dataset", tmp_path / workers, *DATASET_ARGS, "--seed", "3", "--workers", workers)
        assert result.exit_code == 0, result.output
    one, two = (json.loads((tmp_path / w / "dataset.json").read_text()) for w in ("1", "2"))
    assert one["tomograms"] == two["tomograms"]
    for image in (tmp_path / "1" / "imagesTr").glob("*.mrc"):
        np.testing.assert_array_equal(
            read_mrc(image).data_zyx, read_mrc(tmp_path / "2" / "imagesTr" / image.name).data_zyx
        )


def test_simulate_dataset_writes_patches(tmp_path):
    out = tmp_path / "data"
    result = _run(
        "simulate",
        "dataset",
        out,
        "--n-tomograms",
        "2",
        "--shape",
        "40,64,64",
        "--patch-size",
        "32",
        "--patches-per-tomogram",
        "2",
        "--val-fraction",
        "0.5",
        "--voxel-size-range",
        "12,16",
    )
    assert result.exit_code == 0, result.output
    for split in ("Tr", "Val"):
        images = sorted((out / f"images{split}").glob("*.mrc"))
        labels = sorted((out / f"labels{split}").glob("*.mrc"))
        assert len(images) == 2 and [p.name for p in images] == [p.name for p in labels]
        for image, label in zip(images, labels):
            img, lab = read_mrc(image), read_mrc(label).data_zyx
            assert img.data_zyx.shape == lab.shape == (32, 32, 32)
            assert 12.0 <= img.voxel_size_ang <= 16.0
            assert set(np.unique(lab)) <= {0, 1, 2}
            assert np.all(lab[0] == 2) and np.all(lab[:, :, -1] == 2)  # patch border is ignored
    summary = json.loads((out / "dataset.json").read_text())
    assert {t["split"] for t in summary["tomograms"]} == {"training", "validation"}
    assert len(list((out / "previews").glob("*.png"))) == 2


def test_dataset_bad_patch_size(tmp_path):
    result = _run("simulate", "dataset", tmp_path / "d", "--shape", "40,64,64", "--patch-size", "48")
    assert result.exit_code == 2 and "patch_size 48 is larger than the tomogram shape" in _flat(result.output)
    assert not (tmp_path / "d").exists()


def test_version_and_help():
    assert _run("--version").output.startswith("cryomem ")
    result = _run("simulate", "tomogram", "--help")
    assert result.exit_code == 0 and "--voxel-size" in result.output


def test_user_mrc_template_is_placed(tmp_path):
    from cryomem.io import write_mrc
    from cryomem.simulate._templates import membrane_protein_templates

    density = membrane_protein_templates(10.0)[0].density_zyx
    write_mrc(tmp_path / "mine.mrc", density, voxel_size_ang=10.0)
    out = tmp_path / "out"
    result = _run("simulate", "tomogram", out, *TINY, "--template", tmp_path / "mine.mrc")
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "tomo_ground_truth.json").read_text())
    assert truth["membrane_protein_classes"][-1]["class_number"] == 5
    particles = read_particles_star(out / "tomo_membrane_proteins.star")
    assert 5 in set(particles["class_number"])
