"""Season mode (fuse/season.py): the theme songs of the episodes given together are matched by
Chromaprint, and where fuse.season_rule lets a sibling match decide a boundary it replaces the model
consensus and sets the skip range's edges from the matched song.

The head window of an episode is fingerprinted as far as the late-opening scan looks
(``--scan_limit``, skips.prepare.head_seconds), the tail window is the last S seconds: an opening
that ends after a long cold open is matched wherever it sits in each sibling.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from skips.prepare import WINDOWS, clip_offset
from skips.result import Draft

EDGES = {"start": ("op_start", "op_end"), "end": ("ed_start", "ed_end")}   # (span start, span end)


def apply_season_mode(results: Sequence[Draft], clip_seconds: int,
                      rule_path: str | None = None) -> None:
    """Match the head and tail windows of all good episodes by Chromaprint; where fuse.season's rule
    (``rule_path``, fitted offsets; None: the built-in parameters) lets the sibling match decide,
    replace the model consensus, and take the skip range's outer edge from the matched song too
    (``span_source``).  Where the models keep a boundary that the match places within the rule's
    ``agree_s``, the range still stops where the matched song does.  ``source`` says per boundary
    which one decided; ``season[kind]["confirmed_by"]`` names, per edge, the siblings whose own
    match put it within 2 s of the answer."""
    from fuse.season import load_rule, season_rows
    from fuse.season_rule import widen_for_clip_set
    from preprocessing.fingerprint import fingerprint_seconds

    rule = load_rule(rule_path)
    offsets = json.loads(Path(rule_path).read_text(encoding="utf-8")) if rule_path else None

    good = [r for r in results if r.ok and "chroma" in r.plot]
    if len(good) < 2:
        return
    fps, kinds, owner, pictures = {}, {}, {}, {}
    for i, r in enumerate(good):
        for kind in WINDOWS:
            fps[f"{i}_{kind}"] = r.plot["chroma"][kind]
            kinds[f"{i}_{kind}"] = kind[0]
            owner[f"{i}_{kind}"] = r.rel
            if kind in (r.plot.get("pictures") or {}):
                pictures[f"{i}_{kind}"] = r.plot["pictures"][kind]
    # no clipping to S: the head windows are as long as each episode allows (up to --scan_limit)
    rows = {row.clip: row for row in season_rows(fps, kinds, offsets=offsets)}
    rule = widen_for_clip_set(
        rule, [r.span_end - r.span_start for r in rows.values() if r.source == "season"]
    )
    for i, r in enumerate(good):
        for kind in WINDOWS:
            row = rows[f"{i}_{kind}"]
            if row.source == "season":
                _decide_kind(r, kind, row, fingerprint_seconds(fps[row.clip]), clip_seconds, rule, owner,
                             pictures)


def confirmed_by(row, owner: Mapping[str, str], kind: str, tolerance: float) -> dict[str, list[str]]:
    """Per edge of a matched span (OP start / OP end, ED start / ED end), the siblings (their
    ``rel`` names) whose own shared span puts that edge within ``tolerance`` of the median."""
    first, second = EDGES[kind]
    return {
        first: sorted(owner[n] for n, a, _ in row.partners if abs(a - row.span_start) <= tolerance),
        second: sorted(owner[n] for n, _, b in row.partners if abs(b - row.span_end) <= tolerance),
    }


def _decide_kind(r: Draft, kind: str, row, window_s: float, clip_seconds: int, rule,
                 owner: Mapping[str, str], pictures: Mapping[str, np.ndarray]) -> None:
    from fuse.season_rule import TOLERANCE, decide, implausible, mass_near, model_reliability

    D, S = r.duration, clip_seconds
    name = "op_end" if kind == "start" else "ed_start"
    off = clip_offset(kind, D, S)             # the head window starts at 0, the tail one at D - S
    at = min(max(row.seconds, 0.0), window_s)
    span = (off + row.span_start, off + row.span_end)
    r.season[kind] = {"span": [round(x, 3) for x in span], "siblings": row.siblings,
                      "spread": round(row.spread_s, 3),
                      "window": [round(off, 3), round(off + window_s, 3)],
                      "confirmed_by": confirmed_by(row, owner, kind, TOLERANCE),
                      # a theme song by the rule's own checks: a hedged range must lie inside it
                      "theme": implausible(row.kind, row.span_start, row.span_end, window_s, rule) is None}
    model_clip = getattr(r, name) - off
    p_models = r.confidence.get(name)   # decide_episode's boundary_confidence
    if p_models is None:
        confs = [m["confidence"][name] for m in r.models if "confidence" in m]
        p_models = model_reliability([m[name] for m in r.models], getattr(r, name),
                                     max(confs) if confs else None, rule)
    begin, ed_seen = _pictures_edge(kind, row, pictures, owner), None
    if kind == "end" and begin is not None:
        # Siblings whose ED song leads in under their last scene's dialogue share the song only from
        # where their lead-in ends, and their matches start this episode's ending late; a sibling that
        # shows the same ending pictures from earlier says the ending is on screen there.  Only ever
        # earlier: shared pictures come late where an ending cuts fast or its credits differ per episode
        # (seeds 4242 and 4343: up to 14 s), and a lead-in heard in the match is the models' to place,
        # unless the pictures begin where they put the ending (within 2 s)
        ed_seen = max(0.0, begin[0] - 0.5)
        r.season[kind]["pictures"] = {"start": round(off + ed_seen, 3), "shared_with": begin[1]}
        if ed_seen < at or (math.isfinite(model_clip) and abs(model_clip - ed_seen) <= TOLERANCE):
            # later only where the models' own answer is there too: a lead-in heard in the match, the
            # ending's pictures and the models' first frame agreeing on one place inside the song
            r.season[kind]["pictures"]["moved_match_s"] = round(ed_seen - at, 3)
            at = ed_seen
    if kind == "start" and math.isfinite(model_clip):
        end = _pictures_edge(kind, row, pictures, owner, "end")
        seen = None if end is None else end[0] - 0.5
        if seen is not None and abs(model_clip - seen) <= TOLERANCE:
            # the opening's pictures end where the models put its end: a song that rings on after them
            # (heard in the match, it ends the song too late) is not the opening's place
            r.season[kind]["pictures"] = {"end": round(off + seen, 3), "shared_with": end[1],
                                          "moved_match_s": round(seen - at, 3)}
            at = seen
    # the dense models' own probability of the matched time (their mean per-second posterior), where
    # they looked there: the first S seconds of the head, and only if no later window answered
    posts = [sc[kind] for sc, m in zip(r.plot.get("scores", []), r.models) if "confidence" in m]
    source = r.source.get(name, "")
    looked = at <= S and source not in ("", "none", "season") and "window" not in source
    q = mass_near(np.mean(posts, 0), at) if posts and looked else None
    d = decide(row.kind, model_clip, p_models, at, row.siblings, row.spread_s, row.span_start,
               row.span_end, window_s, rule, q, row.short_s)
    r.season[kind]["reason"] = d.reason
    agreed = math.isfinite(model_clip) and abs(model_clip - at) <= TOLERANCE
    if agreed:
        # the models' own confidence stays what hedges the skip (skips.decide.withhold_unsure): the match
        # hears the song, not the pictures, so agreeing with it does not place an edge the song leads into
        r.season[kind]["models_confidence"] = round(float(p_models), 4)
    if d.source == "season":
        r.confidence[name] = d.confidence
        setattr(r, name, off + at)
        r.source[name] = "season"
        if not agreed:   # the models' posterior hedges only an answer of theirs the match agrees with
            r.safe_edges.pop(name, None)
        _edges_from_match(r, kind, span, _in_episode(begin, off))
        if ed_seen is not None and r.ed[0] < off + ed_seen < r.ed[1] - 1.0:
            # the match's place is where the song is heard; a lead-in heard there, agreeing with unsure
            # models, can put it in the last scene: the range never begins before the shared pictures
            # (the models' own places are theirs: the pictures often begin late, fast cuts)
            r.ed = (off + ed_seen, r.ed[1])
            r.season[kind].setdefault("pictures", {})["range_start"] = round(r.ed[0], 3)
        return
    if d.confirmed:   # the models' answer, within 2 s of the match (confirmed) or inside its song
        r.confidence[name] = d.confidence
        how = "confirmed by the season's match" if abs(model_clip - at) <= TOLERANCE else \
            "inside the season's matched song"
        r.source[name] = f"{r.source.get(name, 'models')}, {how}"
        _edges_from_match(r, kind, span, _in_episode(begin, off))
    elif math.isfinite(model_clip) and abs(model_clip - at) <= rule.agree_s:
        _bound_by_song(r, kind, span)


def _in_episode(edge: tuple[float, list[str]] | None, off: float) -> tuple[float, list[str]] | None:
    """A picture edge from its window's clip time to episode time."""
    return None if edge is None else (off + edge[0], edge[1])


