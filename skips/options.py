"""The settings of a whole-episode run (``PredictOptions``, what predict.py's flags set) and their
defaults; the bottom of skips/: every other module of the package may import it, it imports none.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from datatools.spec import DEFAULT_CLIP_SECONDS
from preprocessing.media import DEFAULT_OCR_SIZE
from preprocessing.ocr import DEFAULT_BACKEND, DEFAULT_REUSE_DIFF

FORMATS = ("json", "csv", "edl", "chapters", "xml", "jellyfin", "mpv", "aniskip")
DEFAULT_FORMATS = ("json", "csv")
DEFAULT_EDL_ACTION = 3          # Kodi: commercial break (skipped automatically, can be rewound)
DEFAULT_THEME_LENGTH_S = 90.0   # TV-size theme songs run about 90 s
DEFAULT_SKIP_MARGIN_S = 1.0    # the metric's own tolerance: a second of theme kept rather than of story lost
# The outer edges of the skip ranges (OP start, ED end, the preview) come from the segment head or an
# assumed length and are less exact than the boundaries the models answer; the range also stops at the
# segment head's innermost plausible OP start / ED end (skips.decide.skip_ranges_from_spans).
# Why 1 s (it was 3 s): docs/decisions.md, "Skip ranges that keep the story".
DEFAULT_EDGE_MARGIN_S = 1.0
DEFAULT_SCAN_LIMIT_S = 600.0    # the late-opening scan looks no further into an episode
# --sure_confidence auto: with a dense checkpoint, an OP end or ED start answered below it is hedged:
# its skip range stops at the innermost plausible place of its boundary posterior
# (models.dense.inner_edge).  Why 0.9: docs/decisions.md, "Windows without a boundary;
# --min_confidence auto 0.9".
DEFAULT_SURE_CONFIDENCE = 0.9
# --min_confidence auto with a dense checkpoint: below it an answer is withheld, between it and
# --sure_confidence it is hedged.  Why 0.7: docs/decisions.md, "Hedged answers".
DEFAULT_MIN_CONFIDENCE = 0.7

Log = Callable[[str], None]


def to_stderr(line: str) -> None:
    """The default ``log`` of a run: one line on standard error."""
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class PredictOptions:
    """Everything a run needs besides its episode files, as predict.py's flags of the same names
    (``formats`` is ``--format`` parsed, ``progress`` is ``not --no_progress``)."""
    # input / output
    weights: tuple[str, ...] | None = None       # None: the shipped model; ("none",): no model at all
    out: str = "predict_out"
    formats: tuple[str, ...] = DEFAULT_FORMATS
    apply_chapters: bool = False
    next_to_video: bool = False
    plot: str | None = None                      # folder for timeline PNGs
    # skip ranges
    op_length: float = DEFAULT_THEME_LENGTH_S
    ed_length: float = DEFAULT_THEME_LENGTH_S
    skip_margin: float = DEFAULT_SKIP_MARGIN_S
    edge_margin: float = DEFAULT_EDGE_MARGIN_S
    edl_action: int = DEFAULT_EDL_ACTION
    # late openings
    scan_below: float | None = None              # None: auto (skips.decide.resolve_scan_below)
    scan_hop: float | None = None                # None: S / 2
    scan_limit: float = DEFAULT_SCAN_LIMIT_S
    # models
    fusion: str = "kmeans"
    season: bool = False
    season_rule: str | None = None               # None: the weights' folder's (inference.model_season_rule)
    min_confidence: float | None = None          # None: auto (resolve_min_confidence)
    sure_confidence: float | None = None         # None: auto (resolve_sure_confidence)
    clip_seconds: int = DEFAULT_CLIP_SECONDS     # S with --weights none
    device: str = "auto"
    # run
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    progress: bool = True
    # OCR
    ocr_backend: str = DEFAULT_BACKEND
    ocr_size: int = DEFAULT_OCR_SIZE
    reuse_diff: float = DEFAULT_REUSE_DIFF

    def __post_init__(self) -> None:
        if min(self.op_length, self.ed_length, self.skip_margin, self.edge_margin) < 0:
            raise ValueError("--op_length, --ed_length, --skip_margin and --edge_margin must be >= 0")
        bad = [f for f in self.formats if f not in FORMATS]
        if bad:
            raise ValueError(f"unknown format(s) {bad}; choose from all or {','.join(FORMATS)}")
