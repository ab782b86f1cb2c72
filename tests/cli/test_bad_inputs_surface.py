"""Bad inputs and faults for `cryomem surface` (issue 17).

Each refusal goes through :func:`bad_input.assert_refuses`: exit 2, one line naming the problem, and
no file added or changed in the watched folders.
"""

import numpy as np
import pytest
from bad_input import (
    assert_leaves_nothing,
    assert_refuses,
    disk_full,
    interrupted,
    run_cli,
    snapshot,
    write_raw_mrc,
)

from cryomem.io import read_membrane_h5, write_mrc

SHAPE = (24, 32, 32)


def _raw_mrc(path, data, voxel=12.0, origin=(0.0, 0.0, 0.0)):
    return write_raw_mrc(path, data, voxel, origin)


def _sheets(value=1, n=3):
    """``n`` separate flat membranes, every voxel ``value`` (a 0/255 mask with value=255)."""
    mask = np.zeros(SHAPE, dtype=np.uint8)
    for k in range(n):
        mask[3 + 7 * k : 6 + 7 * k, 3:-3, 3:-3] = value
    return mask


@pytest.fixture()
def tomo(tmp_path):
    data = np.random.default_rng(0).normal(size=SHAPE).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, voxel_size_ang=12.0, origin_xyz_ang=(5.0, 6.0, 7.0))


def _seg(tmp_path, data, name="tomo_seg.mrc", origin=(5.0, 6.0, 7.0), voxel=12.0):
    return write_mrc(tmp_path / name, data, voxel_size_ang=voxel, origin_xyz_ang=origin)


def _surface(seg, tomo, *extra):
    return ["surface", seg, "--tomogram", tomo, "--min-voxels", 300, *extra]


def _ok(args):
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _h5_names(folder):
    return sorted(p.name for p in folder.glob("*.h5"))


# -- case 7: a 0/255 mask is binary; true instance maps keep their ids -----------------------------------


def test_a_0_255_mask_is_split_into_its_membranes(tmp_path, tomo):
    text = _ok(_surface(_seg(tmp_path, _sheets(255)), tomo))
    assert _h5_names(tmp_path / "membranes") == ["tomo_mb1.h5", "tomo_mb2.h5", "tomo_mb3.h5"]
    assert "single non-zero value (255): read as a binary mask and split into 3 connected membranes" in text


def test_a_0_255_mask_read_as_signed_bytes_is_split_too(tmp_path, tomo):
    seg = _raw_mrc(tmp_path / "tomo_seg.mrc", _sheets(255).view(np.int8), origin=(5.0, 6.0, 7.0))  # -1 on read
    text = _ok(_surface(seg, tomo))
    assert _h5_names(tmp_path / "membranes") == ["tomo_mb1.h5", "tomo_mb2.h5", "tomo_mb3.h5"]
    assert "single non-zero value (-1)" in text


def test_instance_maps_keep_their_ids(tmp_path, tomo):
    labels = _sheets(1).astype(np.uint16)
    labels[10:13] *= 7  # ids 1, 7 and 12
    labels[17:20] *= 12
    text = _ok(_surface(_seg(tmp_path, labels), tomo))
    assert _h5_names(tmp_path / "membranes") == ["tomo_mb1.h5", "tomo_mb12.h5", "tomo_mb7.h5"]
    assert "binary mask" not in text
    one = np.where(
        _sheets(1) * (np.arange(SHAPE[0]) >= 10)[:, None, None] * (np.arange(SHAPE[0]) < 13)[:, None, None], 5, 0
    )
    _ok(_surface(_seg(tmp_path, one.astype(np.uint8), "one.mrc"), tomo, "--out", tmp_path / "one"))
    assert _h5_names(tmp_path / "one") == ["tomo_mb5.h5"]  # one membrane of id 5 stays membrane 5


# -- case 8: NaN tomogram; segmentation from another grid ------------------------------------------------


