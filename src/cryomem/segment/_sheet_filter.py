"""A sheet prior after the network: keep the connected pieces of a segmentation that look like membranes.

A membrane is an extended thin sheet. Filaments (rods and tubes), clusters of proteins (blobs) and
noise specks that the network marks as membrane are not. Every 26-connected component of the
binary segmentation is described by a few shape numbers, all in physical units so they do not
depend on the voxel size:

``area_nm2``
    mid-surface area: voxels of the component's one-voxel-thick sheet skeleton
    (:func:`~cryomem.segment._skeleton.skeletonize_membranes`) times the voxel face area;
``thickness_nm``
    volume / area (a blob or a solid rod has almost no sheet skeleton, so it comes out thick);
``mean_probability``
    the network's mean membrane probability inside the component;
``linearity``, ``flatness``
    from the eigenvalues ``l1 >= l2 >= l3`` of the covariance of the skeleton (or, without one,
    of all voxels): ``1 - sqrt(l2 / l1)`` is near 1 for a rod or a tube, ``sqrt(l3 / l2)`` near 0
    for a flat sheet and near 1 for a closed vesicle or a tube;
``tubularity``
    ``linearity · flatness``: near 1 only for a long tube (a microtubule wall, a filament bundle),
    near 0 for sheets, vesicles and ribbons;
``tube_radius_nm``
    ``sqrt(2 l2)``, the radius a tube with this covariance has (a cylinder's wall has ``l2 = r²/2``);
``extent_nm``
    ``4 sqrt(l1)``, about the length of the longest axis.

Rules over these (:class:`SheetFilterRules`; thresholds chosen on simulated tomograms only by
``benchmarks/fit_sheet_filter.py``) drop a component that is too small, too thick for a bilayer,
a tube narrower than any membrane tubule, or too faint. Rules rather than a learned classifier:
each decision can be read (the ``reason`` column of ``<stem>_sheet_filter.csv``), and a rule
about geometry carries over to tomograms unlike the simulator's better than weights fitted to it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import cc3d
import numpy as np

from cryomem.io import write_rows_csv
from cryomem.segment._skeleton import skeletonize_membranes

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_SHEET_FILTER_PATH",
    "SheetFilterRules",
    "component_features",
    "filter_sheets",
    "load_sheet_filter",
    "sheet_decisions",
    "write_decisions_csv",
]

DEFAULT_SHEET_FILTER_PATH = Path(__file__).parent / "models" / "sheet_filter.json"
_CHUNK_VOXELS = 16 * 1024**2  # per-component sums run over slabs of about this many voxels


@dataclass(frozen=True)
class SheetFilterRules:
    """When a connected piece of a segmentation is not a membrane (any rule drops it)."""

    min_area_nm2: float = 300.0  # smaller: a speck
    max_thickness_nm: float = 20.0  # thicker: a blob or a solid rod, not a bilayer
    min_tubularity: float = 0.5  # a tube when at least this tubular ...
    max_tube_radius_nm: float = 17.0  # ... and narrower than this: a filament, not a membrane tubule
    min_mean_probability: float = 0.5  # fainter on average: noise
    fitted_on: str = ""

    def __post_init__(self) -> None:
        for name in ("min_area_nm2", "max_thickness_nm", "max_tube_radius_nm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"sheet filter {name} must be a number >= 0, got {value}")
        for name in ("min_tubularity", "min_mean_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"sheet filter {name} must be in [0, 1], got {getattr(self, name)}")

    def reasons(self, table: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray:
        """Why each component is dropped ("" where it is kept): the first rule it breaks."""
        checks = [
            (table["area_nm2"] < self.min_area_nm2, f"smaller than {self.min_area_nm2:g} nm²"),
            (table["thickness_nm"] > self.max_thickness_nm, f"thicker than {self.max_thickness_nm:g} nm (blob or rod)"),
            (
                (table["tubularity"] >= self.min_tubularity) & (table["tube_radius_nm"] < self.max_tube_radius_nm),
                f"a tube of radius < {self.max_tube_radius_nm:g} nm (filament)",
            ),
            (
                table["mean_probability"] < self.min_mean_probability,
                f"mean probability < {self.min_mean_probability:g}",
            ),
        ]
        reason = np.full(len(np.asarray(table["area_nm2"])), "", dtype=object)
        for broken, text in reversed(checks):  # the first rule broken wins
            reason[np.asarray(broken)] = text
        return reason

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")


def load_sheet_filter(path: str | Path | None = None) -> SheetFilterRules:
    """Read sheet filter rules (JSON); ``None`` gives the shipped ones."""
    path = DEFAULT_SHEET_FILTER_PATH if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sheet filter file {path} does not exist; pass a JSON file of SheetFilterRules")
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(SheetFilterRules)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}")
        return SheetFilterRules(**data)
    except (ValueError, TypeError, AttributeError) as err:
        names = ", ".join(f.name for f in fields(SheetFilterRules))
        raise ValueError(f"sheet filter file {path} is not valid ({err}); its settings are {names}") from None


def _component_moments(labels: np.ndarray, points: tuple[np.ndarray, ...], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n + 1, 3) mean (z, y, x voxels) and covariance eigenvalues (descending, voxels²) of each label's points."""
    ids = labels[points]
    count = np.bincount(ids, minlength=n + 1).astype(float)
    safe = np.maximum(count, 1.0)
    coords = [p.astype(float) for p in points]
    means = [np.bincount(ids, weights=c, minlength=n + 1) / safe for c in coords]
    cov = np.zeros((n + 1, 3, 3))
    for a in range(3):
        for b in range(a, 3):
            m = np.bincount(ids, weights=coords[a] * coords[b], minlength=n + 1) / safe - means[a] * means[b]
            cov[:, a, b] = cov[:, b, a] = m
    return np.stack(means, axis=1), np.clip(np.linalg.eigvalsh(cov)[:, ::-1], 0.0, None)


