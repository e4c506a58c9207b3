"""Tests of predict.py (whole-episode skip timestamps): end-clip offsets (pure and end to end),
every output format parsed back, the FFmpeg chapter round trip, bad files, checkpoint S mismatch.

    .venv/bin/python -m pytest -q tests/test_predict.py

Fixtures build tiny untrained checkpoints (models code, S = 20) and 40-55 s synthetic episodes
(datatools.synth with --full_episodes); one predict.py run is shared by the format tests.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import predict
from datatools.synth import decode_stamp, generate_dataset
from preprocessing.media import decode_clip
from preprocessing.stages import Options
from skips import decide, formats, inference, prepare, result, scan, season_mode
from skips.options import PredictOptions

S = 20
SYNTH_KW = dict(difficulty="easy", clip_seconds=S, full_episodes=True, min_minutes=0.7, max_minutes=0.9,
                resolutions=((160, 90),), fps_choices=("25",), workers=1, progress=False)


def make_checkpoint(path: Path, kind: str, clip_seconds: int = S, seed: int = 0) -> Path:
    """An untrained tiny checkpoint in the layout models/engine.py saves."""
    import torch

    from models.checkpoint import save_checkpoint
    from models.config import get_config
    from models.kinds import build_model

    torch.manual_seed(seed)
    cfg = get_config("tiny")
    model = build_model(kind, cfg, clip_seconds)
    save_checkpoint(path, {"model": model.state_dict(), "kind": kind, "preset": "tiny",
                           "config": cfg.to_dict(), "clip_seconds": clip_seconds,
                           "normalization": "imagenet" if kind == "avt_normal" else "unit",
                           "epoch": 0, "best_score": float("nan")})
    return path


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two episodes of one series, bad files next to them, two checkpoints, and one predict run."""
    root = tmp_path_factory.mktemp("predict")
    data = root / "data"
    spans = generate_dataset(data, series=1, episodes=2, seed=3, **SYNTH_KW)["episodes"]
    good = [data / v["full_episode"] for v in spans.values()]
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "garbage.mkv").write_bytes(b"this is not a video file at all\n" * 50)
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-i", str(good[0]), "-an", "-c", "copy",
                    str(bad / "silent.mp4")], check=True)
    short = bad / "short.mp4"
    shutil.copy(data / spans[good[0].stem]["clips"]["start"]["file"], short)  # only S seconds
    ckpts = [make_checkpoint(root / "avt.pth", "avt", seed=0),
             make_checkpoint(root / "yolt.pth", "yolt", seed=1)]
    out = root / "out"
    argv = [*map(str, good), str(bad), "--weights", *map(str, ckpts), "--out", str(out),
            "--format", "all", "--plot", str(out / "plots"), "--season",
            "--workers", "2", "--no_progress", "--device", "cpu"]
    return {"root": root, "spans": spans, "good": good, "bad": bad, "ckpts": ckpts, "out": out,
            "argv": argv}


