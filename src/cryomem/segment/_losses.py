"""Training losses for membrane segmentation: masked BCE + Dice, soft Surface-Dice, deep supervision.

Labels follow MemBrain-seg: 0 background, 1 membrane, 2 ignore. Every loss here sees only the
voxels whose label is not the ignore label: logits inside ignore regions are replaced by a
constant *before* any arithmetic (``torch.where``), so neither the loss value nor the gradient of
any other logit changes when they change, and their own gradient is exactly zero.

Surface-Dice (MemBrain v2, Methods "Surface-Dice") is the Centerline-Dice of Shit et al. (2021)
with the soft skeleton of a membrane being a thin sheet rather than a line.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "SegmentationLoss",
    "default_deep_supervision_weights",
    "downsample_labels",
    "masked_bce_dice_loss",
    "soft_skeleton",
    "surface_dice_loss",
]

DEFAULT_SKELETON_ITERATIONS = 5
_EPS = 1e-5


def _check_5d(tensor: Tensor, name: str) -> None:
    if tensor.ndim != 5 or tensor.shape[1] != 1:
        raise ValueError(f"{name} must have shape (B, 1, D, H, W), got {tuple(tensor.shape)}")


def _soft_erode(x: Tensor) -> Tensor:
    """Grey erosion with the 6-neighbour cross: minimum of three axis-aligned 3-voxel min-pools."""
    along_d = -F.max_pool3d(-x, kernel_size=(3, 1, 1), stride=1, padding=(1, 0, 0))
    along_h = -F.max_pool3d(-x, kernel_size=(1, 3, 1), stride=1, padding=(0, 1, 0))
    along_w = -F.max_pool3d(-x, kernel_size=(1, 1, 3), stride=1, padding=(0, 0, 1))
    return torch.minimum(torch.minimum(along_d, along_h), along_w)


def _soft_dilate(x: Tensor) -> Tensor:
    """Grey dilation with the full 3x3x3 cube (max-pool)."""
    return F.max_pool3d(x, kernel_size=3, stride=1, padding=1)


def _soft_open(x: Tensor) -> Tensor:
    return _soft_dilate(_soft_erode(x))


def soft_skeleton(prob: Tensor, iterations: int = DEFAULT_SKELETON_ITERATIONS) -> Tensor:
    """Differentiable skeleton of a probability map by iterated min/max pooling.

    At each step the map is eroded once more; what an opening (erosion then dilation) of the
    current map removes is thin at that depth and is added to the skeleton (Shit et al. 2021,
    as used for Surface-Dice in MemBrain v2). Erosion is ``-maxpool(-x)`` over the 6-neighbour
    cross, dilation ``maxpool`` over the 3x3x3 cube. Padding never erodes from outside the patch.

    Parameters
    ----------
    prob : (B, 1, D, H, W) float tensor
        Probabilities in [0, 1].
    iterations : int, default 5
        Number of erosions. Structures up to about ``2 * iterations + 1`` voxels thick are thinned
        to their centre; thicker ones leave a band.

    Returns
    -------
    (B, 1, D, H, W) tensor
        Soft skeleton in [0, 1], differentiable with respect to ``prob``. For a binary input it is
        the morphological (Lantuejoul) skeleton of depth ``iterations``.
    """
    _check_5d(prob, "prob")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"iterations must be a non-negative int, got {iterations!r}")
    current = prob
    skeleton = F.relu(current - _soft_open(current))
    for _ in range(iterations):
        current = _soft_erode(current)
        delta = F.relu(current - _soft_open(current))
        skeleton = skeleton + F.relu(delta - skeleton * delta)
    return skeleton


def _split_labels(logits: Tensor, labels: Tensor, ignore_label: int) -> tuple[Tensor, Tensor, Tensor]:
    """Masked float32 logits, float membrane target and float valid mask (1 where label != ignore)."""
    _check_5d(logits, "logits")
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(
            f"labels must have the shape of logits {tuple(logits.shape)}, got {tuple(labels.shape)}; "
            "for deep supervision pass the full-resolution labels to SegmentationLoss"
        )
    if ignore_label in (0, 1):
        raise ValueError(f"ignore_label must differ from 0 (background) and 1 (membrane), got {ignore_label}")
    ignore = labels == ignore_label
    membrane = labels == 1
    if bool(torch.any(~(ignore | membrane | (labels == 0)))):
        found = torch.unique(labels[~(ignore | membrane | (labels == 0))])[:5].tolist()
        raise ValueError(f"labels must hold only 0, 1 and {ignore_label} (ignore), found {found}")
    logits = logits.float()  # sums over whole patches overflow float16 under autocast
    masked_logits = torch.where(ignore, torch.zeros_like(logits), logits)
    valid = (~ignore).to(logits.dtype)
    return masked_logits, membrane.to(logits.dtype), valid


def _soft_dice(prob: Tensor, target: Tensor, valid: Tensor, *, batch_dice: bool) -> Tensor:
    dims = (0, 1, 2, 3, 4) if batch_dice else (1, 2, 3, 4)
    intersection = (prob * target * valid).sum(dim=dims)
    total = (prob * valid).sum(dim=dims) + (target * valid).sum(dim=dims)
    return ((2.0 * intersection + _EPS) / (total + _EPS)).mean()


def masked_bce_dice_loss(logits: Tensor, labels: Tensor, *, ignore_label: int = 2, batch_dice: bool = True) -> Tensor:
    """Binary cross-entropy plus soft Dice loss over the voxels not labelled ignore.

    Parameters
    ----------
    logits : (B, 1, D, H, W) float tensor
        Network output before the sigmoid.
    labels : (B, 1, D, H, W) tensor, uint8 / long / float
        0 background, 1 membrane, ``ignore_label`` ignore.
    ignore_label : int, default 2
        Label excluded from the loss.
    batch_dice : bool, default True
        Pool Dice sums over the whole batch (nnU-Net's batch Dice; stable when a patch holds no
        membrane). If False, Dice is computed per patch and averaged.

    Returns
    -------
    scalar tensor
        ``BCE + (1 - Dice)``. BCE is the mean over valid voxels (0 if there are none); Dice is
        ``(2 sum(P L) + 1e-5) / (sum(P) + sum(L) + 1e-5)`` over valid voxels, so a patch with no
        membrane and no prediction scores Dice 1.
    """
    masked_logits, target, valid = _split_labels(logits, labels, ignore_label)
    bce = F.binary_cross_entropy_with_logits(masked_logits, target, reduction="none")
    bce = (bce * valid).sum() / valid.sum().clamp_min(1.0)
    dice = _soft_dice(torch.sigmoid(masked_logits), target, valid, batch_dice=batch_dice)
    return bce + (1.0 - dice)


def surface_dice_loss(
    logits: Tensor,
    labels: Tensor,
    *,
    ignore_label: int = 2,
    iterations: int = DEFAULT_SKELETON_ITERATIONS,
) -> Tensor:
    """One minus the soft Surface-Dice (clDice-style) over the voxels not labelled ignore.

    With ``P = sigmoid(logits)`` and ``L`` the membrane label, both set to 0 inside ignore regions
    before skeletonising, and sums over valid voxels of the whole batch::

        precision = (sum(skel(P) L) + eps) / (sum(skel(P)) + eps)
        recall    = (sum(skel(L) P) + eps) / (sum(skel(L)) + eps)
        loss      = 1 - 2 precision recall / (precision + recall)

    with ``eps = 1e-5``.

    Parameters
    ----------
    logits : (B, 1, D, H, W) float tensor
        Network output before the sigmoid.
    labels : (B, 1, D, H, W) tensor, uint8 / long / float
        0 background, 1 membrane, ``ignore_label`` ignore.
    ignore_label : int, default 2
        Label excluded from the loss.
    iterations : int, default 5
        Soft-skeleton erosions (see :func:`soft_skeleton`); enough for membranes up to ~11 voxels thick.

    Returns
    -------
    scalar tensor
        In [0, 1]; 0 when the prediction's and the label's skeletons lie inside each other.
    """
    masked_logits, target, valid = _split_labels(logits, labels, ignore_label)
    prob = torch.sigmoid(masked_logits) * valid
    skeleton_pred = soft_skeleton(prob, iterations) * valid
    skeleton_label = soft_skeleton(target, iterations) * valid
    precision = ((skeleton_pred * target).sum() + _EPS) / (skeleton_pred.sum() + _EPS)
    recall = ((skeleton_label * prob).sum() + _EPS) / (skeleton_label.sum() + _EPS)
    return 1.0 - 2.0 * precision * recall / (precision + recall)


def downsample_labels(labels: Tensor, factor: int, *, ignore_label: int = 2) -> Tensor:
    """Labels at ``1/factor`` resolution, matching a network level reached by stride-2 steps.

    Rule: output voxel ``i`` covers input block ``[i*factor, (i+1)*factor)`` per axis. It is
    ignore if ANY voxel of that block is ignore; otherwise it takes the label of the block's first
    voxel (strided nearest sampling, as ``labels[..., ::factor, ::factor, ::factor]``). So ignore is
    never turned into a hard label, and uncertain blocks stay out of the coarse losses.

    Parameters
    ----------
    labels : (B, 1, D, H, W) tensor
        0 background, 1 membrane, ``ignore_label`` ignore; any dtype.
    factor : int
        Downsampling factor (>= 1), e.g. ``2**level``.
    ignore_label : int, default 2
        The ignore label.

    Returns
    -------
    (B, 1, ceil(D/factor), ceil(H/factor), ceil(W/factor)) tensor
        Same dtype as ``labels``.
    """
    _check_5d(labels, "labels")
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    if factor == 1:
        return labels
    sampled = labels[:, :, ::factor, ::factor, ::factor]
    ignore = (labels == ignore_label).to(torch.float32)
    any_ignore = F.max_pool3d(ignore, kernel_size=factor, stride=factor, ceil_mode=True) > 0
    return torch.where(any_ignore, torch.full_like(sampled, ignore_label), sampled)


def default_deep_supervision_weights(levels: int) -> list[float]:
    """nnU-Net-style weights ``w_i = 2**-i / sum_j 2**-j`` for ``levels`` outputs (full resolution first)."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    raw = [0.5**i for i in range(levels)]
    total = sum(raw)
    return [w / total for w in raw]


