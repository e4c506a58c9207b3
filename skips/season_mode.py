"""Season mode (fuse/season.py): the theme songs of the episodes given together are matched by
Chromaprint, and where fuse.season_rule lets a sibling match decide a boundary it replaces the model
consensus.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from skips.prepare import clip_offset, episode_time
from skips.result import EpisodeResult


def apply_season_mode(results: Sequence[EpisodeResult], clip_seconds: int,
                      rule_path: str | None = None) -> None:
    """Match the start/end clips of all good episodes by Chromaprint; where fuse.season's rule
    (``rule_path``, fitted offsets; None: the built-in parameters) lets the sibling match decide,
    replace the model consensus and take the skip range's other end from the shared span itself
    unless the segment head measured it (``span_source``).  ``source`` says per boundary which one
    decided."""
    from fuse.season import load_rule, season_rows
    from fuse.season_rule import decide, mass_near, model_reliability, widen_for_clip_set

    rule = load_rule(rule_path)
    offsets = json.loads(Path(rule_path).read_text(encoding="utf-8")) if rule_path else None

    good = [r for r in results if r.ok and "chroma" in r.plot]
    if len(good) < 2:
        return
    fps, kinds = {}, {}
    for i, r in enumerate(good):
        for kind, k in (("start", "s"), ("end", "e")):
            fps[f"{i}_{kind}"] = r.plot["chroma"][kind]
            kinds[f"{i}_{kind}"] = k
    rows = {row.clip: row for row in season_rows(fps, kinds, offsets=offsets, clip_seconds=clip_seconds)}
    rule = widen_for_clip_set(
        rule, [r.span_end - r.span_start for r in rows.values() if r.source == "season"]
    )
    S = clip_seconds
    for i, r in enumerate(good):
        D = r.duration
        for kind, name in (("start", "op_end"), ("end", "ed_start")):
            row = rows[f"{i}_{kind}"]
            if row.source != "season":
                continue
            span = [episode_time(kind, row.span_start, D, S), episode_time(kind, row.span_end, D, S)]
            r.season[kind] = {"span": [round(x, 3) for x in span], "siblings": row.siblings,
                              "spread": round(row.spread_s, 3)}
            model_clip = getattr(r, name) - clip_offset(kind, D, S)
            p_models = r.confidence.get(name)   # decide_episode's boundary_confidence
            if p_models is None:
                confs = [m["confidence"][name] for m in r.models if "confidence" in m]
                p_models = model_reliability([m[name] for m in r.models], getattr(r, name),
                                             max(confs) if confs else None, rule)
            # the dense models' own probability of the matched time (their mean per-second posterior)
            posts = [sc[kind] for sc, m in zip(r.plot.get("scores", []), r.models) if "confidence" in m]
            q = mass_near(np.mean(posts, 0), row.seconds) if posts else None
            d = decide(row.kind, model_clip, p_models, row.seconds, row.siblings, row.spread_s,
                       row.span_start, row.span_end, S, rule, q)
            r.season[kind]["reason"] = d.reason
            if d.source == "season":
                r.confidence[name] = d.confidence
                setattr(r, name, episode_time(kind, row.seconds, D, S))
                r.source[name] = "season"
                r.safe_edges.pop(name, None)   # the models' posterior does not hedge the matched time
                # the span's other end is the song's, which may lead in before the OP pictures: a
                # span the segment head measured keeps its measured end
                if kind == "start":
                    measured = r.span_source.get("op_start") == "segments" and r.op[0] < r.op_end
                    r.op = (r.op[0] if measured else max(0.0, span[0]), r.op_end)
                    r.span_source["op_start"] = "segments" if measured else "season"
                    if not measured:
                        r.safe_edges.pop("op_start", None)
                else:
                    measured = r.span_source.get("ed_end") == "segments" and r.ed[1] > r.ed_start
                    r.ed = (r.ed_start, r.ed[1] if measured else min(D, span[1]))
                    r.span_source["ed_end"] = "segments" if measured else "season"
                    if not measured:
                        r.safe_edges.pop("ed_end", None)
