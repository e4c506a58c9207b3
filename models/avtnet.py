"""The three networks of SPEC.md section 3, composed from the small modules of this package.

* ``AVTNet`` (kind "avt"): VideoNet + AudioNet -> SE fusion -> one-layer backend regression head.
* kind "avt_normal": the same with the two-layer backend (trained on ImageNet-normalised frames).
* ``AVTNetYOLT`` (kind "yolt"): SE fusion + dropout, coarse head as AVTNet, fine head on the grid
  cell the coarse head points to; position = (cell + offset) / G.

Inputs: mfcc (B, 20, L) float, frames (B, S, 3, 66, 88) float (see models.inputs), roi (B, S, 27, 36)
float.  forward returns a dict: "pred" (B,) in [0, 1], "per_second" (B, S) score vector, and for
YOLT "coarse" (B,), "fine" (B,) and "cell" (B,) long.  Build them by kind with
models.kinds.build_model (which also stores their 2-D convolution weights channels-last):

    from models.kinds import build_model
    model = build_model("yolt", get_config("tiny"), clip_seconds=20)
"""
from __future__ import annotations

import torch
from torch import nn

from models.config import ModelConfig
from models.fusion import SEFusion
from models.heads import RegressionHead, YoltFineHead, coarse_cell, yolt_position
from models.streams import AudioNet, VideoNet


class AVTNet(nn.Module):
    def __init__(self, cfg: ModelConfig, clip_seconds: int, two_layer_backend: bool = False):
        super().__init__()
        self.clip_seconds = int(clip_seconds)
        self.video = VideoNet(cfg)
        self.audio = AudioNet(cfg)
        self.fusion = SEFusion(cfg.fused_dim, cfg.se_hidden)
        self.head = RegressionHead(cfg.fused_dim, self.clip_seconds, cfg.head_hidden,
                                   cfg.backend_hidden if two_layer_backend else 0)

    def fused(self, mfcc: torch.Tensor, frames: torch.Tensor, roi: torch.Tensor) -> torch.Tensor:
        s = frames.shape[1]
        if s != self.clip_seconds:
            raise ValueError(f"input has {s} seconds but the model was built for {self.clip_seconds}")
        return self.fusion(self.video(frames, roi), self.audio(mfcc, s))  # (B, 4096, S)

    def forward(self, mfcc: torch.Tensor, frames: torch.Tensor, roi: torch.Tensor) -> dict:
        pred, per_second = self.head(self.fused(mfcc, frames, roi))
        return {"pred": pred, "per_second": per_second}


class AVTNetYOLT(AVTNet):
    def __init__(self, cfg: ModelConfig, clip_seconds: int):
        super().__init__(cfg, clip_seconds)
        if clip_seconds % cfg.yolt_grid:
            raise ValueError(f"YOLT needs the clip length ({clip_seconds} s) to be a multiple of "
                             f"its grid ({cfg.yolt_grid} cells)")
        self.grid = cfg.yolt_grid
        self.drop = nn.Dropout(cfg.yolt_dropout)
        self.fine = YoltFineHead(cfg.fused_dim, clip_seconds // cfg.yolt_grid)

    def forward(self, mfcc: torch.Tensor, frames: torch.Tensor, roi: torch.Tensor) -> dict:
        x = self.drop(self.fused(mfcc, frames, roi))      # (B, C, S)
        coarse, per_second = self.head(x)                 # (B,), (B, S)
        cell = coarse_cell(coarse, self.grid)             # (B,) long, no gradient
        offset = self.fine(x, cell)                       # (B,) in [0, 1]
        return {"pred": yolt_position(cell, offset, self.grid), "per_second": per_second,
                "coarse": coarse, "fine": offset, "cell": cell}

