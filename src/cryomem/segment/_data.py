"""Training data: image/label patch pairs, rescaled to the model's voxel size on the fly.

A data folder holds ``imagesTr/labelsTr/imagesVal/labelsVal`` with the same file name for an image
and its label (MRC, or NIfTI when nibabel is installed). Labels are 0 background, 1 membrane,
2 ignore. Patches keep their own voxel size on disk; each training sample is a random crop whose
physical size equals the model's patch, resampled to the model's voxel size (image trilinear,
labels nearest) — exactly what inference does to a tomogram.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cryomem.io import MRC_SUFFIXES, read_mrc, read_mrc_header, training_data_folders
from cryomem.segment._augment_spatial import IGNORE

IMAGE_SUFFIXES = (*MRC_SUFFIXES, ".nii", ".nii.gz")
_MAKE_DATA = "a folder with imagesTr/ and labelsTr/ (`cryomem simulate dataset` writes one)"


@dataclass(frozen=True)
class Patch:
    """One image/label pair at its own voxel size."""

    name: str
    image_zyx: np.ndarray  # float32
    label_zyx: np.ndarray  # uint8: 0 background, 1 membrane, 2 ignore
    voxel_size_ang: float


def _read_volume(path: Path) -> tuple[np.ndarray, float]:
    if path.name.endswith((".nii", ".nii.gz")):
        try:
            import nibabel
        except ImportError:
            raise ValueError(f"{path} is NIfTI; install nibabel (pip install nibabel) or convert it to MRC") from None
        image = nibabel.load(str(path))
        data = np.asarray(image.dataobj).transpose(2, 1, 0)  # NIfTI is (x, y, z)
        return data, float(image.header.get_zooms()[0])
    voxel = read_mrc_header(path).voxel_size_ang_raw
    if not np.isfinite(voxel) or voxel <= 1.0:  # 0 or 1 Å: the writer stored no voxel size
        raise ValueError(
            f"{path} states no voxel size in its header ({voxel:g} Å); training patches need their own: "
            "write it into the file (e.g. mrcfile: mrc.voxel_size = 10.0)"
        )
    volume = read_mrc(path)
    return np.asarray(volume.data_zyx), volume.voxel_size_ang


def _check_finite(path: Path, data: np.ndarray) -> None:
    """Refuse NaN/inf voxels: one would turn every weight into NaN within a step."""
    if data.dtype.kind in "fc":
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise ValueError(
                f"{path} holds {bad} NaN or infinite voxel value(s); training needs finite values: "
                "fix or remove this patch (and its label)"
            )


def _stem(path: Path) -> str:
    return path.name.removesuffix(".gz").rsplit(".", 1)[0]


def load_split(data_dir: Path | str, split: str, *, required: bool = True) -> list[Patch]:
    """Read every pair of ``images{split}``/``labels{split}`` (split ``Tr`` or ``Val``).

    With ``required=False`` a data folder without either folder of the split has no patches of
    it (``[]``); one folder without the other is still an error.

    Raises
    ------
    FileNotFoundError
        No data folder, or (when required) no ``images{split}``/``labels{split}`` folders.
    ValueError
        Unpaired names, unreadable files, shapes that differ, NaN/inf image voxels, labels other
        than 0, 1, 2.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        what = "is a file" if data_dir.exists() else "does not exist"
        raise FileNotFoundError(f"training data folder {data_dir} {what}; pass {_MAKE_DATA}")
    images_dir, labels_dir = training_data_folders(data_dir, split)
    if not required and not images_dir.exists() and not labels_dir.exists():
        return []
    if not images_dir.is_dir() or not labels_dir.is_dir():
        raise FileNotFoundError(f"{data_dir} needs images{split}/ and labels{split}/ folders; pass {_MAKE_DATA}")
    images = {_stem(p): p for p in sorted(images_dir.iterdir()) if p.name.endswith(IMAGE_SUFFIXES)}
    labels = {_stem(p): p for p in sorted(labels_dir.iterdir()) if p.name.endswith(IMAGE_SUFFIXES)}
    if set(images) != set(labels):
        missing = sorted(set(images) ^ set(labels))[:3]
        raise ValueError(
            f"images{split} and labels{split} in {data_dir} do not pair up (e.g. {missing}); "
            "give each image a label of the same file name"
        )
    if required and not images:
        others = sorted(p.name for p in images_dir.iterdir() if not p.name.startswith("."))[:3]
        found = f" (found {others}: convert them to MRC)" if others else ""
        raise ValueError(f"{images_dir} holds no {'/'.join(IMAGE_SUFFIXES)} patches{found}; add training data")
    patches = []
    for name in sorted(images):
        image, voxel = _read_volume(images[name])
        label, _ = _read_volume(labels[name])
        if image.shape != label.shape:
            raise ValueError(
                f"{images[name]} has shape {image.shape} but its label {labels[name]} has {label.shape}; "
                "an image and its label must match voxel for voxel"
            )
        _check_finite(images[name], image)
        values = np.unique(label)
        if not np.isin(values, (0, 1, 2)).all():
            other = [float(v) for v in values[~np.isin(values, (0, 1, 2))][:3]]
            raise ValueError(
                f"{labels[name]} holds values other than 0, 1, 2 (background, membrane, ignore), e.g. {other}; "
                "relabel it"
            )
        patches.append(Patch(name, image.astype(np.float32), label.astype(np.uint8), voxel))
    return patches


