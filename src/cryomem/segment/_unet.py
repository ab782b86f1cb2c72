"""An nnU-Net-style 3D U-Net: instance norm, leaky ReLU, strided-conv down, transposed-conv up.

Fully convolutional: any input whose sides are multiples of ``2**(depth - 1)`` works. In training
mode it returns the logits of every decoder level (full resolution first) for deep supervision;
in eval mode only the full-resolution logits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of the segmentation network; saved in every model file."""

    in_channels: int = 1
    out_channels: int = 1
    base_channels: int = 16
    max_channels: int = 256
    depth: int = 5  # resolution levels, so depth - 1 down-samplings
    deep_supervision_levels: int = 3  # decoder outputs used for the loss (full resolution included)

    def __post_init__(self) -> None:
        if self.depth < 2 or self.base_channels < 1 or self.max_channels < self.base_channels:
            raise ValueError(f"invalid U-Net architecture {self}: need depth >= 2 and max_channels >= base_channels")
        if not 1 <= self.deep_supervision_levels <= self.depth - 1:
            raise ValueError(f"deep_supervision_levels must be in [1, depth - 1], got {self.deep_supervision_levels}")

    @property
    def divisor(self) -> int:
        """Every input side must be a multiple of this."""
        return 2 ** (self.depth - 1)

    def channels(self, level: int) -> int:
        return min(self.base_channels * 2**level, self.max_channels)

    def to_dict(self) -> dict:
        return asdict(self)


def _conv_block(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Two 3x3x3 convolutions, each followed by instance norm and leaky ReLU; the first may stride."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.InstanceNorm3d(out_channels, affine=True),
        nn.LeakyReLU(0.01, inplace=True),
        nn.Conv3d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.InstanceNorm3d(out_channels, affine=True),
        nn.LeakyReLU(0.01, inplace=True),
    )


class UNet3D(nn.Module):
    """3D U-Net with deep supervision (see ``UNetConfig``)."""

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or UNetConfig()
        c = self.config
        self.encoder = nn.ModuleList(
            [_conv_block(c.in_channels, c.channels(0), 1)]
            + [_conv_block(c.channels(i - 1), c.channels(i), 2) for i in range(1, c.depth)]
        )
        self.upsample = nn.ModuleList(
            [nn.ConvTranspose3d(c.channels(i + 1), c.channels(i), 2, stride=2) for i in range(c.depth - 1)]
        )
        self.decoder = nn.ModuleList([_conv_block(2 * c.channels(i), c.channels(i), 1) for i in range(c.depth - 1)])
        self.heads = nn.ModuleList(
            [nn.Conv3d(c.channels(i), c.out_channels, 1) for i in range(c.deep_supervision_levels)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if any(s % self.config.divisor for s in x.shape[2:]):
            raise ValueError(f"input sides {tuple(x.shape[2:])} must be multiples of {self.config.divisor}")
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        outputs: list[torch.Tensor] = []
        for level in reversed(range(self.config.depth - 1)):
            x = self.decoder[level](torch.cat([self.upsample[level](x), skips[level]], dim=1))
            if level < len(self.heads) and (self.training or level == 0):
                outputs.append(self.heads[level](x))
        if not self.training:
            return outputs[-1]
        return outputs[::-1]  # full resolution first


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
