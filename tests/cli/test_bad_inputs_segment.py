"""Bad inputs and faults for `cryomem segment predict | evaluate | skeletonize` (issue 17).

Each refusal goes through :func:`bad_input.assert_refuses`: exit 2, one line naming the problem, and
no file added or changed in the watched folders.
"""

import mrcfile
import numpy as np
import pytest
import torch
from bad_input import (
    assert_leaves_nothing,
    assert_refuses,
    disk_full,
    interrupted,
    run_cli,
    snapshot,
    write_raw_mrc,
)

from cryomem.io import read_mrc, write_mrc
from cryomem.segment import UNet3D, UNetConfig, save_model

SHAPE = (48, 64, 64)


def _raw_mrc(path, data, voxel=10.0, origin=(0.0, 0.0, 0.0)):
    return write_raw_mrc(path, data, voxel, origin)


def _tomogram_data(seed=0):
    """Noise with two dark sheets: something a model can be run on."""
    data = np.random.default_rng(seed).normal(size=SHAPE).astype(np.float32)
    data[12:15] -= 3.0
    data[32:35] -= 3.0
    return data


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    model = UNet3D(UNetConfig(base_channels=4, max_channels=8, depth=3, deep_supervision_levels=1)).eval()
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_model(path, model, {"voxel_size_ang": 10.0, "inference_window": 32})


@pytest.fixture()
def tomo(tmp_path):
    folder = tmp_path / "tomos"
    folder.mkdir()
    return write_mrc(folder / "tomo.mrc", _tomogram_data(), voxel_size_ang=10.0)


def _predict(model, *args):
    return ["segment", "predict", *args, "--model", model, "--no-tta"]


def _ok(args):
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


# -- case 1: --overwrite never segments our own outputs, and removes stale ones ------------------------


def test_overwrite_run_on_a_folder_skips_our_outputs_and_removes_stale_ones(tiny_model, tomo):
    folder = tomo.parent
    _ok(_predict(tiny_model, folder, "--scores", "--instances"))
    first = {p.name for p in folder.iterdir()}
    assert first == {"tomo.mrc", "tomo_seg.mrc", "tomo_scores.mrc", "tomo_instances.mrc", "tomo_sheet_filter.csv"}
    text = _ok(_predict(tiny_model, folder, "--overwrite", "--scores", "--instances"))
    assert {p.name for p in folder.iterdir()} == first  # no tomo_seg_seg.mrc and the like
    assert "skipped 3 cryomem outputs" in text
    text = _ok(_predict(tiny_model, folder, "--overwrite"))
    assert {p.name for p in folder.iterdir()} == {"tomo.mrc", "tomo_seg.mrc", "tomo_sheet_filter.csv"}
    assert "removed tomo_scores.mrc, tomo_instances.mrc of an earlier run" in text


def test_a_folder_of_only_our_outputs_is_refused(tiny_model, tomo, tmp_path):
    outs = tmp_path / "outs"
    _ok(_predict(tiny_model, tomo, "--out", outs, "--instances"))
    assert_refuses(_predict(tiny_model, outs, "--overwrite"), "holds no .mrc/.rec/.map/.zarr tomograms", [tmp_path])


def test_without_overwrite_any_earlier_output_is_refused_before_work(tiny_model, tomo):
    _ok(_predict(tiny_model, tomo, "--instances", "--no-sheet-filter"))
    (tomo.parent / "tomo_seg.mrc").unlink()  # an instance map alone would be stale after a new run
    assert_refuses(_predict(tiny_model, tomo), "tomo_instances.mrc; pass --overwrite", [tomo.parent])


# -- case 2: two tomograms with one stem into one folder ------------------------------------------------


