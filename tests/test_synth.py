"""Tests of the synthetic episode generator at the easy difficulty (datatools/synth/: plan, episode,
audio, pictures, encode, cli); the realistic difficulty is tested in test_synth_realistic.py.

    .venv/bin/python -m pytest -q tests/test_synth.py

One small dataset (S = 20 s, tiny resolutions) is generated once per module; the rest of the
checks use the planning API, which renders nothing.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from datatools.labels import read_labels
from datatools.synth import (
    SynthConfig,
    build_episode,
    decode_stamp,
    generate_dataset,
    get_args_parser,
    main,
    plan_dataset,
)
from datatools.synth.pictures import stamp_frame

S = 20
KW = dict(
    difficulty="easy",
    resolutions=((160, 90), (128, 96)),
    fps_choices=("25", "29.97"),
    replaced_op_prob=0.0,
    min_minutes=1.0,
    max_minutes=2.0,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    spans = generate_dataset(out, series=2, episodes=2, clip_seconds=S, seed=5, text_truth=True,
                             workers=2, progress=False, **KW)
    return out, spans


@pytest.fixture(scope="module")
def stamped(tmp_path_factory):
    out = tmp_path_factory.mktemp("stamp")
    spans = generate_dataset(
        out,
        series=1,
        episodes=1,
        clip_seconds=S,
        seed=2,
        stamp_frames=True,
        progress=False,
        difficulty="easy",
        resolutions=((128, 96),),
        fps_choices=("29.97",),
        min_minutes=1.0,
        max_minutes=1.0,
    )
    return out, spans


def _decode(path):
    import av
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        info = dict(vcodec=v.codec_context.name, acodec=a.codec_context.name, fps=float(v.average_rate),
                    w=v.width, h=v.height, duration=float(c.duration) / 1e6, sr=a.sample_rate)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        c.seek(0)
        audio = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(audio=0)])
    return info, frames, audio


def test_clips_have_requested_format(dataset):
    out, spans = dataset
    assert len(spans["episodes"]) == 4
    for ep in spans["episodes"].values():
        for kind in ("start", "end"):
            info, frames, audio = _decode(out / ep["clips"][kind]["file"])
            assert info["vcodec"] == "h264" and info["acodec"] == "aac"
            assert (info["w"], info["h"]) == (ep["width"], ep["height"])
            assert abs(info["fps"] - ep["fps"]) < 1e-3
            assert abs(info["duration"] - S) < 0.1
            assert abs(len(frames) / ep["fps"] - S) <= 1.0 / ep["fps"] + 1e-6
            assert abs(audio.size / info["sr"] - S) < 0.1 and np.abs(audio).max() > 0.01


def test_labels_agree_with_spans(dataset):
    out, spans = dataset
    rows = read_labels(out / "labels.txt", clip_seconds=S, check_videos=True)
    assert len(rows) == 2 * len(spans["episodes"])
    for row in rows:
        ep_id, kind = row.stem.rsplit("_", 1)
        ep = spans["episodes"][ep_id]
        D = ep["duration"]
        if kind == "start":
            assert row.seconds == pytest.approx(ep["op_end"], abs=1e-4)
        else:
            assert ep["clips"]["end"]["offset"] == D - S
            assert row.seconds == pytest.approx(ep["ed_start"] - (D - S), abs=1e-4)
        assert 0 <= row.seconds <= S


def test_layouts_are_consistent_and_varied():
    # Planning only: cheap enough to look at many episodes, at the competition S and at S = 20.
    for s in (200, 20):
        cfg = SynthConfig(clip_seconds=s, seed=11, difficulty="easy")
        plan = plan_dataset(cfg, series=20, episodes=5, lone_episodes=5)
        r = min(1.0, s / 200)
        seen = set()
        per_series: dict[int, int] = {}
        for ep in plan.episodes:
            sp, segs = ep.spans, ep.segments
            per_series[sp["series"]] = per_series.get(sp["series"], 0) + 1
            assert segs[0][1] == 0 and segs[-1][2] == pytest.approx(ep.duration)
            assert all(a[2] == pytest.approx(b[1]) for a, b in zip(segs, segs[1:]))   # contiguous
            assert 0 < sp["op_end"] <= s and ep.duration - s <= sp["ed_start"] < ep.duration
            assert 55 * r - 1e-6 <= sp["op_end"] - sp["op_start"] <= 95 * r + 1e-6
            assert 55 * r - 1e-6 <= sp["ed_end"] - sp["ed_start"] <= 95 * r + 1e-6
            assert sp["cold_open"] <= 70 * r + 1e-6
            assert ep.duration >= 2 * s
            if sp["preview"] is None:
                assert sp["ed_end"] == ep.duration      # ED runs to the very end
            seen.update(sp["confusers"])
        assert {"no_cold_open", "no_preview", "insert_song", "replaced_op", "gap_after_op"} <= seen
        assert sorted(per_series.values()).count(1) == 5 and max(per_series.values()) == 5


def test_same_seed_same_labels_and_identical_op_audio():
    cfg = SynthConfig(clip_seconds=S, seed=3, **KW)
    a, b = plan_dataset(cfg, 2, 3), plan_dataset(cfg, 2, 3)
    assert [e.spans for e in a.episodes] == [e.spans for e in b.episodes]
    other = plan_dataset(SynthConfig(clip_seconds=S, seed=4, **KW), 2, 3)
    assert [e.spans["op_end"] for e in a.episodes] != [e.spans["op_end"] for e in other.episodes]
    sr = cfg.sample_rate
    eps = [build_episode(e) for e in a.episodes if e.series.index == 0]
    ops = []
    for ep in eps:
        sp = ep.plan.spans
        assert sp["cold_open"] != sp["op_start"] or sp["cold_open"] == 0
        n = round((sp["op_end"] - sp["op_start"]) * sr) - 1
        ops.append(ep.audio(round(sp["op_start"] * sr), n))
    assert len(ops) == 3 and np.abs(ops[0]).max() > 0.1
    for x in ops[1:]:
        np.testing.assert_array_equal(ops[0], x)
    # A range render equals the same samples of a longer render (clips are cut from one timeline).
    whole = eps[0].audio(0, 15 * sr)
    np.testing.assert_array_equal(eps[0].audio(7 * sr + 11, 3 * sr), whole[7 * sr + 11:10 * sr + 11])
    # Another series has another OP; a replaced OP is a different song.
    other_series = next(build_episode(e) for e in a.episodes if e.series.index == 1)
    assert not np.array_equal(other_series.song("op")[:1000], eps[0].song("op")[:1000])
    rep = plan_dataset(SynthConfig(clip_seconds=S, seed=3, **{**KW, "replaced_op_prob": 1.0}), 1, 1)
    assert rep.episodes[0].spans["replaced_op"] and rep.episodes[0].spans["op_song"] == "op2"
    assert not np.array_equal(build_episode(rep.episodes[0]).song("op")[:5000], eps[0].song("op")[:5000])


def _band_profile(x: np.ndarray, sr: int) -> np.ndarray:
    """Shape of the log spectrum in 24 log-spaced bands (level removed)."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::512] * np.hanning(1024)
    mag = np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0)
    edges = np.geomspace(60, sr / 2 - 1, 25) / (sr / 2) * (mag.size - 1)
    bands = np.array([mag[int(a):max(int(a) + 1, int(b))].mean() for a, b in zip(edges[:-1], edges[1:])])
    v = np.log(bands + 1e-7)
    return v - v.mean()


