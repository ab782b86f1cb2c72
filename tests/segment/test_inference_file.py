"""segment_file: outputs with the input's placement, and clear errors that write nothing."""

import mrcfile
import numpy as np
import pytest
import torch
from torch import nn

from cryomem.io import read_mrc, write_mrc
from cryomem.segment import Segmenter, SegmentModelCard, SegmentOutputs, SegmentSettings, segment_file

CARD = SegmentModelCard(voxel_size_ang=12.0, inference_window=16)
ORIGIN = (100.0, -20.0, 35.5)
_OPTIONS = ("voxel_size_ang", "overwrite", "progress", "sheet_filter_rules", "notes")
_OUTPUTS = ("scores", "instances", "uncertainty", "min_instance_voxels")


def segment(path, network, out, **kwargs):
    """segment_file with a Segmenter of ``network`` (divisor 8); the sheet prior is off unless asked
    (its own tests are at the end of this file)."""
    options = {k: kwargs.pop(k) for k in _OPTIONS if k in kwargs}
    outputs = SegmentOutputs(**{k: kwargs.pop(k) for k in _OUTPUTS if k in kwargs})
    settings = SegmentSettings(**{"sheet_filter": False, **kwargs})
    segmenter = Segmenter(network, CARD, divisor=8)
    return segment_file(path, segmenter, out, settings=settings, outputs=outputs, **options)


