"""Per-second segment truth of a clip, from a generator's (or a user's) ``spans.json``.

Every second of a clip is one of ``SEGMENT_CLASSES``: story (cold open, recap, body, C-part),
opening, ending, preview (next-episode preview), or other (black gaps, title, sponsor and end
cards).  The dense kind's segment head (models/dense.py) is trained on these where a
``spans.json`` lies beside the label file, and predict.py reads OP start, ED end and the preview
from it instead of assuming lengths.

``spans.json`` needs, per episode, ``duration``, ``op_start``/``op_end``, ``ed_start``/``ed_end``
(episode seconds; null when absent), optionally ``preview`` and ``gaps``/``title_card``/
``sponsor``/``end_card``/``eyecatch`` spans, and ``clips.start|end.file`` and ``.offset`` (where the clip
begins in the episode) -- what ``python -m datatools.synth`` writes.

    truth = segment_truth(records, "data", 200)   # one int64 (S,) array or None per record
    extra = beyond_window_clips("data", ["data/data_A/train/labels.txt"], 200)

``beyond_window_clips`` finds the start clips that a ``spans.json`` lists without a label because
the opening ends after them (a late opening after a long cold open, or no opening at all): the
dense kind trains on them as windows *without* a boundary, so that it can say "no OP end here" and
predict.py scans further into the episode.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from datatools.spec import rel_to_root

SEGMENT_CLASSES = ("story", "opening", "ending", "preview", "other")
STORY, OPENING, ENDING, PREVIEW, OTHER = range(len(SEGMENT_CLASSES))
# A start window whose OP-end confidence reaches this answers; below it predict.py scans later
# windows (its --scan_below default), and a dense model's validation counts such a window without
# an OP end as a false claim (models/engine.py, window_costs).
CLAIM_CONFIDENCE = 0.5
UNKNOWN = -1            # no truth for this second (a shifted-in second, a clip without spans.json)
SPANS_FILE = "spans.json"


def episode_seconds(ep: Mapping, duration: float) -> list[tuple[int, float, float]]:
    """(class, start, end) spans of one episode in episode seconds, later entries winning."""
    spans: list[tuple[int, float, float]] = []
    for key in ("gaps",):
        spans += [(OTHER, float(a), float(b)) for a, b in ep.get(key) or []]
    for key in ("title_card", "sponsor", "end_card", "eyecatch"):
        if ep.get(key):
            spans.append((OTHER, float(ep[key][0]), float(ep[key][1])))
    if ep.get("op_start") is not None and ep.get("op_end") is not None:
        spans.append((OPENING, float(ep["op_start"]), float(ep["op_end"])))
    if ep.get("ed_start") is not None and ep.get("ed_end") is not None:
        spans.append((ENDING, float(ep["ed_start"]), float(ep["ed_end"])))
    if ep.get("preview"):
        spans.append((PREVIEW, float(ep["preview"][0]), float(ep["preview"][1])))
    return [(c, max(0.0, a), min(float(duration), b)) for c, a, b in spans if b > a]


def clip_segments(ep: Mapping, kind: str, clip_seconds: int) -> np.ndarray:
    """int64 (S,): the class of each second of the ``kind`` ("start"/"end") clip, judged at the
    second's middle (bin k covers [k, k + 1) of the clip)."""
    S = int(clip_seconds)
    off = float(ep["clips"][kind]["offset"])
    t = off + np.arange(S) + 0.5
    out = np.full(S, STORY, np.int64)
    for c, a, b in episode_seconds(ep, float(ep["duration"])):
        out[(t >= a) & (t < b)] = c
    return out


def load_spans(folder: str | os.PathLike) -> dict | None:
    """The ``spans.json`` document of a label file's folder, or None when there is none."""
    path = Path(folder) / SPANS_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable spans file ({exc})") from None


def segment_truth(
    records: Sequence, data_root: str | os.PathLike, clip_seconds: int
) -> list[np.ndarray | None]:
    """Per record (``rel`` relative to the data root), its clip's segment truth from the
    ``spans.json`` beside it, or None where there is none (or it was made for another S)."""
    root = Path(data_root)
    docs: dict[Path, dict[str, tuple[dict, str]] | None] = {}
    out: list[np.ndarray | None] = []
    for rec in records:
        folder = Path(rec.rel).parent
        if folder not in docs:
            doc = load_spans(root / folder)
            if doc is None or int(doc.get("clip_seconds", clip_seconds)) != int(clip_seconds):
                docs[folder] = None
            else:
                docs[folder] = {Path(c["file"]).stem: (ep, kind) for ep in doc["episodes"].values()
                                for kind, c in ep["clips"].items()}
        found = (docs[folder] or {}).get(Path(rec.rel).stem)
        out.append(clip_segments(found[0], found[1], clip_seconds) if found else None)
    return out


def _beyond_start(ep: Mapping, clip_seconds: int) -> bool:
    """The episode's OP ends after its start clip (or it has no opening): no OP end in the clip."""
    clip = ep.get("clips", {}).get("start")
    if not clip or not clip.get("no_label"):
        return False
    op_end = ep.get("op_end")
    return op_end is None or float(op_end) >= float(clip.get("offset", 0.0)) + clip_seconds


class BeyondClip(NamedTuple):
    """A start clip without an OP end in it (datatools.segments.beyond_window_clips)."""
    rel: Path                   # clip path relative to the data root
    segments: np.ndarray        # its per-second segment truth (clip_segments)
    op_end: float | None        # where the opening does end, in clip seconds (None: no opening)


def beyond_window_clips(data_root: str | os.PathLike, label_files: Sequence[str | os.PathLike],
                        clip_seconds: int) -> list[BeyondClip]:
    """Every start clip that the ``spans.json`` beside a label file lists unlabelled because the
    opening ends after it (or the episode has none), in file order (whether their features exist
    is the caller's check)."""
    root = Path(data_root)
    out: list[BeyondClip] = []
    seen: set[Path] = set()
    for f in label_files:
        folder = Path(f).parent
        if folder in seen:
            continue
        seen.add(folder)
        doc = load_spans(folder)
        if doc is None or int(doc.get("clip_seconds", clip_seconds)) != int(clip_seconds):
            continue
        for ep in doc.get("episodes", {}).values():
            if not _beyond_start(ep, clip_seconds):
                continue
            video = folder / ep["clips"]["start"]["file"]
            op_end = None if ep.get("op_end") is None else \
                float(ep["op_end"]) - float(ep["clips"]["start"].get("offset", 0.0))
            out.append(BeyondClip(rel_to_root(video, root), clip_segments(ep, "start", clip_seconds), op_end))
    return out


__all__ = ["BeyondClip", "CLAIM_CONFIDENCE", "beyond_window_clips",
           "SEGMENT_CLASSES", "STORY", "OPENING", "ENDING", "PREVIEW", "OTHER", "UNKNOWN",
           "episode_seconds", "clip_segments", "load_spans", "segment_truth"]