def _pictures_edge(kind: str, row, pictures: Mapping[str, np.ndarray],
                    owner: Mapping[str, str], edge: str = "start") -> tuple[float, list[str]] | None:
    """Where a theme's pictures begin (clip time of ``row``'s window: the head starts at 0), by the
    siblings that share its song and show the same pictures at the same point of it
    (fuse.pictures.shared_start): the earliest such start, a sibling whose song leads in longer than
    this episode's sees its pictures later.  ``edge`` "end": where they end instead
    (fuse.pictures.shared_end), the latest over the siblings.  None without pictures on both sides."""
    from fuse.pictures import shared_end, shared_start

    measure, pick = (shared_start, min) if edge == "start" else (shared_end, max)
    mine = pictures.get(row.clip)
    if mine is None:
        return None
    # only siblings whose shared span is this song: a sibling may share other audio with the episode
    # (a recap of its scenes in the cold open, a reprise), pictures and all
    half = 0.5 * (row.span_end - row.span_start)
    spans = {n: (a, b) for n, a, b in row.partners
             if min(b, row.span_end) - max(a, row.span_start) >= half}
    found = []
    for other, delta in row.shifts:
        theirs = pictures.get(other)
        if theirs is None or other not in spans:
            continue
        p = measure(mine, theirs, delta, *spans[other])
        if p is not None:
            found.append((p, owner[other]))
    if not found:
        return None
    first = pick(p for p, _ in found)
    return first, sorted({o for p, o in found if p == first})


