"""Training/validation/test datasets over the processed-feature folder (no video decoding).

Published layout under ``data_root``: ``data_A/train/labels.txt`` and ``data_B/labels.txt``
(label files, datatools/labels.py), unlabelled test folders ``data_A/test/`` (--test) and
``data_C/`` (--testB).  Features of the clip at ``<data_root>/<rel>.mp4`` live at
``feature_path(feat_root, rel, suffix)`` (datatools/spec.py): ``_mfcc.npy`` float32
(20, mfcc_length(S)), ``_frames.npy`` uint8 (S, 66, 88, 3), ``_roi.npy`` uint8 (S, 27, 36), and
``<feat_root>/meta.json`` holds at least ``{"clip_seconds": S}``.

    recs = labelled_clips("data", None, clip_seconds=200)
    train, val = split_train_val(recs, data_seed=0)
    ds = FeatureDataset(train, "data/processed", 200, shift_aug=10)
    item = ds[0]   # {"mfcc", "frames", "roi", "target" (label / S, NaN if unlabelled), "index"}

``write_synthetic_processed`` builds a small processed dataset whose features carry the boundary,
for tests and bench/train_bench.py.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from datatools.labels import VIDEO_SUFFIX, LabelError, read_labels
from datatools.spec import (
    FRAME_H,
    FRAME_W,
    FRAMES_SUFFIX,
    HOP_LENGTH,
    MFCC_SUFFIX,
    N_MFCC,
    ROI_H,
    ROI_SUFFIX,
    ROI_W,
    SAMPLE_RATE,
    feature_path,
    mfcc_length,
    rel_to_root,
)

META_NAME = "meta.json"
DEFAULT_LABEL_FILES = ("data_A/train/labels.txt", "data_B/labels.txt")
TEST_DIRS = {"test": "data_A/test", "testB": "data_C"}


class DatasetError(ValueError):
    """Bad or missing processed data; the message names the file and the reason."""


@dataclass(frozen=True)
class ClipRecord:
    rel: Path                   # clip path relative to data_root, e.g. data_A/train/x_start.mp4
    seconds: float | None       # label in seconds, None for test clips
    source: str = ""            # where it came from ("labels.txt:12") for error messages

    @property
    def name(self) -> str:
        return self.rel.name


def _feature_specs(clip_seconds: int) -> dict[str, tuple[str, tuple[int, ...], np.dtype]]:
    return {"mfcc": (MFCC_SUFFIX, (N_MFCC, mfcc_length(clip_seconds)), np.dtype(np.float32)),
            "frames": (FRAMES_SUFFIX, (clip_seconds, FRAME_H, FRAME_W, 3), np.dtype(np.uint8)),
            "roi": (ROI_SUFFIX, (clip_seconds, ROI_H, ROI_W), np.dtype(np.uint8))}


def check_meta(feat_root: str | os.PathLike, clip_seconds: int) -> dict:
    """Read ``<feat_root>/meta.json`` and refuse a folder processed for another clip length."""
    path = Path(feat_root) / META_NAME
    if not path.is_file():
        raise DatasetError(f"{path}: not found; is --feat_root a processed folder written by the "
                           f"preprocessing scripts?")
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable ({exc})") from None
    if "clip_seconds" not in meta:
        raise DatasetError(f"{path}: has no 'clip_seconds' entry")
    if int(meta["clip_seconds"]) != int(clip_seconds):
        raise DatasetError(f"{path}: features were made with clip_seconds={meta['clip_seconds']} "
                           f"but --clip_seconds is {clip_seconds}")
    return meta


def _rel_to_root(video: Path, data_root: Path, origin: str) -> Path:
    try:
        return rel_to_root(video, data_root)  # paths as written, links kept (datatools.spec)
    except ValueError:
        raise DatasetError(f"{origin}: clip {video} is not under --data_root {data_root}") from None


def label_file_paths(data_root: str | os.PathLike,
                     label_files: Sequence[str | os.PathLike] | None) -> list[Path]:
    """The label files given, or every published one under the data root that exists."""
    root = Path(data_root)
    if label_files:
        return [Path(f) for f in label_files]
    files = [root / f for f in DEFAULT_LABEL_FILES if (root / f).is_file()]
    if not files:
        raise DatasetError(f"{root}: no label file found (looked for "
                           f"{', '.join(DEFAULT_LABEL_FILES)}); pass --label_files")
    return files


def labelled_clips(data_root: str | os.PathLike, label_files: Sequence[str | os.PathLike] | None,
                   clip_seconds: int) -> list[ClipRecord]:
    """Clips of the given label files (default: every published label file that exists), in file
    order.  Labels that are NaN, negative or beyond the clip raise LabelError naming file and line."""
    root = Path(data_root)
    records: list[ClipRecord] = []
    for f in label_file_paths(data_root, label_files):
        for row in read_labels(f, clip_seconds=clip_seconds):
            origin = f"{f}:{row.line}"
            records.append(ClipRecord(_rel_to_root(row.video, root, origin), row.seconds, origin))
    return records


def split_train_val(
    records: Sequence[ClipRecord], data_seed: int
) -> tuple[list[ClipRecord], list[ClipRecord]]:
    """Published split: rotate the clip list left by ``data_seed``, then every 7th clip (positions
    0, 7, 14, ...) is validation, the rest training."""
    n = len(records)
    k = data_seed % n if n else 0
    rotated = list(records[k:]) + list(records[:k])
    return ([r for i, r in enumerate(rotated) if i % 7 != 0],
            [r for i, r in enumerate(rotated) if i % 7 == 0])


def find_test_clips(data_root: str | os.PathLike, test_dir: str | os.PathLike,
               feat_root: str | os.PathLike) -> list[ClipRecord]:
    """Unlabelled clips of ``test_dir``: its sorted *.mp4, or, when the raw videos are absent, the
    clips whose features exist in the mirrored processed folder."""
    root = Path(data_root)
    folder = Path(test_dir)
    if not folder.is_absolute():  # a relative test folder is always relative to the data root
        folder = root / folder
    rel_dir = _rel_to_root(folder, root, "test folder")
    videos = sorted(folder.glob("*" + VIDEO_SUFFIX)) if folder.is_dir() else []
    if videos:
        return [ClipRecord(rel_dir / v.name, None, str(v)) for v in videos]
    feats = sorted((Path(feat_root) / rel_dir).glob("*" + MFCC_SUFFIX))
    if not feats:
        raise DatasetError(f"{folder}: no *.mp4 clips and no processed features in "
                           f"{Path(feat_root) / rel_dir}")
    return [ClipRecord(rel_dir / (p.name[: -len(MFCC_SUFFIX)] + VIDEO_SUFFIX), None, str(p))
            for p in feats]


def _resolve_cache(cache: str, n_clips: int, clip_seconds: int) -> bool:
    if cache in ("ram", "disk"):
        return cache == "ram"
    per_clip = sum(int(np.prod(shape)) * dt.itemsize for _, shape, dt in
                   _feature_specs(clip_seconds).values())
    try:
        total_ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total_ram = 8 << 30
    return per_clip * n_clips < total_ram // 4


class FeatureDataset(Dataset):
    """One item per clip: uint8 frames/ROI and float32 MFCC as numpy arrays (the model side
    converts and normalises on the device, models/inputs.py), plus the target in [0, 1].

    Every feature file is checked (present, shape, dtype) when the dataset is built, so a bad file
    fails at start-up naming the file, not mid-epoch.  ``cache="ram"`` loads everything once;
    ``"disk"`` memory-maps per item; ``"auto"`` picks RAM when it needs < 1/4 of the memory.
    ``shift_aug`` > 0 shifts content and label together by a random whole number of seconds in
    [-shift_aug, shift_aug] (kept inside the clip), padding with zeros (black, silence, no text);
    the shift depends only on (seed, epoch, index), so runs and resumes repeat exactly.
    ``segments`` (one int64 (S,) array or None per record, datatools.segments.segment_truth) adds
    the per-second segment classes as ``"segments"`` (-1 where unknown, shifted with the content)."""

    def __init__(self, records: Sequence[ClipRecord], feat_root: str | os.PathLike, clip_seconds: int,
                 shift_aug: int = 0, seed: int = 0, cache: str = "auto",
                 segments: Sequence[np.ndarray | None] | None = None):
        self.records = list(records)
        if segments is not None and len(segments) != len(self.records):
            raise ValueError(f"{len(segments)} segment arrays for {len(self.records)} clips")
        self.segments = None if segments is None else list(segments)
        self.feat_root = Path(feat_root)
        self.clip_seconds = int(clip_seconds)
        self.shift_aug = int(shift_aug)
        self.seed = int(seed)
        self.epoch = 0
        self.specs = _feature_specs(self.clip_seconds)
        self.paths = [{k: self._checked(r, k) for k in self.specs} for r in self.records]
        self.cached: dict[str, np.ndarray] | None = None
        if self.records and _resolve_cache(cache, len(self.records), self.clip_seconds):
            self.cached = {k: np.stack([np.load(p[k]) for p in self.paths]) for k in self.specs}

    def _checked(self, rec: ClipRecord, key: str) -> Path:
        suffix, shape, dtype = self.specs[key]
        path = feature_path(self.feat_root, rec.rel, suffix)
        if not path.is_file():
            raise DatasetError(f"{path}: processed file missing for clip {rec.rel} "
                               f"({rec.source}); run the preprocessing scripts")
        try:
            arr = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: unreadable .npy ({exc})") from None
        if arr.shape != shape or arr.dtype != dtype:
            raise DatasetError(f"{path}: expected {dtype} {shape}, found {arr.dtype} {arr.shape}")
        return path

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def _arrays(self, i: int) -> dict[str, np.ndarray]:
        if self.cached is not None:
            return {k: v[i] for k, v in self.cached.items()}
        return {k: np.load(p, mmap_mode="r") for k, p in self.paths[i].items()}

    def __getitem__(self, i: int) -> dict:
        arr = self._arrays(i)
        seconds = self.records[i].seconds
        seg = None
        if self.segments is not None:
            seg = (
                self.segments[i] if self.segments[i] is not None else np.full(self.clip_seconds, -1, np.int64)
            )
        if self.shift_aug and seconds is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            lo = max(-self.shift_aug, -math.floor(seconds))
            hi = min(self.shift_aug, math.floor(self.clip_seconds - seconds))
            k = int(rng.integers(lo, hi + 1)) if hi >= lo else 0
            if k:
                arr = {"frames": shift_time(arr["frames"], k, axis=0),
                       "roi": shift_time(arr["roi"], k, axis=0),
                       "mfcc": shift_time(arr["mfcc"], round(k * SAMPLE_RATE / HOP_LENGTH), axis=1)}
                seconds = seconds + k
                if seg is not None:   # zero-filled after the +1: shifted-in seconds are unknown (-1)
                    seg = shift_time(seg + 1, k, axis=0) - 1
        target = np.float32(seconds / self.clip_seconds) if seconds is not None else np.float32("nan")
        item = {"mfcc": np.ascontiguousarray(arr["mfcc"], dtype=np.float32),
                "frames": np.ascontiguousarray(arr["frames"]),
                "roi": np.ascontiguousarray(arr["roi"]),
                "target": target, "index": i,
                "is_end": np.float32(Path(self.records[i].rel).stem.endswith("_end"))}
        if seg is not None:
            item["segments"] = np.ascontiguousarray(seg, dtype=np.int64)
        return item


def shift_time(a: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Move content k steps later (k > 0) or earlier (k < 0) along ``axis``, zero-filling."""
    out = np.zeros_like(a)
    n = a.shape[axis]
    k = max(-n, min(n, k))
    src = [slice(None)] * a.ndim
    dst = [slice(None)] * a.ndim
    if k >= 0:
        src[axis], dst[axis] = slice(0, n - k), slice(k, n)
    else:
        src[axis], dst[axis] = slice(-k, n), slice(0, n + k)
    out[tuple(dst)] = a[tuple(src)]
    return out