def _motion(frames: list, a: int, b: int) -> float:
    f = np.stack(frames[a:b]).astype(np.float32)
    return float(np.abs(np.diff(f, axis=0)).mean())


def test_statistics_change_at_the_labelled_boundary(dataset):
    out, spans = dataset
    for ep in spans["episodes"].values():
        for kind in ("start", "end"):
            info, frames, audio = _decode(out / ep["clips"][kind]["file"])
            sr, lab = info["sr"], ep["clips"][kind]["label"]

            def prof(t0, t1, audio=audio, sr=sr):
                return _band_profile(audio[int(t0 * sr):int(t1 * sr)], sr)
            if kind == "start":     # inside the OP vs across its end
                inside = np.linalg.norm(prof(lab - 4, lab - 2) - prof(lab - 2, lab))
                after0 = lab + sum(b - a for a, b in ep["gaps"] if a == ep["op_end"])
                # 1 s after the OP (and its gap) is body for sure: an insert song starts >= 1 s later.
                across = np.linalg.norm(prof(lab - 2, lab) - prof(after0, after0 + 1))
                # OP pictures move fast (fast cuts, fast pans), the body slowly.
                fps = ep["fps"]
                m_op = _motion(frames, int((lab - 2) * fps), int(lab * fps))
                m_body = _motion(frames, int(after0 * fps) + 1, int((after0 + 1) * fps))
                assert m_op > 1.5 * m_body, (ep, m_op, m_body)
            else:                   # inside the ED vs across its start
                inside = np.linalg.norm(prof(lab, lab + 2) - prof(lab + 2, lab + 4))
                before1 = lab - sum(b - a for a, b in ep["gaps"] if b == ep["ed_start"])
                across = np.linalg.norm(prof(before1 - 2, before1) - prof(lab, lab + 2))
            assert across > 1.5 * inside, (kind, ep, across, inside)


