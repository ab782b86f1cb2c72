"""DiffusionNet (Sharp et al., ACM TOG 2022) with MemBrain-pick's 1D convolution along the normal.

Per vertex the input is a window of tomogram densities sampled along the membrane normal. The
network is

1. a learned 1D convolution over those normal samples (MemBrain v2, Methods "Network
   Architecture"), flattened and mapped linearly to ``width`` channels;
2. ``n_blocks`` DiffusionNet blocks, each: learned diffusion (one positive time per channel,
   spectral acceleration), spatial-gradient features, and a per-vertex MLP on
   ``[x, diffused x, gradient features]`` added back to ``x`` (residual);
3. a per-vertex MLP to one output.

The output is the predicted distance to the nearest particle **divided by** the model's
``max_distance_ang`` (so targets lie in ``[0, 1]``); :func:`cryomem.pick.predict_distances_ang`
multiplies it back to Å.

Spatial-gradient features (paper, Sec. 3.3): the gradients of every channel at a vertex, written
as complex numbers ``g = ∂x/∂e1 + i ∂x/∂e2`` in the vertex's tangent frame, are mapped by a learned
complex matrix ``A`` (a rotation and scaling per channel pair, so the result does not depend on the
arbitrary choice of ``e1``), and the feature is ``tanh(Re(conj(g) ⊙ A g))``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cryomem.pick._operators import SurfaceOperators

__all__ = [
    "DiffusionNetConfig",
    "LearnedDiffusion",
    "PickNet",
    "SpatialGradientFeatures",
    "operators_to_torch",
    "parameter_count",
]

TorchOperators = dict[str, torch.Tensor]


class DiffusionNetConfig(BaseModel):
    """Architecture of :class:`PickNet` (stored in every model file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    in_samples: int = Field(21, ge=1, le=1024, description="density samples per vertex along the normal")
    width: int = Field(32, ge=1, le=512, description="channels of the DiffusionNet blocks")
    n_blocks: int = Field(4, ge=1, le=32)
    conv_channels: int = Field(8, ge=1, le=256, description="channels of the 1D convolution along the normal")
    conv_kernel: int = Field(5, ge=1, le=63, description="kernel size (samples) of the 1D convolution")
    conv_layers: int = Field(2, ge=1, le=8)
    mlp_hidden: int = Field(32, ge=1, le=1024, description="hidden width of the per-vertex MLPs")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    k_eig: int = Field(128, ge=1, le=1024, description="Laplacian eigenpairs used for diffusion")
    length_unit_ang: float = Field(50.0, gt=0.0, description="gradients are taken per this many Å")
    diffusion_sigma_ang: tuple[float, float] = Field(
        (20.0, 300.0), description="range of initial diffusion widths sqrt(2 t), Å, log-spaced over channels"
    )


def operators_to_torch(operators: SurfaceOperators, device: torch.device | str = "cpu") -> TorchOperators:
    """The operators as float32 / int64 tensors on ``device``."""
    names = ("mass_ang2", "eigenvalues_per_ang2", "eigenvectors", "gradient_rows", "gradient_cols")
    tensors = {n: torch.from_numpy(np.ascontiguousarray(getattr(operators, n))).to(device) for n in names}
    tensors["gradient_e1_per_ang"] = torch.from_numpy(operators.gradient_e1_per_ang).to(device)
    tensors["gradient_e2_per_ang"] = torch.from_numpy(operators.gradient_e2_per_ang).to(device)
    return tensors


def _sparse_apply(ops: TorchOperators, values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``G x`` for a coordinate-form sparse ``G`` (rows, cols, values) and dense ``x`` of shape (n, c)."""
    out = torch.zeros_like(x)
    return out.index_add(0, ops["gradient_rows"], values[:, None] * x[ops["gradient_cols"]])


class LearnedDiffusion(nn.Module):
    """Heat diffusion of each channel for its own learned time ``t_c > 0`` (Å²).

    ``x(t) = Φ diag(exp(-λ t)) Φᵀ M x`` with the mass-orthonormal eigenbasis ``Φ``; ``t = exp(θ)``
    keeps the time positive. Mass ``Σ M x`` is conserved because the constant eigenvector (λ = 0)
    passes unchanged.
    """

    def __init__(self, width: int, sigma_range_ang: tuple[float, float] = (20.0, 300.0)) -> None:
        super().__init__()
        low, high = (math.log(s * s / 2.0) for s in sigma_range_ang)
        self.log_time_ang2 = nn.Parameter(torch.linspace(low, high, width) if width > 1 else torch.tensor([low]))

    @property
    def time_ang2(self) -> torch.Tensor:
        return torch.exp(self.log_time_ang2)

    def forward(self, x: torch.Tensor, ops: TorchOperators, time_ang2: torch.Tensor | None = None) -> torch.Tensor:
        """Diffuse ``x`` (n, c) for ``time_ang2`` (c,) (default: the learned times)."""
        t = self.time_ang2 if time_ang2 is None else time_ang2
        phi = ops["eigenvectors"]
        spectrum = phi.T @ (ops["mass_ang2"][:, None] * x)  # (k, c)
        decay = torch.exp(-ops["eigenvalues_per_ang2"][:, None] * t[None, :])
        return phi @ (decay * spectrum)


class SpatialGradientFeatures(nn.Module):
    """``tanh(Re(conj(g) ⊙ A g))`` per channel, with a learned complex ``A`` (c × c)."""

    def __init__(self, width: int, length_unit_ang: float) -> None:
        super().__init__()
        self.length_unit_ang = float(length_unit_ang)
        self.a_real = nn.Linear(width, width, bias=False)
        self.a_imag = nn.Linear(width, width, bias=False)

    def gradients(self, x: torch.Tensor, ops: TorchOperators) -> tuple[torch.Tensor, torch.Tensor]:
        """Tangent gradient components of every channel, per ``length_unit_ang``."""
        scale = self.length_unit_ang
        return (
            scale * _sparse_apply(ops, ops["gradient_e1_per_ang"], x),
            scale * _sparse_apply(ops, ops["gradient_e2_per_ang"], x),
        )

    def forward(self, x: torch.Tensor, ops: TorchOperators) -> torch.Tensor:
        g_re, g_im = self.gradients(x, ops)
        b_re = self.a_real(g_re) - self.a_imag(g_im)
        b_im = self.a_real(g_im) + self.a_imag(g_re)
        return torch.tanh(g_re * b_re + g_im * b_im)


def _mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DiffusionNetBlock(nn.Module):
    """Diffusion, gradient features, per-vertex MLP, residual."""

    def __init__(self, config: DiffusionNetConfig) -> None:
        super().__init__()
        self.diffusion = LearnedDiffusion(config.width, config.diffusion_sigma_ang)
        self.gradient = SpatialGradientFeatures(config.width, config.length_unit_ang)
        self.mlp = _mlp([3 * config.width, config.mlp_hidden, config.width], config.dropout)

    def forward(self, x: torch.Tensor, ops: TorchOperators) -> torch.Tensor:
        diffused = self.diffusion(x, ops)
        return x + self.mlp(torch.cat([x, diffused, self.gradient(diffused, ops)], dim=1))


class NormalConvolution(nn.Module):
    """Learned 1D convolution over the samples along the normal, then a linear map to ``width``."""

    def __init__(self, config: DiffusionNetConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for _ in range(config.conv_layers):
            layers += [nn.Conv1d(channels, config.conv_channels, config.conv_kernel, padding="same"), nn.ReLU()]
            channels = config.conv_channels
        self.conv = nn.Sequential(*layers)
        self.project = nn.Linear(config.conv_channels * config.in_samples, config.width)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.project(self.conv(features[:, None, :]).flatten(1))


class PickNet(nn.Module):
    """Normal convolution, DiffusionNet blocks and an MLP head: one value per vertex.

    ``forward(features, ops)`` takes ``features`` of shape ``(n, in_samples)`` (normalised
    densities along the normal) and the patch's operators (:func:`operators_to_torch`) and returns
    ``(n,)`` predicted distances in units of ``max_distance_ang`` (see the module docstring).
    """

    def __init__(self, config: DiffusionNetConfig) -> None:
        super().__init__()
        self.config = config
        self.normal_conv = NormalConvolution(config)
        self.blocks = nn.ModuleList(DiffusionNetBlock(config) for _ in range(config.n_blocks))
        self.head = _mlp([config.width, config.mlp_hidden, 1], config.dropout)

    def forward(self, features: torch.Tensor, ops: TorchOperators) -> torch.Tensor:
        if features.ndim != 2 or features.shape[1] != self.config.in_samples:
            raise ValueError(f"features must have shape (n, {self.config.in_samples}), got {tuple(features.shape)}")
        x = self.normal_conv(features)
        for block in self.blocks:
            x = block(x, ops)
        return self.head(x)[:, 0]


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
