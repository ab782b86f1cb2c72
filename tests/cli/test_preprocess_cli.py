"""`cryomem preprocess pixel-size | spectrum | match-spectrum | deconvolve` (issue 20): runs and refusals.

Refusals go through :func:`bad_input.assert_refuses`: exit 2, one line naming the problem, no file
added or changed in the watched folder.
"""

import numpy as np
import pytest
from bad_input import assert_refuses, run_cli, write_raw_mrc

from cryomem.io import read_mrc, write_mrc
from cryomem.segment import read_spectrum_tsv

ORIGIN = (50.0, 60.0, 70.0)


def _run(args: list):
    return run_cli(["preprocess", *args])


def _refuses(args: list, message: str, folder) -> None:
    assert_refuses(["preprocess", *args], message, [folder])


@pytest.fixture
def tomo(tmp_path):
    data = np.random.default_rng(0).normal(size=(32, 48, 48)).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, voxel_size_ang=10.0, origin_xyz_ang=ORIGIN)


def test_pixel_size_writes_the_resampled_tomogram(tomo, tmp_path):
    result = _run(["pixel-size", tomo, tmp_path / "out.mrc", "--voxel-size-out", "14", "--smooth"])
    assert result.exit_code == 0, result.output
    out = read_mrc(tmp_path / "out.mrc")
    assert out.data_zyx.shape == (23, 34, 34)
    assert out.voxel_size_ang == pytest.approx(np.mean([320 / 23, 480 / 34, 480 / 34]), rel=1e-6)
    assert out.origin_xyz_ang == pytest.approx(ORIGIN)
    assert "not 14 Å" in " ".join(result.output.split())  # the achieved size differs by more than 0.1%


def test_spectrum_and_match_spectrum(tomo, tmp_path):
    assert _run(["spectrum", tomo, "--out", tmp_path / "s.tsv", "--tile", "32"]).exit_code == 0
    assert read_spectrum_tsv(tmp_path / "s.tsv").voxel_size_ang == 10.0
    result = _run(["match-spectrum", tomo, tmp_path / "m.mrc", "--reference", tmp_path / "s.tsv", "--tile", "32"])
    assert result.exit_code == 0, result.output
    matched = read_mrc(tmp_path / "m.mrc")
    assert matched.origin_xyz_ang == pytest.approx(ORIGIN) and matched.data_zyx.shape == (32, 48, 48)
    assert _run(["match-spectrum", tomo, tmp_path / "d.mrc"]).exit_code == 0  # the shipped reference


def test_deconvolve_writes_a_float_tomogram(tomo, tmp_path):
    result = _run(["deconvolve", tomo, tmp_path / "d.mrc", "--defocus-um", "3", "--strength", "0.8"])
    assert result.exit_code == 0, result.output
    out = read_mrc(tmp_path / "d.mrc")
    assert out.data_zyx.dtype == np.float32 and np.isfinite(out.data_zyx).all()


@pytest.mark.parametrize(
    "command",
    [
        ["pixel-size", "{tomo}", "{out}", "--voxel-size-out", "12"],
        ["spectrum", "{tomo}", "--out", "{tsv}"],
        ["match-spectrum", "{tomo}", "{out}"],
        ["deconvolve", "{tomo}", "{out}", "--defocus-um", "3"],
    ],
)
def test_bad_inputs_are_refused_in_one_line(tmp_path, command):
    folder = tmp_path / "work"
    folder.mkdir()
    good = write_mrc(folder / "tomo.mrc", np.zeros((16, 24, 24), np.float32), voxel_size_ang=10.0)
    no_size = write_raw_mrc(folder / "nosize.mrc", np.zeros((16, 24, 24), np.float32), 0.0)
    (folder / "text.mrc").write_text("not an MRC file")
    existing_out, existing_tsv = folder / "existing.mrc", folder / "existing.tsv"
    existing_out.write_bytes(b"x")
    existing_tsv.write_text("x")

    def args(tomo, out=folder / "out.mrc", tsv=folder / "out.tsv"):
        return [part.format(tomo=tomo, out=out, tsv=tsv) for part in command]

    _refuses(args(folder / "missing.mrc"), "not found", folder)
    _refuses(args(folder / "text.mrc"), "not a readable MRC", folder)
    _refuses(args(no_size), "--voxel-size", folder)
    _refuses(args(good, out=existing_out, tsv=existing_tsv), "--overwrite", folder)
    _refuses(args(good, out=folder / "nofolder" / "o.mrc", tsv=folder / "nofolder" / "o.tsv"), "does not exist", folder)