def tiny_model() -> nn.Module:
    """Membrane = bright voxels: logit = 4 * normalised intensity - 4, then a 3x3x3 smoothing."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv3d(1, 1, 1), nn.Conv3d(1, 1, 3, padding=1, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(4.0)
        model[0].bias.fill_(-4.0)
        model[1].weight.fill_(1.0 / 27)
    return model.eval()


@pytest.fixture
def tomogram(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(0, 0.3, size=(24, 40, 36)).astype(np.float32)
    data[8:10, 5:35, 4:30] += 3.0  # a slab "membrane"
    data[16:18, 10:20, 10:20] += 3.0  # a smaller one
    data[20, 30, 30] += 3.0  # a speck
    path = tmp_path / "tomo.mrc"
    write_mrc(path, data, voxel_size_ang=12.0, origin_xyz_ang=ORIGIN)
    return path


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_writes_all_outputs_with_input_voxel_size_and_origin(tomogram, tmp_path):
    out = tmp_path / "out"
    stages = []
    written = segment(
        tomogram, tiny_model(), out, scores=True, instances=True,
        min_instance_voxels=20, uncertainty=True, progress=lambda s, f: stages.append(s),
    )  # fmt: skip
    assert set(written) == {"seg", "scores", "instances", "uncertainty"}
    assert _files(out) == ["tomo_instances.mrc", "tomo_scores.mrc", "tomo_seg.mrc", "tomo_uncertainty.mrc"]
    volumes = {kind: read_mrc(path) for kind, path in written.items()}
    for volume in volumes.values():
        assert volume.voxel_size_ang == pytest.approx(12.0)
        assert volume.origin_xyz_ang == pytest.approx(ORIGIN)
        assert volume.data_zyx.shape == (24, 40, 36)
    seg, scores = volumes["seg"].data_zyx, volumes["scores"].data_zyx
    assert seg.dtype == np.uint8 and set(np.unique(seg)) == {0, 1}
    assert scores.dtype == np.float16 and 0 <= scores.min() and scores.max() <= 1
    np.testing.assert_array_equal(seg, scores.astype(np.float32) > 0.5)
    assert seg[8:10, 10:30, 10:25].all() and not seg[2:5].any()
    instances = volumes["instances"].data_zyx
    assert instances.max() == 2  # slab = 1 (largest), square = 2; the speck is below 20 voxels
    assert instances[9, 20, 20] == 1 and instances[17, 15, 15] == 2 and instances[20, 30, 30] == 0
    assert np.all((instances > 0) <= (seg > 0))
    assert volumes["uncertainty"].data_zyx.dtype == np.float16
    assert "membrane prediction" in stages


def test_voxel_size_override_and_threshold(tmp_path):
    path = tmp_path / "nohead.mrc"
    with mrcfile.new(path) as mrc:  # header voxel size left at 0
        mrc.set_data(np.random.default_rng(1).normal(size=(16, 16, 16)).astype(np.float32))
    out = tmp_path / "out"
    written = segment(path, tiny_model(), out, voxel_size_ang=6.0, threshold=0.0, tta=False)
    assert set(written) == {"seg"}
    seg = read_mrc(written["seg"])
    assert seg.voxel_size_ang == pytest.approx(6.0)
    assert seg.data_zyx.all()  # every probability is > 0


def _bad_nan(tmp_path):
    data = np.random.default_rng(0).normal(size=(8, 8, 8)).astype(np.float32)
    data[2, 3, 4] = np.nan
    path = tmp_path / "nan.mrc"
    with mrcfile.new(path) as mrc:  # set_data would warn about NaN while computing header statistics
        mrc.set_data(np.zeros_like(data))
        mrc.data[...] = data
        mrc.voxel_size = 10.0
    return path, {}, ValueError, "nan.mrc has 1 NaN or infinite voxels inside"


def _bad_2d(tmp_path):
    path = tmp_path / "flat.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.zeros((16, 16), dtype=np.float32))
        mrc.voxel_size = 10.0
    return path, {}, ValueError, "not a 3D volume"


def _bad_not_mrc(tmp_path):
    path = tmp_path / "notes.mrc"
    path.write_text("this is not an MRC file\n" * 100)
    return path, {}, ValueError, "not a readable MRC"


def _bad_missing(tmp_path):
    return tmp_path / "missing.mrc", {}, FileNotFoundError, "not found"


def _bad_voxel_zero(tmp_path):
    path = tmp_path / "zero.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.zeros((8, 8, 8), dtype=np.float32))
    return path, {}, ValueError, "--voxel-size"


def _bad_threshold(tmp_path):
    path = tmp_path / "ok.mrc"
    write_mrc(path, np.zeros((8, 8, 8), dtype=np.float32), voxel_size_ang=10.0)
    return path, {"threshold": 1.5}, ValueError, "less than or equal to 1"


@pytest.mark.parametrize("make", [_bad_nan, _bad_2d, _bad_not_mrc, _bad_missing, _bad_voxel_zero, _bad_threshold])
def test_bad_inputs_raise_clearly_and_write_nothing(make, tmp_path):
    path, kwargs, error, message = make(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(error, match=message):
        segment(path, tiny_model(), out, scores=True, instances=True, **kwargs)
    assert _files(out) == []


class Exploding(nn.Module):
    def __init__(self, after: int):
        super().__init__()
        self.calls = 0
        self.after = after

    def forward(self, x):
        self.calls += 1
        if self.calls > self.after:
            raise RuntimeError("out of GPU memory")
        return x


def test_failure_midway_leaves_no_partial_output_and_keeps_old_results(tomogram, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="GPU memory"):
        segment(tomogram, Exploding(after=3), out, scores=True)
    assert _files(out) == []
    segment(tomogram, tiny_model(), out, tta=False)
    before = (out / "tomo_seg.mrc").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        segment(tomogram, tiny_model(), out, tta=False)
    with pytest.raises(RuntimeError):
        segment(tomogram, Exploding(after=0), out, overwrite=True)
    assert (out / "tomo_seg.mrc").read_bytes() == before and _files(out) == ["tomo_seg.mrc"]
    segment(tomogram, tiny_model(), out, overwrite=True, tta=False, threshold=0.99)
    assert (out / "tomo_seg.mrc").read_bytes() != before


def test_uncertainty_without_tta_is_rejected_before_work(tomogram, tmp_path):
    with pytest.raises(ValueError, match="tta"):
        segment(tomogram, tiny_model(), tmp_path / "out", tta=False, uncertainty=True)


def test_sheet_filter_drops_small_pieces_and_writes_its_decisions(tomogram, tmp_path):
    """On by default: the small square goes, the slab stays; one CSV row per piece."""
    import pandas as pd

    out = tmp_path / "out"
    from cryomem.segment import SheetFilterRules

    card = {"sheet_filter": True, "sheet_filter_rules": SheetFilterRules(min_area_nm2=300.0)}
    written = segment(tomogram, tiny_model(), out, **card, tta=False, scores=True, instances=True,
                           min_instance_voxels=1)  # fmt: skip
    assert _files(out) == ["tomo_instances.mrc", "tomo_scores.mrc", "tomo_seg.mrc", "tomo_sheet_filter.csv"]
    seg = read_mrc(written["seg"]).data_zyx
    raw = read_mrc(written["scores"]).data_zyx.astype(np.float32) > 0.5
    decisions = pd.read_csv(written["sheet_filter"])
    assert len(decisions) == 2 and decisions["kept"].sum() == 1
    assert set(decisions.loc[~decisions["kept"], "reason"]) <= {"smaller than 300 nm²"}
    assert seg.sum() < raw.sum() and not (seg & ~raw).any()
    assert seg[8:10, 5:35, 4:30].mean() > 0.9 and not seg[16:18, 10:20, 10:20].any() and not seg[20, 30, 30]
    assert read_mrc(written["instances"]).data_zyx.max() == 1  # instances follow the filtered segmentation
    # switched off with --overwrite: the old decisions, which no longer apply, are removed
    segment(tomogram, tiny_model(), out, tta=False, overwrite=True)
    assert "tomo_sheet_filter.csv" not in _files(out)


@pytest.mark.parametrize("sheet_filter", [False, True])
def test_rethresholding_saved_probabilities_equals_a_fresh_segmentation(tomogram, tmp_path, sheet_filter):
    """What the napari segment widget does when the threshold moves: no network, the same answer."""
    from cryomem.segment import SheetFilterRules, segmentation_from_probabilities

    rules = SheetFilterRules(min_area_nm2=300.0)
    first = segment(tomogram, tiny_model(), tmp_path / "a", tta=False, scores=True, sheet_filter=sheet_filter,
                    sheet_filter_rules=rules)  # fmt: skip
    scores = read_mrc(first["scores"]).data_zyx
    for threshold in (0.3, 0.7):
        fresh = segment(tomogram, tiny_model(), tmp_path / f"t{threshold}", tta=False, threshold=threshold,
                        sheet_filter=sheet_filter, sheet_filter_rules=rules)  # fmt: skip
        again, _ = segmentation_from_probabilities(scores, 12.0, threshold, sheet_filter=sheet_filter, rules=rules)
        np.testing.assert_array_equal(again, read_mrc(fresh["seg"]).data_zyx)
