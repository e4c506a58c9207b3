"""SE fusion of the two streams: concatenate on channels, then squeeze-and-excitation re-weighting
(global average over time, FC C -> hidden -> ReLU -> FC -> sigmoid)."""
from __future__ import annotations

import torch
from torch import nn

from models.resnet import SqueezeExcite


class SEFusion(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.se = SqueezeExcite(channels, hidden)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return self.se(torch.cat([video, audio], dim=1))  # (B, 2*2H, S)