def normalise(image: np.ndarray) -> np.ndarray:
    """Per-patch normalisation: zero mean, unit standard deviation."""
    image = image.astype(np.float32, copy=False)
    return (image - image.mean()) / max(float(image.std()), 1e-6)


def resample_pair(
    image: np.ndarray, label: np.ndarray, out_shape: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resample an image (trilinear) and its label (nearest) to ``out_shape``."""
    if image.shape == tuple(out_shape):
        return image, label
    img = F.interpolate(torch.from_numpy(np.ascontiguousarray(image))[None, None], size=out_shape, mode="trilinear")
    lab = F.interpolate(torch.from_numpy(label.astype(np.float32))[None, None], size=out_shape, mode="nearest")
    return img[0, 0].numpy(), lab[0, 0].numpy().astype(np.uint8)


def random_crop(
    patch: Patch, patch_size: int, model_voxel_size_ang: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random crop of the model's physical patch size, resampled to ``patch_size``³ voxels.

    Where the patch is smaller than that physical size, the crop keeps its scale and is padded
    (image with its mean, label with ignore) rather than stretched.
    """
    scale = patch.voxel_size_ang / model_voxel_size_ang
    extent = [min(max(2, int(round(patch_size / scale))), n) for n in patch.image_zyx.shape]
    corner = [int(rng.integers(0, n - e + 1)) for n, e in zip(patch.image_zyx.shape, extent)]
    window = tuple(slice(c, c + e) for c, e in zip(corner, extent))
    shape = tuple(min(patch_size, max(1, int(round(e * scale)))) for e in extent)
    image, label = resample_pair(patch.image_zyx[window], patch.label_zyx[window], shape)
    if shape == (patch_size,) * 3:
        return image, label
    pad = [(0, patch_size - n) for n in shape]
    return (
        np.pad(image, pad, constant_values=float(image.mean())),
        np.pad(label, pad, constant_values=IGNORE),
    )


def whole_patch(patch: Patch, model_voxel_size_ang: float, divisor: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole patch at the model's voxel size, cropped centrally to multiples of ``divisor``."""
    scale = patch.voxel_size_ang / model_voxel_size_ang
    shape = [max(divisor, int(round(n * scale)) // divisor * divisor) for n in patch.image_zyx.shape]
    full = [max(s, int(round(n * scale))) for s, n in zip(shape, patch.image_zyx.shape)]
    image, label = resample_pair(patch.image_zyx, patch.label_zyx, tuple(full))
    window = tuple(slice((f - s) // 2, (f - s) // 2 + s) for f, s in zip(full, shape))
    return image[window], label[window]