def test_two_tomograms_with_one_name_into_one_folder_are_refused(tiny_model, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_mrc(tmp_path / name / "tomo.mrc", _tomogram_data(ord(name)), voxel_size_ang=10.0)
    args = _predict(tiny_model, tmp_path / "a" / "tomo.mrc", tmp_path / "b" / "tomo.mrc", "--out", tmp_path / "out")
    text = assert_refuses(args, "would both write tomo_seg.mrc", [tmp_path])
    assert "a/tomo.mrc" in text and "b/tomo.mrc" in text and "--out" in text
    assert not (tmp_path / "out").exists()
    # next to each input there is no collision
    _ok(_predict(tiny_model, tmp_path / "a" / "tomo.mrc", tmp_path / "b" / "tomo.mrc"))
    assert (tmp_path / "a" / "tomo_seg.mrc").is_file() and (tmp_path / "b" / "tomo_seg.mrc").is_file()


def test_a_bad_second_tomogram_stops_the_batch_before_the_first_is_written(tiny_model, tmp_path):
    write_mrc(tmp_path / "a.mrc", _tomogram_data(), voxel_size_ang=10.0)
    write_mrc(tmp_path / "b.mrc", np.zeros(SHAPE, np.float32), voxel_size_ang=10.0)
    assert_refuses(_predict(tiny_model, tmp_path), "b.mrc is constant", [tmp_path])


# -- case 3: tomograms without information, NaN inside, NaN border --------------------------------------


def test_nan_border_is_masked_and_reported(tiny_model, tmp_path):
    data = _tomogram_data()
    data[:, :6, :] = np.nan  # a border without data, as a rotation leaves
    data[:, :, -4:] = np.inf
    path = _raw_mrc(tmp_path / "rot.mrc", data)
    text = _ok(_predict(tiny_model, path, "--scores", "--no-sheet-filter", "--threshold", "0.0"))
    assert "has a border of" in text and "set to the mean density and get no membrane" in text
    seg = read_mrc(tmp_path / "rot_seg.mrc").data_zyx
    scores = read_mrc(tmp_path / "rot_scores.mrc").data_zyx
    assert np.isfinite(scores).all()
    assert not seg[:, :6].any() and not seg[:, :, -4:].any() and seg[:, 6:, :-4].all()


# -- case 4: MRC origin and nxstart/nystart/nzstart carried into every output ----------------------------


def test_outputs_keep_the_header_origin_and_start_fields(tiny_model, tmp_path):
    path = tmp_path / "tomo.mrc"
    write_mrc(path, _tomogram_data(), voxel_size_ang=10.0, origin_xyz_ang=(5.0, 6.0, 7.0), start_xyz_vox=(-32, 8, 100))
    _ok(_predict(tiny_model, path, "--scores", "--instances", "--min-instance-voxels", "1"))
    for kind in ("seg", "scores", "instances"):
        with mrcfile.open(tmp_path / f"tomo_{kind}.mrc", header_only=True) as mrc:
            header = mrc.header
            assert (int(header.nxstart), int(header.nystart), int(header.nzstart)) == (-32, 8, 100), kind
            assert (float(header.origin.x), float(header.origin.y), float(header.origin.z)) == (5.0, 6.0, 7.0)


# -- case 11: disk full / interruption while writing -------------------------------------------------------


@pytest.mark.parametrize("fault", [disk_full, interrupted])
def test_a_fault_on_the_second_output_leaves_nothing(tiny_model, tomo, monkeypatch, fault):
    out = tomo.parent / "new" / "out"
    import cryomem.segment._segment_file as segment_file_module

    real = segment_file_module.write_mrc
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(args[0])
        return fault() if len(calls) == 2 else real(*args, **kwargs)

    monkeypatch.setattr(segment_file_module, "write_mrc", second_fails)
    text = assert_leaves_nothing(_predict(tiny_model, tomo, "--scores", "--instances"), [tomo.parent])
    assert len(calls) == 2
    calls.clear()
    assert_leaves_nothing(_predict(tiny_model, tomo, "--out", out, "--scores"), [tomo.parent])
    assert not out.exists()  # the folder this run created goes too
    if fault is disk_full:
        assert "No space left on device" in text and text.count("error") == 1


def test_disk_full_on_overwrite_keeps_the_earlier_results(tiny_model, tomo, monkeypatch):
    import cryomem.segment._segment_file as segment_file_module

    _ok(_predict(tiny_model, tomo, "--scores"))
    monkeypatch.setattr(segment_file_module, "write_mrc", disk_full)
    text = assert_refuses(_predict(tiny_model, tomo, "--overwrite"), "No space left on device", [tomo.parent])
    assert len(text.splitlines()) == 1


# -- cases 5, 6: evaluate on all-ignore labels; skeletonize on a tomogram or NaN --------------------------


def _labels(tmp_path, name, data):
    return write_mrc(tmp_path / name, np.asarray(data, np.uint8), voxel_size_ang=10.0)


def test_evaluate_refuses_labels_that_are_all_ignore(tmp_path):
    pred = _labels(tmp_path, "pred.mrc", np.zeros((16, 16, 16)))
    label = _labels(tmp_path, "label.mrc", np.full((16, 16, 16), 2))
    assert_refuses(["segment", "evaluate", pred, label, "--csv", tmp_path / "s.csv"], "is 2 (ignore)", [tmp_path])


@pytest.mark.parametrize(
    "data, message",
    [
        (np.random.default_rng(0).normal(size=(16, 16, 16)).astype(np.float32), "non-integer values"),
        (
            (np.where(np.arange(16)[:, None, None] == 8, np.nan, 1.0) * np.ones((16, 16, 16))).astype(np.float32),
            "256 NaN",
        ),
        (np.random.default_rng(0).integers(-100, 100, size=(16, 16, 16)).astype(np.int16), "negative values"),
    ],
    ids=["tomogram", "nan", "int16-tomogram"],
)
def test_skeletonize_refuses_what_is_not_a_segmentation(tmp_path, data, message):
    path = _raw_mrc(tmp_path / "vol.mrc", data)
    text = assert_refuses(["segment", "skeletonize", path], message, [tmp_path])
    assert "vol.mrc" in text and "<stem>_seg.mrc" in text


def test_skeletonize_takes_a_mask_stored_as_0_255(tmp_path):
    seg = np.zeros((20, 20, 20), np.uint8)
    seg[7:14] = 255
    path = _raw_mrc(tmp_path / "seg.mrc", seg.view(np.int8))  # bytes 255 read back as signed -1
    _ok(["segment", "skeletonize", path])
    skeleton = read_mrc(tmp_path / "seg_skel.mrc").data_zyx
    assert skeleton[10].all() and skeleton.sum() == 400


# -- case 12: one parametrized table per command ------------------------------------------------------------


def _make(kind, folder):
    """A bad input of the given kind in ``folder``; returns its path."""
    path = folder / "bad.mrc"
    if kind == "text":
        path.write_text("not an mrc")
    elif kind == "empty-file":
        path.write_bytes(b"")
    elif kind == "2d":
        write_mrc(path, np.zeros((1, 64, 64), np.float32), voxel_size_ang=10.0)
    elif kind == "constant":
        write_mrc(path, np.full(SHAPE, 3.0, np.float32), voxel_size_ang=10.0)
    elif kind == "all-nan":
        _raw_mrc(path, np.full(SHAPE, np.nan, np.float32))
    elif kind == "nan-inside":
        data = _tomogram_data()
        data[20, 30, 30:35] = np.nan
        _raw_mrc(path, data)
    elif kind == "voxel-1":
        write_mrc(path, _tomogram_data(), voxel_size_ang=1.0)
    elif kind == "anisotropic":
        _raw_mrc(path, _tomogram_data(), voxel=(10.0, 10.0, 20.0))
    elif kind == "empty-folder":
        path = folder / "empty"
        path.mkdir()
    elif kind == "folder-of-text":
        path = folder / "notes"
        path.mkdir()
        (path / "readme.txt").write_text("no tomograms here")
    elif kind == "missing":
        path = folder / "missing.mrc"
    else:
        path = write_mrc(path, _tomogram_data(), voxel_size_ang=10.0)
    return path


PREDICT_CASES = [
    ("missing", [], "missing.mrc does not exist"),
    ("text", [], "not a readable MRC"),
    ("empty-file", [], "not a readable MRC"),
    ("2d", [], "not a 3D volume"),
    ("constant", [], "bad.mrc is constant"),
    ("all-nan", [], "every voxel of bad.mrc is NaN"),
    ("nan-inside", [], "5 NaN or infinite voxels inside"),
    ("voxel-1", [], "--voxel-size"),
    ("anisotropic", [], "anisotropic voxel size"),
    ("empty-folder", [], "holds no .mrc/.rec/.map/.zarr tomograms"),
    ("folder-of-text", [], "holds no .mrc/.rec/.map/.zarr tomograms"),
    ("good", ["--threshold", "1.5"], "--threshold is a membrane probability in [0, 1]"),
    ("good", ["--threshold", "-0.1"], "--threshold is a membrane probability in [0, 1]"),
    ("good", ["--threshold", "nan"], "--threshold is a membrane probability in [0, 1]"),
    ("good", ["--min-instance-voxels", "-5", "--instances"], "--min-instance-voxels must be >= 0"),
    ("good", ["--uncertainty"], "--uncertainty is the spread of the 8 flip predictions"),
    ("good", ["--voxel-size", "0"], "voxel_size"),
    ("good", ["--voxel-size", "nan"], "voxel_size"),
    ("good", ["--device", "tpu"], "device must be"),
    ("good", ["--batch-size", "0"], "--batch-size must be >= 1"),
    ("good", ["--sheet-filter-rules", "nope.json"], "nope.json does not exist"),
    ("good", ["--out", "FILE"], "is a file; pass a folder"),
    ("good", ["--model", "MISSING"], "does not exist"),
    ("good", ["--model", "NOTAMODEL"], "not a cryomem segmentation model"),
]


@pytest.mark.parametrize(
    "kind, extra, message", PREDICT_CASES, ids=[f"{c[0]}{''.join(c[1][:2])}" for c in PREDICT_CASES]
)
def test_predict_bad_inputs(tiny_model, tmp_path, kind, extra, message):
    path = _make(kind, tmp_path)
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "fake.pt").write_bytes(b"\x00" * 64)
    replace = {"FILE": tmp_path / "a_file", "MISSING": tmp_path / "nomodel.pt", "NOTAMODEL": tmp_path / "fake.pt"}
    extra = [replace.get(e, e) for e in extra]
    model = [] if "--model" in extra else ["--model", tiny_model]
    assert_refuses(["segment", "predict", path, *model, "--no-tta", *extra], message, [tmp_path])


