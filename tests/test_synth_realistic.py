"""Tests of the generator's realistic difficulty (datatools/synth/realistic.py).

    .venv/bin/python -m pytest -q tests/test_synth_realistic.py

Every phenomenon knob is forced on and off on episode plans (nothing rendered) and must be
recorded in spans.json; the label convention is checked on rendered frames with
``stamp_segments`` (each frame carries the code of the segment on screen) for each OP-end
variant (cut, fade, ring) and each ED-start variant (cut, lead-in, fade-in); sounds are checked on
the rendered episode audio.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from datatools.labels import read_labels
from datatools.synth import (
    REALISTIC_KNOBS,
    SEGMENT_KINDS,
    SynthConfig,
    build_episode,
    decode_stamp,
    generate_dataset,
    main,
    plan_dataset,
)
from datatools.synth.realistic import _song

S = 200
OFF = {k: 0.0 for k in REALISTIC_KNOBS}


def _plan(**kw):
    cfg = SynthConfig(clip_seconds=kw.pop("clip_seconds", S), seed=kw.pop("seed", 4), **kw)
    return plan_dataset(cfg, series=8, episodes=3, lone_episodes=2).episodes


# knob -> (extra knobs that make it applicable, check that must hold for every episode when forced
# on, check that must hold for none when forced off)
def _fr(s=S):
    return max(min(1.0, s / 200), 0.34)


KNOB_CHECKS = {
    "cold_open_zero_prob": (
        {},
        lambda e: e["cold_open"] == 0 and "no_cold_open" in e["clips"]["start"]["flags"],
    ),
    "recap_prob": (
        {"cold_open_zero_prob": 0.0},
        lambda e: e["cold_open"] < 25 or (e["recap"] is not None and "recap" in e["clips"]["start"]["flags"]),
    ),
    "op_lead_prob": (
        {},
        lambda e: (
            e["cold_open"] < 10
            or (
                e["op_lead"] >= 1.5 * _fr()
                and e["op_song_span"][0] < e["op_start"]
                and "op_lead" in e["clips"]["start"]["flags"]
            )
        ),
    ),
    "op_narration_prob": ({}, lambda e: e["op_end"] is None or e["op_narration"]),
    "op_fade_prob": (
        {},
        lambda e: (
            e["op_end"] is None
            or (
                e["op_end_kind"] == "fade"
                and 0.5 * _fr() <= e["op_fade"]
                and "op_fade" in e["clips"]["start"]["flags"]
            )
        ),
    ),
    "op_ring_prob": (
        {},
        lambda e: (
            e["op_end"] is None
            or (
                e["op_end_kind"] == "ring"
                and e["op_song_span"][1] - e["op_end"] >= 1.5 * _fr() - 1e-6
                and "ring" in e["clips"]["start"]["flags"]
            )
        ),
    ),
    "gap_after_op_prob": ({}, lambda e: "gap" in e["after_op"]),
    "title_card_prob": ({}, lambda e: "title_card" in e["after_op"] and e["title_card"] is not None),
    "sponsor_prob": ({}, lambda e: "sponsor" in e["after_op"] and e["sponsor"] is not None),
    "ed_lead_prob": (
        {},
        lambda e: (
            e["ed_start_kind"] == "lead"
            and e["ed_song_span"][0] <= e["ed_start"] - 2
            and "song_lead" in e["clips"]["end"]["flags"]
        ),
    ),
    "ed_fade_in_prob": (
        {},
        lambda e: e["ed_start_kind"] == "fade_in" and e["ed_fade_in"] > 0 and e["ed_gap"] > 0,
    ),
    "ed_dialogue_over_prob": ({}, lambda e: e["ed_dialogue_over"]),
    "gap_before_ed_prob": ({}, lambda e: e["ed_gap"] > 0 and "gap_before_ed" in e["clips"]["end"]["flags"]),
    "no_tail_prob": ({}, lambda e: e["tail"] == "none" and e["ed_end"] == e["duration"]),
    "long_tail_prob": (
        {},
        lambda e: (
            e["tail"] == "long"
            and e["c_part"]
            and e["preview"]
            and e["end_card"]
            and "long_tail" in e["clips"]["end"]["flags"]
        ),
    ),
    "preview_op_prob": ({"long_tail_prob": 1.0}, lambda e: e["op_end"] is None or e["preview_op"]),
    "action_scene_prob": ({}, lambda e: all(st == "action" for st, _, _ in e["body_styles"])),
    "dialogue_scene_prob": ({}, lambda e: all(st == "dialogue" for st, _, _ in e["body_styles"])),
    "montage_scene_prob": ({}, lambda e: all(st == "montage" for st, _, _ in e["body_styles"])),
    "still_scene_prob": ({}, lambda e: all(st == "still" for st, _, _ in e["body_styles"])),
    "loud_bgm_prob": ({}, lambda e: len(e["loud_bgm"]) >= len(e["body_styles"]) - 2),
    "reprise_prob": ({}, lambda e: len(e["reprises"]) == 1),
    "reprise_same_audio_prob": ({"reprise_prob": 1.0}, lambda e: all(x["same_audio"] for x in e["reprises"])),
    "body_insert_song_prob": ({}, lambda e: len(e["insert_songs"]) == 1),
    "body_text_prob": ({}, lambda e: len(e["body_text"]) == len(e["body_styles"])),
    "burned_subs_prob": ({}, lambda e: e["burned_subs"] and "burned_subs" in e["clips"]["start"]["flags"]),
    "lyrics_prob": ({}, lambda e: e["lyrics"]),
    "cour_change_prob": ({}, lambda e: e["lone_episode"] or e["cour_change"] is not None),
    "premiere_no_op_prob": (
        {},
        lambda e: (
            e["episode"] != 0
            or (
                e["clips"]["start"]["label"] is None
                and e["clips"]["start"]["no_label"]
                and "no_op" in e["clips"]["start"]["flags"]
            )
        ),
    ),
    "eyecatch_prob": (
        {},
        lambda e: e["eyecatch"] is not None and 3.0 <= e["eyecatch"][1] - e["eyecatch"][0] <= 8.0,
    ),
    "black_break_prob": (
        {},
        lambda e: e["black_break"] is not None and 0.5 <= e["black_break"][1] - e["black_break"][0] <= 2.0
        and list(e["black_break"]) in [list(g) for g in e["gaps"]],
    ),
    "late_op_prob": (
        {},
        lambda e: (
            e["op_end"] is None
            or (
                e["late_op"]
                and 150 <= e["cold_open"] <= 480
                and e["op_end"] > S
                and e["clips"]["start"]["label"] is None
                and e["clips"]["start"]["no_label"].startswith("late opening")
                and "late_op" in e["clips"]["start"]["flags"]
            )
        ),
    ),
}


def test_late_op_off_leaves_the_published_layouts_unchanged():
    """late_op_prob draws from a stream of its own: at 0 every episode is the one it always was."""
    base = [e.spans for e in _plan()]
    zero = [e.spans for e in _plan(late_op_prob=0.0)]
    assert [(e["cold_open"], e["op_end"], e["ed_start"], e["duration"]) for e in base] == \
        [(e["cold_open"], e["op_end"], e["ed_start"], e["duration"]) for e in zero]


def test_the_eyecatch_is_the_same_card_and_sting_in_every_episode():
    eps = [e for e in _plan(**{**OFF, "eyecatch_prob": 1.0}) if e.series.index == 0]
    built = [build_episode(e) for e in eps]
    stings = [[(round(s.end - s.start, 3), s.key) for s in ep.sounds if s.kind == "song"
               and any(k == "eyecatch" and a <= s.start < b for k, a, b in e.segments)]
              for ep, e in zip(built, eps)]
    assert len(eps) == 3 and len(stings[0]) == 1 and stings[0] == stings[1] == stings[2]


def test_every_knob_has_a_check():
    assert set(KNOB_CHECKS) == set(REALISTIC_KNOBS)


@pytest.mark.parametrize("knob", sorted(REALISTIC_KNOBS))
def test_each_phenomenon_can_be_forced_on_and_off_and_is_recorded(knob):
    extra, check = KNOB_CHECKS[knob]
    on = [e.spans for e in _plan(**{**OFF, **extra, knob: 1.0})]
    off = [e.spans for e in _plan(**{**OFF, **extra, knob: 0.0})]
    assert all(check(e) for e in on), knob
    if knob in ("reprise_same_audio_prob",):
        assert not any(x["same_audio"] for e in off for x in e["reprises"])
    elif knob == "cour_change_prob":
        assert not any(e["cour_change"] for e in off)
    elif knob in ("recap_prob", "op_lead_prob", "op_narration_prob", "op_fade_prob", "op_ring_prob",
                  "preview_op_prob", "premiere_no_op_prob"):
        # these checks hold vacuously where the phenomenon cannot apply; off means never present
        field = {"recap_prob": "recap", "op_lead_prob": "op_lead", "op_narration_prob": "op_narration",
                 "op_fade_prob": "op_fade", "op_ring_prob": "op_ring", "preview_op_prob": "preview_op",
                 "premiere_no_op_prob": "premiere_no_op"}[knob]
        assert not any(e.get(field) for e in off), knob
    else:
        assert not any(check(e) for e in off), knob


def test_default_layouts_are_wide_and_consistent():
    eps = _plan(seed=11)
    eps += plan_dataset(SynthConfig(clip_seconds=S, seed=12), series=20, episodes=4).episodes
    ops, eds = [], []
    for ep in eps:
        sp, segs = ep.spans, ep.segments
        assert segs[0][1] == 0 and segs[-1][2] == pytest.approx(ep.duration)
        assert all(a[2] == pytest.approx(b[1]) for a, b in zip(segs, segs[1:]))   # contiguous
        assert all(k in SEGMENT_KINDS for k, _, _ in segs)
        start, end = sp["clips"]["start"], sp["clips"]["end"]
        if start["label"] is not None:
            (k, a, b), = [s for s in segs if s[0] == "op"]
            assert start["label"] == b == sp["op_end"] and a == sp["op_start"] == sp["cold_open"]
            assert 45 <= b - a <= 100
            ops.append(start["label"])
        (k, a, b), = [s for s in segs if s[0] == "ed"]
        assert end["label"] == pytest.approx(a - (ep.duration - S)) and a == sp["ed_start"]
        eds.append(end["label"])
        assert 0 <= end["label"] <= S
        assert sp["ed_song_span"][1] == sp["ed_end"] == b
    ops, eds = np.array(ops), np.array(eds)
    assert ops.min() < 70 and ops.max() > 180 and eds.min() < 20 and eds.max() > 130
    # the training-median baseline is far from the truth: labels spread as widely as real ones
    base = np.concatenate([np.maximum(np.abs(ops - np.median(ops)) - 1, 0),
                           np.maximum(np.abs(eds - np.median(eds)) - 1, 0)]).mean()
    assert base >= 20, base


def test_premiere_without_op_is_rendered_but_unlabelled(tmp_path):
    spans = generate_dataset(tmp_path, series=1, episodes=2, clip_seconds=30, seed=3, progress=False,
                             resolutions=((128, 96),), fps_choices=("25",), min_minutes=1.0, max_minutes=1.2,
                             render_fps=2, **{**OFF, "premiere_no_op_prob": 1.0})
    rows = {r.stem for r in read_labels(tmp_path / "labels.txt", clip_seconds=30, check_videos=True)}
    (first, second) = sorted(spans["episodes"].items(), key=lambda kv: kv[1]["episode"])
    assert (
        first[1]["clips"]["start"]["label"] is None and "no opening" in first[1]["clips"]["start"]["no_label"]
    )
    assert (tmp_path / f"{first[0]}_start.mp4").is_file()
    assert rows == {f"{first[0]}_end", f"{second[0]}_start", f"{second[0]}_end"}
    # the premiere's ED plays the OP song: the same samples as the OP of the next episode
    e0, e1 = (
        build_episode(p)
        for p in sorted(
            plan_dataset(
                SynthConfig(
                    clip_seconds=30,
                    seed=3,
                    resolutions=((128, 96),),
                    fps_choices=("25",),
                    min_minutes=1.0,
                    max_minutes=1.2,
                    **{**OFF, "premiere_no_op_prob": 1.0},
                ),
                1,
                2,
            ).episodes,
            key=lambda p: p.episode,
        )
    )
    sr = e0.sr
    a = e0.audio(round((e0.plan.spans["ed_song_span"][0] + 1) * sr), sr)
    b = e1.audio(round((e1.plan.spans["op_song_span"][0] + 1) * sr), sr)
    assert np.corrcoef(a, b)[0, 1] > 0.99


VARIANTS = {  # OP end, ED start
    "cut_cut": {},
    "fade_lead": {"op_fade_prob": 1.0, "ed_lead_prob": 1.0},
    "ring_fadein": {"op_ring_prob": 1.0, "ed_fade_in_prob": 1.0},
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def stamped(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    spans = generate_dataset(out, series=1, episodes=1, clip_seconds=30, seed=7, stamp_segments=True,
                             progress=False, resolutions=((128, 96),), fps_choices=("29.97",),
                             min_minutes=1.0, max_minutes=1.2, **{**OFF, **VARIANTS[request.param]})
    return request.param, out, spans


def _codes(path):
    import av
    with av.open(str(path)) as c:
        frames = [decode_stamp(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    assert [v & 0xFFF for v in frames] == [k % 4096 for k in range(len(frames))]
    return [SEGMENT_KINDS[v >> 12] for v in frames]


def test_label_convention_holds_on_rendered_frames(stamped):
    name, out, spans = stamped
    (ep,) = spans["episodes"].values()
    op_kind, ed_kind = {"cut_cut": ("cut", "cut"), "fade_lead": ("fade", "lead"),
                        "ring_fadein": ("ring", "fade_in")}[name]
    assert ep["op_end_kind"] == op_kind and ep["ed_start_kind"] == ed_kind
    fps = ep["fps"]
    # _start: the last OP frame is the one shown just before the label (its fade-out included)
    kinds = _codes(out / ep["clips"]["start"]["file"])
    last = max(k for k, v in enumerate(kinds) if v == "op")
    label = ep["clips"]["start"]["label"]
    assert last / fps < label <= (last + 1) / fps + 1e-6, (name, last, label)
    assert kinds[last + 1] != "op"
    first_op = kinds.index("op")
    assert (first_op - 1) / fps < ep["op_start"] <= first_op / fps + 1e-6
    # _end: the first ED frame is the first one shown at or after the label (after any black gap)
    kinds = _codes(out / ep["clips"]["end"]["file"])
    first = kinds.index("ed")
    label = ep["clips"]["end"]["label"]
    assert (first - 1) / fps < label <= first / fps + 1e-6, (name, first, label)
    if ed_kind == "fade_in":
        assert kinds[first - 1] == "gap"


def test_boundary_sounds_and_pictures_follow_the_variant():
    base = dict(clip_seconds=60, seed=5, resolutions=((128, 96),), fps_choices=("25",), **OFF)
    for extra in VARIANTS.values():
        for plan in plan_dataset(SynthConfig(**{**base, **extra}), 3, 1).episodes:
            ep, sp = build_episode(plan), plan.spans
            sr = ep.sr
            key = plan.layout["op_theme"]
            song = _song((key["seed"], key["song_len"], "op", 0.15, 1.0, 0.0), sr)
            s0 = sp["op_song_span"][0]

            def rms(t0, t1, ep=ep, sr=sr):
                return float(np.sqrt(np.mean(ep.audio(round(t0 * sr), round((t1 - t0) * sr)) ** 2)))

            op_end, op_rms = sp["op_end"], rms(sp["op_end"] - 6, sp["op_end"] - 3)
            if sp["op_end_kind"] == "ring":       # the song goes on under the first body second
                x = ep.audio(round((op_end + 0.1) * sr), sr // 2)
                i0 = round((op_end + 0.1 - s0) * sr)
                assert np.corrcoef(x, song[i0:i0 + x.size])[0, 1] > 0.5   # under speech, fading out
            else:                                 # cut or fade: the music is gone 0.3 s later
                x = ep.audio(round((op_end + 0.3) * sr), sr // 2)
                i0 = round((op_end + 0.3 - s0) * sr)
                seg = song[i0:i0 + x.size]
                assert seg.size < x.size // 2 or abs(np.corrcoef(x[:seg.size], seg)[0, 1]) < 0.3
            if sp["op_end_kind"] == "fade":       # pictures darken into the label
                early = ep.frame(op_end - sp["op_fade"] - 0.3)[0].mean()
                late = ep.frame(op_end - 0.05)[0].mean()
                assert late < 0.25 * early + 1
            if sp["ed_start_kind"] == "lead":     # the ED song is heard before the first ED frame
                assert sp["ed_song_span"][0] <= sp["ed_start"] - 2 * 0.34
                assert rms(sp["ed_song_span"][0] + 0.2, sp["ed_start"] - 0.1) > 0.5 * op_rms
            assert op_rms > 0.03


def test_reprises_and_loud_scores():
    base = dict(clip_seconds=200, seed=8, resolutions=((128, 96),), fps_choices=("25",), **OFF)
    same = plan_dataset(
        SynthConfig(**{**base, "reprise_prob": 1.0, "reprise_same_audio_prob": 1.0}), 2, 2
    ).episodes
    arranged = plan_dataset(SynthConfig(**{**base, "reprise_prob": 1.0}), 2, 2).episodes
    for plans, is_same in ((same, True), (arranged, False)):
        for plan in plans:
            ep, sp = build_episode(plan), plan.spans
            sr = ep.sr
            (rep,) = sp["reprises"]
            snd = next(s for s in plan.layout["sounds"] if s.get("role") == "reprise")
            a = rep["span"][0] + 1.0
            x = ep.audio(round(a * sr), sr)
            assert rep["same_audio"] == is_same
            if is_same:   # the series' own samples, at full level, inside the body
                song = _song(snd["key"], sr)
                i0 = round((a - snd["start"] + snd["offset"]) * sr)
                assert np.corrcoef(x, song[i0:i0 + sr])[0, 1] > 0.7    # sparse shouted lines on top
            else:             # the same melody at another tempo: not the original's samples
                assert snd["key"][4] != 1.0 and 0.05 <= abs(snd["key"][4] - 1) <= 0.14 + 1e-9
                orig = _song(snd["key"][:4] + (1.0, 0.0), sr)
                i0 = round((a - snd["start"] + snd["offset"] * snd["key"][4]) * sr)
                assert abs(np.corrcoef(x, orig[i0:i0 + sr])[0, 1]) < 0.5
    loud = plan_dataset(SynthConfig(**{**base, "loud_bgm_prob": 1.0}), 1, 1).episodes[0]
    ep, sp = build_episode(loud), loud.spans
    sr = ep.sr

    def rms(t0, t1):
        return float(np.sqrt(np.mean(ep.audio(round(t0 * sr), round((t1 - t0) * sr)) ** 2)))
    a, b = sp["loud_bgm"][len(sp["loud_bgm"]) // 2]
    op = rms(sp["op_start"] + 5, sp["op_start"] + 15)
    assert rms(a + 1, min(b, a + 11)) > 0.6 * op     # body music as loud as the OP


def test_cli_flags_and_bad_probability(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "--difficulty" in text and all(f"--{k}" in text for k in REALISTIC_KNOBS)
    assert main(["--out", str(tmp_path), "--reprise_prob", "1.5"]) == 2
    assert "--reprise_prob" in capsys.readouterr().err
    with pytest.raises(ValueError):
        SynthConfig(difficulty="hard")


def test_short_clips_still_hold_both_labels():
    for s in (20, 40, 60):
        for e in _plan(clip_seconds=s, seed=2):
            lab = e.spans["clips"]
            assert lab["start"]["label"] is None or 0 < lab["start"]["label"] <= s
            assert 0 <= lab["end"]["label"] <= s
            assert e.duration >= 2 * s and math.isfinite(lab["end"]["label"])