@pytest.fixture(scope="module")
def run(world):
    """Runs predict.main once; returns (exit code, stderr text, parsed JSON)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = predict.main(world["argv"])
    doc = json.loads((world["out"] / "predictions.json").read_text())
    return rc, err.getvalue(), doc


def good_rows(doc: dict) -> dict[str, dict]:
    return {Path(e["file"]).stem: e for e in doc["episodes"] if e["ok"]}


# ---------------------------------------------------------------------------------------- pure


def test_clip_offsets_and_episode_time():
    assert prepare.clip_offset("start", 1234.5, 200) == 0.0
    assert prepare.clip_offset("end", 1234.5, 200) == pytest.approx(1034.5)
    assert prepare.episode_time("end", 60.25, 1234.5, 200) == pytest.approx(1094.75)
    assert prepare.episode_time("start", 60.25, 1234.5, 200) == pytest.approx(60.25)
    with pytest.raises(ValueError):
        prepare.clip_offset("middle", 100, 20)


def test_skip_ranges_clamp_to_the_episode():
    op, ed = decide.skip_ranges(50.0, 1400.0, 1420.0, 90, 90)
    assert op == (0.0, 50.0) and ed == (1400.0, 1420.0)
    op, ed = decide.skip_ranges(150.0, 1200.0, 1420.0, 90, 80)
    assert op == (60.0, 150.0) and ed == (1200.0, 1280.0)


def _result(op, ed, duration, cls=None):
    return (cls or result.EpisodeResult)("x.mp4", "x.mp4", True, duration=duration, op_end=op[1],
                                          ed_start=ed[0], op=op, ed=ed)


def test_chapters_cover_the_file_and_only_apply_where_present():
    full = formats.chapter_list(_result((10.0, 100.0), (1300.0, 1390.0), 1420.0))
    assert [c[0] for c in full] == ["Prologue", "Opening", "Part A", "Ending", "Preview"]
    cold_less = formats.chapter_list(_result((0.0, 90.0), (1330.0, 1420.0), 1420.0))
    assert [c[0] for c in cold_less] == ["Opening", "Part A", "Ending"]
    for chapters in (full, cold_less):
        assert chapters[0][1] == 0.0 and chapters[-1][2] == 1420.0
        assert all(a[2] == b[1] for a, b in zip(chapters, chapters[1:]))  # contiguous


def test_edl_action_code_is_configurable():
    lines = formats.edl_text(_result((10.0, 100.0), (1300.0, 1390.0), 1420.0), action=0).splitlines()
    assert [ln.split() for ln in lines] == [["10.000", "100.000", "0"], ["1300.000", "1390.000", "0"]]


# --------------------------------------------------------------------------------- end to end


def test_end_clip_is_the_last_S_seconds(tmp_path):
    """Stamped frames carry their frame index: the tail decoded at clip_offset('end') shows at
    second k the frame of episode time duration - S + k."""
    spans = generate_dataset(tmp_path, series=1, episodes=1, seed=5, stamp_frames=True,
                             **SYNTH_KW)["episodes"]
    (ep,) = spans.values()
    path = tmp_path / ep["full_episode"]
    duration = prepare.probe_duration(path)
    assert duration == pytest.approx(ep["duration"], abs=0.05)
    tail = decode_clip(path, S, start_s=prepare.clip_offset("end", duration, S), want_ocr=False,
                       want_audio=False)
    fps, size = ep["fps"], (ep["width"], ep["height"])
    got = [decode_stamp(tail.frames[k], size) for k in range(S)]
    want = [int(round((ep["duration"] - S + k) * fps)) for k in range(S)]
    assert got == want
    # the seek lands on the keyframe before the window (x264 puts one every 250 frames, 10 s here):
    # the frames before it are never decoded (a seek to 0 would decode the whole episode)
    assert tail.info["frames_decoded"] <= (S + 10 + 1) * fps < ep["duration"] * fps


def test_model_times_are_mapped_to_episode_time(world, run):
    """The JSON's per-model times equal the models' clip times plus the clip offsets."""
    rc, _, doc = run
    path = world["good"][0]
    opts = Options(clip_seconds=S, threads=1)
    prep = prepare.prepare_episode(str(path), S, opts)
    models, s = inference.load_models([str(c) for c in world["ckpts"]], "cpu")
    raw = inference.run_models(models, prep, s, "cpu")
    row = good_rows(doc)[path.stem]
    D = world["spans"][path.stem]["duration"]
    assert row["duration"] == pytest.approx(D, abs=0.05)
    for m, r in zip(row["models"], raw):
        assert m["op_end"] == pytest.approx(r["seconds"]["start"], abs=2e-3)
        assert m["ed_start"] == pytest.approx(row["duration"] - S + r["seconds"]["end"], abs=2e-3)
        assert row["duration"] - S <= m["ed_start"] <= row["duration"]


def test_json_and_csv(world, run):
    rc, _, doc = run
    assert doc["clip_seconds"] == S and len(doc["weights"]) == 2
    rows = good_rows(doc)
    assert set(rows) == {p.stem for p in world["good"]}
    for e in rows.values():
        sp, m, edge = e["spans"], e["skip_margin"], e["edge_margin"]
        assert (m, edge) == (1.0, 1.0)                    # the defaults --skip_margin, --edge_margin
        assert sp["opening"] == pytest.approx([max(0.0, e["op_end"] - 90), e["op_end"]], abs=2e-3)
        assert sp["ending"] == pytest.approx(
            [e["ed_start"], min(e["duration"], e["ed_start"] + 90)], abs=2e-3
        )
        # the skip ranges stop short of the story on both sides (not at the file's edges): a margin at
        # the answered OP end and ED start, the edge margin at the assumed OP start and ED end
        a, b = sp["opening"]
        assert e["op"] == pytest.approx([a + edge if a > 0 else 0.0, b - m], abs=2e-3)
        a, b = sp["ending"]
        assert e["ed"] == pytest.approx([a + m, b if b >= e["duration"] - 1e-3 else b - edge], abs=2e-3)
        values = [m["op_end"] for m in e["models"]]
        assert e["spread"]["op_end"] == pytest.approx(max(values) - min(values), abs=2e-3)
        assert min(values) - 1e-3 <= e["op_end"] <= max(values) + 1e-3
        assert e["source"]["op_end"] in ("models", "season")
        # published kinds only: the other ends are assumed, and the segments tile the episode
        assert e["span_source"]["op_start"] == "assumed 90 s" and e["span_source"]["ed_end"] == "assumed 90 s"
        seg = e["segments"]
        assert seg[0][1] == 0.0 and seg[-1][2] == pytest.approx(e["duration"], abs=1e-3)
        assert all(a[2] == b[1] for a, b in zip(seg, seg[1:]))
        assert ["opening", *e["op"]] in seg and ["ending", *e["ed"]] in seg
    with open(world["out"] / "predictions.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(doc["episodes"])
    for t in table:
        e = rows.get(Path(t["file"]).stem)
        if t["ok"] == "1":
            assert float(t["op_end"]) == pytest.approx(e["op_end"], abs=1e-3)
            assert float(t["ed_end"]) == pytest.approx(e["spans"]["ending"][1], abs=1e-3)
            assert [float(x) for x in t["models_ed_start"].split(";")] == \
                pytest.approx([m["ed_start"] for m in e["models"]], abs=1e-3)
        else:
            assert t["error"]


def test_edl_and_chapter_files(world, run):
    _, _, doc = run
    for e in good_rows(doc).values():
        stem = Path(e["file"]).stem
        edl = [ln.split() for ln in (world["out"] / f"{stem}.edl").read_text().splitlines()]
        assert [int(c) for _, _, c in edl] == [3, 3]
        assert [float(x) for a, b, _ in edl for x in (a, b)] == pytest.approx([*e["op"], *e["ed"]], abs=1e-3)
        text = (world["out"] / f"{stem}.chapters.txt").read_text()
        assert text.startswith(";FFMETADATA1\n")
        chapters = parse_ffmetadata(text)
        assert chapters[0]["START"] == 0 and chapters[-1]["END"] == round(e["duration"] * 1000)
        titles = [c["title"] for c in chapters]
        assert "Opening" in titles and "Ending" in titles
        opening = chapters[titles.index("Opening")]
        assert opening["END"] == round(e["op"][1] * 1000)     # the skip range: op_end - --skip_margin


def parse_ffmetadata(text: str) -> list[dict]:
    chapters: list[dict] = []
    for line in text.splitlines():
        if line == "[CHAPTER]":
            chapters.append({})
        elif chapters and "=" in line:
            k, v = line.split("=", 1)
            chapters[-1][k] = int(v) if k in ("START", "END") else v
    assert all(c["TIMEBASE"] == "1/1000" for c in chapters)
    return chapters


def test_chapters_round_trip_through_ffmpeg(world, run, tmp_path):
    """Mux the chapters file into a copy of the episode with the real ffmpeg and read the
    chapters back with PyAV (container.chapters(); there is no ffprobe binary here)."""
    import av

    _, _, doc = run
    e = next(iter(good_rows(doc).values()))
    meta = world["out"] / f"{Path(e['file']).stem}.chapters.txt"
    muxed = tmp_path / "with_chapters.mp4"
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-i", e["file"], "-i", str(meta),
                    "-map_metadata", "1", "-map_chapters", "1", "-codec", "copy", str(muxed)],
                   check=True)
    with av.open(str(muxed)) as c:
        got = [(ch["metadata"].get("title"), float(ch["start"] * ch["time_base"]),
                float(ch["end"] * ch["time_base"])) for ch in c.chapters()]
    want = [(c["title"], c["START"] / 1000, c["END"] / 1000) for c in parse_ffmetadata(meta.read_text())]
    assert [g[0] for g in got] == [w[0] for w in want]
    assert np.allclose([g[1:] for g in got], [w[1:] for w in want], atol=1e-3)


def test_bad_files_fail_alone(world, run):
    rc, err, doc = run
    assert rc == 1
    failed = {Path(e["file"]).name: e["error"] for e in doc["episodes"] if not e["ok"]}
    assert set(failed) == {"empty.mp4", "garbage.mkv", "silent.mp4", "short.mp4"}
    assert "0 bytes" in failed["empty.mp4"]
    assert "no audio" in failed["silent.mp4"]
    assert "needs at least 2 x S = 40 s" in failed["short.mp4"]
    for name in failed:  # one line per bad file, naming it
        assert sum(name in ln and ln.startswith("error:") for ln in err.splitlines()) == 1
    assert len(good_rows(doc)) == len(world["good"])


def test_plots_written(world, run):
    for p in world["good"]:
        png = world["out"] / "plots" / f"{p.stem}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_checkpoints_must_agree_on_S(world, tmp_path, capsys):
    other = make_checkpoint(tmp_path / "s40.pth", "avt", clip_seconds=40)
    rc = predict.main([str(world["good"][0]), "--weights", str(world["ckpts"][0]), str(other),
                       "--out", str(tmp_path / "o"), "--no_progress", "--device", "cpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "disagree on the clip length" in err and "S=40" in err and "S=20" in err


def test_season_mode_uses_shared_theme_spans_in_episode_time():
    """Three episodes share an OP and an ED song (pasted sample-identically at different places):
    season mode replaces the model consensus by the shared span, mapped to episode time (the
    end clip at duration - S), and says so; the OP/ED skip ranges come from the span."""
    from bench.season_bench import SYNTH_RATE, make_clip_audio, make_song
    from preprocessing.fingerprint import fingerprint_samples

    S, song_s = 120, 40.0
    op, ed = make_song(101, song_s), make_song(202, song_s)
    layout = [(10.0, 50.0, 1000.0), (25.0, 60.0, 1200.0), (40.0, 30.0, 900.0)]  # op_at, ed_at, D
    results = []
    for i, (op_at, ed_at, D) in enumerate(layout):
        fps = {kind: fingerprint_samples(make_clip_audio(10 * i + j, S, song, at), SYNTH_RATE)
               for j, (kind, song, at) in enumerate((("start", op, op_at), ("end", ed, ed_at)))}
        # model consensus a few seconds off: within the rule's 10 s, so season decides
        r = _result((0.0, op_at + song_s + 3.0), (D - S + ed_at - 3.0, D), D, cls=result.Draft)
        r.source = {"op_end": "models", "ed_start": "models"}
        r.plot = {"chroma": fps}
        results.append(r)
    season_mode.apply_season_mode(results, S)
    for r, (op_at, ed_at, D) in zip(results, layout):
        assert r.source == {"op_end": "season", "ed_start": "season"}
        assert r.op_end == pytest.approx(op_at + song_s, abs=2.0)
        assert r.ed_start == pytest.approx(D - S + ed_at, abs=2.0)
        assert r.op[0] == pytest.approx(op_at, abs=2.0)
        assert r.ed[1] == pytest.approx(D - S + ed_at + song_s, abs=2.0)
        assert r.season["end"]["siblings"] == 2


def test_a_dense_checkpoint_gives_its_confidence_and_anchors_the_fusion(world, tmp_path):
    """The fourth kind works in predict.py: its per-boundary confidence is reported, and with one
    other model it weighs as much as that model (an even split goes to the tighter cluster)."""
    from fuse.fuse import fuse_clip

    dense = make_checkpoint(tmp_path / "dense.pth", "dense", seed=2)
    path = world["good"][0]
    prep = prepare.prepare_episode(str(path), S, Options(clip_seconds=S, threads=1))
    models, s = inference.load_models([str(world["ckpts"][0]), str(dense)], "cpu")
    raw = inference.run_models(models, prep, s, "cpu")
    assert "confidence" not in raw[0] and set(raw[1]["confidence"]) == {"start", "end"}
    args = predict.options_from_args(predict.get_args_parser().parse_args([str(path), "--weights", "x"]))
    res = decide.decide_episode(path.name, prep, models, raw, s, args)
    d = res.to_dict()
    conf = d["models"][1]["confidence"]
    assert d["models"][1]["kind"] == "dense" and set(conf) == {"op_end", "ed_start"}
    assert conf["op_end"] == pytest.approx(float(raw[1]["confidence"]["start"]), abs=1e-4)
    # both branches of the rule, on the same two models with hand-set dense confidences
    for c, source in ((0.8, "dense"), (0.3, "models")):
        per_model = [
            {"kind": "avt", "op_end": 50.0},
            {"kind": "dense", "op_end": 70.0, "confidence": {"op_end": c}},
        ]
        answer, src, f, _ = decide.fuse_boundary(models, per_model, "op_end", "kmeans")
        want = 70.0 if source == "dense" else fuse_clip([50.0, 70.0], "kmeans", [1.0, 1.0]).seconds
        assert (src, answer) == (source, pytest.approx(want))


# --------------------------------------------------------------------------------- player formats

def _xml_chapters(path: Path) -> list[tuple[str, float, float]]:
    import xml.etree.ElementTree as ET

    def secs(t: str) -> float:
        h, m, s = t.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    root = ET.parse(path).getroot()
    assert root.tag == "Chapters"
    return [(a.findtext("ChapterDisplay/ChapterString"), secs(a.findtext("ChapterTimeStart")),
             secs(a.findtext("ChapterTimeEnd"))) for a in root.iter("ChapterAtom")]


def test_every_player_format_parses_back(world, run):
    _, _, doc = run
    for e in good_rows(doc).values():
        stem = Path(e["file"]).stem
        ff = parse_ffmetadata((world["out"] / f"{stem}.chapters.txt").read_text())
        xml = _xml_chapters(world["out"] / f"{stem}.chapters.xml")
        assert [c[0] for c in xml] == [c["title"] for c in ff]
        assert np.allclose(
            [c[1:] for c in xml], [(c["START"] / 1000, c["END"] / 1000) for c in ff], atol=1e-3
        )
        assert set(c[0] for c in xml) <= {"Prologue", "Opening", "Part A", "Ending", "Preview"}
        jf = json.loads((world["out"] / f"{stem}.jellyfin.json").read_text())
        ts = jf["intro_skipper_timestamps"]
        assert [ts["Introduction"]["Start"], ts["Introduction"]["End"]] == pytest.approx(e["op"], abs=1e-3)
        assert [ts["Credits"]["Start"], ts["Credits"]["End"]] == pytest.approx(e["ed"], abs=1e-3)
        segs = {s["Type"]: s for s in jf["media_segments"]}
        assert segs["Intro"]["StartTicks"] == round(e["op"][0] * 10_000_000)
        assert segs["Outro"]["EndTicks"] == round(e["ed"][1] * 10_000_000)
        opts = dict(kv.split("=") for kv in (world["out"] / f"{stem}.mpv.txt").read_text().strip().split(","))
        assert [float(opts["skip-op_start"]), float(opts["skip-op_end"])] == pytest.approx(e["op"], abs=1e-3)
        assert [float(opts["skip-ed_start"]), float(opts["skip-ed_end"])] == pytest.approx(e["ed"], abs=1e-3)
        ani = json.loads((world["out"] / f"{stem}.aniskip.json").read_text())
        by = {r["skipType"]: r for r in ani["results"]}
        assert ani["found"] and set(by) == {"op", "ed"}
        assert [by["op"]["interval"]["startTime"], by["op"]["interval"]["endTime"]] == pytest.approx(
            e["op"], abs=1e-3
        )
        assert by["ed"]["episodeLength"] == pytest.approx(e["duration"], abs=1e-3)


def test_chapter_names_match_chapterskip_patterns():
    """mpv's chapterskip script skips by Lua patterns per category (its defaults: prologue
    ^Prologue/^Intro, opening ^OP/ OP$/^Opening, ending ^ED/ ED$/^Ending, preview Preview$); these
    patterns mean the same as Python regular expressions."""
    import re

    from skips.formats import CHAPTER_NAMES
    cats = {"prologue": "^Prologue/^Intro", "opening": "^OP/ OP$/^Opening", "ending": "^ED/ ED$/^Ending",
            "preview": "Preview$"}

    def category(title):
        return [c for c, pats in cats.items() if any(re.search(p, title) for p in pats.split("/"))]
    for seg, title in CHAPTER_NAMES.items():
        assert category(title) == ([] if seg in ("body", "part_b") else [seg]), (seg, title)


def _episode_result(e: dict, file: Path):
    return result.EpisodeResult(str(file), file.name, True, duration=e["duration"], op_end=e["op_end"],
                                 ed_start=e["ed_start"], op=tuple(e["op"]), ed=tuple(e["ed"]))


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (.ci/run installs it with apt-get)")
    return path


def _ffprobe_chapters(path: Path) -> list[tuple[str, float, float]]:
    out = subprocess.run([_need("ffprobe"), "-v", "error", "-show_chapters", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return [
        (c["tags"]["title"], float(c["start_time"]), float(c["end_time"]))
        for c in json.loads(out)["chapters"]
    ]


def test_apply_chapters_mkvpropedit_in_place_then_ffprobe_and_mpv(world, run, tmp_path):
    from skips.formats import apply_chapters
    _need("mkvpropedit")
    _, _, doc = run
    e = next(iter(good_rows(doc).values()))
    mkv = tmp_path / "episode.mkv"
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-i", e["file"], "-c", "copy", str(mkv)], check=True)
    written, message = apply_chapters(_episode_result(e, mkv))
    assert written == mkv and "in place" in message
    want = formats.chapter_list(_episode_result(e, mkv))
    got = _ffprobe_chapters(mkv)
    assert [g[0] for g in got] == [w[0] for w in want]
    assert np.allclose([g[1:] for g in got], [w[1:] for w in want], atol=1e-3)
    # headless mpv loads the chapters; chapterskip's patterns then see these titles
    mpv = _need("mpv")
    lua = tmp_path / "print_chapters.lua"
    lua.write_text('mp.register_event("file-loaded", function()\n'
                   '  for _, c in ipairs(mp.get_property_native("chapter-list")) do\n'
                   '    print(string.format("CHAPTER %.3f %s", c.time, c.title)) end\n'
                   '  mp.command("quit") end)\n')
    proc = subprocess.run(
        [mpv, "--no-config", "--vo=null", "--ao=null", "--msg-level=all=no,print_chapters=info",
         f"--script={lua}", str(mkv)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    import re
    found = re.findall(r"CHAPTER (\S+) (.*)$", proc.stdout + proc.stderr, flags=re.M)
    assert [t.strip() for _, t in found] == [w[0] for w in want], proc.stdout + proc.stderr
    assert np.allclose([float(x) for x, _ in found], [w[1] for w in want], atol=1e-3)


def test_apply_chapters_remuxes_other_containers_to_a_new_file(world, run, tmp_path):
    from skips.formats import apply_chapters
    _, _, doc = run
    e = next(iter(good_rows(doc).values()))
    src = tmp_path / "episode.mp4"
    shutil.copy(e["file"], src)
    before = src.read_bytes()
    written, message = apply_chapters(_episode_result(e, src))
    assert written == tmp_path / "episode.chapters.mp4" and "original is untouched" in message
    assert src.read_bytes() == before
    import av
    with av.open(str(written)) as c:
        titles = [ch["metadata"].get("title") for ch in c.chapters()]
    assert titles == [w[0] for w in formats.chapter_list(_episode_result(e, src))]


def test_remuxed_chapters_read_back_with_ffprobe(world, run, tmp_path):
    """The same remux, read back by the real ffprobe (skips, saying why, where it is not installed)."""
    from skips.formats import apply_chapters
    _need("ffprobe")
    _, _, doc = run
    e = next(x for x in doc["episodes"] if x["ok"])
    src = tmp_path / "episode.mp4"
    shutil.copy(e["file"], src)
    written, _ = apply_chapters(_episode_result(e, src))
    assert [g[0] for g in _ffprobe_chapters(written)] == [
        w[0] for w in formats.chapter_list(_episode_result(e, src))
    ]


def test_apply_chapters_without_mkvpropedit_says_so(world, run, tmp_path, monkeypatch):
    from skips.formats import apply_chapters
    _, _, doc = run
    e = next(iter(good_rows(doc).values()))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    written, message = apply_chapters(_episode_result(e, tmp_path / "x.mkv"))
    assert written is None and "mkvpropedit is not installed" in message and "x.mkv" in message


# --------------------------------------------------------------------------------- confidence, abstain

def test_calibration_is_monotone_and_optional():
    from models.calibration import apply_calibration, fit_calibration
    raw = np.linspace(0, 1, 40)
    err = np.where(raw > 0.5, 0.5, 10.0)           # surer answers are the right ones
    cal = fit_calibration(raw, err)
    q = np.array([0.1, 0.4, 0.6, 0.9])
    p = apply_calibration(q, cal)
    assert np.all(np.diff(p) > 0)                                  # ranking kept
    assert p == pytest.approx((40 * np.array([0, 0, 1, 1]) + 10 * q) / 50)
    assert cal["n"] == 40 and apply_calibration(0.3, None) == 0.3 and fit_calibration([], []) is None
    all_right = fit_calibration([0.6, 0.7, 0.8], [0.1, 0.2, 0.3])  # 3 clips, all right: lifted, not 1.0
    assert apply_calibration(0.6, all_right) == pytest.approx((3 + 6) / 13)


def test_platt_calibration_recovers_a_logistic_curve_and_falls_back_when_it_cannot():
    """fit_calibration(..., "platt") on clips whose chance of being within 2 s is sigmoid(2 logit(raw)
    - 1) finds that curve; all-right clips (nothing to separate) get the isotonic map; an unknown
    method is refused."""
    from models.calibration import apply_calibration, fit_calibration
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.01, 0.99, 4000)
    p_hit = 1 / (1 + np.exp(-(2 * np.log(raw / (1 - raw)) - 1)))
    err = np.where(rng.uniform(size=raw.size) < p_hit, 0.5, 10.0)
    cal = fit_calibration(raw, err, "platt")
    assert cal["method"] == "platt" and cal["n"] == 4000
    assert cal["a"] == pytest.approx(2.0, abs=0.15) and cal["b"] == pytest.approx(-1.0, abs=0.15)
    q = np.array([0.1, 0.5, 0.9, 0.99])
    want = 1 / (1 + np.exp(-(2 * np.log(q / (1 - q)) - 1)))
    assert apply_calibration(q, cal) == pytest.approx(want, abs=0.03)
    assert isinstance(apply_calibration(0.9, cal), float)
    assert "method" not in fit_calibration([0.6, 0.7, 0.8], [0.1, 0.2, 0.3], "platt")
    with pytest.raises(ValueError, match="calibration method"):
        fit_calibration(raw, err, "beta")


def test_unsure_boundary_is_withheld_everywhere():
    r = _result((10.0, 100.0), (1300.0, 1390.0), 1420.0, cls=result.Draft)
    r.models, r.spread, r.source, r.fusion = (
        [],
        {"op_end": 0.0, "ed_start": 0.0},
        {"op_end": "models", "ed_start": "models"},
        {},
    )
    r.confidence = {"op_end": 0.3, "ed_start": 0.9}
    decide.withhold_unsure([r], 0.5)
    assert list(r.withheld) == ["op_end"] and "0.30 < --min_confidence 0.5" in r.withheld["op_end"]
    d = r.to_dict()
    assert d["op_end"] is None and d["op"] is None and d["ed_start"] == 1300.0 and d["withheld"]
    assert [ln.split()[:2] for ln in formats.edl_text(r).splitlines()] == [["1300.000", "1390.000"]]
    assert [c[0] for c in formats.chapter_list(r)] == ["Part A", "Ending", "Preview"]
    assert "skip-op_start=-1.000" in formats.mpv_script_opts(r)
    assert [x["skipType"] for x in formats.aniskip_document(r)["results"]] == ["ed"]
    jf = formats.jellyfin_document(r)
    assert (
        "Introduction" not in jf["intro_skipper_timestamps"] and "Credits" in jf["intro_skipper_timestamps"]
    )
    row = formats.csv_text([r]).splitlines()[1].split(",")
    assert row[3] == row[4] == "" and row[5] == "1300.000"


def test_min_confidence_auto_depends_on_the_models():
    dense = inference.LoadedModel("d.pth", None, {"kind": "dense"})
    avt = inference.LoadedModel("a.pth", None, {"kind": "avt"})
    assert decide.resolve_min_confidence(None, [avt, dense])[0] == decide.DEFAULT_MIN_CONFIDENCE
    thr, why = decide.resolve_min_confidence(None, [avt])
    assert thr == 0.0 and "no dense" in why
    assert decide.resolve_min_confidence(0.3, [dense]) == (0.3, "given")
    # hedging needs a dense model's boundary posterior; without one every kept answer is kept whole
    assert decide.resolve_sure_confidence(None, [avt, dense])[0] == decide.DEFAULT_SURE_CONFIDENCE
    assert decide.resolve_sure_confidence(None, [avt])[0] == 0.0
    assert decide.resolve_sure_confidence(0.8, [avt]) == (0.8, "given")
    assert decide.DEFAULT_MIN_CONFIDENCE < decide.DEFAULT_SURE_CONFIDENCE
    assert predict.parse_confidence("AUTO") is None and predict.parse_confidence("0.7") == 0.7
    with pytest.raises(argparse.ArgumentTypeError, match="neither a number nor auto"):
        predict.parse_confidence("high")
    assert predict.get_args_parser().parse_args(["x.mkv", "--weights", "a.pth"]).min_confidence is None


def test_min_confidence_on_the_command_line(world, tmp_path):
    import contextlib
    import io
    out = tmp_path / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = predict.main([str(world["good"][0]), "--weights", *map(str, world["ckpts"]), "--out", str(out),
                           "--format", "all", "--min_confidence", "1.01", "--workers", "1", "--no_progress",
                           "--device", "cpu"])
    assert rc == 0
    doc = json.loads((out / "predictions.json").read_text())
    e = doc["episodes"][0]
    assert doc["min_confidence"] == 1.01 and "--min_confidence 1.01 (given)" in err.getvalue()
    assert e["op_end"] is None and e["ed_start"] is None and set(e["withheld"]) == {"op_end", "ed_start"}
    # two published kinds without a validation figure: the share of them within 2 s of the fused
    # answer times the default trust 0.5
    from fuse.fuse import fuse_clip
    vals = [m["op_end"] for m in e["models"]]
    fused = fuse_clip(vals, "kmeans", [1.0, 1.0]).seconds
    want = sum(abs(v - fused) <= 2.0 for v in vals) / len(vals) * decide.DEFAULT_MODEL_TRUST
    assert e["confidence"]["op_end"] == pytest.approx(want, abs=1e-3)
    stem = Path(e["file"]).stem
    assert (out / f"{stem}.edl").read_text() == ""
    assert [c[0] for c in _xml_chapters(out / f"{stem}.chapters.xml")] == ["Part A"]
    assert "2 of 2 answers withheld" in err.getvalue()


# --------------------------------------------------------------------------------- late openings

def test_scan_windows():
    assert scan.scan_windows(1420, 200, 100, 600) == [100, 200, 300, 400]
    assert scan.scan_windows(500, 200, 100, 600) == [100]
    assert scan.scan_windows(1420, 200, 100, 0) == [] and scan.scan_windows(390, 200, 100, 600) == []


def _scan_with_stub(monkeypatch, segments=None):
    """scan_late_opening with a stub dense model that is sure only in the window starting at 300 s,
    where it puts the OP end 50 s in; ``segments(t)`` gives each window's per-second classes."""
    monkeypatch.setattr(
        scan,
        "window_features",
        lambda path, starts, S, opts, workers=1, pool=None: [{"t": t} for t in starts],
    )

    def fake_batch(models, feats, kinds, S, device):
        ts = [f["t"] for f in feats]
        out = {"seconds": [50.0 if t == 300 else 180.0 for t in ts], "per_second": [None] * len(ts),
               "confidence": [0.95 if t == 300 else 0.1 for t in ts]}
        if segments is not None:
            out["segments"] = [segments(t) for t in ts]
        return [out]
    monkeypatch.setattr(scan, "run_batch", fake_batch)
    models = [inference.LoadedModel("d.pth", None, {"kind": "dense"})]
    args = PredictOptions(scan_below=0.5, scan_hop=100.0, scan_limit=600.0, fusion="kmeans", op_length=90.0)
    r = _result((110.0, 200.0), (1300.0, 1390.0), 1420.0, cls=result.Draft)
    r.confidence, r.source = {"op_end": 0.2, "ed_start": 0.9}, {"op_end": "models", "ed_start": "models"}
    scan.scan_late_opening(r, models, 200, Options(clip_seconds=200), "cpu", args)
    return r, models, args


