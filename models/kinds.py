"""The model kinds as one registry: a ``ModelKind`` record per kind says how to build its network,
its training loss and the loss terms it logs, its positional inputs, and any extra training data
it needs.  ``build_model``, ``compute_loss``, ``loss_terms`` and ``model_inputs`` are lookups in
``KINDS``; adding a kind means adding one record there.

* "avt", "avt_normal", "yolt": the published three (models/avtnet.py, SPEC.md section 3).
* "dense": the per-second kind beside them (models/dense.py); it also takes the clip type and
  learns from the spans.json beside a label file (``_dense_training_clips``).

    from models.kinds import KINDS, build_model
    model = build_model("yolt", get_config("tiny"), clip_seconds=20)
    KINDS["yolt"].loss_terms           # ("loss", "coarse", "fine", "hit_rate")
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from models.avtnet import AVTNet, AVTNetYOLT
from models.config import ModelConfig
from models.dense import DenseEnsemble, DenseNet, dense_loss
from models.inputs import to_model_inputs
from models.losses import avt_loss, yolt_loss

LOG = logging.getLogger("avtnet")

Losses = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TrainingClips:
    """The clips a training run learns and validates on (models.engine.build_training_data), as a
    kind's ``extra_training_data`` hook receives and returns them."""
    train: list                                     # datatools.dataset.ClipRecord per training clip
    val: list                                       # ... per validation clip
    segments: list[np.ndarray | None] | None = None  # per training clip: per-second classes, or None
    val_windows: list = field(default_factory=list)  # validation windows without an OP end (BeyondClip)
    checkpoint_extra: dict[str, Any] = field(default_factory=dict)   # stored in every checkpoint


@dataclass(frozen=True)
class ModelKind:
    """Everything kind-specific the engine needs.

    build(cfg, clip_seconds) -> network; loss(out, target, clip_seconds, cfg, segments) -> dict with
    at least "loss" and every name of ``loss_terms`` (the terms logged per epoch); inputs(batch,
    normalization, device) -> the network's positional inputs; extra_training_data(args, clips) ->
    clips, or None when the labelled clips alone train the kind."""
    name: str
    build: Callable[[ModelConfig, int], nn.Module]
    loss: Callable[[dict, torch.Tensor, float, ModelConfig, torch.Tensor | None], Losses]
    loss_terms: tuple[str, ...]
    inputs: Callable[[Mapping, str, torch.device], tuple] = to_model_inputs
    extra_training_data: Callable[[argparse.Namespace, TrainingClips], TrainingClips] | None = None
    published: bool = False          # one of the three networks of the paper
    # What its checkpoints offer a whole-episode run (skips/; ``offers``): a calibrated confidence per
    # boundary, P(within 2 s); a per-second boundary posterior (hedged skips, the season rule's own
    # probability of a matched time); a segment head (measured OP start / ED end / preview); an answer
    # that anchors the fusion (it weighs as much as all the other checkpoints together).
    calibrated_confidence: bool = False
    boundary_posterior: bool = False
    segment_head: bool = False
    anchors_fusion: bool = False
    # Translation-equivariant: it learns a boundary at every position of a clip, so it trains with a
    # temporal-shift augmentation of a third of the clip (the published heads are position-bound).
    position_free: bool = False


# ----------------------------------------------------------------------------------- the builders
# The published networks store their 2-D convolution weights channels-last, as are the frame and
# ROI batches inside (models/frame_trunk.py, models/roi_cnn.py): the same arithmetic, but oneDNN's
# CPU kernels run the tiny preset's training step 1.1-1.3x faster that way (bench/train_bench.py
# --memory_format; GPU tensor cores prefer it under AMP too).
def _channels_last(model: nn.Module) -> nn.Module:
    return model.to(memory_format=torch.channels_last)


def _build_avt(cfg: ModelConfig, clip_seconds: int) -> nn.Module:
    return _channels_last(AVTNet(cfg, clip_seconds))


def _build_avt_normal(cfg: ModelConfig, clip_seconds: int) -> nn.Module:
    return _channels_last(AVTNet(cfg, clip_seconds, two_layer_backend=True))


def _build_yolt(cfg: ModelConfig, clip_seconds: int) -> nn.Module:
    return _channels_last(AVTNetYOLT(cfg, clip_seconds))


def _build_dense(cfg: ModelConfig, clip_seconds: int) -> nn.Module:
    if cfg.dense_members > 1:
        return DenseEnsemble(cfg.dense_members, cfg.dense_channels, clip_seconds, cfg.dense_dropout,
                             cfg.dense_segments)
    return DenseNet(cfg.dense_channels, clip_seconds, cfg.dense_dropout, cfg.dense_segments)


# ------------------------------------------------------------------------------------- the losses
def _avt_loss(out: dict, target: torch.Tensor, clip_seconds: float, cfg: ModelConfig,
              segments: torch.Tensor | None) -> Losses:
    return avt_loss(out, target, clip_seconds)


def _yolt_loss(out: dict, target: torch.Tensor, clip_seconds: float, cfg: ModelConfig,
               segments: torch.Tensor | None) -> Losses:
    return yolt_loss(out, target, clip_seconds, cfg.yolt_grid)


def _dense_loss(out: dict, target: torch.Tensor, clip_seconds: float, cfg: ModelConfig,
                segments: torch.Tensor | None) -> Losses:
    return dense_loss(out, target, segments)


