"""Label files and submission files of SPEC.md section 1 (pure I/O, no heavy imports).

Label file: one clip per line, ``<clip_stem> <seconds>`` separated by one space; clip paths are
relative to the folder holding the label file.  Submission: ``<clip_file_name>,<s|e>,<seconds>``
with three decimals, no header, one line per clip in the order the clips were read.

    from datatools.labels import read_labels, write_submission
    rows = read_labels("data/data_A/train/labels.txt")   # [LabelRow(...), ...]
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from datatools.fileio import atomic_write_text
from datatools.spec import clip_path

VIDEO_SUFFIX = ".mp4"


class LabelError(ValueError):
    """A label or submission file that cannot be trusted; the message names file and line."""


@dataclass(frozen=True)
class LabelRow:
    stem: str          # clip stem as written in the label file, e.g. "LvrN2l3L_start" or "sub/x_end"
    seconds: float     # target time in seconds from the clip start
    video: Path        # absolute path of the clip video the row names, links kept (spec.clip_path)
    label_file: Path   # the label file the row came from
    line: int          # 1-based line number in that file

    @property
    def kind(self) -> str:
        return clip_kind(self.stem)


def clip_kind(name: str) -> str:
    """'s' for an ``*_start`` clip, 'e' for an ``*_end`` clip (name with or without suffix)."""
    stem = Path(name).name
    if stem.endswith(VIDEO_SUFFIX):
        stem = stem[: -len(VIDEO_SUFFIX)]
    if stem.endswith("_start"):
        return "s"
    if stem.endswith("_end"):
        return "e"
    raise LabelError(f"{name}: clip name must end in _start or _end")


def read_labels(path: str | os.PathLike, clip_seconds: float | None = None,
                check_videos: bool = False) -> list[LabelRow]:
    """Parse one label file.  Raises LabelError naming file and line for anything malformed:
    a wrong field count, an unparsable, NaN/inf or negative time, a time beyond ``clip_seconds``,
    a clip name that is neither _start nor _end, a duplicate clip, or (with ``check_videos``)
    a clip whose video file does not exist."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: label file not found")
    rows: list[LabelRow] = []
    seen: dict[str, int] = {}
    # utf-8-sig: a byte-order mark (Windows editors) is not part of the first clip's name
    with open(path, encoding="utf-8-sig") as fh:
        for ln, raw in enumerate(fh, 1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.split()
            if len(parts) != 2:
                raise LabelError(f"{path}:{ln}: expected '<clip_stem> <seconds>', got {text!r}")
            stem, value = parts
            if stem.endswith(VIDEO_SUFFIX):
                stem = stem[: -len(VIDEO_SUFFIX)]
            try:
                seconds = float(value)
            except ValueError:
                raise LabelError(f"{path}:{ln}: time {value!r} is not a number") from None
            if not math.isfinite(seconds) or seconds < 0:
                raise LabelError(f"{path}:{ln}: time {value!r} is not a finite non-negative number")
            if clip_seconds is not None and seconds > clip_seconds:
                raise LabelError(f"{path}:{ln}: time {seconds} is beyond the clip length {clip_seconds}")
            try:
                clip_kind(stem)
            except LabelError as exc:
                raise LabelError(f"{path}:{ln}: {exc}") from None
            if stem in seen:
                raise LabelError(f"{path}:{ln}: clip {stem} already labelled on line {seen[stem]}")
            seen[stem] = ln
            video = clip_path(path.parent / (stem + VIDEO_SUFFIX))  # links kept (datatools.spec)
            if check_videos and not video.is_file():
                raise LabelError(f"{path}:{ln}: clip {stem} names {video}, which does not exist")
            rows.append(LabelRow(stem, seconds, video, clip_path(path), ln))
    return rows


def write_labels(path: str | os.PathLike, items: Iterable[tuple[str, float]]) -> None:
    """Write ``<stem> <seconds>`` lines (4 decimals), atomically."""
    text = "".join(f"{stem} {sec:.4f}\n" for stem, sec in items)
    atomic_write_text(Path(path), text)


@dataclass(frozen=True)
class SubmissionRow:
    clip: str       # clip file name, e.g. "0NJvw4n0_start.mp4"
    kind: str       # 's' or 'e'
    seconds: float
    # 1-based line in the file it was read from (0 when built in code); not part of equality,
    # so rows from two files compare by content.  Lets callers name the line in their errors.
    line: int = field(default=0, compare=False)


def format_submission_line(clip: str, seconds: float) -> str:
    name = Path(clip).name
    if not name.endswith(VIDEO_SUFFIX):
        name += VIDEO_SUFFIX
    return f"{name},{clip_kind(name)},{seconds:.3f}"


def write_submission(path: str | os.PathLike, items: Sequence[tuple[str, float]]) -> None:
    """Write a submission (clip name or stem, seconds) in the given order, atomically."""
    for clip, sec in items:
        if not math.isfinite(float(sec)):
            raise LabelError(f"{path}: refusing to write non-finite time {sec!r} for {clip}")
    text = "".join(format_submission_line(c, float(s)) + "\n" for c, s in items)
    atomic_write_text(Path(path), text)


def write_confidence(path: str | os.PathLike, items: Iterable[tuple[str, float]]) -> None:
    """Write a confidence sidecar (``clip,confidence`` rows, fuse/fuse.py's read_confidence), atomically."""
    atomic_write_text(Path(path), "clip,confidence\n" + "".join(f"{c},{float(v):.4f}\n" for c, v in items))


def read_submission(path: str | os.PathLike) -> list[SubmissionRow]:
    """Parse a submission CSV; LabelError names file and line for malformed, NaN or duplicate rows."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: submission file not found")
    rows: list[SubmissionRow] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8-sig") as fh:
        for ln, raw in enumerate(fh, 1):
            text = raw.strip()
            if not text:
                continue
            parts = [p.strip() for p in text.split(",")]
            if len(parts) != 3:
                raise LabelError(f"{path}:{ln}: expected '<clip>,<s|e>,<seconds>', got {text!r}")
            clip, kind, value = parts
            try:
                seconds = float(value)
            except ValueError:
                raise LabelError(f"{path}:{ln}: time {value!r} is not a number") from None
            if not math.isfinite(seconds):
                raise LabelError(f"{path}:{ln}: time {value!r} is not finite")
            if kind not in ("s", "e"):
                raise LabelError(f"{path}:{ln}: type {kind!r} must be 's' or 'e'")
            try:
                expected = clip_kind(clip)
            except LabelError as exc:
                raise LabelError(f"{path}:{ln}: {exc}") from None
            if kind != expected:
                raise LabelError(f"{path}:{ln}: type {kind!r} does not match clip name {clip}")
            if clip in seen:
                raise LabelError(f"{path}:{ln}: clip {clip} already given on line {seen[clip]}")
            seen[clip] = ln
            rows.append(SubmissionRow(clip, kind, seconds, ln))
    return rows