def test_late_opening_is_found_in_the_most_confident_window(monkeypatch):
    """The answer is 350 s, from the sure window at 300 s; a sure first window is never rescanned."""
    r, models, args = _scan_with_stub(monkeypatch)
    assert r.op_end == 350.0 and r.op == (260.0, 350.0) and r.confidence["op_end"] == pytest.approx(0.95)
    assert r.source["op_end"] == "models (window at 300 s)"
    assert [w["start"] for w in r.scan] == [0.0, 100.0, 200.0, 300.0, 400.0]
    sure = _result((110.0, 200.0), (1300.0, 1390.0), 1420.0, cls=result.Draft)
    sure.confidence = {"op_end": 0.8, "ed_start": 0.9}
    scan.scan_late_opening(sure, models, 200, Options(clip_seconds=200), "cpu", args)
    assert sure.op_end == 200.0 and sure.scan == []


def test_late_opening_window_measures_the_op_start(monkeypatch):
    """With a segment head, the winning window's per-second classes give the OP start (here the
    opening runs 10-50 s into the window at 300 s: op = [310, 350])."""
    def probs(t):
        p = np.full((5, 200), 0.025)
        p[0] = 0.9
        if t == 300:
            p[:, 10:50] = 0.025
            p[1, 10:50] = 0.9
        return p
    r, _, _ = _scan_with_stub(monkeypatch, probs)
    assert r.op == (310.0, 350.0) and r.span_source["op_start"] == "segments"
    assert r.support["op_end"] == pytest.approx(0.9) and r.scan[3]["support"] == pytest.approx(0.9)