# ------------------------------------------------------------------------------------- the inputs
def _with_clip_type(batch: Mapping, normalization: str, device: torch.device) -> tuple:
    """(mfcc, frames, roi) plus the clip type (1 = _end clip) that the dense kind takes."""
    return (*to_model_inputs(batch, normalization, device), batch["is_end"].to(device))


# --------------------------------------------------------------------------- extra training data
def _dense_training_clips(args: argparse.Namespace, clips: TrainingClips) -> TrainingClips:
    """The dense kind's segment head learns from the spans.json beside a label file; with
    ``--beyond_windows`` the start clips it lists without an OP end train (target NaN, state
    "before" throughout) and, every 7th, validate as windows without a boundary."""
    from datatools.dataset import ClipRecord, label_file_paths, split_train_val
    from datatools.segments import segment_truth
    from datatools.spec import MFCC_SUFFIX, feature_path

    train = clips.train
    segments = segment_truth(train, args.data_root, args.clip_seconds)
    segment_clips = sum(s is not None for s in segments)
    val_windows: Sequence = []
    LOG.info(
        "dense: per-second segment truth (spans.json) for %d of %d training clips%s",
        segment_clips,
        len(segments),
        ""
        if segment_clips
        else ": the segment head stays untrained, and the checkpoint "
        "says so (predict.py then neither caps confidences by it nor measures spans with it)",
    )
    if args.beyond_windows:   # windows without an OP end: target NaN, state "before" throughout
        from datatools.segments import beyond_window_clips
        listed = beyond_window_clips(args.data_root, label_file_paths(args.data_root, args.label_files),
                                     args.clip_seconds)
        extra = [c for c in listed if feature_path(args.feat_root, c.rel, MFCC_SUFFIX).is_file()]
        if len(extra) < len(listed):
            LOG.info("dense: %d listed clips without an OP end have no processed features; left out",
                     len(listed) - len(extra))
        # the published split rule on these too: every 7th validates (models.engine.window_costs)
        extra, val_windows = split_train_val(extra, args.data_seed) if len(extra) > 1 else (extra, [])
        train = train + [ClipRecord(c.rel, None, "spans.json (OP ends after the clip)") for c in extra]
        segments = segments + [c.segments for c in extra]
        segment_clips += sum(c.segments is not None for c in extra)
        LOG.info("dense: %d start clips without an OP end (late or no opening) train as windows "
                 "without a boundary, %d more validate", len(extra), len(val_windows))
    # training clips with per-second segment truth (0: the segment head is untrained)
    return replace(clips, train=train, segments=segments, val_windows=list(val_windows),
                   checkpoint_extra={**clips.checkpoint_extra, "segment_clips": segment_clips})


# ------------------------------------------------------------------------------------ the registry
KINDS: dict[str, ModelKind] = {k.name: k for k in (
    ModelKind("avt", _build_avt, _avt_loss, ("loss",), published=True),
    ModelKind("avt_normal", _build_avt_normal, _avt_loss, ("loss",), published=True),
    ModelKind("yolt", _build_yolt, _yolt_loss, ("loss", "coarse", "fine", "hit_rate"), published=True),
    ModelKind("dense", _build_dense, _dense_loss, ("loss", "heat", "state", "segment"),
              inputs=_with_clip_type, extra_training_data=_dense_training_clips, calibrated_confidence=True,
              boundary_posterior=True, segment_head=True, anchors_fusion=True, position_free=True),
)}
CAPABILITIES = ("calibrated_confidence", "boundary_posterior", "segment_head", "anchors_fusion")
PUBLISHED_KINDS = tuple(name for name, k in KINDS.items() if k.published)
MODEL_KINDS = tuple(KINDS)


def offers(kind: str | None, capability: str) -> bool:
    """Does a checkpoint of model kind ``kind`` (its meta's "kind"; None or unknown: nothing) offer
    ``capability`` (one of CAPABILITIES)?"""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; one of {', '.join(CAPABILITIES)}")
    k = KINDS.get(kind or "")
    return bool(k is not None and getattr(k, capability))


def get_kind(kind: str) -> ModelKind:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    return KINDS[kind]


def build_model(kind: str, cfg: ModelConfig, clip_seconds: int) -> nn.Module:
    """The network of one kind (the published ones with channels-last 2-D convolution weights)."""
    return get_kind(kind).build(cfg, clip_seconds)


def compute_loss(kind: str, out: dict, target: torch.Tensor, clip_seconds: float,
                 cfg: ModelConfig, segments: torch.Tensor | None = None) -> Losses:
    """The training loss of ``kind``; ``segments`` (B, S) per-second classes (-1 unknown) train
    the dense kind's segment head and are ignored by the published kinds."""
    return get_kind(kind).loss(out, target, clip_seconds, cfg, segments)


def loss_terms(kind: str) -> tuple[str, ...]:
    """The loss terms ``kind`` logs per epoch ("loss" first)."""
    return get_kind(kind).loss_terms


def model_inputs(batch: Mapping, kind: str, normalization: str, device: torch.device) -> tuple:
    """The model's positional inputs: (mfcc, frames, roi), plus the clip type for the dense kind."""
    return get_kind(kind).inputs(batch, normalization, device)
