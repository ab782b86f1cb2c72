"""Segmentation losses: ignore regions are invisible, Surface-Dice ignores thickness, deep supervision sums."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cryomem.segment._losses import (
    SegmentationLoss,
    default_deep_supervision_weights,
    downsample_labels,
    masked_bce_dice_loss,
    soft_skeleton,
    surface_dice_loss,
)
from cryomem.segment._metrics import dice


def _shell(shape: tuple[int, int, int], radius: float, half_width: float) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=float)
    centre = (np.asarray(shape) - 1) / 2 + np.array([0.3, -0.2, 0.1])
    r = np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2)
    return np.abs(r - radius) <= half_width


def _random_case(seed: int, shape=(2, 1, 12, 14, 16)) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=gen) * 3
    labels = torch.randint(0, 2, shape, generator=gen, dtype=torch.uint8)
    labels[:, :, 3:8, 2:9, 5:12] = 2  # an ignore block
    labels[0, 0, 10, 10, 10] = 2
    return logits, labels


def _loss_and_grad(loss_fn, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = logits.clone().requires_grad_(True)
    loss = loss_fn(leaf, labels)
    loss.backward()
    return loss.detach(), leaf.grad


LOSSES = {
    "bce_dice": lambda logits, labels: masked_bce_dice_loss(logits, labels),
    "surface_dice": lambda logits, labels: surface_dice_loss(logits, labels, iterations=3),
    "segmentation_loss": SegmentationLoss(surface_dice_weight=0.7),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("fill", ["random", "huge", "inf"])
def test_loss_value_and_gradient_ignore_predictions_inside_ignore(name: str, fill: str) -> None:
    loss_fn = LOSSES[name]
    logits, labels = _random_case(0)
    ignore = labels == 2
    changed = logits.clone()
    if fill == "random":
        changed[ignore] = torch.randn(int(ignore.sum()), generator=torch.Generator().manual_seed(1)) * 50
    elif fill == "huge":
        changed[ignore] = 1e6
    else:
        changed[ignore] = -float("inf")
    loss_a, grad_a = _loss_and_grad(loss_fn, logits, labels)
    loss_b, grad_b = _loss_and_grad(loss_fn, changed, labels)
    assert torch.isfinite(loss_a)
    assert torch.equal(loss_a, loss_b)
    assert torch.equal(grad_a, grad_b)
    assert torch.all(grad_a[ignore] == 0)
    assert torch.any(grad_a[~ignore] != 0)


def test_deep_supervision_loss_ignores_predictions_in_ignore_blocks() -> None:
    logits, labels = _random_case(3, shape=(1, 1, 16, 12, 20))
    outputs = [logits, torch.randn(1, 1, 8, 6, 10), torch.randn(1, 1, 4, 3, 5)]
    loss_fn = SegmentationLoss(surface_dice_weight=0.5)
    changed = [o.clone() for o in outputs]
    for level, out in enumerate(changed):
        out[downsample_labels(labels, 2**level) == 2] = 123.0
    leaves_a = [o.clone().requires_grad_(True) for o in outputs]
    leaves_b = [o.clone().requires_grad_(True) for o in changed]
    loss_a, loss_b = loss_fn(leaves_a, labels), loss_fn(leaves_b, labels)
    loss_a.backward()
    loss_b.backward()
    assert torch.equal(loss_a, loss_b)
    for a, b in zip(leaves_a, leaves_b):
        assert torch.equal(a.grad, b.grad)


def test_surface_dice_of_a_thickened_label_stays_near_one_while_dice_drops() -> None:
    shape = (40, 40, 40)
    pred = _shell(shape, 13.0, 1.5)  # 3 voxels thick
    label = _shell(shape, 13.0, 3.5).astype(np.uint8)  # 7 voxels thick
    logits = torch.from_numpy(np.where(pred, 30.0, -30.0).astype(np.float32))[None, None]
    surface = 1.0 - float(surface_dice_loss(logits, torch.from_numpy(label)[None, None]))
    assert surface >= 0.95
    assert dice(pred, label) < 0.65


def test_surface_dice_of_a_thickened_plane_is_one() -> None:
    pred = torch.zeros(1, 1, 21, 16, 16)
    pred[:, :, 9:12] = 1
    label = torch.zeros(1, 1, 21, 16, 16, dtype=torch.uint8)
    label[:, :, 6:15] = 1
    assert float(surface_dice_loss(pred * 60 - 30, label)) == pytest.approx(0.0, abs=1e-6)


def test_perfect_prediction_gives_zero_losses() -> None:
    label = torch.from_numpy(_shell((32, 32, 32), 10.0, 1.5).astype(np.uint8))[None, None]
    logits = label.float() * 60 - 30
    assert float(masked_bce_dice_loss(logits, label)) < 1e-6
    assert float(surface_dice_loss(logits, label)) < 1e-6
    assert float(SegmentationLoss(surface_dice_weight=1.0)(logits, label)) < 1e-6


def test_all_ignore_patch_gives_zero_finite_loss() -> None:
    labels = torch.full((1, 1, 8, 8, 8), 2, dtype=torch.uint8)
    logits = torch.randn(1, 1, 8, 8, 8, requires_grad=True)
    loss = SegmentationLoss(surface_dice_weight=1.0)(logits, labels)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert torch.all(logits.grad == 0)


def test_soft_skeleton_of_a_hard_slab_is_its_centre_plane() -> None:
    slab = torch.zeros(1, 1, 21, 10, 12)
    slab[:, :, 6:15] = 1  # 9 voxels thick: 4 erosions reach the centre
    skeleton = soft_skeleton(slab, iterations=4)
    expected = torch.zeros_like(slab)
    expected[:, :, 10] = 1
    assert torch.allclose(skeleton, expected)


def test_soft_skeleton_stays_in_unit_interval_and_is_differentiable() -> None:
    prob = torch.rand(2, 1, 9, 10, 11, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    skeleton = soft_skeleton(prob, iterations=3)
    assert float(skeleton.detach().min()) >= 0.0 and float(skeleton.detach().max()) <= 1.0
    skeleton.sum().backward()
    assert torch.isfinite(prob.grad).all()


def test_deep_supervision_equals_weighted_sum_of_level_losses() -> None:
    logits, labels = _random_case(5, shape=(2, 1, 16, 12, 20))
    outputs = [logits, torch.randn(2, 1, 8, 6, 10), torch.randn(2, 1, 4, 3, 5)]
    loss_fn = SegmentationLoss(surface_dice_weight=0.3, skeleton_iterations=2)
    weights = default_deep_supervision_weights(3)
    assert weights == pytest.approx([4 / 7, 2 / 7, 1 / 7])
    expected = sum(
        w
        * (
            masked_bce_dice_loss(out, downsample_labels(labels, 2**i))
            + 0.3 * surface_dice_loss(out, downsample_labels(labels, 2**i), iterations=2)
        )
        for i, (out, w) in enumerate(zip(outputs, weights))
    )
    assert torch.allclose(loss_fn(outputs, labels), expected, rtol=1e-6, atol=1e-7)

    custom = SegmentationLoss(deep_supervision_weights=[1.0, 0.0, 2.0])
    expected = masked_bce_dice_loss(outputs[0], labels) + 2.0 * masked_bce_dice_loss(
        outputs[2], downsample_labels(labels, 4)
    )
    assert torch.allclose(custom(outputs, labels), expected, rtol=1e-6, atol=1e-7)
    assert torch.allclose(loss_fn(logits, labels), loss_fn.level_loss(logits, labels))


def test_deep_supervision_rejects_wrong_levels() -> None:
    logits, labels = _random_case(0, shape=(1, 1, 16, 16, 16))
    with pytest.raises(ValueError, match="output 1 has shape"):
        SegmentationLoss()([logits, torch.randn(1, 1, 4, 4, 4)], labels)
    with pytest.raises(ValueError, match="2 weights but 3 outputs"):
        SegmentationLoss(deep_supervision_weights=[1.0, 0.5])(
            [logits, torch.randn(1, 1, 8, 8, 8), torch.randn(1, 1, 4, 4, 4)], labels
        )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9)),
    factor=st.sampled_from([1, 2, 3, 4]),
)
def test_downsample_labels_never_turns_ignore_into_a_hard_label(seed, shape, factor) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.choice(np.array([0, 1, 2], dtype=np.uint8), size=(1, 1, *shape), p=[0.5, 0.3, 0.2])
    small = downsample_labels(torch.from_numpy(labels), factor).numpy()
    assert small.shape == (1, 1, *(-(-s // factor) for s in shape))
    for k, j, i in np.ndindex(*small.shape[2:]):
        block = labels[
            0, 0, k * factor : (k + 1) * factor, j * factor : (j + 1) * factor, i * factor : (i + 1) * factor
        ]
        expected = 2 if (block == 2).any() else block[0, 0, 0]
        assert small[0, 0, k, j, i] == expected


def test_downsample_labels_keeps_dtype() -> None:
    labels = torch.tensor([[[[[0, 1], [1, 1]], [[1, 1], [1, 2]]]]], dtype=torch.float32)
    assert downsample_labels(labels, 2).dtype == torch.float32
    assert downsample_labels(labels, 2).item() == 2.0
    assert downsample_labels(labels, 1) is labels


def test_bad_inputs_give_clear_errors() -> None:
    logits = torch.zeros(1, 1, 4, 4, 4)
    labels = torch.zeros(1, 1, 4, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"labels must hold only 0, 1 and 2"):
        masked_bce_dice_loss(logits, labels + 3)
    with pytest.raises(ValueError, match="labels must have the shape of logits"):
        surface_dice_loss(logits, labels[:, :, :2])
    with pytest.raises(ValueError, match=r"\(B, 1, D, H, W\)"):
        masked_bce_dice_loss(logits[0], labels[0])
    with pytest.raises(ValueError, match="iterations"):
        soft_skeleton(logits, iterations=-1)
    with pytest.raises(ValueError, match="factor"):
        downsample_labels(labels, 0)
    with pytest.raises(ValueError, match="surface_dice_weight"):
        SegmentationLoss(surface_dice_weight=-1.0)
    with pytest.raises(ValueError, match="deep_supervision_weights"):
        SegmentationLoss(deep_supervision_weights=[])