def test_a_window_the_segment_head_contradicts_does_not_win(monkeypatch):
    """The sure window at 300 s puts the OP end 50 s in, but its segment head sees only story there:
    its confidence falls to that support (0.05), below the first window's 0.2, so the first answer
    stands and every window's support is on record."""
    def probs(t):
        p = np.full((5, 200), 0.05)
        p[0] = 0.8
        return p
    r, _, _ = _scan_with_stub(monkeypatch, probs)
    assert r.op_end == 200.0 and r.source["op_end"] == "models"
    assert [w["confidence"] for w in r.scan[1:]] == pytest.approx([0.05] * 4)
    assert all(w["support"] == pytest.approx(0.05) for w in r.scan[1:])


def test_an_unsure_later_window_does_not_replace_the_first_answer(monkeypatch):
    """The window at 300 s beats the first window's 0.2 but claims no OP end (its segment head gives
    the opening only 0.4 support, below CLAIM_CONFIDENCE): the first answer stands; the scan is on
    record."""
    def probs(t):
        p = np.full((5, 200), 0.15)
        p[1] = 0.4
        return p
    r, _, args = _scan_with_stub(monkeypatch, probs)
    from datatools.segments import CLAIM_CONFIDENCE

    assert r.scan[3]["confidence"] == pytest.approx(0.4) and 0.4 < CLAIM_CONFIDENCE
    assert (
        r.op_end == 200.0 and r.source["op_end"] == "models" and r.confidence["op_end"] == pytest.approx(0.2)
    )


