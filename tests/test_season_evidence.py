"""Season evidence sets every edge it measured (skips/season_mode.py, issue 42), on small generated
seasons: episodes whose audio is unique tonal content with the season's OP and ED songs pasted in
sample-identically (bench.season_bench), fingerprinted as predict.py --season does (the head as far as
--scan_limit, the last S seconds), with hand-set model answers.

    .venv/bin/python -m pytest -q tests/test_season_evidence.py
"""
from __future__ import annotations

import numpy as np
import pytest

from bench.season_bench import SYNTH_RATE, make_clip_audio, make_song
from preprocessing.fingerprint import fingerprint_samples
from skips import season_mode
from skips.result import Draft

S = 120            # the models' window
HEAD = 400.0       # the head fingerprinted (--scan_limit)
SONG_S = 45.0
OP, ED = make_song(101, SONG_S), make_song(202, SONG_S)


OP_PICTURES = np.random.default_rng(7).integers(0, 256, (int(SONG_S), 11, 11), dtype=np.uint8)


ED_PICTURES = np.random.default_rng(8).integers(0, 256, (int(SONG_S), 11, 11), dtype=np.uint8)


def _pictures(i: int, n: int, op_at: float, from_s: float | None, theme: np.ndarray = OP_PICTURES,
              until: float | None = None) -> np.ndarray:
    """Per-second thumbnails of a window of ``n`` seconds: the season's ``theme`` pictures laid out in
    song time (the song at ``op_at``) from second ``from_s`` (None: drawn for this episode alone), every
    other second a picture of this episode's own; ``until``: where they stop (default: the song's end)."""
    out = np.random.default_rng(300 + i + (0 if theme is OP_PICTURES else 50)).integers(
        0, 256, (n, 11, 11), dtype=np.uint8)
    if from_s is not None:
        for s in range(int(np.ceil(from_s)), min(n, int(op_at + SONG_S if until is None else until))):
            out[s] = theme[int(s - op_at)]
    return out


def _episode(i: int, op_at: float, ed_at: float, duration: float, op_end: float, ed_start: float,
             conf: float = 0.95, source: str = "dense", op=None, ed=None, safe=None,
             pictures_from: float | None = None, own_pictures: bool = False,
             ed_pictures_from: float | None = None, ed_heard_from: float = 0.0,
             pictures_until: float | None = None) -> Draft:
    """Episode ``i``: its OP song at ``op_at`` in the head, its ED song at ``ed_at`` in the last window;
    the models answered ``op_end`` / ``ed_start`` at ``conf``; ``op`` / ``ed``: the segment head's spans
    (default: assumed 90 s lengths); ``safe``: the segment head's and posteriors' innermost plausible
    edges (``safe_edges``); ``pictures_from``: where its OP pictures begin (default: with the song),
    ``own_pictures``: an OP drawn for this episode alone, ``pictures_until``: where they end (default:
    with the song); ``ed_pictures_from``: where its ED pictures
    begin in the last window (None: no pictures kept), ``ed_heard_from``: the song time from which its
    ED song is heard clean (before it, a lead-in drowned under the last scene's dialogue)."""
    head = fingerprint_samples(make_clip_audio(100 + i, HEAD, OP, op_at), SYNTH_RATE)
    heard = int(round(ed_heard_from * SYNTH_RATE))
    tail = fingerprint_samples(make_clip_audio(200 + i, S, ED[heard:], ed_at + ed_heard_from), SYNTH_RATE)
    r = Draft(f"ep{i}.mp4", f"Show/Season 01/ep{i}.mp4", True, duration=duration, op_end=op_end,
                      ed_start=ed_start)
    r.op = op or (max(0.0, op_end - 90.0), op_end)
    r.ed = ed or (ed_start, min(duration, ed_start + 90.0))
    r.span_source = {"op_start": "segments" if op else "assumed 90 s",
                     "ed_end": "segments" if ed else "assumed 90 s"}
    r.source = {"op_end": source, "ed_start": source}
    r.confidence = {"op_end": conf, "ed_start": conf}
    r.plot = {"chroma": {"start": head, "end": tail}}
    if pictures_from is not None or own_pictures:
        at = None if own_pictures else (op_at if pictures_from is None else pictures_from)
        r.plot["pictures"] = {"start": _pictures(i, int(HEAD), op_at, at, until=pictures_until)}
    if ed_pictures_from is not None:
        r.plot.setdefault("pictures", {})["end"] = _pictures(i, S, ed_at, ed_pictures_from, ED_PICTURES)
    r.safe_edges = dict(safe or {})
    return r


