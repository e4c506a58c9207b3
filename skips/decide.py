"""Deciding an episode from its models' answers: fusing each boundary (fuse/fuse.py's rule, a
dense model anchoring it), its confidence, the skip ranges (assumed lengths or the segment head's
spans), and after the run the threshold that withholds unsure answers and the skip margin.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from skips.inference import LoadedModel
from skips.options import DEFAULT_MIN_CONFIDENCE, DEFAULT_SURE_CONFIDENCE, PredictOptions
from skips.prepare import WINDOWS, Prepared, clip_offset, episode_time
from skips.result import Draft, preview_range

DEFAULT_MODEL_TRUST = 0.5   # P(within 2 s) of a checkpoint that states no validation figure


def skip_ranges(op_end: float, ed_start: float, duration: float, op_length: float,
                ed_length: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """``op = [max(0, op_end - op_length), op_end]``, ``ed = [ed_start, min(duration, ed_start +
    ed_length)]`` in episode seconds."""
    op = (max(0.0, op_end - op_length), op_end)
    ed = (ed_start, min(float(duration), ed_start + ed_length))
    return op, ed


# ----------------------------------------------------------------------------------------------
# One episode's boundaries and spans


def segment_probs(raw: Sequence[dict[str, Any]], key: Any) -> np.ndarray | None:
    """Mean per-second segment probabilities (K, S) over the models that give them (the dense
    kind), for clip ``key`` of run_models / run_batch output; None when no model has a segment head."""
    got = [np.asarray(r["segments"][key]) for r in raw if "segments" in r]
    return np.mean(got, 0) if got else None


def cap_by_support(res: Draft, name: str, probs: np.ndarray, kind: str, clip_boundary: float) -> None:
    """Record the segment head's support for a boundary (models.dense.segment_support) and let it
    veto the confidence where it contradicts the answer (models.dense.supported_confidence: an OP
    end with no opening before it, an ED start with no ending after it, cannot be right)."""
    from models.dense import segment_support, supported_confidence

    sup = segment_support(probs, kind, clip_boundary)
    res.support[name] = sup
    if name in res.confidence:
        res.confidence[name] = supported_confidence(res.confidence[name], sup)


def preview_calibration(models: Sequence[LoadedModel]) -> dict | None:
    """The preview confidence map of the run's model when it is the only one (the shipped model:
    bench.train_shipped fits it on its calibration series); None when it has none or others run too."""
    return models[0].meta.get("preview_calibration") if len(models) == 1 else None


def measure_spans(res: Draft, raw: Sequence[dict[str, Any]], clip_seconds: int,
                  options: PredictOptions, preview_cal: dict | None = None) -> None:
    """OP start, ED end and the preview from the segment head (models.dense.decode_spans) where a
    model has one and sees the span; else the assumed lengths (``options.op_length`` / ``ed_length``).
    ``res.span_source`` says which, per span.  A measured preview has a confidence of its own: its
    mean preview probability through ``preview_cal`` (P(its start within 2 s), fitted on held-out
    series) where the model brings that map, else ED start's confidence times that probability."""
    from models.calibration import apply_calibration
    from models.dense import decode_spans

    D, S = res.duration, clip_seconds
    res.op, res.ed = skip_ranges(res.op_end, res.ed_start, D, options.op_length, options.ed_length)
    res.span_source = {"op_start": f"assumed {options.op_length:g} s",
                       "ed_end": f"assumed {options.ed_length:g} s",
                       "preview": "rest after the ending"}
    p = segment_probs(raw, "start")
    if p is not None:
        cap_by_support(res, "op_end", p, "start", res.op_end - clip_offset("start", D, S))
        got = decode_spans(p, "start", res.op_end - clip_offset("start", D, S))
        if got["op_start"] is not None:
            res.op = (episode_time("start", got["op_start"], D, S), res.op_end)
            res.span_source["op_start"] = "segments"
            res.safe_edges["op_start"] = episode_time("start", got["op_start_latest"], D, S)
    p = segment_probs(raw, "end")
    if p is not None:
        off = clip_offset("end", D, S)
        cap_by_support(res, "ed_start", p, "end", res.ed_start - off)
        got = decode_spans(p, "end", res.ed_start - off)
        if got["ed_end"] is not None:
            res.ed, res.span_source["ed_end"] = (res.ed_start, off + got["ed_end"]), "segments"
            res.safe_edges["ed_end"] = off + got["ed_end_earliest"]
        res.preview = None if got["preview"] is None else (off + got["preview"][0], off + got["preview"][1])
        res.span_source["preview"] = "segments" if got["preview"] else "segments (none seen)"
        if got["preview"] and preview_cal:
            res.confidence["preview"] = float(apply_calibration(got["preview_share"], preview_cal))
        elif got["preview"]:
            res.confidence["preview"] = float(res.confidence.get("ed_start", 1.0) * got["preview_share"])