# --------------------------------------------------------------------------------- no model, shipped model


def test_season_mode_alone_answers_from_theme_songs(tmp_path):
    """--weights none --season: no model at all; each boundary of two sibling episodes (S = 60, so
    the theme songs are long enough to match) is answered by the theme-song match (source season,
    reason 'no model; ...') within 2 s of the truth, and the run says that no model ran."""
    import contextlib
    import io

    kw = {**SYNTH_KW, "clip_seconds": 60, "min_minutes": 2.1, "max_minutes": 2.3}
    spans = generate_dataset(tmp_path / "data", series=1, episodes=2, seed=3, **kw)["episodes"]
    out = tmp_path / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = predict.main([*(str(tmp_path / "data" / v["full_episode"]) for v in spans.values()), "--weights",
                           "none", "--season", "--clip_seconds", "60", "--out", str(out), "--no_progress",
                           "--device", "cpu", "--workers", "1"])
    assert rc == 0, err.getvalue()
    assert "no model (--weights none): season mode alone" in err.getvalue()
    doc = json.loads((out / "predictions.json").read_text())
    assert len(doc["episodes"]) == 2
    for e in doc["episodes"]:
        truth = spans[Path(e["file"]).stem]
        for name, kind in (("op_end", "start"), ("ed_start", "end")):
            assert e["source"][name] == "season" and e["season"][kind]["reason"].startswith("no model;")
            assert abs(e[name] - truth[name]) < 2.0, (name, e[name], truth[name])
        assert e["models"] == [] and not e["withheld"]


