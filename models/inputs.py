"""Turn stored feature arrays into model inputs, and a batch of arrays into predicted seconds.

Frames are kept uint8 (S, 66, 88, 3) until they reach the device (4x less copying); there they
become float (S, 3, 66, 88) in [0, 1] ("unit"), or ImageNet mean/std normalised ("imagenet", the
normalised variant / ``--if_normal``).  ROI maps become float 0/1.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from models.heads import to_seconds

NORMALISATIONS = ("unit", "imagenet")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _tensor(x, device: torch.device) -> torch.Tensor:
    t = torch.from_numpy(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    return t.to(device, non_blocking=True)


def to_model_inputs(batch: Mapping, normalization: str,
                    device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """batch: "mfcc" (B, 20, L) float, "frames" (B, S, H, W, 3) uint8, "roi" (B, S, h, w) uint8
    (numpy or torch).  Returns (mfcc, frames (B, S, 3, H, W), roi) float tensors on ``device``."""
    if normalization not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {normalization!r}")
    device = torch.device(device)
    mfcc = _tensor(batch["mfcc"], device).float()
    frames = _tensor(batch["frames"], device).permute(0, 1, 4, 2, 3).float().div_(255.0)
    if normalization == "imagenet":
        mean = torch.tensor(_IMAGENET_MEAN, device=device).view(1, 1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD, device=device).view(1, 1, 3, 1, 1)
        frames = (frames - mean) / std
    roi = _tensor(batch["roi"], device).float()
    return mfcc, frames.contiguous(), roi


@torch.no_grad()
def predict_seconds(model: torch.nn.Module, batch: Mapping, normalization: str,
                    clip_seconds: float, device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
    """Run the model (in eval mode) on a batch of feature arrays.  Returns numpy "seconds" (B,) and
    "per_second" (B, S) scores for plotting, and "confidence" (B,), "present" (B,) and "posterior"
    (B, S) for kinds that give them (the dense kind, which also needs ``batch["is_end"]``: 1 for an
    _end clip, 0 for a _start clip)."""
    model.eval()
    inputs = to_model_inputs(batch, normalization, device)
    if getattr(model, "takes_clip_type", False):
        if "is_end" not in batch:
            raise ValueError("this model needs the clip type: batch['is_end'] (1 = _end clip)")
        inputs = (*inputs, _tensor(batch["is_end"], torch.device(device)).float())
    out = model(*inputs)
    res = {"seconds": to_seconds(out["pred"], clip_seconds).cpu().numpy(),
           "per_second": out["per_second"].float().cpu().numpy()}
    # present: P(the boundary lies inside the window); posterior: (B, S) over the boundary's bin
    for key in ("confidence", "present", "posterior"):
        if key in out:
            res[key] = out[key].float().cpu().numpy()
    if "segments" in out:   # the dense kind's segment head: (B, K, S) class probabilities
        res["segments"] = torch.softmax(out["segments"].float(), 1).cpu().numpy()
    return res