def boundary_confidence(models: Sequence[LoadedModel], per_model: Sequence[dict], name: str,
                        answer: float, weights: Sequence[float]) -> float:
    """P(the answer is within 2 s) for one boundary: the best calibrated confidence of the models
    that give one (the dense kind; models/calibration.py, fitted on their validation split), else
    the share of the models within 2 s of the answer times their validation within-2-s share
    (fuse.season_rule.model_reliability)."""
    from fuse.season_rule import SeasonRule, model_reliability
    from models.calibration import apply_calibration

    confs = [apply_calibration(p["confidence"][name], m.meta.get("calibration"))
             for m, p in zip(models, per_model) if "confidence" in p]
    if confs:
        return float(max(confs))
    shares = [m.meta["validation"]["within_2s"] for m in models if (m.meta.get("validation") or {}).get("n")]
    trust = float(np.mean(shares)) if shares else DEFAULT_MODEL_TRUST
    return model_reliability(
        [p[name] for p in per_model], answer, None, SeasonRule(model_trust=trust), weights
    )


def fuse_boundary(models: Sequence[LoadedModel], per_model: Sequence[dict], name: str, fusion: str):
    """One boundary from every model's answer (``per_model[i][name]``, episode time): the fused
    answer, its source ("models", or the kind of the one model that answered alone, e.g. dense), the
    fuse.fuse.ClipFusion and the confidence.

    A dense model weighs as much as all the other models together: they refine its answer where they
    agree with it, never outvote it; where its confidence is at least fuse.fuse.TRUST_MIN it answers
    alone (the rule of demo.py's fusion+dense, fuse.py --weight/--trust)."""
    from fuse.fuse import TRUST_MIN, fuse_clip
    from models.kinds import offers

    anchor = [offers(p["kind"], "anchors_fusion") for p in per_model]
    others = sum(not a for a in anchor)
    weights = [float(max(1, others)) if a else 1.0 for a in anchor]
    f = fuse_clip([p[name] for p in per_model], fusion, None if fusion == "median" else weights)
    answer, source = f.seconds, "models"
    trusted = [p for p in per_model if p.get("confidence", {}).get(name, 0.0) >= TRUST_MIN]
    if trusted:
        best = max(trusted, key=lambda p: p["confidence"][name])
        answer, source = best[name], best["kind"]
    return answer, source, f, boundary_confidence(models, per_model, name, answer, weights)


def decide_episode(rel: str, prepared: Prepared, models: Sequence[LoadedModel],
                   raw: Sequence[dict[str, Any]], clip_seconds: int, options: PredictOptions
                   ) -> Draft:
    """Fuse the models' clip times per boundary and map everything to episode time."""
    D, S = prepared.duration, clip_seconds
    res = Draft(prepared.path, rel, True, duration=D)
    res.plot = {"energy": prepared.energy, "text": prepared.text,
                "scores": [r["per_second"] for r in raw], "clip_seconds": S}
    if options.season:
        res.plot["chroma"] = {k: prepared.features[k]["chroma"] for k in WINDOWS}
        res.plot["pictures"] = {k: prepared.features[k]["pictures"] for k in WINDOWS}
    if not models:   # season mode alone (--weights none): no answer until a sibling's match gives one
        nan = float("nan")
        res.op, res.ed = (nan, nan), (nan, nan)
        for name in ("op_end", "ed_start"):
            res.spread[name], res.source[name], res.confidence[name] = nan, "none", 0.0
        res.span_source = {"op_start": "none", "ed_end": "none", "preview": "none"}
        return res
    per_model = []
    for m, r in zip(models, raw):
        per_model.append({"weights": m.path, "kind": m.meta["kind"], "preset": m.meta["preset"],
                          "op_end": round(episode_time("start", r["seconds"]["start"], D, S), 3),
                          "ed_start": round(episode_time("end", r["seconds"]["end"], D, S), 3)})
        if "confidence" in r:   # the dense kind: posterior mass within 2 s of its answer
            per_model[-1]["confidence"] = {"op_end": round(r["confidence"]["start"], 4),
                                           "ed_start": round(r["confidence"]["end"], 4)}
    res.models = per_model
    for name in ("op_end", "ed_start"):
        answer, source, f, conf = fuse_boundary(models, per_model, name, options.fusion)
        setattr(res, name, answer)
        res.spread[name] = float(np.ptp([p[name] for p in per_model]))
        res.fusion[name] = {"method": options.fusion, "kept": f.kept, "rejected": f.rejected,
                            "gap": round(f.gap, 3)}
        res.source[name], res.confidence[name] = source, conf
        inner = inner_edge_of(raw, per_model, name, answer, D, S)
        if inner is not None:
            res.safe_edges[name] = inner
    measure_spans(res, raw, S, options, preview_calibration(models))
    return res


