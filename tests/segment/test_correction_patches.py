"""Correction patches: extract from a tomogram, merge corrected ones into training data, refuse bad ones."""

import json

import numpy as np
import pytest

from cryomem.io import read_mrc, write_mrc
from cryomem.segment._data import load_split
from cryomem.segment._patches import extract_correction_patches, uncertain_corners
from cryomem.segment._patches_merge import merge_corrected_patches

VOXEL = 12.0
ORIGIN = (100.0, 200.0, 300.0)
SHAPE = (48, 64, 80)


@pytest.fixture
def tomo(tmp_path):
    """A tomogram, its segmentation (a plane at z = 20) and scores uncertain only in one box."""
    rng = np.random.default_rng(1)
    image = rng.normal(size=SHAPE).astype(np.float32)
    seg = np.zeros(SHAPE, np.uint8)
    seg[20] = 1
    scores = np.where(seg > 0, 0.95, 0.02).astype(np.float32)
    scores[24:40, 30:46, 50:66] = 0.5  # the one region the model is unsure of
    paths = {name: tmp_path / f"t{name}.mrc" for name in ("", "_seg", "_scores")}
    for path, data in zip(paths.values(), (image, seg, scores)):
        write_mrc(path, data, voxel_size_ang=VOXEL, origin_xyz_ang=ORIGIN)
    return paths[""], paths["_seg"], paths["_scores"], image, seg


def test_uncertain_corners_find_the_uncertain_box_first():
    p = np.zeros((40, 40, 40), np.float32)
    p[16:32, 8:24, 20:36] = 0.5
    (corner, score), *rest = uncertain_corners(p, 16, 3)
    np.testing.assert_array_equal(corner, [16, 8, 20])
    assert score == pytest.approx(0.0) and len(rest) == 2
    assert all(np.any(np.abs(c - corner) >= 16) for c, _ in rest)  # no overlap


def test_extract_writes_patches_that_line_up_with_the_tomogram(tomo, tmp_path):
    tomogram, seg_path, scores, image, seg = tomo
    out = tmp_path / "patches"
    sources = extract_correction_patches(
        tomogram, seg_path, out, n=2, size=24, strategy="uncertain", scores=scores, border_ignore_voxels=3
    )
    first = sources[0]
    z, y, x = first.start_zyx
    assert 24 - 8 <= z <= 24 and 30 - 8 <= y <= 30 and 50 - 8 <= x <= 50  # inside the uncertain box region
    patch = read_mrc(out / first.image)
    np.testing.assert_array_equal(patch.data_zyx, image[z : z + 24, y : y + 24, x : x + 24])
    assert patch.voxel_size_ang == VOXEL
    np.testing.assert_allclose(patch.origin_xyz_ang, np.add(ORIGIN, np.array([x, y, z]) * VOXEL))
    labels = np.asarray(read_mrc(out / first.labels).data_zyx)
    expected = (seg[z : z + 24, y : y + 24, x : x + 24] > 0).astype(np.uint8)
    np.testing.assert_array_equal(labels[3:-3, 3:-3, 3:-3], expected[3:-3, 3:-3, 3:-3])
    assert (labels[:3] == 2).all() and (labels[:, :, -3:] == 2).all()
    record = json.loads((out / "patches.json").read_text())
    assert record["strategy"] == "uncertain" and record["tomogram"] == str(tomogram.resolve())
    assert record["patches"][0]["start_zyx"] == [z, y, x] and record["patches"][0]["size_zyx"] == [24, 24, 24]
    assert record["patches"][0]["score"] < record["patches"][1]["score"]


def test_extract_random_is_seeded_and_points_centre_on_the_points(tomo, tmp_path):
    tomogram, seg_path, *_ = tomo
    a = extract_correction_patches(tomogram, seg_path, tmp_path / "a", n=3, size=16, strategy="random", seed=4)
    b = extract_correction_patches(tomogram, seg_path, tmp_path / "b", n=3, size=16, strategy="random", seed=4)
    assert [s.start_zyx for s in a] == [s.start_zyx for s in b]
    star = tmp_path / "points.star"
    star.write_text(
        "data_particles\n\nloop_\n_rlnTomoName #1\n_rlnCoordinateX #2\n_rlnCoordinateY #3\n_rlnCoordinateZ #4\n"
        "t 40 30 20\nt 2 2 2\n"
    )
    sources = extract_correction_patches(
        tomogram, seg_path, tmp_path / "p", n=2, size=16, strategy="points", points=star
    )
    assert sources[0].start_zyx == (12, 22, 32)  # centred on voxel (z, y, x) = (20, 30, 40)
    assert sources[1].start_zyx == (0, 0, 0)  # near the corner: clipped inside the tomogram


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strategy": "uncertain"}, "needs --scores"),
        ({"strategy": "points"}, "needs --points"),
        ({"strategy": "best"}, "unknown"),
        ({"strategy": "random", "size": 60}, "does not fit"),
        ({"strategy": "random", "border_ignore_voxels": 12}, "leaves no labelled voxel"),
    ],
)
def test_extract_refuses(tomo, tmp_path, kwargs, message):
    tomogram, seg_path, *_ = tomo
    with pytest.raises(ValueError, match=message):
        extract_correction_patches(tomogram, seg_path, tmp_path / "out", **{"n": 2, "size": 24, **kwargs})
    assert not (tmp_path / "out").exists()


