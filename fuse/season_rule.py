"""The season decision rule: per clip, weigh the theme-song match against the models' answer.

One pure function, ``decide``, used by ``fuse/fuse.py --season`` and ``predict.py --season``.  It
looks at the evidence at hand for one clip and returns the answer, which source gave it and a
short reason (written to the ``*_sources.csv`` sidecar and to predict.py's JSON):

1. **No sibling** -> the models.
2. **The shared span is not a theme song** -> the models.  Both ends of the span are used: for a
   ``_start`` clip a span that runs to the clip's end (the OP end, if any, lies past the clip) or
   whose length is implausible for an opening (under ``min_song_s`` = 30 s or over ``max_song_s`` =
   120 s); for an ``_end`` clip a span that begins at the clip start (the ending began before it)
   or that is too short or too long (a span cut by the clip's end counts as long enough).
3. **Reliability.**  The match's reliability ``p_season`` is the share of *training* clips whose
   offset-corrected match answer was within ``TOLERANCE`` (2 s) of the label, in the clip's
   evidence bin (one sibling / several siblings that agree within ``spread_cut`` / several that do
   not), with the built-in value of the bin as a prior worth PRIOR_CLIPS clips.  The models'
   reliability ``p_models`` is the dense kind's (calibrated) confidence when present, otherwise
   the share of the fused inputs within 2 s of the fused answer times ``model_trust`` (their
   validation within-2-s share: the published kinds agree with each other more often than they
   are right).
4. **Decision.**  When the two answers are consistent (``consistent``: within TOLERANCE, 2 s, of each
   other, or the models' answer inside the matched song by at most ``lead_in_s``, where a song that
   leads in before the ED pictures or rings on after the OP pictures puts them) they confirm each
   other.  Within TOLERANCE, one place measured twice: the more reliable one's reading of it, with
   the confidence of both (``agreement_confidence``: wrong only where both are wrong), higher than
   either alone.  Further inside the song, the innermost of the two answers, and the more reliable
   of them decides the confidence: the models' own (the match confirms the song, not their place in
   it).  A
   match of several siblings that agree within ``spread_cut`` (bin "several") answers where the
   models put the boundary more than ``agree_s`` away (another place): only evidence measured on the
   episode (step 2) overrules it, not the models' confidence.  Otherwise, when the two answers lie
   within ``agree_s`` of each other, the more reliable one answers (they say the same place; one is
   more precise).  When they disagree, the more reliable one answers, and the match must beat the
   models by ``margin`` to overrule them.
5. **With the model's own posterior** (the dense kind's per-second boundary probabilities, where
   given) and answers more than 2 x TOLERANCE apart, not one scalar but two places are weighed:
   the matched time is right with probability ``p_season`` times the model's own probability of
   it (``q_match``); the model's answer with ``p_models`` times what a wrong match leaves for any
   one place, ``(1 - p_season) / K`` (K = the clip's places of 2 x TOLERANCE).  A confident model
   that still gives the matched time some weight yields to a tight match; one that rules it out
   keeps its answer.

``fit_reliability`` / ``fit_model_trust`` learn the song-length bounds (widened only), ``spread_cut``,
the bin table and ``model_trust`` on training clips only (the
same clips ``fuse.season.fit_offsets`` learns the offsets on); ``fuse/season.py --fit_labels``
saves the rule beside the offsets (``"decision"`` in the offsets JSON).  Without a fitted rule the
defaults below are used.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

TOLERANCE = 2.0          # s: "right" for the reliability estimates (the benchmark's within-2-s share)
MIN_SONG_S = 30.0        # a theme song (TV size) is about 90 s; these bounds are the issue's
MAX_SONG_S = 120.0
EDGE_S = 1.0             # a span edge this close to the clip's edge touches it
SPREAD_CUTS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0)   # candidate spread thresholds tried by fit_rule
PRIOR_CLIPS = 2.0         # the built-in reliability of a bin counts as this many training clips
SONG_FIT_MIN = 5         # right training matches needed before the song-length bounds are widened
LEAD_IN_S = 15.0         # see SeasonRule.lead_in_s
PARTIAL_S = 10.0         # see SeasonRule.partial_s


@dataclass(frozen=True)
class SeasonRule:
    """The decision rule's parameters (see the module docstring)."""
    agree_s: float = 10.0
    margin: float = 0.0
    spread_cut: float = 3.0
    min_song_s: float = MIN_SONG_S
    max_song_s: float = MAX_SONG_S
    edge_s: float = EDGE_S
    # P(match within TOLERANCE) per evidence bin.  The defaults are the prior that fit_reliability
    # updates with the training clips (a verified sample-identical match was within 2 s on every
    # synthetic series of bench/season_bench.py; one sibling is weaker evidence than several)
    reliability: Mapping[str, float] = field(default_factory=lambda: {"one": 0.75, "several": 0.9,
                                                                       "several_spread": 0.6})
    model_trust: float = 0.5
    # a match of several siblings that agree (bin "several") answers, whatever the models' confidence,
    # where the models' answer lies more than agree_s away (decide's step 4); False: weighed as the others
    several_decides: bool = True
    # how far a theme song may lead in before the ED pictures (or ring on after the OP pictures, lead in
    # before them, run on after the ED's) under story: a boundary this far inside the matched song is
    # the same boundary as the match's, placed at the pictures
    lead_in_s: float = LEAD_IN_S
    # a clip whose span shared with its siblings is this much shorter than the spans they share with
    # theirs holds only part of their song (another edit of the track, a song another show reuses):
    # where its match places the boundary is not agreed evidence (bin "several_spread", never decides
    # alone).  Fixed, like agree_s, at the scale of "another place", not fitted
    partial_s: float = PARTIAL_S
    n: Mapping[str, int] = field(default_factory=dict)   # training clips behind each figure

    def to_dict(self) -> dict:
        d = asdict(self)
        d["reliability"] = dict(self.reliability)
        d["n"] = dict(self.n)
        return d

    @classmethod
    def from_dict(cls, d: Mapping | None) -> SeasonRule:
        if not d:
            return cls()
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Decision:
    seconds: float
    source: str      # "season" or "models"
    reason: str
    confidence: float = float("nan")   # the reliability of the source that answered (p_season or p_models)
    confirmed: bool = False            # the match and the models say the same boundary (consistent)