def component_features(
    seg_zyx: np.ndarray, probabilities_zyx: np.ndarray | None, voxel_size_ang: float
) -> tuple[np.ndarray, pd.DataFrame]:
    """26-connected components of ``seg_zyx`` and their shape numbers (see the module docstring).

    Returns the component labels (0 background, 1..n in scan order) and a table with one row per
    component: ``component`` (its label), its centre (``centre_x/y/z_vox``, voxel indices, to find it
    in a viewer), ``voxels`` and its shape numbers.
    Without probabilities, ``mean_probability`` is 1.
    """
    import pandas as pd

    labels, columns = _feature_columns(seg_zyx, probabilities_zyx, voxel_size_ang)
    return labels, pd.DataFrame(columns)


def _feature_columns(
    seg_zyx: np.ndarray, probabilities_zyx: np.ndarray | None, voxel_size_ang: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`component_features` as named columns, without pandas (importing it costs ~0.5 s)."""
    if voxel_size_ang <= 0 or not math.isfinite(voxel_size_ang):
        raise ValueError(f"voxel_size_ang must be a positive number, got {voxel_size_ang}")
    mask = np.asarray(seg_zyx) != 0
    labels, n = cc3d.connected_components(mask, connectivity=26, return_N=True)
    voxel_nm = voxel_size_ang / 10.0
    voxels, sums = np.zeros(n + 1), np.zeros(n + 1)
    step = max(1, _CHUNK_VOXELS // max(1, mask.shape[1] * mask.shape[2]))
    for z0 in range(0, mask.shape[0], step):  # bounded temporaries
        slab = labels[z0 : z0 + step].ravel()
        voxels += np.bincount(slab, minlength=n + 1)
        if probabilities_zyx is not None:
            weights = np.asarray(probabilities_zyx[z0 : z0 + step], np.float64).ravel()
            sums += np.bincount(slab, weights=weights, minlength=n + 1)
    mean_probability = np.ones(n + 1) if probabilities_zyx is None else sums / np.maximum(voxels, 1.0)
    sheet_points = np.nonzero(skeletonize_membranes(mask))
    sheet_voxels = np.bincount(labels[sheet_points], minlength=n + 1).astype(float)
    _, eig_sheet = _component_moments(labels, sheet_points, n)
    centroid_zyx, eig_all = _component_moments(labels, np.nonzero(mask), n)
    eig = np.where((sheet_voxels >= 10)[:, None], eig_sheet, eig_all) * voxel_nm**2
    area = sheet_voxels * voxel_nm**2
    thickness = voxels * voxel_nm**3 / np.maximum(area, voxel_nm**2)
    l1, l2, l3 = (np.maximum(eig[:, i], 1e-6) for i in range(3))
    linearity, flatness = 1.0 - np.sqrt(l2 / l1), np.sqrt(l3 / l2)
    columns = {
        "component": np.arange(n + 1),
        "centre_x_vox": np.round(centroid_zyx[:, 2], 1),
        "centre_y_vox": np.round(centroid_zyx[:, 1], 1),
        "centre_z_vox": np.round(centroid_zyx[:, 0], 1),
        "voxels": voxels.astype(np.int64),
        "area_nm2": area,
        "thickness_nm": thickness,
        "mean_probability": mean_probability,
        "linearity": linearity,
        "flatness": flatness,
        "tube_radius_nm": np.sqrt(2.0 * l2),
        "extent_nm": 4.0 * np.sqrt(l1),
        "tubularity": linearity * flatness,
    }
    return labels, {name: values[1:] for name, values in columns.items()}  # row 0 is the background


def filter_sheets(
    seg_zyx: np.ndarray,
    probabilities_zyx: np.ndarray | None,
    voxel_size_ang: float,
    rules: SheetFilterRules | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Remove the components of a segmentation that the sheet prior says are not membranes.

    Returns the filtered segmentation (uint8, 0/1, same shape) and the decision table: the shape
    numbers, ``kept`` and ``reason`` per component. The input is not modified.
    """
    import pandas as pd

    filtered, columns = sheet_decisions(seg_zyx, probabilities_zyx, voxel_size_ang, rules)
    return filtered, pd.DataFrame(columns)


def sheet_decisions(
    seg_zyx: np.ndarray,
    probabilities_zyx: np.ndarray | None,
    voxel_size_ang: float,
    rules: SheetFilterRules | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`filter_sheets` with the decisions as named columns (no pandas)."""
    rules = load_sheet_filter() if rules is None else rules
    labels, columns = _feature_columns(seg_zyx, probabilities_zyx, voxel_size_ang)
    reason = rules.reasons(columns)
    columns["kept"] = reason == ""
    columns["reason"] = np.where(columns["kept"], "sheet-like", reason)
    lut = np.zeros(len(reason) + 1, np.uint8)
    lut[columns["component"][columns["kept"]]] = 1
    return lut[labels], columns


def write_decisions_csv(columns: dict[str, np.ndarray], path: str | Path) -> None:
    """The sheet filter's decisions as ``<stem>_sheet_filter.csv``: one row per component, floats
    with 4 significant digits (as ``DataFrame.to_csv(index=False, float_format="%.4g")``)."""
    cells = {
        name: [f"{v:.4g}" for v in values] if np.asarray(values).dtype.kind == "f" else np.asarray(values).tolist()
        for name, values in columns.items()
    }
    rows = [dict(zip(cells, row, strict=True)) for row in zip(*cells.values(), strict=True)]
    write_rows_csv(path, rows, columns=list(cells))
