"""Late openings: an OP that ends after the first S seconds (a long cold open).  When the first
window's OP end is not sure (below ``--scan_below``, by default ``--sure_confidence``), the models run
on later windows of the episode and the window with the strongest evidence answers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from datatools.segments import CLAIM_CONFIDENCE
from preprocessing.stages import Options
from skips.decide import fuse_boundary, inner_edge_of, segment_probs, skip_ranges
from skips.inference import LoadedModel, run_batch
from skips.options import PredictOptions
from skips.prepare import window_features
from skips.result import Draft


def scan_windows(duration: float, clip_seconds: int, hop: float, limit: float) -> list[float]:
    """Start times of the later windows to scan for an opening: hop, 2 hop, ... while the window
    ends by ``limit`` seconds into the episode and before the end clip begins."""
    S = float(clip_seconds)
    last = min(float(limit), float(duration) - S) - S     # the window's start must leave it inside both
    n = int(math.floor(last / hop + 1e-9)) if hop > 0 and last >= hop else 0
    return [round(hop * k, 3) for k in range(1, n + 1)]


def fuse_window(models: Sequence[LoadedModel], raw: Sequence[dict[str, Any]], index: int, offset: float,
                fusion: str) -> tuple[float, float]:
    """(episode-time OP end, confidence) of window ``index`` of a run_batch result (fuse_boundary)."""
    per_model = []
    for m, r in zip(models, raw):
        per_model.append({"kind": m.meta["kind"], "op_end": offset + r["seconds"][index]})
        if "confidence" in r:
            per_model[-1]["confidence"] = {"op_end": r["confidence"][index]}
    answer, _, _, conf = fuse_boundary(models, per_model, "op_end", fusion)
    return answer, conf


def scan_late_opening(res: Draft, models: Sequence[LoadedModel], clip_seconds: int, opts: Options,
                      device: Any, options: PredictOptions,
                      pool: ProcessPoolExecutor | None = None) -> None:
    """When the first window's OP end is not sure (confidence below ``options.scan_below``, resolved:
    skips.decide.resolve_scan_below), run the models on later windows (every ``scan_hop`` s, up to
    ``scan_limit`` s into the episode) and answer from the window whose OP end is the most confident: a
    later window where it beats the first and claims an OP end itself (CLAIM_CONFIDENCE).  ``res.scan``
    lists every window tried (start, answer, confidence)."""
    S = int(clip_seconds)
    if (
        not models
        or not res.ok
        or res.confidence.get("op_end", 0.0) >= options.scan_below
        or options.scan_limit <= 0
    ):
        return
    hop = float(options.scan_hop or S / 2)
    starts = scan_windows(res.duration, S, hop, options.scan_limit)
    if not starts:
        return
    feats = window_features(res.file, starts, S, opts, options.workers, pool)
    starts = starts[:len(feats)]
    if not feats:
        return
    pictures = res.plot.get("pictures")
    if pictures is not None:   # season mode: the head's pictures as far as the scan decoded them
        from fuse.pictures import extend_head

        pictures["start"] = extend_head(pictures["start"], [(t, f["frames"]) for t, f in zip(starts, feats)])
    raw = run_batch(models, feats, ["start"] * len(feats), S, device)
    tried = [{"start": 0.0, "op_end": round(res.op_end, 3), "confidence": round(res.confidence["op_end"], 4)}]
    best = None
    if "op_end" in res.support:
        tried[0]["support"] = round(res.support["op_end"], 4)
    for i, t in enumerate(starts):
        answer, conf = fuse_window(models, raw, i, t, options.fusion)
        p = segment_probs(raw, i)
        sup = None
        if p is not None:   # the segment head's word on this window's answer, as in the first window
            from models.dense import segment_support, supported_confidence
            sup = segment_support(p, "start", answer - t)
            conf = supported_confidence(conf, sup)
        tried.append({"start": t, "op_end": round(answer, 3), "confidence": round(conf, 4)})
        if sup is not None:
            tried[-1]["support"] = round(sup, 4)
        present = [r["present"][i] for r in raw if "present" in r]
        if present:   # P(the OP ends inside this window), the dense kind's state head
            tried[-1]["present"] = round(max(present), 4)
        # a later window answers only where it claims an OP end itself: replacing an unsure first
        # answer by a window that claims none, far into the story, only moves the error
        if (conf >= CLAIM_CONFIDENCE and conf > res.confidence["op_end"]
                and (best is None or conf > best[1])):
            best = (answer, conf, t, i)
    res.scan = tried
    if best is not None:
        from models.dense import decode_spans

        res.op_end, res.confidence["op_end"] = best[0], best[1]
        res.safe_edges.pop("op_end", None)   # the first window's posterior no longer speaks for it
        per_model = [{"op_end": best[2] + r["seconds"][best[3]]} for r in raw]
        inner = inner_edge_of(raw, per_model, "op_end", best[0], res.duration, S, key=best[3], offset=best[2])
        if inner is not None:
            res.safe_edges["op_end"] = inner
        if "support" in tried[best[3] + 1]:
            res.support["op_end"] = tried[best[3] + 1]["support"]
        # the OP range only
        res.op = skip_ranges(best[0], res.ed_start, res.duration, options.op_length, 0.0)[0]
        res.span_source["op_start"] = f"assumed {options.op_length:g} s"
        res.safe_edges.pop("op_start", None)
        res.source["op_end"] = f"models (window at {best[2]:g} s)"
        p = segment_probs(raw, best[3])
        got = None if p is None else decode_spans(p, "start", best[0] - best[2])
        if got is not None and got["op_start"] is not None:
            res.op, res.span_source["op_start"] = (best[2] + got["op_start"], best[0]), "segments"
            res.safe_edges["op_start"] = best[2] + got["op_start_latest"]
