"""Season mode: Chromaprint fingerprints, the span matcher, sibling discovery, fuse/season.py and
fuse/fuse.py --season, on the Intro Skipper peer pair and on synthetic series encoded to mp4/AAC.

    .venv/bin/python -m pytest -q tests/test_season.py
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bench.season_bench import SYNTH_RATE, make_clip_audio, make_song, write_clip
from datatools.labels import read_submission, write_labels, write_submission
from datatools.spec import CHROMA_SUFFIX
from preprocessing import fingerprint as chroma
from preprocessing.fingerprint import (
    POINT_SECONDS,
    discover_siblings,
    fingerprint,
    fingerprint_samples,
    match_fingerprints,
)

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT.parent / "shared" / "peer" / "intro-skipper-bbb"
needs_peer = pytest.mark.skipif(not (PEER / "big_buck_bunny_intro.mp3").is_file(),
                                reason=f"peer data not found at {PEER} (it lives in ../shared "
                                       "beside the repository)")

# ------------------------------------------------------------------ the real-world peer pair


@needs_peer
def test_peer_fingerprint_starts_with_published_points():
    fp = fingerprint(PEER / "big_buck_bunny_intro.mp3")
    assert fp.dtype == np.uint32
    assert fp[:4].tolist() == [3269995649, 3261610160, 3257403872, 1109989680]
    assert fp.size == 180


@needs_peer
def test_peer_pair_shared_span():
    a = fingerprint(PEER / "big_buck_bunny_intro.mp3")   # truth: 0-25 s
    b = fingerprint(PEER / "big_buck_bunny_clip.mp3")    # truth: 5-30 s
    span = match_fingerprints(a, b)
    assert span is not None
    assert abs(span.a_start - 0.0) <= 1.0 and abs(span.b_start - 5.0) <= 1.0
    assert 25.0 - 8.0 <= span.a_end <= 25.0 + 1.0
    assert 30.0 - 8.0 <= span.b_end <= 30.0 + 1.0
    back = match_fingerprints(b, a)                      # symmetric
    assert back is not None and abs(back.a_start - span.b_start) < 0.3


# ------------------------------------------------------------------ matcher on synthesised audio


def test_point_duration_matches_ffmpeg():
    fp = fingerprint_samples(make_song(1, 200.0), SYNTH_RATE)
    assert fp.size == 1594            # 200 s at 1365 samples per point, less the filter context
    assert POINT_SECONDS == pytest.approx(0.12381, abs=1e-5)


def test_matcher_finds_song_at_different_offsets():
    song = make_song(7, 40.0)
    a = make_clip_audio(1, 100.0, song, 12.0)
    b = make_clip_audio(2, 100.0, song, 47.5)
    span = match_fingerprints(fingerprint_samples(a, SYNTH_RATE), fingerprint_samples(b, SYNTH_RATE))
    assert span is not None
    assert span.a_start == pytest.approx(12.0, abs=1.0) and span.a_end == pytest.approx(52.0, abs=1.0)
    assert span.b_start == pytest.approx(47.5, abs=1.0) and span.b_end == pytest.approx(87.5, abs=1.0)


def test_matcher_rejects_unrelated_short_and_silent():
    fa = fingerprint_samples(make_clip_audio(3, 60.0, None, 0), SYNTH_RATE)
    fb = fingerprint_samples(make_clip_audio(4, 60.0, None, 0), SYNTH_RATE)
    assert match_fingerprints(fa, fb) is None
    short = make_song(9, 10.0)                         # shared, but under min_span_s = 15 s
    fa = fingerprint_samples(make_clip_audio(3, 60.0, short, 5.0), SYNTH_RATE)
    fb = fingerprint_samples(make_clip_audio(4, 60.0, short, 30.0), SYNTH_RATE)
    assert match_fingerprints(fa, fb) is None
    assert match_fingerprints(fa, fb, chroma.MatchParams(min_span_s=6.0)) is not None
    quiet = np.zeros(int(40 * SYNTH_RATE), dtype=np.float32)   # digital silence is one value
    fs = fingerprint_samples(quiet, SYNTH_RATE)
    assert match_fingerprints(fs, fs.copy()) is None


# ------------------------------------------------------------------ a synthetic season on disk

CLIP_S = 120
SONG_S = 50.0


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    """Two series of 3 episodes, a lone episode and an episode of series 0 whose OP was replaced;
    random clip ids; mp4/AAC clips and their fingerprints via utils/extract_fingerprint.py."""
    from utils import extract_fingerprint

    rng = np.random.default_rng(5)
    root = tmp_path_factory.mktemp("season")
    clips, feat = root / "clips", root / "processed"
    clips.mkdir()
    truth, series = {}, {}
    plan = [(0, 10, 11)] * 3 + [(1, 20, 21)] * 3 + [("lone", 30, 31), ("replaced", 40, 11)]
    for ser, op_seed, ed_seed in plan:
        cid = "".join(rng.choice(list("abcdefghijkmnpqrstuvwxyz23456789"), 8))
        cold, prev = float(rng.uniform(0, 30)), float(rng.uniform(0, 20))
        ed_at = CLIP_S - SONG_S - prev
        for kind, song_seed, at in (("start", op_seed, cold), ("end", ed_seed, ed_at)):
            name = f"{cid}_{kind}"
            audio = make_clip_audio(int(rng.integers(1 << 30)), CLIP_S, make_song(song_seed, SONG_S), at)
            write_clip(clips / f"{name}.mp4", audio)
            truth[name] = at + SONG_S if kind == "start" else at
            series[name] = ser
    series = {n: (0 if s == "replaced" and n.endswith("_end") else s) for n, s in series.items()}
    assert extract_fingerprint.main(["--data_root", str(clips), "--save_root", str(feat),
                                     "--clip_seconds", str(CLIP_S), "--workers", "2"]) == 0
    return dict(clips=clips, feat=feat, truth=truth, series=series, root=root)


def _load(feat: Path) -> dict[str, np.ndarray]:
    return {p.name[: -len(CHROMA_SUFFIX)]: np.load(p) for p in sorted(feat.rglob(f"*{CHROMA_SUFFIX}"))}


def test_extract_fingerprint_outputs_and_resume(season, capsys):
    from utils import extract_fingerprint

    fps = _load(season["feat"])
    assert set(fps) == set(season["truth"])
    n = int(np.ceil(CLIP_S / POINT_SECONDS))
    assert all(f.dtype == np.uint32 and n - 30 < f.size < n for f in fps.values())
    assert json.loads((season["feat"] / "meta.json").read_text())["clip_seconds"] == CLIP_S
    assert extract_fingerprint.main(["--data_root", str(season["clips"]), "--save_root",
                                     str(season["feat"]), "--clip_seconds", str(CLIP_S),
                                     "--workers", "1"]) == 0
    assert f"skipped {len(fps)}" in capsys.readouterr().err


def test_discovery_recovers_series_without_mistakes(season):
    fps = _load(season["feat"])
    names = list(fps)
    rng = np.random.default_rng(0)
    rng.shuffle(names)                                      # order must not matter
    kinds = {n: n.rsplit("_", 1)[1][0] for n in names}
    sib = discover_siblings({n: fps[n] for n in names}, kinds)
    ser = season["series"]
    wrong = [(a, b) for a, d in sib.spans.items() for b in d if ser[a] != ser[b] or kinds[a] != kinds[b]]
    assert wrong == []
    expect = {}
    for n in names:
        if ser[n] not in ("lone", "replaced"):
            expect.setdefault((ser[n], kinds[n]), set()).add(n)
    assert sorted(map(sorted, expect.values())) == sorted(map(sorted, sib.groups))
    lone_or_replaced = [n for n in names if ser[n] in ("lone", "replaced")]
    assert len(lone_or_replaced) == 3 and all(sib.count(n) == 0 for n in lone_or_replaced)


def _read_sidecar(path: Path) -> dict[str, dict]:
    with open(path, newline="") as fh:
        return {r["clip"]: r for r in csv.DictReader(fh)}


def test_season_cli_errors_and_no_sibling_marks(season, tmp_path, capsys):
    from fuse import season as season_mod

    out = tmp_path / "season.csv"
    assert season_mod.main(["--feat_root", str(season["feat"]), "--output", str(out),
                            "--clip_seconds", str(CLIP_S), "--groups", str(tmp_path / "g.json"),
                            "--quiet"]) == 0
    rows = read_submission(out)
    side = _read_sidecar(tmp_path / "season_season.csv")
    assert len(rows) == len(season["truth"]) == len(side)
    errs = {"s": [], "e": []}
    for r in rows:
        stem = r.clip[:-4]
        s = side[stem]
        if season["series"][stem] in ("lone", "replaced"):
            assert s["source"] == "none" and int(s["siblings"]) == 0
            continue
        same = [n for n in season["truth"] if season["series"][n] == season["series"][stem]
                and n.rsplit("_", 1)[1] == stem.rsplit("_", 1)[1]]
        assert s["source"] == "season" and int(s["siblings"]) == len(same) - 1
        errs[r.kind].append(abs(r.seconds - season["truth"][stem]))
    for k, e in errs.items():
        med, p90 = float(np.median(e)), float(np.percentile(e, 90))
        print(f"season {k}: median {med:.2f} s, p90 {p90:.2f} s over {len(e)} clips")
        assert med < 1.0 and p90 < 2.0
    assert len(json.loads((tmp_path / "g.json").read_text())) == 4


def test_offsets_learned_on_training_labels_only(season, tmp_path):
    """Labels that put the OP end 3 s after the song (a fade-out convention) are learned from the
    training half and applied to the other half, whose labels the rule never sees."""
    from fuse import season as season_mod

    names = sorted(n for n in season["truth"] if season["series"][n] in (0, 1))
    train = [n for n in names if season["series"][n] == 0]
    test = [n for n in names if season["series"][n] == 1]
    shift = {"s": 3.0, "e": -2.0}
    label_of = {n: season["truth"][n] + shift[n.rsplit("_", 1)[1][0]] for n in names}
    write_labels(tmp_path / "train.txt", [(n, label_of[n]) for n in train])
    rule_path, out = tmp_path / "rule.json", tmp_path / "sub.csv"
    assert season_mod.main(["--feat_root", str(season["feat"]), "--fit_labels",
                            str(tmp_path / "train.txt"), "--save_offsets", str(rule_path),
                            "--clip_seconds", str(CLIP_S), "--quiet"]) == 0
    rule = json.loads(rule_path.read_text())
    assert rule["offset"]["s"] == pytest.approx(3.0, abs=1.0)
    assert rule["offset"]["e"] == pytest.approx(-2.0, abs=1.0)
    assert season_mod.main(["--feat_root", str(season["feat"]), "--offsets", str(rule_path),
                            "--output", str(out), "--clip_seconds", str(CLIP_S), "--quiet"]) == 0
    got = {r.clip[:-4]: r.seconds for r in read_submission(out)}
    assert np.median([abs(got[n] - label_of[n]) for n in test]) < 1.0
    assert season_mod.main(["--feat_root", str(season["feat"]), "--offsets",
                            str(tmp_path / "train.txt"), "--output", str(out), "--quiet"]) == 2


def test_fuse_with_season_says_which_source_decided(season, tmp_path):
    from fuse import fuse as fuse_mod
    from fuse import season as season_mod

    side = tmp_path / "s_season.csv"
    assert season_mod.main(["--feat_root", str(season["feat"]), "--output", str(tmp_path / "s.csv"),
                            "--clip_seconds", str(CLIP_S), "--quiet"]) == 0
    names = sorted(season["truth"])
    rng = np.random.default_rng(1)
    for k in range(3):   # three "models", each a few seconds off
        write_submission(tmp_path / f"m{k}.csv",
                         [(n, season["truth"][n] + float(rng.normal(0, 4))) for n in names])
    out = tmp_path / "fused.csv"
    assert fuse_mod.main(["--inputs", *(str(tmp_path / f"m{k}.csv") for k in range(3)),
                          "--output", str(out), "--season", str(side), "--quiet"]) == 0
    src = _read_sidecar(tmp_path / "fused_sources.csv")
    fused = {r.clip[:-4]: r.seconds for r in read_submission(out)}
    for n in names:
        row = src[n + ".mp4"]
        if season["series"][n] in ("lone", "replaced"):
            assert row["source"] != "season" and row["reason"] == "no sibling"
            continue
        # the match decides, or confirms the models' answer within 2 s (the innermost of the two answers)
        assert row["source"] == "season" or row["reason"].startswith("agree; match and models confirm")
        assert abs(fused[n] - season["truth"][n]) < 2.0


def test_preprocess_driver_fingerprint_stage(season, tmp_path):
    """The one-pass driver's chroma stage (decoded audio piped to Chromaprint) matches the
    fingerprint that ffmpeg computes from the file over the whole clip."""
    import shutil

    from preprocessing.cli import run_cli

    clip = sorted(season["clips"].glob("*_start.mp4"))[0]
    (tmp_path / "one").mkdir()
    shutil.copy(clip, tmp_path / "one" / clip.name)
    assert run_cli(["mfcc", "chroma"], "test", ["--data_root", str(tmp_path / "one"),
                              "--save_root", str(tmp_path / "out"), "--clip_seconds", str(CLIP_S),
                              "--workers", "1"]) == 0
    via_driver = np.load(tmp_path / "out" / f"{clip.stem}{CHROMA_SUFFIX}")
    via_file = np.load(season["feat"] / f"{clip.stem}{CHROMA_SUFFIX}")
    span = match_fingerprints(via_driver, via_file)
    assert span is not None and span.seconds > CLIP_S - 10 and abs(span.offset) <= 1


# ------------------------------------------------------------------ series from datatools/synth.py


def test_synth_series_grouping_errors_and_fallbacks():
    """Episodes of datatools.synth (audio rendered in memory, not encoded): start clips group by
    (series, OP song), end clips by series, with no mistaken pair; the lone episode and the
    episodes whose OP was replaced by a song no sibling shares get no season answer."""
    from datatools.synth import SynthConfig, build_episode, plan_dataset
    from fuse.season import season_rows

    S = 120
    cfg = SynthConfig(clip_seconds=S, seed=2, replaced_op_prob=0.25, difficulty="easy")
    plan = plan_dataset(cfg, series=3, episodes=3, lone_episodes=1)
    fps, truth, song = {}, {}, {}
    for p in plan.episodes:
        ep = build_episode(p)
        for kind, off in (("start", 0), ("end", p.duration - S)):
            name = f"{p.id}_{kind}"
            fps[name] = fingerprint_samples(ep.audio(int(round(off * cfg.sample_rate)),
                                                     S * cfg.sample_rate), cfg.sample_rate)
            truth[name] = p.spans["clips"][kind]["label"]
            song[name] = (p.series.index, p.spans["op_song"] if kind == "start" else "ed")
    rows = season_rows(fps, clip_seconds=S)
    share = {n: sum(song[m] == song[n] for m in fps) - 1 for n in fps}
    replaced_alone = [n for n in fps if song[n][1] == "op2" and share[n] == 0]
    assert replaced_alone, "test data should hold an episode whose replaced OP no other shares"
    errs = {"s": [], "e": []}
    groups: dict[int, set] = {}
    for r in rows:
        assert r.siblings == share[r.clip], (r.clip, song[r.clip])
        assert (r.source == "none") == (share[r.clip] == 0)
        if r.source == "season":
            errs[r.kind].append(abs(r.seconds - truth[r.clip]))
            groups.setdefault(r.group, set()).add(song[r.clip])
    assert all(len(g) == 1 for g in groups.values())          # no group mixes two songs
    for k, e in errs.items():
        med, p90 = float(np.median(e)), float(np.percentile(e, 90))
        print(f"synth season {k}: median {med:.2f} s, p90 {p90:.2f} s over {len(e)} clips")
        assert med < 1.0 and p90 < 2.5