def _season(layout, changes=None):
    """The episodes of ``layout`` decided together; ``changes``: episode index -> _episode keywords."""
    results = [_episode(i, *args, **(changes or {}).get(i, {})) for i, args in enumerate(layout)]
    season_mode.apply_season_mode(results, S)
    return results


# (op_at, ed_at in the last window, duration, the models' op_end, the models' ed_start)
D = 1400.0
THREE = [(20.0, 30.0, D, 20.0 + SONG_S + 0.5, D - S + 30.0 - 0.5),
         (35.0, 25.0, D, 35.0 + SONG_S + 0.5, D - S + 25.0 - 0.5),
         (50.0, 40.0, D, 50.0 + SONG_S + 0.5, D - S + 40.0 - 0.5)]


def test_a_match_sets_both_edges_of_the_opening_range():
    # the segment head put the OP start 15 s into the cold open
    r = _season(THREE, {0: {"op": (5.0, 20.0 + SONG_S + 0.5)}})[0]
    assert r.op[0] == pytest.approx(20.0, abs=1.0) and r.span_source["op_start"] == "season"


def test_a_match_stops_the_ending_range_at_the_songs_end():
    # the segment head ran the ED 30 s past the song, through a C-part
    r = _season(THREE, {1: {"ed": (D - S + 25.0 - 0.5, D - S + 25.0 + SONG_S + 30.0)}})[1]
    assert r.ed[1] == pytest.approx(D - S + 25.0 + SONG_S, abs=1.5) and r.span_source["ed_end"] == "season"


def test_agreement_raises_the_confidence_above_both():
    r = _season(THREE, {2: {"conf": 0.8}})[2]
    assert r.source["op_end"] == "season" and r.confidence["op_end"] > 0.9


def test_each_edge_names_the_siblings_that_confirmed_it():
    r = _season(THREE)[0]
    assert r.season["start"]["confirmed_by"]["op_end"] == ["Show/Season 01/ep1.mp4", "Show/Season 01/ep2.mp4"]


def test_a_late_opening_is_found_through_its_siblings_head():
    # episode 0's OP ends at 330 s, after the models' 120-s window; the models' scan answered 36 s late
    layout = [(285.0, 30.0, D, 285.0 + SONG_S + 36.0, D - S + 30.0), *THREE[1:]]
    r = _season(layout, {0: {"conf": 0.91, "source": "models (window at 240 s)"}})[0]
    assert r.op_end == pytest.approx(285.0 + SONG_S, abs=2.0)


def test_a_false_opening_in_the_cold_open_is_replaced_by_the_seasons_match():
    # the models claimed an OP ending at 100 s (inside a long cold open) at 0.8; the shared song is at 300 s
    layout = [(300.0, 30.0, D, 100.0, D - S + 30.0), *THREE[1:]]
    r = _season(layout, {0: {"conf": 0.8}})[0]
    assert r.source["op_end"] == "season"
    assert (r.op[0], r.op_end) == (pytest.approx(300.0, abs=1.0), pytest.approx(345.0, abs=1.0))


def test_a_lone_episode_keeps_the_models():
    r = _season(THREE[:1])[0]
    assert r.source == {"op_end": "dense", "ed_start": "dense"} and not r.season


def test_a_models_range_of_the_same_song_stops_where_the_song_does():
    # one sibling only, models confident (0.97) and 4 s off: the models keep the boundary, but their
    # ED range (segment head, 30 s into a C-part) stops at the matched song's end
    layout = [THREE[0], (25.0, 45.0, D, 25.0 + SONG_S + 0.5, D - S + 45.0 - 4.0)]
    r = _season(layout, {1: {"conf": 0.97, "ed": (D - S + 41.0, D - S + 45.0 + SONG_S + 30.0)}})[1]
    assert (r.source["ed_start"], r.ed_start) == ("dense", D - S + 41.0)
    assert r.ed[1] == pytest.approx(D - S + 45.0 + SONG_S, abs=1.5)


def test_the_pictures_inside_the_matched_song_set_the_openings_start():
    # the OP song leads in 3 s under the cold open; the segment head saw the pictures start at 23 s
    r = _season(THREE, {0: {"op": (23.0, 20.0 + SONG_S + 0.5)}})[0]
    assert (r.op[0], r.span_source["op_start"]) == (23.0, "segments (inside the matched song)")


