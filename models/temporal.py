"""Temporal encoder shared by both streams: a bidirectional GRU over the sequence, then adaptive
average pooling over time to exactly S steps (one per second of the clip)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class BiGRUEncoder(nn.Module):
    def __init__(self, in_dim: int, hidden: int, layers: int = 2, dropout: float = 0.3):
        super().__init__()
        self.gru = nn.GRU(in_dim, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.out_dim = 2 * hidden

    def forward(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        y, _ = self.gru(x)                                # (B, T, D) -> (B, T, 2H)
        return F.adaptive_avg_pool1d(y.transpose(1, 2), steps)   # (B, 2H, S)