@pytest.mark.parametrize("value", ["0", "-4", "nan", "100000"])
def test_bad_voxel_size_out_is_refused(tomo, tmp_path, value):
    _refuses(["pixel-size", tomo, tmp_path / "o.mrc", "--voxel-size-out", value], "--voxel-size-out", tmp_path)


@pytest.mark.parametrize(
    ("flag", "value"), [("--defocus-um", "0"), ("--snr-falloff", "-1"), ("--strength", "0"), ("--cs-mm", "-2")]
)
def test_bad_deconvolution_settings_are_refused(tomo, tmp_path, flag, value):
    args = ["deconvolve", tomo, tmp_path / "o.mrc", "--defocus-um", "3", flag, value]
    _refuses(args, flag, tmp_path)


def test_bad_reference_is_refused(tomo, tmp_path):
    (tmp_path / "ref.tsv").write_text("frequency_per_ang\tamplitude\nx\ty\n")
    _refuses(["match-spectrum", tomo, tmp_path / "o.mrc", "--reference", tmp_path / "ref.tsv"], "spectrum", tmp_path)
    _refuses(["match-spectrum", tomo, tmp_path / "o.mrc", "--reference", tmp_path / "no.tsv"], "not found", tmp_path)


@pytest.mark.parametrize("command", ["pixel-size", "match-spectrum", "deconvolve"])
def test_streaming_commands_accept_a_block_size_and_refuse_a_bad_one(tomo, tmp_path, command):
    extra = {"pixel-size": ["--voxel-size-out", "14"], "match-spectrum": [], "deconvolve": ["--defocus-um", "3"]}
    base = [command, tomo, tmp_path / "o.mrc", *extra[command]]
    for value in ("0", "-1", "nan"):
        _refuses([*base, "--chunk-mib", value], "--chunk-mib", tmp_path)
    result = _run([*base, "--chunk-mib", "0.02"])  # the 288 KiB tomogram streams in blocks
    assert result.exit_code == 0, result.output
    assert read_mrc(tmp_path / "o.mrc").origin_xyz_ang == pytest.approx(ORIGIN)


@pytest.mark.parametrize("chunk_mib", ["64", "0.02"])  # in memory, and streamed in blocks
@pytest.mark.parametrize(
    "command",
    [
        ["pixel-size", "--voxel-size-out", "14"],
        ["match-spectrum", "--tile", "32"],
        ["deconvolve", "--defocus-um", "3"],
    ],
)
def test_an_ome_zarr_tomogram_gives_what_its_mrc_gives(tomo, tmp_path, command, chunk_mib):
    from cryomem.io import write_ome_zarr

    zarr = tmp_path / "tomo.ome.zarr"
    write_ome_zarr(zarr, read_mrc(tomo), levels=2)
    name, *options = command
    for source, out in ((tomo, "from_mrc.mrc"), (zarr, "from_zarr.mrc")):
        result = _run([name, source, tmp_path / out, *options, "--chunk-mib", chunk_mib])
        assert result.exit_code == 0, result.output
    mrc, from_zarr = read_mrc(tmp_path / "from_mrc.mrc"), read_mrc(tmp_path / "from_zarr.mrc")
    np.testing.assert_array_equal(from_zarr.data_zyx, mrc.data_zyx)
    assert from_zarr.voxel_size_ang == pytest.approx(mrc.voxel_size_ang)
    assert from_zarr.origin_xyz_ang == pytest.approx(mrc.origin_xyz_ang)