def inner_edge_of(raw: Sequence[dict[str, Any]], per_model: Sequence[dict], name: str, answer: float,
                  duration: float, clip_seconds: int, key: Any = None,
                  offset: float | None = None) -> float | None:
    """The innermost plausible place of a boundary answer (episode seconds; models.dense.inner_edge)
    from the boundary posteriors of the models that give one and answered within 0.5 s of it (the
    dense kind), the innermost over them; None where none did (nothing to hedge the answer by).
    ``key``: the clip in ``raw`` (default: "start" / "end" by ``name``); ``offset``: its start in the
    episode (default: clip_offset)."""
    from models.dense import inner_edge

    kind = "start" if name == "op_end" else "end"
    off = clip_offset(kind, duration, clip_seconds) if offset is None else offset
    got = [inner_edge(r["posterior"][kind if key is None else key], kind, answer - off)
           for r, p in zip(raw, per_model) if "posterior" in r and abs(p[name] - answer) <= 0.5]
    if not got:
        return None
    return off + (min(got) if kind == "start" else max(got))


# ----------------------------------------------------------------------------------------------
# After the run: withholding unsure answers, narrowing the skip ranges


def resolve_min_confidence(value: float | None, models: Sequence[LoadedModel]) -> tuple[float, str]:
    """The threshold ``--min_confidence`` means, and why: a number as given; ``None`` (auto)
    DEFAULT_MIN_CONFIDENCE when a model gives its own calibrated confidence (the dense kind), else 0
    (the other kinds' agreement-based confidence never reaches it: they would answer nothing)."""
    if value is not None:
        return float(value), "given"
    if auto_min_confidence([m.meta.get("kind") for m in models]):
        return DEFAULT_MIN_CONFIDENCE, "auto: a dense model gives a calibrated confidence"
    return 0.0, "auto: no model gives a calibrated confidence (no dense checkpoint), every answer is kept"


def auto_min_confidence(kinds: Sequence[str | None]) -> float:
    """``--min_confidence auto`` for checkpoints of these model kinds (resolve_min_confidence)."""
    from models.kinds import offers

    return DEFAULT_MIN_CONFIDENCE if any(offers(k, "calibrated_confidence") for k in kinds) else 0.0


def resolve_sure_confidence(value: float | None, models: Sequence[LoadedModel]) -> tuple[float, str]:
    """The threshold ``--sure_confidence`` means, and why: a number as given; ``None`` (auto)
    DEFAULT_SURE_CONFIDENCE when a model gives a calibrated confidence and a boundary posterior (the
    dense kind), else 0 (nothing to hedge an answer by: every answer kept is kept whole)."""
    if value is not None:
        return float(value), "given"
    from models.kinds import offers

    if any(offers(m.meta.get("kind"), "boundary_posterior") for m in models):
        return DEFAULT_SURE_CONFIDENCE, "auto: a dense model gives a boundary posterior to hedge by"
    return 0.0, "auto: no dense checkpoint, no answer is hedged"


def resolve_scan_below(value: float | None, sure_confidence: float | None,
                       models: Sequence[LoadedModel]) -> tuple[float, str]:
    """The threshold ``--scan_below`` means, and why: a number as given; ``None`` (auto) the
    ``--sure_confidence`` in force (an OP end that is not sure is looked for in later windows too), but
    never below CLAIM_CONFIDENCE (the threshold before; all that applies with nothing hedged)."""
    if value is not None:
        return float(value), "given"
    from datatools.segments import CLAIM_CONFIDENCE

    sure, _ = resolve_sure_confidence(sure_confidence, models)
    if sure > CLAIM_CONFIDENCE:
        return sure, "auto: --sure_confidence (an OP end that is not sure is looked for further)"
    return CLAIM_CONFIDENCE, "auto: nothing hedged above it, a first window that claims no OP end"


