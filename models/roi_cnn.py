"""Text-ROI CNN of VideoNet: each second's 27 x 36 text-box map -> one vector.

Four blocks conv3x3 -> BN -> ReLU -> max-pool 2 (channels 32/64/96/128 in the full preset), then
global average pooling: 27x36 -> 13x18 -> 6x9 -> 3x4 -> 1x2 -> 128-d.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.resnet import like_weight_layout


class TextRoiCNN(nn.Module):
    def __init__(self, channels: Sequence[int] = (32, 64, 96, 128)):
        super().__init__()
        layers, prev = [], 1
        for c in channels:
            layers += [nn.Conv2d(prev, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            prev = c
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.out_dim = prev

    def forward(self, roi: torch.Tensor) -> torch.Tensor:
        b, s = roi.shape[:2]
        # the second convolution tells the layout: a 1-input-channel weight looks the same in both
        x = like_weight_layout(roi.flatten(0, 1).unsqueeze(1), self.net[4].weight)
        y = self.net(x)                                   # (B*S, 1, 27, 36) -> (B*S, C)
        return y.view(b, s, -1)                           # (B, S, C)