def test_nan_tomogram_is_refused_at_read_time(tmp_path):
    data = np.random.default_rng(0).normal(size=SHAPE).astype(np.float32)
    data[5:20, 5:25, 5:25] = np.nan  # inside: no border, no excuse
    tomo = _raw_mrc(tmp_path / "tomo.mrc", data, origin=(5.0, 6.0, 7.0))
    assert_refuses(_surface(_seg(tmp_path, _sheets()), tomo), "6000 NaN or infinite voxels inside", [tmp_path])


def test_nan_border_is_masked_and_features_are_finite(tmp_path):
    data = np.random.default_rng(0).normal(size=SHAPE).astype(np.float32)
    data[:, :2] = np.nan
    tomo = _raw_mrc(tmp_path / "tomo.mrc", data, origin=(5.0, 6.0, 7.0))
    text = _ok(_surface(_seg(tmp_path, _sheets()), tomo))
    assert "border of 1536 NaN/infinite voxels" in text
    for path in (tmp_path / "membranes").glob("*.h5"):
        assert np.isfinite(read_membrane_h5(path).features).all()


def test_segmentation_with_another_origin_is_refused(tmp_path, tomo):
    seg = _seg(tmp_path, _sheets(), origin=(0.0, 0.0, 0.0))
    text = assert_refuses(
        _surface(seg, tomo), "has origin (x, y, z) (0, 0, 0) Å but tomogram tomo.mrc has (5, 6, 7) Å", [tmp_path]
    )
    assert "pass the segmentation made from this tomogram" in text


# -- case 9, 11: interruption and disk full while writing the set ------------------------------------------