def test_the_match_lifts_the_segment_heads_doubt_about_the_opening_start():
    r = _season(THREE, {0: {"op": (5.0, 20.0 + SONG_S + 0.5), "safe": {"op_start": 24.0}}})[0]
    assert "op_start" not in r.safe_edges


def test_a_hedged_opening_range_stops_at_the_matched_songs_end():
    # one sibling; the models put the OP end 5 s after the song (a ring-out) at 0.85, below
    # --sure_confidence: their answer stands, hedged, and its range ends inside the song
    from skips.decide import apply_skip_margin, withhold_unsure

    end = 35.0 + SONG_S
    layout = [THREE[0], (35.0, 25.0, D, end + 5.0, D - S + 25.0 - 0.5)]
    ep1 = {"conf": 0.85, "op": (35.0, end + 5.0), "safe": {"op_end": end + 4.0}}
    results = _season(layout, {1: ep1})
    withhold_unsure(results, 0.7, 0.9)
    apply_skip_margin(results, 1.0, 1.0)
    song_end = results[1].season["start"]["span"][1]
    assert results[1].op[1] == pytest.approx(song_end - 1.0)   # the song's end less --skip_margin


def test_agreeing_with_the_match_does_not_lift_the_hedge_of_an_unsure_answer():
    # the ED song leads in 3 s under the last scene: the models put the ED start at the song's start
    # (0.5 s off the match) at 0.85, and their posterior's innermost plausible start is 3 s later, where
    # the pictures change; the agreement raises the confidence, but the skip stays hedged there
    from skips.decide import apply_skip_margin, withhold_unsure

    pictures = D - S + 30.0 + 3.0
    results = _season(THREE, {0: {"conf": 0.85, "safe": {"ed_start": pictures}}})
    r = results[0]
    assert r.confidence["ed_start"] >= 0.9 and r.season["end"]["models_confidence"] == 0.85
    withhold_unsure(results, 0.7, 0.9)
    assert "ed_start" in r.hedged
    apply_skip_margin(results, 1.0, 1.0)
    assert r.ed[0] == pytest.approx(pictures + 1.0)   # the innermost plausible start + --skip_margin


def _with_pictures(changes):
    """Every episode of THREE keeps its pictures; ``changes`` as for _season."""
    return {i: {"pictures_from": THREE[i][0], **changes.get(i, {})} for i in range(3)}


def test_an_opening_range_begins_where_its_pictures_are_shared_not_where_the_song_leads_in():
    # episode 0's OP song leads in 6 s under the cold open: its pictures begin at 26 s, its siblings' with
    # their songs; the segment head saw no start (assumed 90 s), the match hears the song from 20 s
    r = _season(THREE, _with_pictures({0: {"pictures_from": 26.0}}))[0]
    assert r.op[0] == pytest.approx(25.5) and r.span_source["op_start"].startswith("pictures shared with")


def test_an_opening_drawn_anew_leaves_the_range_to_the_song():
    r = _season(THREE, _with_pictures({0: {"own_pictures": True}}))[0]
    assert r.op[0] == pytest.approx(20.0, abs=1.0) and r.span_source["op_start"] == "season"


def test_a_sibling_that_shares_a_recap_does_not_place_the_opening():
    # episode 0's cold open replays 60 s of episode 1 (a recap, pictures and all) at 120 s; its opening
    # is at 300 s, shared with episode 2; the pair with episode 1 matched the recap, not the opening
    from fuse.season import SeasonRow

    pics = {n: np.random.default_rng(i).integers(0, 256, (400, 11, 11), dtype=np.uint8)
            for i, n in enumerate(("0_start", "1_start", "2_start"))}
    pics["0_start"][120:180] = pics["1_start"][20:80]
    pics["0_start"][300:345] = pics["2_start"][50:95] = OP_PICTURES
    row = SeasonRow("0_start", "s", 345.0, "season", 2, 0.0, 300.0, 345.0,
                    partners=(("1_start", 120.0, 180.0), ("2_start", 300.0, 345.0)),
                    shifts=(("1_start", -100.0), ("2_start", -250.0)))
    owner = {"1_start": "ep1", "2_start": "ep2"}
    got = season_mode._pictures_edge("start", row, pics, owner)
    assert got == (300.0, ["ep2"])


