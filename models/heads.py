"""Regression heads on the fused (B, C, S) features, and the pure functions that decode their
outputs into seconds.

RegressionHead: backend Conv1d C->1 -> Mish (one layer, AVTNet and YOLT's coarse head) or
Conv1d C->hidden -> Mish -> Conv1d hidden->1 -> Mish (two layers, the normalised variant), giving the
per-second score vector (B, S); then Linear S->64 -> Mish -> Linear 64->1 -> sigmoid.
YoltFineHead: on one grid cell's S/G steps, Conv1d C->1 -> Mish -> Linear S/G->1 -> sigmoid.
"""
from __future__ import annotations

import torch
from torch import nn


class RegressionHead(nn.Module):
    def __init__(self, channels: int, steps: int, hidden: int, backend_hidden: int = 0):
        super().__init__()
        if backend_hidden:
            self.backend = nn.Sequential(nn.Conv1d(channels, backend_hidden, 1), nn.Mish(),
                                         nn.Conv1d(backend_hidden, 1, 1), nn.Mish())
        else:
            self.backend = nn.Sequential(nn.Conv1d(channels, 1, 1), nn.Mish())
        self.regress = nn.Sequential(nn.Linear(steps, hidden), nn.Mish(), nn.Linear(hidden, 1),
                                     nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with full_precision(x):
            per_second = self.backend(x.float()).squeeze(1)   # (B, C, S) -> (B, S)
            pred = self.regress(per_second).squeeze(1)        # (B,) in [0, 1]
        return pred, per_second


class YoltFineHead(nn.Module):
    def __init__(self, channels: int, cell_steps: int):
        super().__init__()
        self.backend = nn.Sequential(nn.Conv1d(channels, 1, 1), nn.Mish())
        self.regress = nn.Sequential(nn.Linear(cell_steps, 1), nn.Sigmoid())
        self.cell_steps = cell_steps

    def forward(self, x: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        b, c, _ = x.shape
        width = self.cell_steps                           # S / G
        start = cell * width                              # (B,)
        idx = start.view(b, 1, 1) + torch.arange(width, device=x.device).view(1, 1, width)
        part = x.gather(2, idx.expand(b, c, width))       # (B, C, S/G): the chosen cell
        with full_precision(x):
            return self.regress(self.backend(part.float()).squeeze(1)).squeeze(1)  # (B,) in [0, 1]


def full_precision(x: torch.Tensor):
    """Heads run in float32 even under AMP: a bf16/fp16 sigmoid output times S = 200 would only
    resolve positions to about 0.2-0.8 s, which the 1-s-tolerance metric would feel."""
    return torch.autocast(device_type=x.device.type, enabled=False)


def coarse_cell(pred: torch.Tensor, grid: int) -> torch.Tensor:
    """Grid cell (0..G-1) that a position in [0, 1] falls in."""
    return (pred.detach() * grid).floor().long().clamp_(0, grid - 1)


def yolt_position(cell: torch.Tensor, offset: torch.Tensor, grid: int) -> torch.Tensor:
    """(cell index + offset) / G, a position in [0, 1]."""
    return (cell.to(offset.dtype) + offset) / grid


def to_seconds(pred: torch.Tensor, clip_seconds: float) -> torch.Tensor:
    """Model output in [0, 1] -> seconds from the clip start."""
    return pred.float() * float(clip_seconds)