@pytest.mark.parametrize("fault", [interrupted, disk_full])
@pytest.mark.parametrize("earlier", [False, True], ids=["fresh", "overwrite"])
def test_a_fault_midway_leaves_no_partial_set_and_a_rerun_works(tmp_path, tomo, monkeypatch, fault, earlier):
    import cryomem.geometry._surface_files as surface_files

    seg = _seg(tmp_path, _sheets())
    out = tmp_path / "membranes"
    if earlier:  # an earlier set of 2 membranes that the new one (3) replaces
        _ok(_surface(_seg(tmp_path, _sheets(n=2), "two.mrc"), tomo))
    real = surface_files.write_mesh
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(args[0])
        return fault() if len(calls) == 2 else real(*args, **kwargs)

    monkeypatch.setattr(surface_files, "write_mesh", second_fails)
    extra = ["--overwrite"] if earlier else []
    text = assert_leaves_nothing(_surface(seg, tomo, *extra), [tmp_path])
    assert len(calls) == 2
    if fault is disk_full:
        assert "No space left on device" in text
    assert _h5_names(out) == (["tomo_mb1.h5", "tomo_mb2.h5"] if earlier else []) and out.exists() == earlier
    monkeypatch.setattr(surface_files, "write_mesh", real)
    _ok(_surface(seg, tomo, *extra))
    assert _h5_names(out) == ["tomo_mb1.h5", "tomo_mb2.h5", "tomo_mb3.h5"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


# -- case 12: the table of bad inputs ---------------------------------------------------------------------


def _case(kind, tmp_path, tomo):
    seg = _seg(tmp_path, _sheets())
    extra = []
    if kind == "missing-seg":
        seg = tmp_path / "nothing.mrc"
    elif kind == "missing-tomo":
        tomo = tmp_path / "nope.mrc"
    elif kind == "text-seg":
        seg.write_text("not an mrc")
    elif kind == "text-tomo":
        tomo.write_text("not an mrc")
    elif kind == "2d-seg":
        seg = _seg(tmp_path, np.ones((1, 32, 32), np.uint8))
    elif kind == "shape":
        seg = _seg(tmp_path, _sheets()[:, :, :30])
    elif kind == "voxel":
        seg = _seg(tmp_path, _sheets(), voxel=14.0)
    elif kind == "empty-seg":
        seg = _seg(tmp_path, np.zeros(SHAPE, np.uint8))
    elif kind == "scores-as-seg":
        seg = _seg(tmp_path, np.random.default_rng(1).random(SHAPE).astype(np.float32))
    elif kind == "tomogram-as-seg":
        seg = _seg(tmp_path, np.random.default_rng(1).normal(size=SHAPE).astype(np.int16) * 100)
    elif kind == "constant-tomo":
        write_mrc(tomo, np.zeros(SHAPE, np.float32), voxel_size_ang=12.0, origin_xyz_ang=(5.0, 6.0, 7.0))
    elif kind == "all-nan-tomo":
        _raw_mrc(tomo, np.full(SHAPE, np.nan, np.float32), origin=(5.0, 6.0, 7.0))
    elif kind == "out-is-file":
        (tmp_path / "afile").write_text("x")
        extra = ["--out", tmp_path / "afile"]
    elif kind == "exists":
        (tmp_path / "membranes").mkdir()
        (tmp_path / "membranes" / "tomo_mb4.h5").write_bytes(b"earlier")
    elif kind == "voxel-zero":
        extra = ["--voxel-size", "0"]
    elif kind == "lowpass-nan":
        extra = ["--feature-lowpass", "nan"]
    elif kind == "lowpass-negative":
        extra = ["--feature-lowpass", "-1"]
    elif kind == "smoothing-negative":
        extra = ["--smoothing", "-1"]
    elif kind == "spacing-zero":
        extra = ["--spacing-ang", "0"]
    elif kind == "min-voxels-zero":
        extra = ["--min-voxels", "0"]
    return _surface(seg, tomo, *extra)


SURFACE_CASES = [
    ("missing-seg", "nothing.mrc does not exist"),
    ("missing-tomo", "nope.mrc does not exist"),
    ("text-seg", "not a readable MRC"),
    ("text-tomo", "not a readable MRC"),
    ("2d-seg", "has shape (1, 32, 32)"),
    ("shape", "has shape (24, 32, 30) (z, y, x) but tomogram tomo.mrc has (24, 32, 32)"),
    ("voxel", "voxel size 14 Å but tomogram tomo.mrc has 12 Å"),
    ("empty-seg", "no membrane of at least 300 voxels"),
    ("scores-as-seg", "non-integer values"),
    ("tomogram-as-seg", "negative labels"),
    ("constant-tomo", "tomo.mrc is constant"),
    ("all-nan-tomo", "every voxel of tomo.mrc is NaN"),
    ("out-is-file", "is a file; pass a folder with --out"),
    ("exists", "pass --overwrite"),
    ("voxel-zero", "--voxel-size"),
    ("lowpass-nan", "--feature-lowpass must be a Gaussian sigma >= 0 Å, got nan"),
    ("lowpass-negative", "--feature-lowpass must be a Gaussian sigma >= 0 Å, got -1"),
    ("smoothing-negative", "--smoothing must be a Gaussian sigma >= 0 voxels"),
    ("spacing-zero", "--spacing-ang must be a distance > 0 Å"),
    ("min-voxels-zero", "--min-voxels must be >= 1 voxel"),
]


@pytest.mark.parametrize("kind, message", SURFACE_CASES, ids=[c[0] for c in SURFACE_CASES])
def test_surface_bad_inputs(tmp_path, tomo, kind, message):
    assert_refuses(_case(kind, tmp_path, tomo), message, [tmp_path])


def test_refusal_after_a_good_run_keeps_its_files(tmp_path, tomo):
    seg = _seg(tmp_path, _sheets())
    _ok(_surface(seg, tomo))
    before = snapshot([tmp_path])
    assert_refuses(_surface(seg, tomo, "--overwrite", "--feature-lowpass", "nan"), "--feature-lowpass", [tmp_path])
    assert snapshot([tmp_path]) == before