def test_no_model_without_season_and_a_missing_shipped_model_are_refused(
    world, tmp_path, monkeypatch, capsys
):
    rc = predict.main(
        [str(world["good"][0]), "--weights", "none", "--out", str(tmp_path / "a"), "--no_progress"]
    )
    assert rc == 2 and "--weights none leaves nothing to answer with" in capsys.readouterr().err
    monkeypatch.setattr(inference, "SHIPPED_DIR", tmp_path / "no_model_here")
    rc = predict.main([str(world["good"][0]), "--out", str(tmp_path / "b"), "--no_progress"])
    assert rc == 2 and "no shipped model" in capsys.readouterr().err


def test_an_untrained_segment_head_neither_caps_nor_measures(world, tmp_path):
    """A dense checkpoint whose segment head never saw per-second truth (label files alone: no
    segment_clips recorded) gives no segment probabilities to predict.py, which says so; one that
    records segment_clips does."""
    import torch

    path = world["good"][0]
    prep = prepare.prepare_episode(str(path), S, Options(clip_seconds=S, threads=1))
    untrained = make_checkpoint(tmp_path / "untrained.pth", "dense", seed=2)
    trained = tmp_path / "trained.pth"
    ck = torch.load(untrained, weights_only=False)
    ck["segment_clips"] = 12
    torch.save(ck, trained)
    models, s = inference.load_models([str(untrained), str(trained)], "cpu")
    notes = inference.model_notes(models)
    assert len(notes) == 1 and notes[0].startswith(str(untrained)) and "never trained" in notes[0]
    raw = inference.run_models(models, prep, s, "cpu")
    assert "segments" not in raw[0] and set(raw[1]["segments"]) == {"start", "end"}
    args = predict.options_from_args(predict.get_args_parser().parse_args([str(path)]))
    res = decide.decide_episode(path.name, prep, models[:1], raw[:1], s, args)
    assert res.support == {} and res.span_source["op_start"].startswith("assumed")