def evidence_bin(siblings: int, spread_s: float, spread_cut: float) -> str:
    if siblings <= 1:
        return "one"
    return "several" if spread_s <= spread_cut else "several_spread"


def partial_match(siblings: int, short_s: float, span_end: float, clip_seconds: float | None,
                  rule: SeasonRule = SeasonRule()) -> bool:
    """Several siblings whose shared span with this clip is more than ``rule.partial_s`` shorter than
    the spans they share among themselves, where the clip's own end does not cut it: only part of
    their song is in this clip, so where the match puts the boundary is not their agreement."""
    if siblings < 2 or not math.isfinite(short_s) or short_s <= rule.partial_s:
        return False
    return not (clip_seconds is not None and span_end >= clip_seconds - rule.edge_s)


def implausible(kind: str, span_start: float, span_end: float, clip_seconds: float | None,
                rule: SeasonRule = SeasonRule()) -> str | None:
    """Why a shared span is not the clip's theme song, or None when it may be."""
    length = span_end - span_start
    if not (math.isfinite(span_start) and math.isfinite(span_end)) or length <= 0:
        return "no usable shared span"
    cut_by_end = clip_seconds is not None and span_end >= clip_seconds - rule.edge_s
    if kind == "s":
        if cut_by_end:
            return (f"shared span runs to the clip end ({span_start:.0f}-{span_end:.0f} s): "
                    "OP end not in the clip")
        if length < rule.min_song_s:
            return f"shared span {length:.0f} s is too short for an opening"
        if length > rule.max_song_s:
            return f"shared span {length:.0f} s is too long for an opening"
        return None
    if span_start <= rule.edge_s:
        return f"shared span starts at the clip start ({span_start:.0f} s): ED start not in the clip"
    if length < rule.min_song_s and not cut_by_end:
        return f"shared span {length:.0f} s is too short for an ending"
    if length > rule.max_song_s:
        return f"shared span {length:.0f} s is too long for an ending"
    return None