def test_extract_refuses_a_segmentation_of_another_shape(tomo, tmp_path):
    tomogram, *_ = tomo
    write_mrc(tmp_path / "other.mrc", np.zeros((10, 64, 80), np.uint8), voxel_size_ang=VOXEL)
    with pytest.raises(ValueError, match=r"shape \(z, y, x\) \(10, 64, 80\)"):
        extract_correction_patches(tomogram, tmp_path / "other.mrc", tmp_path / "o", n=1, size=8, strategy="random")


def test_extract_then_merge_round_trip_keeps_labels_and_voxel_size(tomo, tmp_path):
    tomogram, seg_path, *_ = tomo
    out = tmp_path / "patches"
    sources = extract_correction_patches(tomogram, seg_path, out, n=3, size=16, strategy="random")
    corrected = out / sources[0].labels
    edited = np.asarray(read_mrc(corrected).data_zyx).copy()
    edited[5:8, 5:8, 5:8] = 1  # a person adds membrane
    write_mrc(corrected, edited, voxel_size_ang=VOXEL)
    data = tmp_path / "data"
    entries = merge_corrected_patches([out], data, split="train")
    patches = {p.name: p for p in load_split(data, "Tr")}
    assert set(patches) == {s.image.removesuffix(".mrc") for s in sources} and len(entries) == 3
    merged = patches[sources[0].image.removesuffix(".mrc")]
    np.testing.assert_array_equal(merged.label_zyx, edited)
    np.testing.assert_array_equal(merged.image_zyx, read_mrc(out / sources[0].image).data_zyx)
    assert merged.voxel_size_ang == VOXEL
    again = merge_corrected_patches([out / sources[0].image], data, split="val")  # same names: new ones
    assert again[0]["file"] == sources[0].image.replace(".mrc", "_2.mrc") and len(load_split(data, "Val")) == 1
    assert len(json.loads((data / "dataset.json").read_text())["corrections"]) == 4


def test_merge_auto_split_sends_every_fifth_patch_to_validation(tomo, tmp_path):
    tomogram, seg_path, *_ = tomo
    extract_correction_patches(tomogram, seg_path, tmp_path / "p", n=6, size=16, strategy="random")
    entries = merge_corrected_patches([tmp_path / "p"], tmp_path / "data")
    assert [e["split"] for e in entries].count("validation") == 1


def _bad_label(folder, name, data):
    write_mrc(folder / name, data, voxel_size_ang=VOXEL)


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda f, s: _bad_label(f, s.labels, np.full((16, 16, 16), 3, np.uint8)), r"ignore\): 3;"),
        (lambda f, s: _bad_label(f, s.labels, np.full((16, 16, 16), 0.5, np.float32)), r"ignore\): 0.5;"),
        (lambda f, s: _bad_label(f, s.labels, np.zeros((16, 16, 8), np.uint8)), "has shape"),
        (lambda f, s: (f / s.labels).unlink(), "has no"),
        (lambda f, s: write_mrc(f / s.labels, np.zeros((16,) * 3, np.uint8), voxel_size_ang=8.0), "voxel size 8"),
    ],
)
def test_merge_refuses_bad_patches_and_writes_nothing(tomo, tmp_path, spoil, message):
    tomogram, seg_path, *_ = tomo
    sources = extract_correction_patches(tomogram, seg_path, tmp_path / "p", n=2, size=16, strategy="random")
    spoil(tmp_path / "p", sources[1])
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        merge_corrected_patches([tmp_path / "p"], tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_merge_refuses_a_voxel_size_other_than_the_dataset_s(tomo, tmp_path):
    tomogram, seg_path, *_ = tomo
    data = tmp_path / "data"
    for folder in ("imagesTr", "labelsTr"):
        (data / folder).mkdir(parents=True)
        write_mrc(data / folder / "old.mrc", np.zeros((16,) * 3, np.uint8), voxel_size_ang=10.0)
    extract_correction_patches(tomogram, seg_path, tmp_path / "p", n=1, size=16, strategy="random")
    with pytest.raises(ValueError, match="voxel size 12 Å but the patches of .* have 10 Å"):
        merge_corrected_patches([tmp_path / "p"], data)
    assert sorted(p.name for p in (data / "imagesTr").iterdir()) == ["old.mrc"]


def test_auto_split_validates_on_patches_with_membrane():
    from cryomem.segment._patches_merge import _splits

    assert _splits(["a", "b", "c"], "auto", [False, False, True]) == ["Tr", "Tr", "Val"]
    assert _splits(["a", "b"], "auto", [False, False]) == ["Tr", "Val"]
    assert _splits(["a", "b"], "train", [True, True]) == ["Tr", "Tr"]