def withhold_unsure(results: Sequence[Draft], min_confidence: float,
                    sure_confidence: float = 0.0) -> None:
    """Mark every boundary whose confidence is below ``min_confidence`` as withheld (no answer
    rather than a wrong one): the JSON writes null with the reason, skip files leave it out.  An OP
    end or ED start below ``sure_confidence`` is kept *hedged* (``hedged``: its skip range stops at
    its innermost plausible place, skip_ranges_from_spans) where its models gave a boundary posterior
    (``safe_edges``), else withheld too; a preview below it is withheld (it has nothing to hedge by).
    One that season mode raised above ``sure_confidence`` by agreeing with a theme-song match is hedged
    as the models' own confidence would have it (_models_own)."""
    for r in results:
        if not r.ok:
            continue
        hedged = []
        for name in ("op_end", "ed_start", "preview"):
            if name == "preview" and name not in r.confidence:   # no measured preview: nothing to withhold
                continue
            if name != "preview" and not math.isfinite(getattr(r, name)):
                why = (r.season.get("start" if name == "op_end" else "end") or {}).get(
                    "reason", "no sibling matched"
                )
                r.withheld[name] = f"no answer: no model ran and season mode did not decide ({why})"
                continue
            c = r.confidence.get(name, float("nan"))
            if not c >= min_confidence:
                r.withheld[name] = f"confidence {c:.2f} < --min_confidence {min_confidence:g}"
            elif c < sure_confidence and (name == "preview" or name not in r.safe_edges):
                r.withheld[name] = (f"confidence {c:.2f} < --sure_confidence {sure_confidence:g} and no "
                                    "boundary posterior to hedge the skip by")
            elif c < sure_confidence:
                hedged.append(name)
            elif name != "preview" and name in r.safe_edges and _models_own(r, name) < sure_confidence:
                hedged.append(name)   # sure only by agreeing with a theme-song match: hedged as alone
        r.hedged = tuple(hedged)


def _models_own(r: Draft, name: str) -> float:
    """The models' own confidence in a boundary that season mode confirmed (and so raised), else its
    confidence: a match agrees with where the song is heard, not with where the pictures change, so a
    song that leads in under the story confirms an edge placed at the song's start all the same."""
    kind = "start" if name == "op_end" else "end"
    own = (r.season.get(kind) or {}).get("models_confidence")
    return r.confidence.get(name, math.nan) if own is None else float(own)


def narrow_span(span: tuple[float, float] | None, start_margin: float, end_margin: float,
                duration: float = math.inf, start_floor: float | None = None,
                end_ceiling: float | None = None) -> tuple[float, float] | None:
    """``[a + start_margin, b - end_margin]``: a skip range that stops short of the story on both
    sides, except at the file's own edges (0 and ``duration``: no story lies beyond them); a span no
    longer than the two margins + 1 s is kept as it is (nothing sensible would be left).  A doubtful
    edge begins no earlier than ``start_floor`` / ends no later than ``end_ceiling`` (where given),
    at the file's own edges too: a best OP start at the file's first second may still follow a cold
    open.  Where the floor or ceiling leaves less than a second, None: no skip is safe."""
    if span is None or (start_margin <= 0 and end_margin <= 0):
        return span
    a, b = float(span[0]), float(span[1])
    lo, hi = a, b
    if b - a > start_margin + end_margin + 1.0:
        lo = a if a <= 1e-3 else a + start_margin
        hi = b if b >= duration - 1e-3 else b - end_margin
    if (start_floor is not None and start_floor > lo) or (end_ceiling is not None and end_ceiling < hi):
        return _hedge((lo, hi), start_floor, end_ceiling)
    return (lo, hi)