def write_synthetic_processed(data_root: str | os.PathLike, n_train: int, n_test: int,
                              clip_seconds: int, seed: int = 0) -> list[tuple[str, float]]:
    """Write a small published-layout dataset straight into processed form (no videos): labels in
    ``data_A/train/labels.txt``, features under ``<data_root>/processed``, test clips of data_C
    present only as features.  The boundary is visible in every modality: frames are bright and
    the MFCC energy high before it, dark and low after, plus noise.  Returns the (stem, seconds)
    labels.  For tests and benchmarks only."""
    from datatools.fileio import atomic_save_npy, atomic_write_json
    from datatools.labels import write_labels

    root = Path(data_root)
    feat = root / "processed"
    rng = np.random.default_rng(seed)
    s, L = clip_seconds, mfcc_length(clip_seconds)
    labels: list[tuple[str, float]] = []

    def write_clip(rel: Path, t: float) -> None:
        step = np.arange(s) + 0.5 < t                              # (S,) before the boundary
        frames = rng.integers(0, 60, (s, FRAME_H, FRAME_W, 3), dtype=np.uint8)
        frames[step] += 150
        roi = (rng.random((s, ROI_H, ROI_W)) < 0.05).astype(np.uint8)
        roi[step, 5:10, 4:30] = 1                                  # a text line while before
        mf = rng.normal(0, 1, (N_MFCC, L)).astype(np.float32)
        mf[0, : int(t * SAMPLE_RATE / HOP_LENGTH)] += 4.0
        atomic_save_npy(feature_path(feat, rel, FRAMES_SUFFIX), frames)
        atomic_save_npy(feature_path(feat, rel, ROI_SUFFIX), roi)
        atomic_save_npy(feature_path(feat, rel, MFCC_SUFFIX), mf)

    for i in range(n_train):
        stem = f"clip{i:04d}_{'start' if i % 2 == 0 else 'end'}"
        t = round(float(rng.uniform(0.15, 0.85) * s), 2)
        write_clip(Path("data_A/train") / (stem + VIDEO_SUFFIX), t)
        labels.append((stem, t))
    write_labels(root / "data_A/train/labels.txt", labels)
    for i in range(n_test):
        stem = f"test{i:04d}_{'start' if i % 2 == 0 else 'end'}"
        write_clip(Path("data_C") / (stem + VIDEO_SUFFIX), float(rng.uniform(0.15, 0.85) * s))
    atomic_write_json(feat / META_NAME, {"clip_seconds": s}, indent=2)
    return labels


__all__ = ["ClipRecord", "DatasetError", "FeatureDataset", "LabelError", "check_meta",
           "labelled_clips", "split_train_val", "find_test_clips", "write_synthetic_processed",
           "DEFAULT_LABEL_FILES", "TEST_DIRS"]