class SegmentationLoss(torch.nn.Module):
    """BCE + Dice (+ weighted Surface-Dice) with ignore label and optional deep supervision.

    Per level ``loss = masked_bce_dice_loss + surface_dice_weight * surface_dice_loss``; with a list
    of outputs the result is ``sum_i w_i loss_i(outputs[i], downsample_labels(labels, 2**i))``.

    Parameters
    ----------
    surface_dice_weight : float, default 0.0
        Weight of the Surface-Dice term (0 skips computing it).
    deep_supervision_weights : sequence of float, optional
        One weight per output level, used as given (not normalised). Default: ``2**-i``
        normalised to sum 1, for as many levels as outputs are passed.
    ignore_label : int, default 2
        Label excluded from all terms.
    skeleton_iterations : int, default 5
        Soft-skeleton erosions of the Surface-Dice term.
    batch_dice : bool, default True
        See :func:`masked_bce_dice_loss`.
    """

    def __init__(
        self,
        surface_dice_weight: float = 0.0,
        deep_supervision_weights: Sequence[float] | None = None,
        *,
        ignore_label: int = 2,
        skeleton_iterations: int = DEFAULT_SKELETON_ITERATIONS,
        batch_dice: bool = True,
    ) -> None:
        super().__init__()
        if not surface_dice_weight >= 0.0:
            raise ValueError(f"surface_dice_weight must be >= 0, got {surface_dice_weight!r}")
        if deep_supervision_weights is not None:
            weights = [float(w) for w in deep_supervision_weights]
            if not weights or any(not w >= 0.0 for w in weights):
                raise ValueError(
                    f"deep_supervision_weights must be a non-empty sequence of weights >= 0, "
                    f"got {deep_supervision_weights!r}"
                )
            deep_supervision_weights = tuple(weights)
        if isinstance(skeleton_iterations, bool) or not isinstance(skeleton_iterations, int) or skeleton_iterations < 0:
            raise ValueError(f"skeleton_iterations must be a non-negative int, got {skeleton_iterations!r}")
        self.surface_dice_weight = float(surface_dice_weight)
        self.deep_supervision_weights = deep_supervision_weights
        self.ignore_label = ignore_label
        self.skeleton_iterations = skeleton_iterations
        self.batch_dice = batch_dice

    def level_loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Loss of one output level against labels of the same shape."""
        loss = masked_bce_dice_loss(logits, labels, ignore_label=self.ignore_label, batch_dice=self.batch_dice)
        if self.surface_dice_weight > 0.0:
            surface = surface_dice_loss(
                logits, labels, ignore_label=self.ignore_label, iterations=self.skeleton_iterations
            )
            loss = loss + self.surface_dice_weight * surface
        return loss

    def forward(self, outputs: Tensor | Sequence[Tensor], labels: Tensor) -> Tensor:
        """Loss of one output, or the weighted sum over deep-supervision levels.

        Parameters
        ----------
        outputs : (B, 1, D, H, W) tensor, or list of them
            Logits; a list holds full resolution first, then 1/2, 1/4, ... (level ``i`` has shape
            ``ceil(D / 2**i)`` etc.). A single tensor gets the plain level loss (no weights).
        labels : (B, 1, D, H, W) tensor, uint8 / long / float
            Full-resolution labels: 0 background, 1 membrane, ``ignore_label`` ignore.

        Returns
        -------
        scalar tensor
        """
        if isinstance(outputs, Tensor):
            return self.level_loss(outputs, labels)
        outputs = list(outputs)
        if not outputs:
            raise ValueError("outputs is an empty list; pass at least the full-resolution logits")
        weights = self.deep_supervision_weights or default_deep_supervision_weights(len(outputs))
        if len(weights) != len(outputs):
            raise ValueError(
                f"deep_supervision_weights has {len(weights)} weights but {len(outputs)} outputs were passed"
            )
        _check_5d(labels, "labels")
        total = outputs[0].new_zeros(())
        for level, (logits, weight) in enumerate(zip(outputs, weights)):
            level_labels = downsample_labels(labels, 2**level, ignore_label=self.ignore_label)
            if tuple(level_labels.shape) != tuple(logits.shape):
                raise ValueError(
                    f"output {level} has shape {tuple(logits.shape)} but the labels downsampled by "
                    f"{2**level} have shape {tuple(level_labels.shape)}; outputs must be ordered full "
                    "resolution first, each level half the previous"
                )
            if weight == 0.0:
                continue
            total = total + weight * self.level_loss(logits, level_labels)
        return total
