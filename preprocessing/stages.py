"""The per-clip outputs of preprocessing, one ``Stage`` each, computed from a clip decoded once.

Outputs (SPEC.md section 2), mirrored from ``--data_root`` under ``--save_root``:
``<stem>_mfcc.npy`` float32 (20, L), ``<stem>_frames.npy`` uint8 (S, 66, 88, 3),
``<stem>_ocr.json`` (boxes per second in source pixels + frame size), ``<stem>_roi.npy`` uint8
(S, 27, 36).  The per-clip outputs are a list of ``Stage`` objects (``STAGES``); other features
(e.g. Chromaprint) join with ``register_stage`` and then run in the same decode pass.  The command
line over them is preprocessing/cli.py (the published scripts utils/preprocess.py,
utils/extract_audio.py, utils/extract_video.py, utils/text_extract.py, utils/extract_textROI.py).

In memory (predict.py): ``features_from_decoded(decode_clip(path, S, start_s), S)``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datatools import spec
from datatools.fileio import atomic_save_npy, atomic_write_json
from preprocessing.jobs import Clip, ClipError
from preprocessing.media import (
    DEFAULT_OCR_SIZE,
    ClipDecodeError,
    DecodedClip,
    decode_clip,
    mfcc_from_audio,
    warn,
)
from preprocessing.ocr import DEFAULT_REUSE_DIFF, detect_seconds, get_detector, ocr_record, read_ocr
from preprocessing.text_roi import roi_from_record


@dataclass
class Options:
    """Settings a worker needs (picklable)."""
    clip_seconds: int = spec.DEFAULT_CLIP_SECONDS
    ocr_backend: str = "rapidocr"
    ocr_size: int = DEFAULT_OCR_SIZE
    reuse_diff: float = DEFAULT_REUSE_DIFF
    threads: int = 0           # per-clip threads for decoder / detector (0 = library default)


@dataclass
class Context:
    """What stages of one clip share: the decoded clip and earlier stages' results."""
    clip: Clip | None
    save_root: Path | None
    opts: Options
    decoded: DecodedClip | None = None
    results: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    name: str
    suffix: str                              # output file suffix (datatools.spec)
    needs: frozenset                         # decode_clip parts: "frames", "ocr", "audio"
    compute: Callable[[Context], Any]
    save: Callable[[Path, Any], None]
    meta: Callable[[Options], dict]          # parameters recorded in meta.json


def _mfcc(ctx: Context) -> np.ndarray:
    d = ctx.decoded
    if not d.info.get("has_audio", True):
        warn(ctx.clip.video if ctx.clip else "clip", "no audio stream; MFCC set to zeros")
    return mfcc_from_audio(d.audio, ctx.opts.clip_seconds)


def _ocr(ctx: Context) -> dict:
    d, o = ctx.decoded, ctx.opts
    size = (d.info["width"], d.info["height"])
    seconds, _ = detect_seconds(get_detector(o.ocr_backend, o.threads), d.ocr_frames, size,
                                o.reuse_diff)
    return ocr_record(seconds, size, o.ocr_backend, o.ocr_size)


def _roi(ctx: Context) -> np.ndarray:
    rec = ctx.results.get("ocr")
    if rec is None:  # standalone ROI run: boxes come from the stored JSON, no decoding
        path = ctx.clip.out(ctx.save_root, spec.OCR_SUFFIX)
        if not path.is_file():
            raise ClipError(f"missing {path.name}; run utils/text_extract.py first")
        try:
            rec = read_ocr(path)
        except ValueError as exc:
            raise ClipError(str(exc)) from None
    return roi_from_record(rec, ctx.opts.clip_seconds)


