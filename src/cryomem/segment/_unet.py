"""An nnU-Net-style 3D U-Net: instance norm, leaky ReLU, strided-conv down, transposed-conv up.

Fully convolutional: any input whose sides are multiples of ``2**(depth - 1)`` works. In training
mode it returns the logits of every decoder level (full resolution first) for deep supervision;
in eval mode only the full-resolution logits.

Eval mode on the CPU takes a leaner path with the same weights: activations channels-last (oneDNN
convolves them without reordering each layer's input and output), instance norm as the per-sample
batch norm of channels-last tensors, activations in place, each decoder's convolution of the
concatenated skip as two convolutions summed, the up-sampling and the one-channel first
convolution and the 1x1x1 head as matrix products. Measured on 2 cores with the shipped model
(``python -c`` timing of both paths, windows of 64-112 voxels a side): about 25% less time
(0.72 against 0.95 us per voxel on a 112 x 96 x 96 window) and half the activation memory (329
against 689 MiB). Its logits stay within ``CPU_PATH_LOGIT_TOLERANCE`` of the standard float32
modules (the channels-last norm sums in one pass; 8e-4 measured).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

CPU_PATH_LOGIT_TOLERANCE = 5e-3  # max |logit| difference of the eval CPU path from the standard modules
_LEAKY_SLOPE = 0.01


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
        nn.LeakyReLU(_LEAKY_SLOPE, inplace=True),
        nn.Conv3d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.InstanceNorm3d(out_channels, affine=True),
        nn.LeakyReLU(_LEAKY_SLOPE, inplace=True),
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
        if not self.training and x.device.type == "cpu":
            return self._cpu_inference(x)
        return self._module_forward(x)

    def _module_forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """The standard path: the modules called in order (training, and eval off the CPU)."""
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

    def _cpu_inference(self, x: torch.Tensor) -> torch.Tensor:
        """Full-resolution logits by the lean eval path (see the module docstring).

        Written out layer by layer so that every activation is freed as soon as the next exists.
        """
        first = self.encoder[0]
        if first[0].in_channels == 1:
            x = _one_channel_conv(first[0], x)
        else:
            x = first[0](x.contiguous(memory_format=torch.channels_last_3d))
        x = _norm_act(x, first[1])
        x = first[3](x)
        x = _norm_act(x, first[4])
        skips = [x]
        for block in self.encoder[1:]:
            for conv, norm in _layers(block):
                x = conv(x)
                x = _norm_act(x, norm)
            skips.append(x)
        x = skips.pop()
        for level in reversed(range(self.config.depth - 1)):
            (conv1, norm1), (conv2, norm2) = _layers(self.decoder[level])
            x = _conv_of_concatenation(conv1, _upsample(self.upsample[level], x), skips.pop())
            x = _norm_act(x, norm1)
            x = conv2(x)
            x = _norm_act(x, norm2)
        return _pointwise_conv(self.heads[0], x).contiguous()


def _layers(block: nn.Sequential) -> tuple[tuple[nn.Conv3d, nn.InstanceNorm3d], ...]:
    """The (convolution, instance norm) pairs of a block made by ``_conv_block``."""
    return (block[0], block[1]), (block[3], block[4])


def _conv_of_concatenation(conv: nn.Conv3d, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """``conv(torch.cat([first, second], dim=1))`` as the sum of two convolutions, one per part.

    A channel concatenation of channels-last tensors is a slow interleaving copy; splitting the
    weights along their input channels does the same multiply-adds without it.
    """
    split = first.shape[1]
    weight = conv.weight
    out = F.conv3d(first, weight[:, :split].contiguous(), conv.bias, conv.stride, conv.padding)
    del first
    out += F.conv3d(second, weight[:, split:].contiguous(), None, conv.stride, conv.padding)
    return out


def _norm_act(x: torch.Tensor, norm: nn.InstanceNorm3d) -> torch.Tensor:
    """Instance norm + leaky ReLU of a channels-last tensor, without converting its layout."""
    args = (None, None, norm.weight, norm.bias, True, 0.0, norm.eps)
    if x.shape[0] == 1:  # batch norm over one sample is its instance norm
        x = F.batch_norm(x, *args)
    else:
        x = torch.cat([F.batch_norm(sample[None], *args) for sample in x])
    return F.leaky_relu_(x, _LEAKY_SLOPE)


def _one_channel_conv(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """A padded 3x3x3 convolution of a one-channel input as one matrix product; channels-last output."""
    n, _, nz, ny, nx = x.shape
    padded = F.pad(x[:, 0], (1, 1, 1, 1, 1, 1))
    taps = [
        padded[:, dz : dz + nz, dy : dy + ny, dx : dx + nx] for dz in range(3) for dy in range(3) for dx in range(3)
    ]
    columns = torch.stack(taps).reshape(27, -1)  # (taps, voxels), taps in the weight's (z, y, x) order
    out = columns.t() @ conv.weight.reshape(conv.out_channels, 27).t()
    if conv.bias is not None:
        out += conv.bias
    return out.reshape(n, nz, ny, nx, conv.out_channels).permute(0, 4, 1, 2, 3)


def _upsample(conv: nn.ConvTranspose3d, x: torch.Tensor) -> torch.Tensor:
    """A 2x2x2, stride-2 transposed convolution as one matrix product; channels-last output.

    Every input voxel alone makes its 2x2x2 output block, so the product of the channels-last
    input with the weights, (voxels, in) @ (in, out * 8), only needs its blocks put in place.
    """
    n, channels, nz, ny, nx = x.shape
    out_channels = conv.out_channels
    flat = x.permute(0, 2, 3, 4, 1).reshape(-1, channels)
    blocks = flat @ conv.weight.reshape(channels, out_channels * 8)  # (voxels, out * (dz, dy, dx))
    blocks = blocks.reshape(n, nz, ny, nx, out_channels, 2, 2, 2).permute(0, 1, 5, 2, 6, 3, 7, 4)
    out = blocks.reshape(n, 2 * nz, 2 * ny, 2 * nx, out_channels)  # the one copy: blocks into place
    if conv.bias is not None:
        out += conv.bias
    return out.permute(0, 4, 1, 2, 3)


def _pointwise_conv(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1x1 convolution of a channels-last tensor as one matrix product."""
    n, channels = x.shape[:2]
    flat = x.permute(0, 2, 3, 4, 1).reshape(-1, channels)
    out = flat @ conv.weight.reshape(conv.out_channels, channels).t()
    if conv.bias is not None:
        out += conv.bias
    return out.reshape(n, *x.shape[2:], conv.out_channels).permute(0, 4, 1, 2, 3)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