# the ED of episodes 0 and 3 is heard clean from their first frame; episodes 1 and 2 lead their ED song
# in 8 s under their last scenes' dialogue, so the song they share with episode 0 is heard only from 8 s
# into it: the median of episode 0's three matches starts its ending 8 s late
FOUR = [*THREE, (60.0, 35.0, D, 60.0 + SONG_S + 0.5, D - S + 35.0 - 0.5)]
DROWNED = {0: {"ed_pictures_from": 30.0},
           1: {"ed_pictures_from": 25.0 + 8.0, "ed_heard_from": 8.0},
           2: {"ed_pictures_from": 40.0 + 8.0, "ed_heard_from": 8.0},
           3: {"ed_pictures_from": 35.0}}


def test_siblings_whose_ending_leads_in_under_dialogue_start_the_match_late():
    no_pictures = {i: {k: v for k, v in c.items() if k != "ed_pictures_from"} for i, c in DROWNED.items()}
    r = _season(FOUR, no_pictures)[0]
    assert r.season["end"]["span"][0] == pytest.approx(D - S + 30.0 + 8.0, abs=1.0)


def test_an_endings_start_is_where_its_pictures_are_shared_not_where_the_siblings_song_is_heard():
    r = _season(FOUR, DROWNED)[0]
    # the first whole second inside the match with episode 3 (its span starts a fraction after 30 s)
    got = r.season["end"]["pictures"]
    assert (got["start"], got["shared_with"]) == (pytest.approx(D - S + 30.0, abs=1.0),
                                                  ["Show/Season 01/ep3.mp4"])


def test_the_shared_pictures_confirm_the_models_ending_start():
    r = _season(FOUR, DROWNED)[0]
    assert (r.ed_start, r.confidence["ed_start"] > 0.95) == (pytest.approx(D - S + 30.0, abs=1.0), True)


def test_pictures_shared_only_later_than_the_song_leave_the_ending_to_the_match_and_models():
    # episode 0's ending cuts fast at first: its pictures match its siblings' only from 8 s into the song
    late = {0: {"ed_pictures_from": 38.0}, 1: {"ed_pictures_from": 25.0}, 2: {"ed_pictures_from": 40.0},
            3: {"ed_pictures_from": 35.0}}
    r = _season(FOUR, late)[0]
    moved = "moved_match_s" in r.season["end"]["pictures"]
    assert (r.ed_start, moved) == (pytest.approx(D - S + 30.0, abs=1.0), False)


def test_pictures_where_the_models_put_the_ending_confirm_it_inside_a_heard_lead_in():
    # episode 0's ED song leads in 6 s under its last scene, heard in the match (which starts at 30 s);
    # its pictures begin at 36 s, where the models put the ending, unsure (0.6)
    layout = [(20.0, 30.0, D, 20.0 + SONG_S + 0.5, D - S + 36.0), *FOUR[1:]]
    lead = {0: {"ed_pictures_from": 36.0, "conf": 0.6}, 1: {"ed_pictures_from": 25.0},
            2: {"ed_pictures_from": 40.0}, 3: {"ed_pictures_from": 35.0}}
    r = _season(layout, lead)[0]
    assert (r.ed_start, r.confidence["ed_start"] > 0.9) == (pytest.approx(D - S + 36.0, abs=1.0), True)


def test_pictures_where_the_models_put_the_opening_end_confirm_it_inside_a_ringing_song():
    # episode 0's OP song rings on 6 s after its pictures end (at 59 s), heard in the match (which ends
    # at 65 s); the models put the OP end at 59 s, unsure (0.6)
    layout = [(20.0, 30.0, D, 20.0 + SONG_S - 6.0, D - S + 30.0 - 0.5), *FOUR[1:]]
    ring = {**_with_pictures({0: {"pictures_until": 20.0 + SONG_S - 6.0, "conf": 0.6}}),
            3: {"pictures_from": 60.0}}
    r = _season(layout, ring)[0]
    assert (r.op_end, r.confidence["op_end"] > 0.9) == (pytest.approx(20.0 + SONG_S - 6.0, abs=1.0), True)


def test_an_ending_range_never_begins_before_its_shared_pictures():
    # episode 0's ED song leads in 6 s under its last scene, heard in the match; the models put the
    # ending 2.5 s after the match (unsure, 0.6) and the siblings' pictures begin 6 s after it
    layout = [(20.0, 30.0, D, 20.0 + SONG_S + 0.5, D - S + 32.5), *FOUR[1:]]
    lead = {0: {"ed_pictures_from": 36.0, "conf": 0.6}, 1: {"ed_pictures_from": 25.0},
            2: {"ed_pictures_from": 40.0}, 3: {"ed_pictures_from": 35.0}}
    r = _season(layout, lead)[0]
    assert r.ed[0] == pytest.approx(D - S + 36.0, abs=1.0)
