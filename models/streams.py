"""The two input streams of AVTNet (SPEC.md section 3), each ending in (B, 2H, S) features.

VideoNet: frame trunk (+ dropout) and text-ROI CNN per second, concatenated, BiGRU.
AudioNet: 1-D SE-ResNet-18 with Mish over the MFCC sequence, BiGRU, pooled to S steps.
"""
from __future__ import annotations

import torch
from torch import nn

from datatools.spec import N_MFCC
from models.config import ModelConfig
from models.frame_trunk import FrameTrunk
from models.resnet import ResNetTrunk
from models.roi_cnn import TextRoiCNN
from models.temporal import BiGRUEncoder


class VideoNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.frames = FrameTrunk(cfg.frame_width)
        self.drop = nn.Dropout(cfg.frame_dropout)
        self.roi = TextRoiCNN(cfg.roi_channels)
        self.temporal = BiGRUEncoder(self.frames.out_dim + self.roi.out_dim, cfg.gru_hidden,
                                     cfg.gru_layers, cfg.gru_dropout)

    def forward(self, frames: torch.Tensor, roi: torch.Tensor) -> torch.Tensor:
        s = frames.shape[1]
        f = self.drop(self.frames(frames))                # (B, S, 512)
        r = self.roi(roi)                                 # (B, S, 128)
        return self.temporal(torch.cat([f, r], dim=2), s)  # (B, 2H, S)


class AudioNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.trunk = ResNetTrunk(dims=1, in_ch=N_MFCC, widths=cfg.audio_widths, se=True, act="mish",
                                 stem_kernel=3, pool_kernel=2, final_bn=True)
        self.temporal = BiGRUEncoder(self.trunk.out_channels, cfg.gru_hidden, cfg.gru_layers,
                                     cfg.gru_dropout)

    def forward(self, mfcc: torch.Tensor, steps: int) -> torch.Tensor:
        a = self.trunk(mfcc)                              # (B, 20, L) -> (B, 512, ~L/32)
        return self.temporal(a.transpose(1, 2), steps)    # (B, 2H, S)
