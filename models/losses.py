"""Training losses, all measured in seconds (targets and predictions scaled by S).

AVTNet and its normalised variant: Smooth L1.  YOLT: L1 on the coarse position plus L1 on the
fine offset within the cell, the latter only for samples whose coarse cell is the true cell.
Each returns a dict whose "loss" is what is back-propagated; the other terms are for logging.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from models.heads import coarse_cell


def avt_loss(out: dict, target: torch.Tensor, clip_seconds: float) -> dict[str, torch.Tensor]:
    """target: (B,) in [0, 1]."""
    loss = F.smooth_l1_loss(out["pred"].float() * clip_seconds, target.float() * clip_seconds)
    return {"loss": loss}


def yolt_loss(out: dict, target: torch.Tensor, clip_seconds: float, grid: int) -> dict[str, torch.Tensor]:
    target = target.float()
    coarse = F.l1_loss(out["coarse"].float() * clip_seconds, target * clip_seconds)
    true_cell = coarse_cell(target, grid)
    hit = out["cell"] == true_cell                         # (B,) bool
    cell_seconds = clip_seconds / grid
    if hit.any():
        true_offset = target * grid - true_cell.float()    # position inside the true cell, [0, 1]
        fine = F.l1_loss(out["fine"].float()[hit] * cell_seconds, true_offset[hit] * cell_seconds)
    else:
        # Keep the fine head in the graph so DDP sees every parameter used on every step.
        fine = out["fine"].float().sum() * 0.0
    return {"loss": coarse + fine, "coarse": coarse.detach(), "fine": fine.detach(),
            "hit_rate": hit.float().mean()}
