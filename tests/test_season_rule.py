"""The season decision rule (fuse/season_rule.py) on hand-made sidecars and submissions: no sibling,
one sibling, several siblings, a cour change, OP/ED reprises, implausible spans; its fitting on
training rows; and ``fuse/fuse.py --season --season_rule`` end to end with the reasons it writes.

    .venv/bin/python -m pytest -q tests/test_season_rule.py
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datatools.labels import read_submission, write_submission
from fuse.season import SeasonRow, apply_offsets, fit_offsets, read_sidecar, write_sidecar
from fuse.season_rule import SeasonRule, decide, fit_reliability, implausible, model_reliability

ROOT = Path(__file__).resolve().parent.parent
S = 200.0
RULE = SeasonRule(reliability={"one": 0.7, "several": 0.95, "several_spread": 0.4}, model_trust=0.5)


def _row(clip, seconds, siblings, spread=0.3, span=None, kind=None):
    kind = kind or ("s" if clip.endswith("_start") else "e")
    if span is None:
        span = (seconds - 90.0, seconds) if kind == "s" else (seconds, seconds + 90.0)
    return SeasonRow(clip, kind, seconds, "season" if siblings else "none", siblings, spread,
                     span[0], span[1], 0 if siblings else -1, S)


def _decide(kind, model, p_models, row):
    return decide(kind, model, p_models, row.seconds if row.source == "season" else None, row.siblings,
                  row.spread_s, row.span_start, row.span_end, row.clip_seconds, RULE)


def test_no_sibling_keeps_the_models():
    d = _decide("s", 61.0, 0.1, _row("a_start", 0.0, 0))
    assert (d.seconds, d.source, d.reason) == (61.0, "models", "no sibling")


def test_one_sibling_agreeing_with_unsure_models_answers():
    d = _decide("s", 64.0, 0.3, _row("a_start", 60.0, 1))
    assert d.source == "season" and d.seconds == 60.0 and d.reason.startswith("agree; match more reliable")


def test_one_sibling_loses_to_a_confident_dense_model():
    for model in (64.0, 140.0):                  # agreeing or not, confidence 0.95 > 0.7
        d = _decide("s", model, 0.95, _row("a_start", 60.0, 1))
        assert d.source == "models" and d.seconds == model and "models more reliable" in d.reason


def test_several_consistent_siblings_overrule_far_off_models():
    # the ED that leads in by a different amount each episode: spread 2.5 s, still one song
    d = _decide("e", 27.0, 0.2, _row("a_end", 55.0, 7, spread=2.5))
    assert d.source == "season" and d.seconds == 55.0
    assert d.reason.startswith("disagree; 7 siblings agree on the match")


def test_several_siblings_are_not_overruled_by_the_models_confidence_alone():
    # a confident model (0.97) that rules the matched time out (its posterior 1e-6 there) far off
    row = _row("a_end", 55.0, 3, spread=0.8)
    d = decide("e", 27.0, 0.97, 55.0, 3, 0.8, row.span_start, row.span_end, S, RULE, 1e-6)
    assert (d.source, d.seconds, d.confidence) == ("season", 55.0, 0.95)


def test_a_partial_match_of_several_siblings_does_not_overrule_a_confident_model():
    # five siblings (another show reusing the track) share only the last 42 s of this clip's ending:
    # their spans among themselves are 24 s longer; the model (0.95) rules the matched time out
    d = decide("e", 58.75, 0.95, 73.1, 5, 0.1, 73.0, 114.8, S, RULE, 1e-6, short_s=23.8)
    assert (d.source, d.seconds) == ("models", 58.75)


def test_a_span_only_the_clip_end_shortens_is_no_partial_match():
    d = decide("e", 150.0, 0.95, 165.0, 5, 0.1, 165.0, 200.0, S, RULE, 1e-6, short_s=55.0)
    assert (d.source, d.seconds) == ("season", 165.0)


def test_short_spans_are_measured_against_the_siblings_own():
    from fuse.season import with_short_spans

    rows = [SeasonRow(c, "e", a, "season", 2, 0.1, a, b, 0, S,
                      partners=tuple((o, 0.0, 0.0) for o in ("x_end", "y_end", "z_end") if o != c))
            for c, a, b in (("x_end", 70.0, 110.0), ("y_end", 50.0, 115.0), ("z_end", 40.0, 105.0))]
    assert [r.short_s for r in with_short_spans(rows)] == [25.0, -12.5, -12.5]


def test_models_inside_the_matched_song_keep_their_own_answer_and_confidence():
    # an ED song that leads in 6 s before the pictures the models found: theirs, not surer for it
    d = _decide("e", 61.0, 0.97, _row("a_end", 55.0, 3, spread=0.5))
    assert (d.source, d.seconds, d.confidence, d.confirmed) == ("models", 61.0, 0.97, True)


def test_a_surer_match_answers_over_less_reliable_models_inside_its_song():
    d = _decide("e", 61.0, 0.5, _row("a_end", 55.0, 3, spread=0.5))
    assert (d.source, d.seconds, d.confidence) == ("season", 55.0, 0.95)


def test_several_siblings_a_few_seconds_off_do_not_overrule_surer_models():
    # 3.2 s outside the song: the same song read less precisely, not another place
    d = _decide("e", 51.8, 0.99, _row("a_end", 55.0, 2, spread=3.0))
    assert (d.source, d.seconds) == ("models", 51.8)


def test_agreement_within_two_seconds_is_surer_than_either():
    from fuse.season_rule import agreement_confidence

    d = _decide("s", 61.5, 0.8, _row("a_start", 60.0, 1))        # one sibling (0.7) and the models (0.8)
    assert d.reason.startswith("agree; match and models confirm")
    assert d.confidence == pytest.approx(agreement_confidence(0.7, 0.8)) == pytest.approx(0.94)
    assert d.confidence > 0.8


def test_agreeing_within_two_seconds_the_more_reliable_reads_the_place():
    # the models (0.8) are surer than one sibling (0.7): their place, 1.5 s from the match
    d = _decide("s", 61.5, 0.8, _row("a_start", 60.0, 1))
    assert (d.source, d.seconds) == ("models", 61.5)


def test_agreeing_within_two_seconds_a_surer_match_reads_the_place():
    # the models at 0.6, below one sibling's 0.7: the match's place
    d = _decide("s", 61.5, 0.6, _row("a_start", 60.0, 1))
    assert (d.source, d.seconds) == ("season", 60.0)


def _posterior(peaks):
    """A per-second posterior (S bins) with the given {seconds: mass} bumps and the rest spread evenly."""
    p = np.full(int(S), (1.0 - sum(peaks.values())) / S)
    for t, m in peaks.items():
        p[int(t)] += m
    return p


def test_the_models_own_probability_of_the_match_decides_a_disagreement():
    from fuse.season_rule import mass_near
    # the weighing of the two places, where several siblings do not decide on their own
    rule = SeasonRule(**{**RULE.to_dict(), "several_decides": False})
    row = _row("a_end", 55.0, 7, spread=0.8)          # a tight match: p_season 0.95
    # a confident model (0.97 at 27 s) that still gives the matched time 5 %: the match wins
    q = mass_near(_posterior({27.0: 0.9, 55.0: 0.05}), 55.0)
    assert 0.05 < q < 0.07
    d = decide("e", 27.0, 0.97, 55.0, 7, 0.8, row.span_start, row.span_end, S, rule, q)
    assert (d.source, d.seconds) == ("season", 55.0) and d.reason.startswith("disagree; match more probable")
    assert "P(matched time) 0.0" in d.reason
    # the same model ruling the matched time out (1e-6 there): it keeps its answer, where one scalar
    # (0.97 against 0.95) would have decided the same only by a hair
    d = decide("e", 27.0, 0.97, 55.0, 7, 0.8, row.span_start, row.span_end, S, rule, 1e-6)
    assert (d.source, d.seconds) == ("models", 27.0) and d.reason.startswith("disagree; models more probable")
    # an unsure model that rules it out, against a weak one-sibling match: the models, by default too
    d = decide("e", 27.0, 0.3, 55.0, 1, 0.0, row.span_start, row.span_end, S, RULE, 1e-6)
    assert d.source == "models"
    # between 2 s and 2 x TOLERANCE apart the posterior is not used: the more reliable source answers
    d = decide("e", 52.0, 0.97, 55.0, 7, 0.8, row.span_start, row.span_end, S, rule, 1e-6)
    assert d.source == "models" and d.reason.startswith("agree; models more reliable")


def test_no_model_takes_a_plausible_match():
    row = _row("a_start", 60.0, 2)
    d = decide("s", float("nan"), 0.0, 60.0, 2, 0.3, row.span_start, row.span_end, S, RULE)
    assert (d.source, d.seconds, d.confidence) == ("season", 60.0, 0.95) and d.reason.startswith("no model;")
    d = decide("s", float("nan"), 0.0, None, 0, 0.0, float("nan"), float("nan"), S, RULE)
    assert d.source == "models" and d.reason == "no sibling"


def test_several_inconsistent_siblings_do_not():
    d = _decide("e", 27.0, 0.45, _row("a_end", 55.0, 4, spread=8.0))
    assert d.source == "models"


def test_cour_change_short_shared_span_is_not_an_opening():
    # a cour-2 episode shares only a 20-s title card with cour-1 episodes
    row = _row("a_start", 80.0, 3, span=(60.0, 80.0))
    d = _decide("s", 95.0, 0.1, row)
    assert d.source == "models" and "too short for an opening" in d.reason


def test_op_reprise_running_to_the_clip_end_is_not_the_op_end():
    # a same-audio OP reprise at the end of the _start clip: its OP end would lie past the clip
    row = _row("a_start", 199.0, 2, span=(150.0, 200.0))
    d = _decide("s", 70.0, 0.1, row)
    assert d.source == "models" and "runs to the clip end" in d.reason


def test_ed_reprise_from_the_clip_start_is_not_the_ed_start():
    row = _row("a_end", 0.0, 2, span=(0.0, 60.0))
    d = _decide("e", 110.0, 0.1, row)
    assert d.source == "models" and "starts at the clip start" in d.reason


def test_span_too_long_and_ed_cut_by_the_clip_end():
    assert "too long for an opening" in implausible("s", 10.0, 150.0, S)
    assert implausible("e", 170.0, 200.0, S) is None           # ED cut by the clip end: fine
    assert "too short for an ending" in implausible("e", 120.0, 140.0, S)
    assert implausible("s", 20.0, 110.0, S) is None


def test_model_reliability_dense_or_agreement():
    assert model_reliability([1, 2, 3], 2.0, 0.83) == 0.83
    assert model_reliability([50.0, 50.5, 51.0, 90.0, 10.0], 50.5, None, RULE) == pytest.approx(0.6 * 0.5)
    assert model_reliability([50.0, 90.0], 50.0, None, RULE, weights=[3, 1]) == pytest.approx(0.75 * 0.5)


def test_fit_on_training_rows():
    labels, rows = {}, []
    for i in range(10):  # several siblings, tight: right
        rows.append(_row(f"t{i}_start", 60.0 + 0.2 * i, 3, spread=0.4))
        labels[f"t{i}_start"] = 60.0 + 0.2 * i
    for i in range(6):           # several siblings, spread 6 s: wrong by 8 s
        rows.append(_row(f"w{i}_start", 60.0, 3, spread=6.0))
        labels[f"w{i}_start"] = 68.0
    for i in range(4):           # one sibling: half right
        rows.append(_row(f"o{i}_end", 100.0, 1))
        labels[f"o{i}_end"] = 100.0 if i % 2 else 110.0
    rows.append(_row("x_start", 199.0, 3, span=(150.0, 200.0)))  # implausible
    labels["x_start"] = 60.0
    rule = fit_reliability(rows, labels, S)
    assert rule.spread_cut in (0.5, 1.0, 2.0, 3.0, 5.0) and rule.spread_cut < 6.0
    assert rule.reliability["several"] == pytest.approx((10 + 2 * 0.9) / 12, abs=1e-4)  # prior 0.9 as 2 clips
    assert rule.reliability["several_spread"] == pytest.approx((0 + 2 * 0.6) / 8, abs=1e-4)
    assert rule.reliability["one"] == pytest.approx((2 + 2 * 0.75) / 6, abs=1e-4)
    assert rule.n == {"one": 4, "several": 10, "several_spread": 6, "implausible": 1, "song_fit": 12}
    assert SeasonRule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule


def test_fuse_cli_with_season_rule_writes_reasons(tmp_path):
    clips = ["a_start", "b_start", "c_end", "d_end", "e_start"]
    models = {"a_start": 70.0, "b_start": 61.0, "c_end": 30.0, "d_end": 120.0, "e_start": 75.0}
    for k in range(3):
        write_submission(tmp_path / f"m{k}.csv", [(c, models[c] + 0.3 * k) for c in clips])
    rows = [_row("a_start", 60.0, 5, spread=0.5),              # several, far: season
            _row("b_start", 0.0, 0),                            # no sibling: models
            _row("c_end", 55.0, 1),                             # one sibling (0.7), far; models agree: 0.9
            _row("d_end", 0.0, 2, span=(0.0, 60.0)),             # ED span from the clip start: models
            _row("e_start", 80.0, 3, span=(60.0, 80.0))]         # 20-s span: models
    side = tmp_path / "season.csv"
    write_sidecar(side, rows)
    assert read_sidecar(side)["a_start"].clip_seconds == S
    rule_file = tmp_path / "offsets.json"
    rule = SeasonRule(reliability=RULE.reliability, model_trust=0.9)
    rule_file.write_text(json.dumps({"offset": {}, "decision": rule.to_dict()}))
    out = tmp_path / "fused.csv"
    proc = subprocess.run(
        [sys.executable, "fuse/fuse.py", "--inputs", *[str(tmp_path / f"m{k}.csv") for k in range(3)],
         "--output", str(out), "--season", str(side), "--season_rule", str(rule_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    plain = tmp_path / "plain.csv"
    subprocess.run(
        [sys.executable, "fuse/fuse.py", "--inputs", *[str(tmp_path / f"m{k}.csv") for k in range(3)],
         "--output", str(plain), "--quiet"],
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    fused = {r.clip.removesuffix(".mp4"): r.seconds for r in read_submission(plain)}
    got = {r.clip.removesuffix(".mp4"): r.seconds for r in read_submission(out)}
    assert got == {**fused, "a_start": 60.0}
    with open(tmp_path / "fused_sources.csv", newline="") as fh:
        src = {r["clip"].removesuffix(".mp4"): r for r in csv.DictReader(fh)}
    assert src["a_start"]["source"] == "season" and src["a_start"]["reason"].startswith(
        "disagree; 5 siblings agree on the match"
    )
    assert src["b_start"]["reason"] == "no sibling"
    assert "models more reliable" in src["c_end"]["reason"]
    assert "starts at the clip start" in src["d_end"]["reason"]
    assert "too short for an opening" in src["e_start"]["reason"]
    assert all(src[c]["source"] != "season" for c in clips[1:])


def test_offsets_and_rule_fitted_together(tmp_path):
    raw = [_row(f"t{i}_start", 58.0, 2) for i in range(4)]
    labels = {r.clip: 60.0 for r in raw}
    off = fit_offsets(raw, labels)
    assert off["offset"]["s"] == pytest.approx(2.0)
    rule = fit_reliability(apply_offsets(raw, off, S), labels, S)
    assert rule.reliability["several"] == pytest.approx((4 + 1.8) / 6, abs=1e-4)


def test_model_trust_from_validation_answers():
    from fuse.season_rule import fit_model_trust
    labels = {f"c{i}_start": 50.0 for i in range(10)}
    a = {f"c{i}_start": 50.5 if i < 8 else 60.0 for i in range(5)} | {
        "other_start": 1.0
    }  # 5 labelled: 5 right
    b = {f"c{i}_start": 50.0 if i % 2 else 70.0 for i in range(10)}                       # 5 of 10 right
    rule = fit_model_trust([a, b], labels, SeasonRule())
    assert rule.model_trust == pytest.approx(0.75) and rule.n["model_validation"] == 15
    assert fit_model_trust([], labels, RULE) == RULE


def test_song_bounds_widen_for_short_songs_only():
    short = [_row(f"s{i}_start", 25.0, 1, span=(5.0 + 0.5 * i, 25.0)) for i in range(6)]   # 20-17.5 s songs
    labels = {r.clip: 25.0 for r in short}
    rule = fit_reliability(short, labels, 60.0)
    assert rule.min_song_s == pytest.approx(
        0.6 * np.percentile([20.0 - 0.5 * i for i in range(6)], 5), abs=0.01
    )
    assert rule.max_song_s == 120.0 and rule.n["implausible"] == 0 and rule.reliability["one"] > 0.8
    normal = [_row(f"n{i}_start", 90.0 + i, 3) for i in range(6)]                            # 90-s songs
    rule = fit_reliability(normal, {r.clip: r.seconds for r in normal}, S)
    assert (rule.min_song_s, rule.max_song_s) == (30.0, 120.0)
    few = short[:4]                                                                        # too few to fit
    assert fit_reliability(few, labels, 60.0).n["implausible"] == 4


def test_unfitted_floor_comes_from_the_clip_set():
    from fuse.season_rule import widen_for_clip_set
    unfitted = SeasonRule()
    assert widen_for_clip_set(unfitted, [27.0, 29.0, 28.0]).min_song_s == pytest.approx(0.6 * 28.0)
    assert widen_for_clip_set(unfitted, [90.0, 88.0]).min_song_s == 30.0            # only widens
    fitted = SeasonRule(n={"song_fit": 12})
    assert widen_for_clip_set(fitted, [20.0]) == fitted and widen_for_clip_set(unfitted, []) == unfitted
    # fuse.py --season without a fitted rule on a set of 28-s songs keeps their matches
    rows = {f"a{i}_start": _row(f"a{i}_start", 40.0, 1, span=(12.0, 40.0)) for i in range(3)}
    from datatools.labels import SubmissionRow
    from fuse.fuse import fuse_tables
    from fuse.season import apply_season
    recs = fuse_tables([("m", [SubmissionRow(f"{k}.mp4", "s", 20.0) for k in rows])], "median")
    out, dec = apply_season(recs, rows)
    assert all(r.seconds == 40.0 for r in out)
    assert all(
        d.source == "season"
        and d.reason.startswith("disagree; match more reliable")
        and "20.0 s apart" in d.reason
        for d in dec.values()
    )


def test_bins_without_training_clips_keep_the_prior():
    rule = fit_reliability([], {}, S)
    assert dict(rule.reliability) == dict(SeasonRule().reliability)
