"""Complete, portable checkpoints: save on rank 0, load on CPU first, strip DataParallel/DDP
``module.`` prefixes in one place, and refuse a checkpoint of another model kind, preset or clip
length with a message naming the file.

    model, meta = load_checkpoint_model("work_dir/run/avnet_bestmodel.pth", "cpu")
    meta["kind"], meta["clip_seconds"], meta["normalization"]
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from datatools.fileio import atomic_write_bytes
from models.config import ModelConfig
from models.kinds import build_model


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here; the message names the file."""


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DataParallel / DistributedDataParallel."""
    return model.module if hasattr(model, "module") else model


def strip_module_prefix(state: dict[str, Any]) -> dict[str, Any]:
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Atomic write (datatools.fileio), so an interrupted save never leaves a torn checkpoint."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "kind" not in ckpt:
        raise CheckpointError(f"{path}: not an AVTNet checkpoint of this project (no model/kind entry)")
    return ckpt


def check_compatible(ckpt: dict, path: str | os.PathLike, kind: str | None = None,
                     preset: str | None = None, clip_seconds: int | None = None) -> None:
    for name, want in (("kind", kind), ("preset", preset), ("clip_seconds", clip_seconds)):
        if want is not None and ckpt.get(name) != want:
            raise CheckpointError(f"{path}: checkpoint is {name}={ckpt.get(name)!r} but this run "
                                  f"uses {name}={want!r}")


def checkpoint_meta(ckpt: dict) -> dict[str, Any]:
    # validation: {"within_2s", "n"} of the saved epoch; calibration: models/calibration.py's map
    # (kinds with a confidence).  Both are absent from checkpoints of earlier versions.
    # segment_clips: training clips that taught the dense kind's segment head (absent before it was
    # recorded: the head then counts as untrained, see segment_head_trained).
    # preview_calibration: the map of a measured preview's mean preview probability -> P(its start
    # within 2 s) (the shipped model; absent elsewhere: skips.decide falls back).
    return {k: ckpt.get(k) for k in ("kind", "preset", "config", "clip_seconds", "normalization",
                                     "epoch", "best_score", "validation", "calibration", "segment_clips",
                                     "preview_calibration")}


def segment_head_trained(meta: dict[str, Any]) -> bool:
    """True when a checkpoint's segment head (dense kind) learned from per-second truth: it records
    ``segment_clips`` > 0.  A head never trained (label files alone, or a checkpoint from before the
    record) must neither cap a confidence nor measure a span."""
    return bool((meta.get("config") or {}).get("dense_segments")) and int(meta.get("segment_clips") or 0) > 0


def load_checkpoint_model(path: str | os.PathLike, device: torch.device | str = "cpu",
                          kind: str | None = None, preset: str | None = None,
                          clip_seconds: int | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network a checkpoint describes, load its weights, move it to ``device`` in eval
    mode.  meta: kind, preset, config (dict), clip_seconds, normalization, epoch, best_score."""
    ckpt = read_checkpoint(path)
    check_compatible(ckpt, path, kind, preset, clip_seconds)
    model = build_model(ckpt["kind"], ModelConfig.from_dict(ckpt["config"]), ckpt["clip_seconds"])
    load_weights(model, ckpt["model"], path)
    return model.to(device).eval(), checkpoint_meta(ckpt)


def load_weights(model: nn.Module, state: dict[str, Any], path: str | os.PathLike) -> None:
    try:
        unwrap(model).load_state_dict(strip_module_prefix(state))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"{path}: weights do not fit this model ({first[0] if first else exc})"
        ) from None