def _edges_from_match(r: Draft, kind: str, span: tuple[float, float],
                      pictures: tuple[float, list[str]] | None = None) -> None:
    """The outer edge of a range whose boundary the match decided or confirmed: the matched song
    bounds it from outside, the pictures set it inside.  Where siblings show the opening's pictures at
    the same point of its song (``pictures``: the first shared second, and who shares it), the range
    begins there, half a second before (the pictures began within the second before it); otherwise the
    segment head's edge where it lies inside the song (a lead-in under the cold open, a ring-out after
    the ending), else the song's.  The match measured that edge, so the segment head's doubt about it
    (``safe_edges``) no longer stops the range (kept, it cost 2-10 s of theme per edge on the
    calibration-side shift set and saved no story)."""
    if kind == "start":
        song = max(0.0, span[0])
        seg = r.op[0] if r.span_source.get("op_start") == "segments" else math.nan
        if pictures is not None and pictures[0] - 0.5 < r.op_end - 1.0:
            r.op = (max(0.0, pictures[0] - 0.5), r.op_end)
            r.span_source["op_start"] = f"pictures shared with {', '.join(pictures[1])}"
        elif song < seg < r.op_end:
            r.op, r.span_source["op_start"] = (seg, r.op_end), "segments (inside the matched song)"
        else:
            r.op, r.span_source["op_start"] = (song, r.op_end), "season"
        r.safe_edges.pop("op_start", None)
    else:
        song = min(r.duration, span[1])
        seg = r.ed[1] if r.span_source.get("ed_end") == "segments" else math.nan
        if r.ed_start < seg < song:
            r.ed, r.span_source["ed_end"] = (r.ed_start, seg), "segments (inside the matched song)"
        else:
            r.ed, r.span_source["ed_end"] = (r.ed_start, song), "season"
        r.safe_edges.pop("ed_end", None)


def _bound_by_song(r: Draft, kind: str, span: tuple[float, float]) -> None:
    """A range the models decided, of the song the match measured: it goes no further out than the
    matched song (audio no sibling shares is not that theme)."""
    if kind == "start" and math.isfinite(r.op[0]) and r.op[0] < span[0] < r.op[1]:
        r.op = (span[0], r.op[1])
        r.span_source["op_start"] = f"{r.span_source.get('op_start', '')}, bounded by the matched song"
    elif kind == "end" and math.isfinite(r.ed[1]) and r.ed[0] < span[1] < r.ed[1]:
        r.ed = (r.ed[0], span[1])
        r.span_source["ed_end"] = f"{r.span_source.get('ed_end', '')}, bounded by the matched song"
