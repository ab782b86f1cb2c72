"""Membrane probabilities of a whole tomogram: sliding windows, on-the-fly rescaling, flip TTA.

Each window is cut from the tomogram at its own voxel size with the model window's physical
extent, resampled to the model's voxel size on the device, normalised, predicted under the 8
axis flips (each undone before the probabilities are averaged), resampled back and blended with
a Gaussian importance map (:class:`cryomem.segment._windows.Blender`). The whole tomogram is
never rescaled, copied to float32 or loaded when memory-mapped.

Host memory: input + output (float16) + a float32 ring one window thick -- at most 2.5x the
input in float32, with or without TTA (the flips are averaged on the device per window).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from cryomem.io import FractionProgress
from cryomem.segment._malloc import reuse_freed_memory
from cryomem.segment._rescale import resample_window
from cryomem.segment._settings import SegmentSettings
from cryomem.segment._windows import Blender, WindowPlan, available_memory_bytes, plan_windows

__all__ = ["TTA_FLIPS", "default_batch_size", "flip_statistics", "predict_probabilities", "select_device"]

# Dims of a (batch, channel, z, y, x) tensor flipped by each of the 8 test-time augmentations.
TTA_FLIPS: tuple[tuple[int, ...], ...] = ((), (2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4))
_STD_FLOOR = 1e-6  # per-window normalisation, as in training (segment._data.normalise)
_RAM_FRACTION = 0.7  # output + ring go to scratch files when they need more of the available memory


def select_device(name: str | torch.device = "auto") -> torch.device:
    """The torch device to run on: ``"auto"`` picks CUDA, then Apple MPS, then the CPU.

    Parameters
    ----------
    name : str or torch.device, default "auto"
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Raises
    ------
    ValueError
        Unknown name, or the requested device is not available on this machine.
    """
    if isinstance(name, torch.device):
        name = str(name)
    text = str(name).strip().lower()
    cuda_ok = torch.cuda.is_available()
    mps_ok = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if text == "auto":
        return torch.device("cuda" if cuda_ok else "mps" if mps_ok else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {name!r}") from None
    if device.type == "cuda" and not (cuda_ok and (device.index or 0) < torch.cuda.device_count()):
        raise ValueError(f"device {name!r} is not available (CUDA GPUs found: {torch.cuda.device_count()}); use 'auto'")
    if device.type == "mps" and not mps_ok:
        raise ValueError(f"device {name!r} is not available on this machine; use 'auto' or 'cpu'")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {name!r}")
    return device


def default_batch_size(device: str | torch.device) -> int:
    """Network inputs per forward call when the user gives none: 1 on the CPU, 4 on a GPU.

    On the CPU a second window in the batch buys no speed (the cores are busy either way) but
    doubles the network's activation memory (about 0.33 GB per 112 x 96 x 96 window for the default
    model on the lean CPU path of :mod:`cryomem.segment._unet`).
    """
    return 1 if torch.device(device).type == "cpu" else 4


def _model_device_and_dtype(
    model: torch.nn.Module, device: str | torch.device | None
) -> tuple[torch.device, torch.dtype]:
    param = next(iter(model.parameters()), None)
    if device is None:
        target = param.device if param is not None else torch.device("cpu")
    else:
        target = select_device(device)
        model.to(target)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return target, dtype


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _read_window(volume: np.ndarray, plan: WindowPlan, starts: tuple[int, int, int]) -> np.ndarray:
    """The window at ``starts`` as float32, reflected where it reaches past the tomogram."""
    index = tuple(slice(s, s + a.valid(s)) for a, s in zip(plan.axes, starts))
    block = np.array(volume[index], dtype=np.float32)  # a copy of this window only (memmap-friendly)
    if volume.dtype.kind == "f" and not np.isfinite(block).all():
        raise ValueError(
            f"volume_zyx holds NaN or infinite values in the window starting at (z, y, x) = {starts}; "
            "replace them (e.g. with the mean) before segmenting"
        )
    pad = [(0, a.extent - n) for a, n in zip(plan.axes, block.shape)]
    if any(after for _, after in pad):
        block = np.pad(block, pad, mode="reflect" if min(block.shape) > 1 else "edge")
    return block


def _normalise(batch: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit standard deviation per window (as the training crops)."""
    dims = tuple(range(1, batch.ndim))
    mean = batch.mean(dim=dims, keepdim=True)
    std = batch.std(dim=dims, keepdim=True, correction=0).clamp_min(_STD_FLOOR)
    return (batch - mean) / std