def test_scan_windows_decode_each_second_once_and_match_single_windows(world):
    """window_features: windows over a span decoded once, in two parts side by side, give the same
    frames, (nearly) the same MFCC and the same text ROI as decoding each window on its own."""
    path = max(world["good"], key=lambda p: prepare.probe_duration(p))
    D = prepare.probe_duration(path)
    starts = [float(t) for t in range(1, int(D) - S, 4)]
    assert starts[-1] + S - starts[0] >= 2 * S     # long enough for two parts
    opts = Options(clip_seconds=S, threads=1)
    got = prepare.window_features(str(path), starts, S, opts, workers=2)
    assert len(got) == len(starts)
    for t, f in zip(starts, got):
        one = prepare.features_from_decoded(
            decode_clip(str(path), S, start_s=t, ocr_size=opts.ocr_size, threads=1),
            S,
            Options(clip_seconds=S, threads=1),
            ("mfcc", "frames", "ocr", "roi"),
        )
        assert np.array_equal(f["frames"], one["frames"])
        assert np.abs(f["mfcc"] - one["mfcc"]).mean() < 0.05 * np.abs(one["mfcc"]).mean()
        assert np.mean(f["roi"] == one["roi"]) > 0.98
    # the span is read from the first and last start: windows out of order are refused, not cut short
    with pytest.raises(ValueError, match="ascending"):
        prepare.window_features(str(path), starts[::-1], S, opts)