def model_reliability(values: Sequence[float], answer: float, confidence: float | None,
                      rule: SeasonRule = SeasonRule(), weights: Sequence[float] | None = None) -> float:
    """p_models: the dense confidence when given, else the (weighted) share of the inputs within
    TOLERANCE of the fused answer times ``rule.model_trust``."""
    if confidence is not None and math.isfinite(confidence):
        return float(confidence)
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return 0.0
    w = np.ones(v.size) if weights is None else np.asarray(weights, dtype=np.float64)
    share = float(w[np.abs(v - answer) <= TOLERANCE].sum() / w.sum())
    return share * rule.model_trust


def consistent(kind: str, model_seconds: float, season_seconds: float, lead_in_s: float = LEAD_IN_S) -> bool:
    """Do the models and the match give the same boundary?  Within TOLERANCE of each other, or the
    models' answer inside the matched song by at most ``lead_in_s`` (before its end for an OP end,
    ``kind`` "s"; after its start for an ED start, "e"): the pictures' edge of a song that rings on or
    leads in under story."""
    d = float(model_seconds) - float(season_seconds)
    inside = -d if kind == "s" else d
    return abs(d) <= TOLERANCE or 0.0 <= inside <= lead_in_s


def innermost(kind: str, a: float, b: float) -> float:
    """Of two answers for one boundary, the one whose skip range covers less: the earlier OP end
    (``kind`` "s"), the later ED start ("e")."""
    return min(a, b) if kind == "s" else max(a, b)


def agreement_confidence(p_season: float, p_models: float) -> float:
    """P(within TOLERANCE) of a place that the match and the models both give (within TOLERANCE of
    each other): wrong only where both are wrong, taken as independent measurements (one from the
    sound shared with sibling episodes, one from this episode's own pictures, sound and text)."""
    return float(1.0 - (1.0 - float(p_season)) * (1.0 - float(p_models)))


def mass_near(posterior: Sequence[float] | np.ndarray, seconds: float, radius: float = TOLERANCE) -> float:
    """A per-second posterior's mass within ``radius`` of ``seconds`` (bin k is centred at k + 0.5):
    the model's own probability that ``seconds`` is right."""
    p = np.asarray(posterior, dtype=np.float64).ravel()
    return float(p[np.abs(np.arange(p.size) + 0.5 - float(seconds)) <= radius].sum())


