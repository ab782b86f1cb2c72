"""Per-vertex predicted distance to the nearest particle on a whole membrane.

The membrane is split into overlapping geodesic patches; each patch is predicted on its own and the
predictions are merged with Gaussian weights that fall off with the geodesic distance from the
patch centre (σ = half the patch radius; MemBrain v2, Methods "Merging Overlapping Partitions").
Test-time augmentation shifts the feature window along the normal by whole samples and averages the
predictions (Methods "Membrane Normal Distance Shifts"): every shift really is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cryomem.io import FractionProgress, MembraneSurface
from cryomem.pick._dataset import SurfacePatch, normalise_window, surface_patches, window_columns
from cryomem.pick._diffusion_net import PickNet, operators_to_torch
from cryomem.pick._model_card import PickModelCard, as_pick_card
from cryomem.pick._operators import OperatorCache

__all__ = ["predict_distances_ang"]


def _model_device(model: PickNet) -> torch.device:
    return next(model.parameters()).device


def predict_distances_ang(
    model: PickNet,
    card: PickModelCard | Mapping[str, Any],
    surface: MembraneSurface,
    *,
    tta_shifts: Sequence[int] = (-2, -1, 0, 1, 2),
    patch_vertices: int | None = None,
    progress: FractionProgress | None = None,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    threads: int | None = 1,
) -> np.ndarray:
    """Predict, for every vertex, the distance to the nearest particle on its side of the membrane.

    Parameters
    ----------
    model : PickNet
        Network from :func:`cryomem.pick.load_pick_model`.
    card : PickModelCard or dict
        Its model card (window offsets, ``max_distance_ang``, ``k_eig``, patch size).
    surface : MembraneSurface
        Membrane with ``features`` sampled along the normals.
    tta_shifts : sequence of int, default (-2, -1, 0, 1, 2)
        Window shifts along the normal, in samples; predictions are averaged. ``(0,)`` disables
        test-time augmentation.
    patch_vertices : int, optional
        Vertices per patch (default: the value the model was trained with).
    progress : callable ``(stage, fraction)``, optional
        Progress report.
    cache_dir : str or Path, optional
        Operator cache folder (default ``~/.cache/cryomem/operators``).
    seed : int, default 0
        Seed of the patch centres.
    threads : int or None, default 1
        torch CPU threads during the call (restored afterwards; None leaves torch's setting). Per-patch
        work is small, so one thread is fastest and does not stall when the machine is shared.

    Returns
    -------
    (n,) float32 array
        Predicted distances, Å, clipped to ``[0, max_distance_ang]``. Vertices in no patch (isolated
        vertices) get ``max_distance_ang``.

    Raises
    ------
    ValueError
        The surface has no features, or its feature offsets cannot provide the model's window at
        every requested shift (e.g. features sampled at another step), or ``tta_shifts`` is empty.
    """
    shifts = [int(s) for s in tta_shifts]
    if not shifts:
        raise ValueError("tta_shifts is empty; give at least one shift, e.g. (0,) for no test-time augmentation")
    where = f"membrane {surface.membrane_id}" + (
        f" of {Path(surface.tomogram_path).name}" if surface.tomogram_path else ""
    )
    card = as_pick_card(card)
    window = np.asarray(card.window_offsets_ang, dtype=np.float64)
    columns = [window_columns(surface.feature_offsets_ang, window, shift_samples=s, where=where) for s in shifts]
    max_distance = card.max_distance_ang
    n = len(surface.vertices_xyz_ang)
    patches = surface_patches(
        surface,
        patch_vertices=int(patch_vertices or card.patch_vertices),
        overlap=card.patch_overlap,
        k_eig=card.k_eig,
        seed=seed,
        cache=OperatorCache(cache_dir),
    )
    previous_threads = torch.get_num_threads()
    try:
        if threads:
            torch.set_num_threads(threads)
        total, weight = _merged_predictions(model, surface, patches, columns, max_distance, progress)
    finally:
        torch.set_num_threads(previous_threads)
    distances = np.full(n, max_distance)
    covered = weight > 0
    distances[covered] = total[covered] / weight[covered]
    return np.clip(distances, 0.0, max_distance).astype(np.float32)


def _merged_predictions(
    model: PickNet,
    surface: MembraneSurface,
    patches: list[SurfacePatch],
    columns: list[np.ndarray],
    max_distance_ang: float,
    progress: FractionProgress | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-weighted sums of the (shift-averaged) patch predictions, Å, and the weight sums."""
    n = len(surface.vertices_xyz_ang)
    total, weight = np.zeros(n), np.zeros(n)
    device = _model_device(model)
    model.eval()
    with torch.no_grad():
        for index, patch in enumerate(patches):
            ops = operators_to_torch(patch.operators, device)
            prediction = np.zeros(len(patch.vertex_ids))
            for cols in columns:
                features = normalise_window(surface.features[patch.vertex_ids][:, cols])
                prediction += model(torch.from_numpy(features).to(device), ops).double().cpu().numpy()
            prediction *= max_distance_ang / len(columns)
            sigma = max(0.5 * float(patch.distance_to_centre_ang.max()), 1e-6)
            w = np.exp(-0.5 * (patch.distance_to_centre_ang / sigma) ** 2)
            total[patch.vertex_ids] += w * prediction
            weight[patch.vertex_ids] += w
            if progress:
                progress("predicting patches", (index + 1) / len(patches))
    return total, weight
