"""The nine feature augmentations of MemBrain-pick (MemBrain v2, Methods "Data Augmentations").

Every function takes the per-vertex features of one patch, ``(n, k)`` (k samples along the normal,
already normalised to zero mean and unit variance over the patch), returns a new float32 array of
the same shape, draws its randomness only from the ``numpy.random.Generator`` it is given, and is
the identity at zero strength. :func:`augment_features` applies a random combination.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import cKDTree

__all__ = [
    "PickAugmentConfig",
    "augment_features",
    "brightness_gradient",
    "feature_dropout",
    "feature_noise",
    "feature_scale",
    "feature_shift",
    "local_gamma",
    "normal_smoothing",
    "random_erasing",
    "spatial_smoothing",
]


def _f32(features: np.ndarray) -> np.ndarray:
    array = np.array(features, dtype=np.float32, copy=True)
    if array.ndim != 2:
        raise ValueError(f"features must have shape (n, k), got {array.shape}")
    return array


def spatial_smoothing(features: np.ndarray, vertices_xyz_ang: np.ndarray, sigma_ang: float) -> np.ndarray:
    """Gaussian-weighted average over neighbouring vertices (weights ``exp(-d²/2σ²)``, ``d < 3σ``)."""
    out = _f32(features)
    if sigma_ang <= 0 or len(out) < 2:
        return out
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    pairs = cKDTree(vertices).query_pairs(3.0 * sigma_ang, output_type="ndarray")
    weights = np.exp(-np.sum((vertices[pairs[:, 0]] - vertices[pairs[:, 1]]) ** 2, axis=1) / (2 * sigma_ang**2))
    total = out.astype(np.float64)  # self weight 1
    norm = np.ones(len(out))
    np.add.at(total, pairs[:, 0], weights[:, None] * out[pairs[:, 1]])
    np.add.at(total, pairs[:, 1], weights[:, None] * out[pairs[:, 0]])
    np.add.at(norm, pairs[:, 0], weights)
    np.add.at(norm, pairs[:, 1], weights)
    return (total / norm[:, None]).astype(np.float32)


def normal_smoothing(features: np.ndarray, sigma_samples: float) -> np.ndarray:
    """Gaussian filter along the normal axis (``sigma_samples`` in samples, edges extended)."""
    out = _f32(features)
    if sigma_samples <= 0:
        return out
    return gaussian_filter1d(out, sigma_samples, axis=1, mode="nearest").astype(np.float32)


def feature_dropout(features: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Set each feature value to zero with probability ``fraction``."""
    out = _f32(features)
    if fraction <= 0:
        return out
    out[rng.random(out.shape) < fraction] = 0.0
    return out