def test_stamp_round_trip_pure_and_through_the_codec(stamped):
    from PIL import Image

    from datatools.spec import letterbox_geometry
    from preprocessing.media import paste_letterbox
    for w, h in ((320, 180), (320, 240), (1280, 720), (128, 96)):
        geo = letterbox_geometry(w, h, 88, 66)
        for n in (0, 1, 599, 4321, 65535):
            img = stamp_frame(n, w, h)
            assert decode_stamp(img) == n
            small = np.asarray(Image.fromarray(img).resize((geo.new_w, geo.new_h), Image.BILINEAR))
            assert decode_stamp(paste_letterbox(small, geo, 66, 88), (w, h)) == n
    with pytest.raises(ValueError):
        stamp_frame(65536, 64, 48)
    out, spans = stamped
    ep = next(iter(spans["episodes"].values()))
    _, frames, _ = _decode(out / ep["clips"]["end"]["file"])
    assert len(frames) == math.floor(S * ep["fps"] + 1e-6)
    assert [decode_stamp(f) for f in frames] == list(range(len(frames)))


def test_text_truth_boxes(dataset):
    out, spans = dataset
    n_text = 0
    for ep in spans["episodes"].values():
        for kind in ("start", "end"):
            stem = ep["clips"][kind]["file"][:-4]
            truth = json.loads((out / f"{stem}_text.json").read_text())
            assert (truth["width"], truth["height"]) == (ep["width"], ep["height"])
            assert len(truth["boxes"]) == S and len(truth["frames"]) == S
            assert truth["frames"] == [math.floor(k * ep["fps"] + 1e-6) for k in range(S)]
            for boxes in truth["boxes"]:
                for x0, y0, x1, y1 in boxes:
                    assert 0 <= x0 < x1 <= ep["width"] and 0 <= y0 < y1 <= ep["height"]
                n_text += len(boxes)
            if kind == "end":        # scrolling credits are on screen through the ED
                lab = int(math.ceil(ep["clips"]["end"]["label"]))
                ed_secs = range(lab + 1, min(S, int(ep["ed_end"] - ep["clips"]["end"]["offset"])) - 1)
                assert any(truth["boxes"][k] for k in ed_secs)
    assert n_text > 0


def test_help_documents_every_flag(capsys):
    parser = get_args_parser()
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for action in parser._actions:
        for opt in action.option_strings:
            assert opt in text
        assert action.help, action.option_strings
    for flag in ("--stamp_frames", "--text_truth", "--full_episodes", "--replaced_op_prob", "--workers"):
        assert flag in text


def test_bad_arguments_fail_clearly(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--clip_seconds", "5"]) == 2
    assert "clip_seconds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--resolutions", "320x"])
    assert "bad resolution" in capsys.readouterr().err


def test_render_fps_repeats_pictures_but_keeps_frame_rate_and_labels(tmp_path):
    """--render_fps 5 draws a new picture every 0.2 s; the file still has the series' fps and
    the labels are the same as a full render of the same seed."""
    kw = dict(
        series=1,
        episodes=1,
        clip_seconds=S,
        seed=9,
        progress=False,
        resolutions=((128, 96),),
        difficulty="easy",
        fps_choices=("25",),
        min_minutes=1.0,
        max_minutes=1.0,
    )
    full = generate_dataset(tmp_path / "full", **kw)
    fast = generate_dataset(tmp_path / "fast", render_fps=5, **kw)
    (ep_id, ep), = fast["episodes"].items()
    assert full["episodes"][ep_id]["clips"] == ep["clips"]
    info, frames, _ = _decode(tmp_path / "fast" / ep["clips"]["start"]["file"])
    assert info["fps"] == 25 and len(frames) == S * 25
    pics = np.stack(frames[:100]).astype(np.int16)
    step = np.abs(np.diff(pics, axis=0)).mean(axis=(1, 2, 3))      # change between frames k, k+1
    inside = np.array([(k + 1) % 5 != 0 for k in range(99)])        # same 0.2 s slot
    # inside a slot only codec noise remains; across slots the picture moves
    assert step[inside].max() < 1.0
    assert step[~inside].mean() > 3 * max(step[inside].mean(), 0.05)
