"""Training-augmentation benchmark: per-augmentation time and the default `augment` pipeline.

Budget: the full default pipeline on a 64^3 patch averages < ~50 ms on 2 CPU cores (data loading
must keep up with a GPU training step).

    python benchmarks/bench_augment.py                    # 64^3, 200 pipeline calls
    python benchmarks/bench_augment.py --size 96 --calls 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cryomem.segment import _augment as aug


def _patch(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A normalised noisy patch with a few vesicle membranes (content does not change the timings)."""
    rng = np.random.default_rng(0)
    zz, yy, xx = np.indices((size, size, size), dtype=np.float32)
    label = np.zeros((size, size, size), np.uint8)
    for _ in range(4):
        centre = rng.uniform(0, size, 3)
        radius = np.sqrt((zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2)
        label[np.abs(radius - rng.uniform(6, size / 3)) < 1.5] = 1
    image = (label + rng.normal(0, 1, label.shape)).astype(np.float32)
    image = (image - image.mean()) / image.std()
    return image, label


def _time_ms(function, repeats: int) -> float:
    function()  # warm-up (caches, first-call imports)
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64, help="patch side in voxels (cubic patch)")
    parser.add_argument("--calls", type=int, default=200, help="pipeline calls to average over")
    parser.add_argument("--repeats", type=int, default=20, help="calls per single augmentation")
    args = parser.parse_args()

    image, label = _patch(args.size)
    config = aug.AugmentationConfig()
    rng = np.random.default_rng(1)
    single = {
        "rotation (trilinear + nearest)": (aug.random_rotation, config.rotation_p),
        "zoom": (aug.random_zoom, config.zoom_p),
        "rotation + zoom, one resampling": (
            lambda i, lab, r: aug.rotate_and_zoom(i, lab, rotation_zyx=aug.random_rotation_matrix(r), zoom=1.2),
            None,
        ),
        "flip": (aug.random_flip, 1.0),
        "axis permutation": (aug.random_axis_permutation, config.permute_p),
        "missing wedge": (aug.missing_wedge, config.missing_wedge_p),
        "Fourier amplitude": (aug.fourier_amplitude, config.fourier_amplitude_p),
        "median filter": (aug.median_filter, config.median_p),
        "Gaussian blur": (aug.gaussian_blur, config.blur_p),
        "low resolution": (aug.low_resolution, config.low_resolution_p),
        "sharpening": (aug.sharpening, config.sharpening_p),
        "Gaussian noise": (aug.gaussian_noise, config.noise_p),
        "brightness": (aug.brightness, config.brightness_p),
        "contrast": (aug.contrast, config.contrast_p),
        "brightness gradient": (aug.brightness_gradient, config.brightness_gradient_p),
        "local gamma": (aug.local_gamma, config.local_gamma_p),
        "random erasing": (aug.random_erasing, config.erasing_p),
    }
    print(f"patch {args.size}^3 float32; times are means over {args.repeats} calls")
    print(f"{'augmentation':34s} {'ms/call':>8s} {'p':>6s} {'expected ms':>12s}")
    for name, (function, probability) in single.items():
        ms = _time_ms(lambda f=function: f(image, label, rng), args.repeats)
        expected = f"{ms * probability:12.2f}" if probability is not None else f"{'-':>12s}"
        shown_p = f"{probability:6.2f}" if probability is not None else f"{'-':>6s}"
        print(f"{name:34s} {ms:8.2f} {shown_p} {expected}")

    rng = np.random.default_rng(2)
    augment_once = lambda: aug.augment(image, label, rng, config)  # noqa: E731
    augment_once()
    times = []
    for _ in range(args.calls):
        start = time.perf_counter()
        augment_once()
        times.append((time.perf_counter() - start) * 1e3)
    times = np.asarray(times)
    print(
        f"\ndefault augment(): mean {times.mean():.1f} ms, median {np.median(times):.1f} ms, "
        f"p95 {np.percentile(times, 95):.1f} ms, max {times.max():.1f} ms over {args.calls} calls"
    )


if __name__ == "__main__":
    main()