EVALUATE_CASES = [
    ("missing-pred", "file not found"),
    ("text-pred", "not a readable MRC"),
    ("shape", "has shape (z, y, x)"),
    ("tomogram-pred", "neither a 0/1 segmentation nor probabilities"),
    ("nan-pred", "NaN or infinite voxels"),
    ("labels-as-pred", "neither a 0/1 segmentation nor probabilities"),
    ("bad-labels", "label must hold only 0, 1 and 2"),
    ("all-ignore", "is 2 (ignore)"),
    ("voxel", "voxel size"),
    ("unpaired", "have no partner"),
    ("empty-folder", "holds no MRC files"),
    ("csv-is-input", "must name a .csv file other than the inputs"),
    ("csv-folder", "is a folder"),
    ("csv-no-folder", "does not exist; create it first"),
]


def _evaluate_case(kind, tmp_path):
    vol = np.zeros((16, 16, 16), np.uint8)
    vol[6:9] = 1
    pred = _labels(tmp_path, "pred.mrc", vol)
    label = _labels(tmp_path, "label.mrc", vol)
    csv = tmp_path / "scores.csv"
    if kind == "missing-pred":
        pred = tmp_path / "nothing.mrc"
    elif kind == "text-pred":
        pred.write_text("x")
    elif kind == "shape":
        pred = _labels(tmp_path, "pred.mrc", vol[:, :, :12])
    elif kind == "tomogram-pred":
        write_mrc(pred, np.random.default_rng(0).normal(size=vol.shape).astype(np.float32), voxel_size_ang=10.0)
    elif kind == "nan-pred":
        _raw_mrc(pred, np.where(vol > 0, np.nan, 0.0).astype(np.float32))
    elif kind == "labels-as-pred":
        pred = _labels(tmp_path, "pred.mrc", vol * 2 + (np.arange(16) < 3)[:, None, None])
    elif kind == "bad-labels":
        label = _labels(tmp_path, "label.mrc", vol * 7)
    elif kind == "all-ignore":
        label = _labels(tmp_path, "label.mrc", np.full(vol.shape, 2))
    elif kind == "voxel":
        write_mrc(label, vol, voxel_size_ang=14.0)
    elif kind in ("unpaired", "empty-folder"):
        (tmp_path / "p").mkdir()
        (tmp_path / "l").mkdir()
        if kind == "unpaired":
            _labels(tmp_path / "p", "a.mrc", vol)
            _labels(tmp_path / "l", "b.mrc", vol)
        pred, label = tmp_path / "p", tmp_path / "l"
    elif kind == "csv-is-input":
        csv = pred
    elif kind == "csv-folder":
        csv = tmp_path
    elif kind == "csv-no-folder":
        csv = tmp_path / "no" / "scores.csv"
    return ["segment", "evaluate", pred, label, "--csv", csv]