def test_the_scan_threshold_is_sure_confidence_by_default():
    """--scan_below auto is the --sure_confidence in force (auto: 0.9 with a dense checkpoint; a given
    one as given), never below CLAIM_CONFIDENCE; a given --scan_below is used as it is."""
    from datatools.segments import CLAIM_CONFIDENCE
    from skips.options import DEFAULT_SURE_CONFIDENCE

    dense = [inference.LoadedModel("d.pth", None, {"kind": "dense"})]
    published = [inference.LoadedModel("a.pth", None, {"kind": "avt"})]
    assert decide.resolve_scan_below(None, None, dense)[0] == DEFAULT_SURE_CONFIDENCE == 0.9
    assert decide.resolve_scan_below(None, 0.8, dense)[0] == 0.8
    assert decide.resolve_scan_below(None, 0.0, dense)[0] == CLAIM_CONFIDENCE
    assert decide.resolve_scan_below(None, None, published)[0] == CLAIM_CONFIDENCE
    assert decide.resolve_scan_below(0.3, None, dense) == (0.3, "given")
    assert predict.get_args_parser().parse_args(["x.mp4"]).scan_below is None


def test_the_scan_runs_below_sure_confidence(monkeypatch):
    """A first window at 0.8 claims an OP end but is not sure (below 0.9): with the auto threshold the
    later windows run and the sure window at 300 s answers; a sure first window (0.95) is not scanned."""
    monkeypatch.setattr(scan, "window_features",
                        lambda path, starts, S, opts, workers=1, pool=None: [{"t": t} for t in starts])
    monkeypatch.setattr(scan, "run_batch", lambda models, feats, kinds, S, device: [
        {"seconds": [50.0 if f["t"] == 300 else 180.0 for f in feats], "per_second": [None] * len(feats),
         "confidence": [0.95 if f["t"] == 300 else 0.1 for f in feats]}])
    models = [inference.LoadedModel("d.pth", None, {"kind": "dense"})]
    below, _ = decide.resolve_scan_below(None, None, models)
    args = PredictOptions(scan_below=below, scan_hop=100.0, scan_limit=600.0, fusion="kmeans", op_length=90.0)
    for first, want in ((0.8, 350.0), (0.95, 200.0)):
        r = _result((110.0, 200.0), (1300.0, 1390.0), 1420.0, cls=result.Draft)
        r.confidence = {"op_end": first, "ed_start": 0.9}
        r.source = {"op_end": "models", "ed_start": "models"}
        scan.scan_late_opening(r, models, 200, Options(clip_seconds=200), "cpu", args)
        assert r.op_end == want, first
        assert bool(r.scan) == (first < below), first