def feature_noise(features: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Add independent Gaussian noise of standard deviation ``std`` to every value."""
    out = _f32(features)
    if std <= 0:
        return out
    return (out + rng.normal(0.0, std, out.shape)).astype(np.float32)


def feature_shift(features: np.ndarray, shift: float) -> np.ndarray:
    """Add one constant to every value (a brightness shift)."""
    return _f32(features) + np.float32(shift)


def feature_scale(features: np.ndarray, factor: float) -> np.ndarray:
    """Multiply every value by ``factor`` (a contrast change)."""
    return _f32(features) * np.float32(factor)


def random_erasing(
    features: np.ndarray,
    vertices_xyz_ang: np.ndarray,
    rng: np.random.Generator,
    *,
    n_regions: int,
    radius_ang: float,
) -> np.ndarray:
    """Zero all features of the vertices within ``radius_ang`` of ``n_regions`` random vertices."""
    out = _f32(features)
    if n_regions <= 0 or radius_ang <= 0 or len(out) == 0:
        return out
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    centres = vertices[rng.integers(0, len(vertices), n_regions)]
    for near in cKDTree(vertices).query_ball_point(centres, radius_ang):
        out[near] = 0.0
    return out


def _random_anchor(vertices: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random point near the patch (a vertex plus up to one patch radius) and the distances to it."""
    centre = vertices.mean(axis=0)
    radius = float(np.max(np.linalg.norm(vertices - centre, axis=1))) if len(vertices) else 0.0
    anchor = vertices[rng.integers(0, len(vertices))] + rng.normal(0.0, radius / 3.0, 3)
    distances = np.linalg.norm(vertices - anchor, axis=1)
    return anchor, distances / max(float(distances.max()), 1e-12)


def brightness_gradient(
    features: np.ndarray, vertices_xyz_ang: np.ndarray, rng: np.random.Generator, *, strength: float
) -> np.ndarray:
    """Scale values by ``1 + strength · d / d_max``, ``d`` the distance to a random point near the patch."""
    out = _f32(features)
    if strength == 0 or len(out) == 0:
        return out
    _, relative = _random_anchor(np.asarray(vertices_xyz_ang, dtype=np.float64), rng)
    return (out * (1.0 + strength * relative)[:, None]).astype(np.float32)


def local_gamma(
    features: np.ndarray, vertices_xyz_ang: np.ndarray, rng: np.random.Generator, *, log_gamma: float
) -> np.ndarray:
    """Gamma correction whose exponent ``exp(log_gamma · (1 - d / d_max))`` fades with the distance ``d``
    from a random point; values are mapped to [0, 1] over the patch, corrected, and mapped back."""
    out = _f32(features)
    if log_gamma == 0 or len(out) == 0:
        return out
    _, relative = _random_anchor(np.asarray(vertices_xyz_ang, dtype=np.float64), rng)
    low, high = float(out.min()), float(out.max())
    if high <= low:
        return out
    unit = (out - low) / (high - low)
    gamma = np.exp(log_gamma * (1.0 - relative))[:, None]
    return (low + (high - low) * unit**gamma).astype(np.float32)


class PickAugmentConfig(BaseModel):
    """Which augmentations to draw and how strong (each applied independently with ``probability``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    probability: float = Field(0.3, ge=0.0, le=1.0, description="chance that each augmentation is applied")
    spatial_sigma_ang: tuple[float, float] = Field((5.0, 20.0), description="spatial smoothing sigma range, Å")
    normal_sigma_samples: tuple[float, float] = Field((0.3, 1.0), description="normal smoothing sigma, samples")
    dropout_fraction: tuple[float, float] = Field((0.01, 0.1))
    noise_std: tuple[float, float] = Field((0.05, 0.3))
    max_brightness_shift: float = Field(0.3, ge=0.0, description="brightness shift drawn from [-max, max]")
    scale: tuple[float, float] = Field((0.8, 1.25), description="contrast factor range (log-uniform)")
    erase_regions: tuple[int, int] = Field((1, 3))
    erase_radius_ang: tuple[float, float] = Field((20.0, 60.0))
    max_gradient_strength: float = Field(0.5, ge=0.0, description="brightness gradient strength in [-max, max]")
    max_log_gamma: float = Field(0.4, ge=0.0, description="local gamma log-exponent in [-max, max]")


def augment_features(
    features: np.ndarray, vertices_xyz_ang: np.ndarray, rng: np.random.Generator, config: PickAugmentConfig
) -> np.ndarray:
    """Apply a random combination of the nine augmentations (same generator state, same result).

    Parameters
    ----------
    features : (n, k) float array
        Normalised features of one patch.
    vertices_xyz_ang : (n, 3) float array
        The patch's vertices, Å, xyz.
    rng : numpy.random.Generator
        Source of all randomness.
    config : PickAugmentConfig
        Probabilities and ranges.

    Returns
    -------
    (n, k) float32 array
    """
    out = _f32(features)
    p = config.probability

    def draw(bounds: tuple[float, float]) -> float:
        return float(rng.uniform(*bounds))

    if rng.random() < p:
        out = spatial_smoothing(out, vertices_xyz_ang, draw(config.spatial_sigma_ang))
    if rng.random() < p:
        out = normal_smoothing(out, draw(config.normal_sigma_samples))
    if rng.random() < p:
        out = feature_scale(out, float(np.exp(rng.uniform(*np.log(config.scale)))))
    if rng.random() < p:
        out = feature_shift(out, float(rng.uniform(-config.max_brightness_shift, config.max_brightness_shift)))
    if rng.random() < p:
        out = brightness_gradient(
            out, vertices_xyz_ang, rng, strength=float(rng.uniform(-1, 1)) * config.max_gradient_strength
        )
    if rng.random() < p:
        out = local_gamma(out, vertices_xyz_ang, rng, log_gamma=float(rng.uniform(-1, 1)) * config.max_log_gamma)
    if rng.random() < p:
        out = feature_noise(out, draw(config.noise_std), rng)
    if rng.random() < p:
        out = feature_dropout(out, draw(config.dropout_fraction), rng)
    if rng.random() < p:
        low, high = config.erase_regions
        out = random_erasing(
            out,
            vertices_xyz_ang,
            rng,
            n_regions=int(rng.integers(low, high + 1)),
            radius_ang=draw(config.erase_radius_ang),
        )
    return out
