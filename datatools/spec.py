"""Fixed feature parameters of SPEC.md section 2 (with its letterbox rule for frames and text boxes)
and the processed-data file names, in one place.

Both the preprocessing scripts (writers) and the datasets / predict.py (readers) import these, so
a processed folder and the models always agree.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

SAMPLE_RATE = 22050        # Hz, mono
N_MFCC = 20
N_FFT = 2048
HOP_LENGTH = 512
FRAME_H, FRAME_W = 66, 88  # letterboxed 1-fps frames (height, width)
ROI_H, ROI_W = 27, 36      # text-ROI grid (height, width)
DEFAULT_CLIP_SECONDS = 200

# Output suffixes, appended to the clip stem and mirrored under the processed root.
MFCC_SUFFIX = "_mfcc.npy"      # float32 (N_MFCC, L)
FRAMES_SUFFIX = "_frames.npy"  # uint8 (S, FRAME_H, FRAME_W, 3)
OCR_SUFFIX = "_ocr.json"       # per second: text boxes in source pixels + source frame size
ROI_SUFFIX = "_roi.npy"        # uint8 (S, ROI_H, ROI_W)
CHROMA_SUFFIX = "_chroma.npy"  # uint32 Chromaprint points (season mode)


def mfcc_length(clip_seconds: int) -> int:
    """MFCC frames kept per clip: floor(S * 22050 / 512) + 3, which is 8616 for S = 200.

    SPEC.md writes the formula with a ceiling but gives 8616 for S = 200; the ceiling would give
    8617.  We keep the published figure (8616), so arrays match the published network's input."""
    return int(clip_seconds) * SAMPLE_RATE // HOP_LENGTH + 3


class Letterbox(NamedTuple):
    """Maps source pixel (x, y) to destination (x * sx + ox, y * sy + oy)."""
    sx: float
    sy: float
    ox: int
    oy: int
    new_w: int   # size of the resized picture inside the destination canvas
    new_h: int


def letterbox_geometry(src_w: int, src_h: int, dst_w: int, dst_h: int) -> Letterbox:
    """Fit (src_w, src_h) inside (dst_w, dst_h) keeping the aspect ratio, centred, black bars.

    The scale factors are the *rounded* picture size over the source size, so a box mapped with
    them lands exactly on the pixels the resized picture puts there."""
    if src_w <= 0 or src_h <= 0:
        raise ValueError(f"bad source size {src_w}x{src_h}")
    scale = min(dst_w / src_w, dst_h / src_h)
    new_w = min(dst_w, max(1, round(src_w * scale)))
    new_h = min(dst_h, max(1, round(src_h * scale)))
    return Letterbox(new_w / src_w, new_h / src_h, (dst_w - new_w) // 2, (dst_h - new_h) // 2,
                     new_w, new_h)


def clip_path(path: str | os.PathLike) -> Path:
    """The one rule for where a clip (or label file) lives: its absolute path *as written*,
    normalised lexically ("a/./b/../c" -> "a/c") but with symbolic links kept.  A layout of links
    into the folder where the videos really live, a bind mount and a copied tree therefore all give
    the same paths relative to the data root, in preprocessing, training, testing, season mode and
    predict.py alike."""
    return Path(os.path.abspath(os.fspath(path)))


def rel_to_root(path: str | os.PathLike, data_root: str | os.PathLike) -> Path:
    """``path`` relative to ``data_root`` by the rule of ``clip_path`` (links kept).  When the two
    were written through different links to the same folder (the root as a link, the clip by the
    real folder, or the other way round), the folders are compared resolved; the clip's own name
    is never resolved.  Raises ValueError when the path lies outside the root."""
    p, root = clip_path(path), clip_path(data_root)
    try:
        return p.relative_to(root)
    except ValueError:
        real_root = Path(os.path.realpath(root))
        try:
            return p.relative_to(real_root)
        except ValueError:
            return (Path(os.path.realpath(p.parent)) / p.name).relative_to(real_root)


def feature_path(feat_root: str | os.PathLike, rel_video: str | os.PathLike, suffix: str) -> Path:
    """Where the feature ``suffix`` of the clip at ``rel_video`` (relative to its data root) lives."""
    rel = Path(rel_video)
    return Path(feat_root) / rel.parent / f"{rel.stem}{suffix}"