def decide(
    kind: str,
    model_seconds: float,
    p_models: float,
    season_seconds: float | None,
    siblings: int,
    spread_s: float,
    span_start: float,
    span_end: float,
    clip_seconds: float | None,
    rule: SeasonRule = SeasonRule(),
    q_match: float | None = None,
    short_s: float = math.nan,
) -> Decision:
    """The answer for one clip (see the module docstring); pure.  ``q_match``: the model's own
    probability of the matched time (mass_near of its per-second posterior), where it gives one; when
    the two answers are more than 2 x TOLERANCE apart it decides with the match's reliability and
    ``p_models`` (step 5 of the module docstring).  ``short_s``: how much shorter this clip's shared
    span is than its siblings' own (fuse.season.SeasonRow.short_s); more than ``rule.partial_s`` on a
    span the clip's end does not cut puts several siblings in the bin "several_spread"."""
    if season_seconds is None or siblings <= 0:
        return Decision(model_seconds, "models", "no sibling", p_models)
    why = implausible(kind, span_start, span_end, clip_seconds, rule)
    if why:
        return Decision(model_seconds, "models", why, p_models)
    b = evidence_bin(siblings, spread_s, rule.spread_cut)
    partial = partial_match(siblings, short_s, span_end, clip_seconds, rule)
    if partial:
        b = "several_spread"
    p_season = float(rule.reliability.get(b, 0.5))
    if not math.isfinite(model_seconds):   # no model ran (predict.py --season --weights none)
        return Decision(
            season_seconds,
            "season",
            f"no model; theme-song match ({siblings} sibling"
            f"{'s' if siblings != 1 else ''}, spread {spread_s:.1f} s, p_season {p_season:.2f})",
            p_season,
        )
    gap = abs(season_seconds - model_seconds)
    facts = (f"{siblings} sibling{'s' if siblings != 1 else ''}, spread {spread_s:.1f} s, "
             f"p_season {p_season:.2f} vs p_models {p_models:.2f}, {gap:.1f} s apart")
    if partial:
        facts += f", a partial match: its span {short_s:.0f} s shorter than its siblings'"
    if consistent(kind, model_seconds, season_seconds, rule.lead_in_s):
        # Within TOLERANCE they are two independent measurements of one place (both wrong and yet this
        # close is far rarer than either being wrong): surer than either alone, and the more reliable
        # one reads it (the innermost moved clip answers that the models had closer, by up to 2 s,
        # on the seed-4343 clips).  Further inside, the match measures the song, the models the
        # pictures, which a song lead-in or ring-out leaves inside the song: the innermost answer,
        # and the match confirms the song, not the models' place in it: their own confidence stands
        at = innermost(kind, model_seconds, season_seconds)
        if gap <= TOLERANCE:
            at = model_seconds if p_models >= p_season else season_seconds
            both = agreement_confidence(p_season, p_models)
            return Decision(at, "season" if at == season_seconds else "models",
                            f"agree; match and models confirm each other (within 2 s), confidence {both:.2f} "
                            f"({facts})", both, confirmed=True)
        if p_models >= p_season:
            return Decision(at, "models", f"agree; the models' answer lies {gap:.1f} s inside the matched "
                            f"song (a lead-in or ring-out): theirs, with their own confidence ({facts})",
                            p_models, confirmed=True)
        return Decision(season_seconds, "season", f"agree; the models' answer lies {gap:.1f} s inside the "
                        f"matched song, the match more reliable ({facts})", p_season)
    if b == "several" and rule.several_decides and gap > rule.agree_s:
        # several siblings that agree on a span more than agree_s from the models' answer (another
        # place, not a less precise reading of the same song): only evidence measured on this episode
        # (the span being no theme song, checked above) overrules them, never the models' confidence
        return Decision(season_seconds, "season", f"disagree; {siblings} siblings agree on the match, "
                        f"the models' confidence alone does not overrule it ({facts})", p_season)
    if q_match is not None and math.isfinite(q_match) and gap > 2 * TOLERANCE:
        # Two candidate places.  The match is right with p_season; if it is wrong it says nothing
        # about where the boundary is (uniform over the clip's K places of 2 x TOLERANCE).  The
        # model puts q_match on the matched place and is right at its own with p_models.
        places = (clip_seconds or 200.0) / (2 * TOLERANCE)
        for_match, for_models = p_season * q_match, (1.0 - p_season) / places * p_models
        facts += f", the models' own P(matched time) {q_match:.3g}"
        if for_match > for_models:
            return Decision(season_seconds, "season", f"disagree; match more probable ({facts})", p_season)
        return Decision(model_seconds, "models", f"disagree; models more probable ({facts})", p_models)
    if gap <= rule.agree_s:
        if p_season >= p_models:
            return Decision(season_seconds, "season", f"agree; match more reliable ({facts})", p_season)
        return Decision(model_seconds, "models", f"agree; models more reliable ({facts})", p_models)
    if p_season > p_models + rule.margin:
        return Decision(season_seconds, "season", f"disagree; match more reliable ({facts})", p_season)
    return Decision(model_seconds, "models", f"disagree; models more reliable ({facts})", p_models)


# ----------------------------------------------------------------------------------------------
# Fitting on training clips


def _smoothed(hits: int, n: int, prior: float = 0.5) -> float:
    """Share of hits with a Beta prior of mean ``prior`` worth PRIOR_CLIPS clips (no clips: the prior)."""
    return (hits + PRIOR_CLIPS * prior) / (n + PRIOR_CLIPS)