@pytest.mark.parametrize("kind, message", EVALUATE_CASES, ids=[c[0] for c in EVALUATE_CASES])
def test_evaluate_bad_inputs(tmp_path, kind, message):
    assert_refuses(_evaluate_case(kind, tmp_path), message, [tmp_path])


SKELETONIZE_CASES = [
    ("missing", [], "missing.mrc"),
    ("text", [], "not a readable MRC"),
    ("2d", [], "not a 3D volume"),
    ("good", [], "non-integer values"),  # a tomogram, not a segmentation
    ("nan-inside", [], "NaN or infinite voxels"),
    ("voxel-1", [], "--voxel-size"),
    ("seg", ["--out", "SELF"], "is the input segmentation"),
    ("seg", ["--out", "DIR"], "is a folder"),
    ("seg", ["--out", "EXISTS"], "pass --overwrite"),
    ("seg", ["--voxel-size", "-3"], "voxel_size"),
]


@pytest.mark.parametrize(
    "kind, extra, message", SKELETONIZE_CASES, ids=[f"{c[0]}{''.join(c[1])}" for c in SKELETONIZE_CASES]
)
def test_skeletonize_bad_inputs(tmp_path, kind, extra, message):
    if kind == "seg":
        seg = np.zeros((20, 20, 20), np.uint8)
        seg[7:14] = 1
        path = write_mrc(tmp_path / "bad.mrc", seg, voxel_size_ang=10.0)
    else:
        path = _make(kind, tmp_path)
    (tmp_path / "old_skel.mrc").write_bytes(b"earlier result")
    replace = {"SELF": path, "DIR": tmp_path, "EXISTS": tmp_path / "old_skel.mrc"}
    assert_refuses(["segment", "skeletonize", path, *[replace.get(e, e) for e in extra]], message, [tmp_path])


def test_refusals_leave_earlier_outputs_untouched(tiny_model, tomo):
    _ok(_predict(tiny_model, tomo, "--scores"))
    before = snapshot([tomo.parent])
    assert_refuses(_predict(tiny_model, tomo, "--threshold", "2", "--overwrite"), "[0, 1]", [tomo.parent])
    assert snapshot([tomo.parent]) == before