STAGES: list[Stage] = [
    Stage("mfcc", spec.MFCC_SUFFIX, frozenset({"audio"}), _mfcc, atomic_save_npy,
          lambda o: {"clip_seconds": o.clip_seconds, "sample_rate": spec.SAMPLE_RATE,
                     "n_mfcc": spec.N_MFCC, "n_fft": spec.N_FFT, "hop_length": spec.HOP_LENGTH,
                     "mfcc_length": spec.mfcc_length(o.clip_seconds)}),
    Stage("frames", spec.FRAMES_SUFFIX, frozenset({"frames"}), lambda c: c.decoded.frames,
          atomic_save_npy,
          lambda o: {"clip_seconds": o.clip_seconds, "frame_size": [spec.FRAME_H, spec.FRAME_W]}),
    Stage("ocr", spec.OCR_SUFFIX, frozenset({"ocr"}), _ocr, atomic_write_json,
          lambda o: {"clip_seconds": o.clip_seconds, "ocr_backend": o.ocr_backend,
                     "ocr_size": o.ocr_size}),
    Stage("roi", spec.ROI_SUFFIX, frozenset(), _roi, atomic_save_npy,
          lambda o: {"clip_seconds": o.clip_seconds, "roi_size": [spec.ROI_H, spec.ROI_W]}),
]


def _chroma(ctx: Context) -> np.ndarray:
    """Chromaprint points of the decoded audio (season mode, preprocessing/fingerprint.py); the audio is
    piped to the ffmpeg binary's chromaprint muxer, so the clip is still decoded only once."""
    from preprocessing.fingerprint import fingerprint_samples

    audio = ctx.decoded.audio
    if audio.size == 0:
        warn(ctx.clip.video if ctx.clip else "clip", "no audio stream; empty fingerprint")
        return np.zeros(0, dtype=np.uint32)
    return fingerprint_samples(audio, spec.SAMPLE_RATE)


# Optional stage: only with --with_fingerprint (or utils/extract_fingerprint.py on its own).
STAGES.append(Stage("chroma", spec.CHROMA_SUFFIX, frozenset({"audio"}), _chroma, atomic_save_npy,
                    lambda o: {"clip_seconds": o.clip_seconds}))
OPTIONAL_STAGES = ("chroma",)


def register_stage(stage: Stage) -> None:
    """Add (or replace by name) a per-clip output of the driver; do it at import time so pool
    workers see it too."""
    STAGES[:] = [s for s in STAGES if s.name != stage.name] + [stage]


def get_stages(names: Sequence[str]) -> list[Stage]:
    by_name = {s.name: s for s in STAGES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; known: {list(by_name)}")
    return [by_name[n] for n in names]


def run_stages(ctx: Context, stages: Sequence[Stage], start_s: float = 0.0) -> dict[str, Any]:
    """Decode what the stages need (once) and compute them in order; returns name -> result."""
    needs = set().union(*(s.needs for s in stages))
    if needs and ctx.decoded is None:
        try:
            ctx.decoded = decode_clip(ctx.clip.video, ctx.opts.clip_seconds, start_s=start_s,
                                      want_frames="frames" in needs, want_ocr="ocr" in needs,
                                      want_audio="audio" in needs, ocr_size=ctx.opts.ocr_size,
                                      threads=ctx.opts.threads)
        except ClipDecodeError as exc:
            raise ClipError(str(exc)) from None
    for s in stages:
        ctx.results[s.name] = s.compute(ctx)
    return ctx.results


def features_from_decoded(decoded: DecodedClip, clip_seconds: int,
                          opts: Options | None = None,
                          names: Sequence[str] = ("mfcc", "frames", "ocr", "roi")) -> dict[str, Any]:
    """In-memory features of an already decoded clip (predict.py): name -> array / OCR record."""
    opts = opts or Options(clip_seconds=clip_seconds)
    opts.clip_seconds = clip_seconds
    ctx = Context(clip=None, save_root=None, opts=opts, decoded=decoded)
    return run_stages(ctx, get_stages(names))


def process_clip(clip: Clip, save_root: str, names: tuple[str, ...], opts: Options) -> None:
    """Pool worker: compute and atomically write the outputs of one clip."""
    ctx = Context(clip=clip, save_root=Path(save_root), opts=opts)
    stages = get_stages(names)
    results = run_stages(ctx, stages)
    for s in stages:
        s.save(clip.out(save_root, s.suffix), results[s.name])