def _flip(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    return x.flip(dims) if dims else x


def _forward(model: torch.nn.Module, inputs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    inputs = inputs.to(dtype)
    out = model(inputs)
    if not isinstance(out, torch.Tensor) or out.shape != inputs.shape:
        found = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"the model returned {found} for an input of shape {tuple(inputs.shape)}; it must return one "
            "logit channel of the input's shape (batch, 1, z, y, x)"
        )
    return out.float()


def flip_statistics(
    model: torch.nn.Module,
    batch: torch.Tensor,
    flips: tuple[tuple[int, ...], ...] = TTA_FLIPS,
    *,
    batch_size: int = 2,
    spread: bool = False,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean (and variance) over ``flips`` of the sigmoid probabilities, every flip undone first.

    Parameters
    ----------
    model : torch.nn.Module
        Returns logits of its input's shape.
    batch : (n, 1, z, y, x) tensor
        Network-ready windows.
    flips : tuple of dim tuples, default all 8 (``TTA_FLIPS``)
        Dims of ``batch`` to flip; ``()`` is the identity.
    batch_size : int, default 2
        Network inputs per forward call; windows and flips are batched together.
    spread : bool, default False
        Also return the (population) variance over the flips.
    dtype : torch.dtype, default float32
        Dtype fed to the model (that of its parameters).

    Returns
    -------
    mean : (n, 1, z, y, x) float32 tensor
        Average of ``sigmoid(flip(model(flip(batch, f)), f))`` over ``f`` in ``flips``.
    variance : same shape, or None
        Computed in one pass (Welford), so only two window-sized accumulators are held.

    Notes
    -----
    With ``flips=((),)`` the mean is exactly ``sigmoid(model(batch))``.
    """
    n = batch.shape[0]
    pairs = [(k, j) for k in range(len(flips)) for j in range(n)]  # flip-major: every window sees flips in order
    mean = torch.zeros(batch.shape, dtype=torch.float32, device=batch.device)
    m2 = torch.zeros_like(mean) if spread else None
    for first in range(0, len(pairs), batch_size):
        chunk = pairs[first : first + batch_size]
        inputs = torch.cat([_flip(batch[j : j + 1], flips[k]) for k, j in chunk])
        probabilities = torch.sigmoid(_forward(model, inputs, dtype))
        for (k, j), p in zip(chunk, probabilities):
            p = _flip(p[None], flips[k])
            if m2 is None:
                mean[j : j + 1] += p
                continue
            delta = p - mean[j : j + 1]
            mean[j : j + 1] += delta / (k + 1)
            m2[j : j + 1] += delta * (p - mean[j : j + 1])
    if m2 is None:
        return mean / len(flips), None
    return mean, m2 / len(flips)


def _check_options(volume: np.ndarray, batch_size: int, dtype: np.dtype, uncertainty: bool, tta: bool) -> None:
    array_like = all(hasattr(volume, name) for name in ("shape", "dtype", "ndim", "__getitem__"))
    if not array_like or volume.ndim != 3:  # numpy, memmap, or a lazy dask/zarr array read window by window
        shape = getattr(volume, "shape", type(volume).__name__)
        raise ValueError(f"volume_zyx must be a 3D (z, y, x) numpy, memmap or dask array, got {shape}")
    if volume.dtype.kind not in "fiub":
        raise ValueError(f"volume_zyx has dtype {volume.dtype}; give real numbers")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1 network input, got {batch_size}")
    if dtype not in (np.dtype(np.float16), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float16 or float32, got {dtype}")
    if uncertainty and not tta:
        raise ValueError("uncertainty is the spread of the 8 flip predictions: it needs tta=True")


def predict_probabilities(
    volume_zyx: np.ndarray,
    model: torch.nn.Module,
    *,
    input_voxel_size_ang: float,
    model_voxel_size_ang: float,
    window: int,
    divisor: int,
    overlap: float = SegmentSettings.model_fields["overlap"].default,
    adaptive_windows: bool = SegmentSettings.model_fields["adaptive_windows"].default,
    tta: bool = SegmentSettings.model_fields["tta"].default,
    batch_size: int = 2,
    device: str | torch.device | None = None,
    normalize: bool = True,
    uncertainty: bool = False,
    dtype: type | np.dtype = np.float16,
    use_disk: bool | None = None,
    scratch_dir: str | os.PathLike[str] | None = None,
    progress: FractionProgress | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Membrane probability of every voxel by Gaussian-blended sliding windows.

    Parameters
    ----------
    volume_zyx : (nz, ny, nx) array or memmap
        Tomogram (any real dtype). A memmap is read one window at a time.
    model : torch.nn.Module
        ``model(x)`` maps float (B, 1, z, y, x) to logits of the same shape. Run in eval mode
        (its previous mode restored afterwards) under ``torch.inference_mode``.
    input_voxel_size_ang, model_voxel_size_ang : float
        Voxel sizes of the tomogram and of the model, Å.
    window : int
        Window side the model sees, model voxels; a multiple of ``divisor``. Along an axis
        shorter than a window it shrinks to the smallest multiple of ``divisor`` that covers it.
    divisor : int
        Network input sides must be multiples of this.
    overlap : float, default ``SegmentSettings().overlap``
        Neighbouring windows share at least this fraction of ``window``, in [0, 1).
    adaptive_windows : bool, default ``SegmentSettings().adaptive_windows``
        Window sides chosen per axis for the fewest network voxels (see :func:`plan_windows`).
    tta : bool, default ``SegmentSettings().tta``
        Average the probabilities of the 8 flips over the three axes; False: identity only (8x
        fewer network calls).
    batch_size : int, default 2
        Network inputs per forward call (windows x flips are batched together).
    device : str or torch.device, optional
        Default: where the model's parameters are. Otherwise ``select_device(device)`` and the
        model is MOVED there (``model.to`` acts in place).
    normalize : bool, default True
        Zero mean, unit standard deviation per window after rescaling (as in training).
    uncertainty : bool, default False
        Also return the standard deviation of the 8 flip probabilities (needs ``tta``),
        Gaussian-blended like the mean (as the root of the blended variance).
    dtype : float16 or float32, default float16
        Output dtype of the probabilities.
    use_disk : bool, optional
        Keep output(s) and ring in memory-mapped scratch files (unlinked at once, freed with the
        array). Default: only when they need more than 70% of the available memory.
    scratch_dir : path, optional
        Folder for those scratch files (default: the system temporary folder).
    progress : callable(stage: str, fraction: float), optional
        Called after every batch of windows with stage ``"membrane prediction"``.

    Returns
    -------
    (nz, ny, nx) array, or (probabilities, std) if ``uncertainty``
        Probabilities in [0, 1] (``dtype``); std float16. ``np.memmap`` when on disk.
    """
    dtype = np.dtype(dtype)
    _check_options(volume_zyx, batch_size, dtype, uncertainty, tta)
    reuse_freed_memory()  # every window's activations would otherwise be page-faulted in afresh
    plan = plan_windows(
        volume_zyx.shape,
        window=window,
        divisor=divisor,
        input_voxel_size_ang=input_voxel_size_ang,
        model_voxel_size_ang=model_voxel_size_ang,
        overlap=overlap,
        adaptive=adaptive_windows,
    )
    if use_disk is None:
        free = available_memory_bytes()
        use_disk = free is not None and Blender.bytes_needed(plan, dtype, uncertainty) > _RAM_FRACTION * free
    scratch = Path(scratch_dir) if scratch_dir is not None else None
    blender = Blender(plan, dtype, uncertainty, bool(use_disk), scratch)
    target, param_dtype = _model_device_and_dtype(model, device)
    flips = TTA_FLIPS if tta else ((),)
    per_group = -(-int(batch_size) // len(flips))  # windows per group: ceil(batch_size / flips)
    axis = plan.stream_axis
    inner = [i for i in range(3) if i != axis]
    row_starts = plan.axes[axis].starts
    done = 0
    with _eval_mode(model), torch.inference_mode():
        for row, row_start in enumerate(row_starts):
            windows = []
            for first in plan.axes[inner[0]].starts:
                for second in plan.axes[inner[1]].starts:
                    starts = [row_start, row_start, row_start]
                    starts[inner[0]], starts[inner[1]] = first, second
                    windows.append(tuple(starts))
            for g in range(0, len(windows), per_group):
                group = windows[g : g + per_group]
                batch = np.stack([_read_window(volume_zyx, plan, starts) for starts in group])[:, None]
                x = resample_window(torch.from_numpy(batch).to(target), plan.model_window_zyx)
                mean, variance = flip_statistics(
                    model,
                    _normalise(x) if normalize else x,
                    flips,
                    batch_size=int(batch_size),
                    spread=uncertainty,
                    dtype=param_dtype,
                )
                _blend(blender, plan, group, mean if variance is None else torch.cat([mean, variance], dim=1))
                done += len(group)
                if progress is not None:
                    progress("membrane prediction", done / plan.n_windows)
            blender.finish_rows(row_start, row_starts[row + 1] if row + 1 < len(row_starts) else plan.shape_zyx[axis])
    return (blender.out, blender.spread) if uncertainty else blender.out


def _blend(blender: Blender, plan: WindowPlan, group: list[tuple[int, int, int]], channels: torch.Tensor) -> None:
    """Bring window channels (mean, variance) back to the tomogram grid, weight, crop and add."""
    back = resample_window(channels, plan.extent_zyx)
    for k, starts in enumerate(group):
        weight = torch.from_numpy(plan.importance(starts)).to(back.device)
        crop = (k, slice(None), *(slice(0, n) for n in weight.shape))
        blender.add(starts, list((back[crop] * weight).cpu().numpy()))