def fit_reliability(rows: Sequence, labels: Mapping[str, float], clip_seconds: float | None,
                    rule: SeasonRule = SeasonRule()) -> SeasonRule:
    """Fit ``spread_cut`` and the bin table on labelled training rows (fuse.season.SeasonRow with
    the offsets applied).  ``spread_cut`` is the candidate that best separates right from wrong
    matches among clips with several siblings (largest difference of within-2-s shares, ties to
    the larger cut); the table is then the smoothed within-2-s share per bin.  Implausible spans
    are left out: the rule never uses the match there.

    The song-length bounds start from the issue's 30-120 s and only widen, to 0.6 x the 5th and
    1.25 x the 95th percentile of the span lengths of the training matches that were right (at
    least SONG_FIT_MIN of them): a dataset whose theme songs are shorter (the demo's S = 60 clips
    scale every layout by 0.3) keeps its songs plausible, real TV-size songs keep 30-120 s."""
    labelled = [r for r in rows if r.source == "season" and r.clip in labels]
    right = [r.span_end - r.span_start for r in labelled if abs(r.seconds - labels[r.clip]) <= TOLERANCE]
    if len(right) >= SONG_FIT_MIN:
        rule = SeasonRule(
            **{
                **rule.to_dict(),
                "min_song_s": round(min(rule.min_song_s, 0.6 * float(np.percentile(right, 5))), 2),
                "max_song_s": round(max(rule.max_song_s, 1.25 * float(np.percentile(right, 95))), 2),
            }
        )
    usable = [  # a row's own window length where it has one (heads of whole episodes differ in length)
        r for r in labelled if implausible(r.kind, r.span_start, r.span_end,
                                           r.clip_seconds if r.clip_seconds is not None else clip_seconds,
                                           rule) is None
    ]
    ok = {r.clip: abs(r.seconds - labels[r.clip]) <= TOLERANCE for r in usable}
    several = [r for r in usable if r.siblings >= 2]
    best_cut, best_gap = rule.spread_cut, -1.0
    for cut in SPREAD_CUTS:
        lo = [ok[r.clip] for r in several if r.spread_s <= cut]
        hi = [ok[r.clip] for r in several if r.spread_s > cut]
        gap = _smoothed(sum(lo), len(lo)) - _smoothed(sum(hi), len(hi))
        if gap >= best_gap - 1e-12:
            best_cut, best_gap = cut, gap
    table, n = {}, {}
    for b in ("one", "several", "several_spread"):
        hits = [ok[r.clip] for r in usable if evidence_bin(r.siblings, r.spread_s, best_cut) == b]
        table[b] = round(_smoothed(sum(hits), len(hits), float(rule.reliability.get(b, 0.5))), 4)
        n[b] = len(hits)
    n["implausible"] = len(labelled) - len(usable)
    n["song_fit"] = len(right)
    return SeasonRule(**{**rule.to_dict(), "spread_cut": best_cut, "reliability": table, "n": n})


def fit_model_trust(val_predictions: Sequence[Mapping[str, float]], labels: Mapping[str, float],
                    rule: SeasonRule) -> SeasonRule:
    """``model_trust`` from the models' own validation answers (each training run's
    ``val_predictions.csv``: clips of the training split it did not train on): the mean over the
    runs of the share of their validation clips within TOLERANCE of the label."""
    shares, n = [], 0
    for preds in val_predictions:
        errs = [abs(v - labels[c]) for c, v in preds.items() if c in labels]
        if errs:
            shares.append(float(np.mean(np.asarray(errs) <= TOLERANCE)))
            n += len(errs)
    if not shares:
        return rule
    return SeasonRule(**{**rule.to_dict(), "model_trust": round(float(np.mean(shares)), 4),
                         "n": {**dict(rule.n), "model_validation": n}})


def widen_for_clip_set(rule: SeasonRule, lengths: Sequence[float]) -> SeasonRule:
    """A rule whose song-length floor was not fitted on training matches (fewer than SONG_FIT_MIN:
    no training siblings, or the built-in defaults) takes it from the clip set itself, label-free:
    0.6 x the median length of the spans matched in this set (it only widens).  A fitted rule is
    returned as it is."""
    if rule.n.get("song_fit", 0) >= SONG_FIT_MIN or len(lengths) == 0:
        return rule
    floor = 0.6 * float(np.median(np.asarray(lengths, dtype=np.float64)))
    return SeasonRule(**{**rule.to_dict(), "min_song_s": round(min(rule.min_song_s, floor), 2)})
