"""ResNet-18-shaped trunks in one or two dimensions: the 1-D audio trunk of AudioNet (SE blocks,
Mish) and the narrow 2-D frame trunk of the tiny preset (ReLU, no SE).

One builder serves both so the block logic exists once; torchvision's ResNet-18 stays the full
preset's frame trunk because its ImageNet weights load into it (see models/frame_trunk.py).

    trunk = ResNetTrunk(dims=1, in_ch=20, widths=(64, 128, 256, 512), se=True, act="mish",
                        stem_kernel=3, pool_kernel=2, final_bn=True)
    y = trunk(mfcc)  # (B, 20, L) -> (B, 512, ~L/32)
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def like_weight_layout(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x`` in the memory layout of a 2-D convolution ``weight``: channels-last when
    models.kinds.build_model stored the weights so (faster oneDNN kernels on the CPU), unchanged
    after ``model.to(memory_format=torch.contiguous_format)``."""
    if weight.dim() == 4 and weight.is_contiguous(memory_format=torch.channels_last) \
            and not weight.is_contiguous():
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _conv(dims: int):
    return nn.Conv1d if dims == 1 else nn.Conv2d


def _bn(dims: int):
    return nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d


def make_act(name: str) -> nn.Module:
    if name == "mish":
        return nn.Mish(inplace=True)
    if name == "relu":
        return nn.ReLU(inplace=True)
    raise ValueError(f"unknown activation {name!r}")


class SqueezeExcite(nn.Module):
    """Channel re-weighting: global average pool over every non-channel axis, FC -> ReLU -> FC ->
    sigmoid, multiply.  Used inside audio blocks and as the fusion layer (models/fusion.py)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc(x.flatten(2).mean(dim=2))           # (B, C)
        return x * w.view(*w.shape, *([1] * (x.dim() - 2)))


class BasicBlock(nn.Module):
    """Two 3-wide convolutions with BN, optional SE before the residual sum, projection shortcut
    when the shape changes."""

    def __init__(self, dims: int, in_ch: int, out_ch: int, stride: int, act: str, se: bool):
        super().__init__()
        conv, bn = _conv(dims), _bn(dims)
        self.conv1 = conv(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = bn(out_ch)
        self.act1 = make_act(act)
        self.conv2 = conv(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = bn(out_ch)
        self.se = SqueezeExcite(out_ch, max(out_ch // 16, 4)) if se else nn.Identity()
        self.short = (nn.Identity() if stride == 1 and in_ch == out_ch else
                      nn.Sequential(conv(in_ch, out_ch, 1, stride=stride, bias=False), bn(out_ch)))
        self.act2 = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.bn1(self.conv1(x)))
        y = self.se(self.bn2(self.conv2(y)))
        return self.act2(y + self.short(x))


class ResNetTrunk(nn.Module):
    """Stem conv -> BN -> act -> max-pool, four stages of two basic blocks (strides 1/2/2/2),
    optional final BN.  Output keeps the spatial/temporal axes; callers pool as they need."""

    def __init__(self, dims: int, in_ch: int, widths: Sequence[int], se: bool, act: str,
                 stem_kernel: int, stem_stride: int = 2, pool_kernel: int = 2, pool_stride: int = 2,
                 final_bn: bool = False):
        super().__init__()
        conv, bn = _conv(dims), _bn(dims)
        pool = nn.MaxPool1d if dims == 1 else nn.MaxPool2d
        self.stem = nn.Sequential(
            conv(in_ch, widths[0], stem_kernel, stride=stem_stride, padding=stem_kernel // 2,
                 bias=False),
            bn(widths[0]), make_act(act),
            pool(pool_kernel, stride=pool_stride, padding=pool_kernel // 2 if pool_kernel > 2 else 0))
        stages, prev = [], widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(dims, prev, w, stride, act, se),
                                        BasicBlock(dims, w, w, 1, act, se)))
            prev = w
        self.stages = nn.Sequential(*stages)
        self.final_bn = bn(prev) if final_bn else nn.Identity()
        self.out_channels = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_bn(self.stages(self.stem(x)))