def skip_ranges_from_spans(op: tuple[float, float] | None, ed: tuple[float, float] | None,
                           preview: tuple[float, float] | None, margin: float, edge_margin: float,
                           duration: float, safe_edges: dict[str, float] | None = None,
                           hedged: Sequence[str] = (),
                           songs: dict[str, tuple[float, float]] | None = None) -> tuple:
    """The skip ranges (opening, ending, preview) from the measured spans: the edges a model answered
    (OP end, ED start) narrowed by ``margin`` (--skip_margin), the outer edges the segment head
    measured or the assumed lengths gave (OP start, ED end, both edges of the preview), which are
    less exact, by ``edge_margin`` (--edge_margin).  Where the segment head is unsure of an outer
    edge, the range goes no further than the innermost plausible one (``safe_edges``: "op_start" /
    "ed_end", models.dense.decode_spans' op_start_latest / ed_end_earliest in episode seconds)
    narrowed by ``margin``.  A ``hedged`` answer ("op_end" / "ed_start", below --sure_confidence)
    likewise stops at its innermost plausible place (``safe_edges``' "op_end" / "ed_start",
    models.dense.inner_edge) narrowed by ``margin``, and where season mode matched its theme song
    (``songs``: "op_end" / "ed_start" -> the song's span) it lies inside that song too, narrowed by
    the margins (only a range that independent evidence calls theme is kept); where that leaves less
    than a second its range is None (no skip is safe)."""
    safe = safe_edges or {}
    floor = safe["op_start"] + margin if "op_start" in safe else None
    ceiling = safe["ed_end"] - margin if "ed_end" in safe else None
    out_op = narrow_span(op, edge_margin, margin, duration, start_floor=floor)
    out_ed = narrow_span(ed, margin, edge_margin, duration, end_ceiling=ceiling)
    if "op_end" in hedged and "op_end" in safe and out_op is not None:
        out_op = _hedge(out_op, end=safe["op_end"] - margin)
    if "ed_start" in hedged and "ed_start" in safe and out_ed is not None:
        out_ed = _hedge(out_ed, start=safe["ed_start"] + margin)
    songs = songs or {}
    if "op_end" in hedged and "op_end" in songs and out_op is not None:
        out_op = _hedge(out_op, songs["op_end"][0] + edge_margin, songs["op_end"][1] - margin)
    if "ed_start" in hedged and "ed_start" in songs and out_ed is not None:
        out_ed = _hedge(out_ed, songs["ed_start"][0] + margin, songs["ed_start"][1] - edge_margin)
    return out_op, out_ed, narrow_span(preview, edge_margin, edge_margin, duration)


def _hedge(span: tuple[float, float], start: float | None = None,
           end: float | None = None) -> tuple[float, float] | None:
    """``span`` begun no earlier than ``start`` / ended no later than ``end``; None under a second."""
    a = max(span[0], float(start)) if start is not None else span[0]
    b = min(span[1], float(end)) if end is not None else span[1]
    return (a, b) if b - a >= 1.0 else None


def apply_skip_margin(results: Sequence[Draft], margin: float, edge_margin: float) -> None:
    """Narrow every skip range so that an edge off by up to its margin skips theme, not story
    (skip_ranges_from_spans).  The boundaries themselves (``op_end``, ``ed_start``) and the measured
    spans (``measured``, the JSON's ``spans``) stay as measured; ``op`` / ``ed`` / ``preview`` and
    every skip file and chapter follow the narrowed ranges."""
    for r in results:
        if not r.ok:
            continue
        pv = preview_range(r)
        r.measured = {"opening": tuple(r.op), "ending": tuple(r.ed),
                      "preview": None if pv is None else tuple(pv)}
        songs = {name: tuple(r.season[kind]["span"])
                 for name, kind in (("op_end", "start"), ("ed_start", "end"))
                 if (r.season.get(kind) or {}).get("theme")}
        op, ed, r.preview = skip_ranges_from_spans(r.op, r.ed, pv, margin, edge_margin, r.duration,
                                                   r.safe_edges, r.hedged, songs)
        for name, got, had in (("op_end", op, r.op), ("ed_start", ed, r.ed)):
            if got is not None or had is None or name in r.withheld:
                continue
            if name in r.hedged:
                r.withheld[name] = ("hedged, and less than a second is surely theme (inside its innermost "
                                    "plausible place and any matched theme song): no skip is safe")
            else:
                edge = "OP start" if name == "op_end" else "ED end"
                r.withheld[name] = (f"the {edge} is doubtful, and less than a second is surely theme: "
                                    "no skip is safe")
        r.op = op if op is not None else r.op
        r.ed = ed if ed is not None else r.ed
        r.hedged = tuple(h for h in r.hedged if h not in r.withheld)
        r.skip_margin, r.edge_margin = float(margin), float(edge_margin)
