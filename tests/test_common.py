"""Shared plumbing: label/submission files, the metric, atomic writes and the job runner."""
import argparse
import functools
import math
import os

import numpy as np
import pytest

from datatools import fileio as uio
from datatools import labels, metric
from datatools.spec import mfcc_length
from preprocessing import jobs


def test_read_labels_and_kinds(tmp_path):
    (tmp_path / "a_start.mp4").write_bytes(b"x")
    f = tmp_path / "labels.txt"
    f.write_text("a_start 60.5095\n\nb_end 12\n")
    rows = labels.read_labels(f)
    assert [(r.stem, r.seconds, r.kind, r.line) for r in rows] == [
        ("a_start", 60.5095, "s", 1), ("b_end", 12.0, "e", 3)]
    assert rows[0].video == (tmp_path / "a_start.mp4").resolve()
    with pytest.raises(labels.LabelError, match=r"labels.txt:3: clip b_end names"):
        labels.read_labels(f, check_videos=True)


@pytest.mark.parametrize("line,msg", [
    ("a_start nan", "not a finite"), ("a_start -1", "not a finite"), ("a_start x", "not a number"),
    ("a_start 1 2", "expected"), ("a_middle 3", "_start or _end"), ("a_start 250", "beyond the clip"),
])
def test_bad_label_lines_name_file_and_line(tmp_path, line, msg):
    f = tmp_path / "labels.txt"
    f.write_text("ok_end 3\n" + line + "\n")
    with pytest.raises(labels.LabelError, match=msg) as exc:
        labels.read_labels(f, clip_seconds=200)
    assert f"{f}:2:" in str(exc.value)


def test_duplicate_label(tmp_path):
    f = tmp_path / "l.txt"
    f.write_text("a_start 3\na_start 4\n")
    with pytest.raises(labels.LabelError, match="already labelled on line 1"):
        labels.read_labels(f)


def test_submission_round_trip(tmp_path):
    out = tmp_path / "sub.csv"
    labels.write_submission(out, [("0NJvw4n0_start.mp4", 64.6844), ("x/y_end", 3.0)])
    assert out.read_text() == "0NJvw4n0_start.mp4,s,64.684\ny_end.mp4,e,3.000\n"
    rows = labels.read_submission(out)
    assert [(r.clip, r.kind, r.seconds) for r in rows] == [
        ("0NJvw4n0_start.mp4", "s", 64.684), ("y_end.mp4", "e", 3.0)]
    with pytest.raises(labels.LabelError):
        labels.write_submission(out, [("a_start", math.nan)])
    out.write_text("a_start.mp4,e,3\n")
    with pytest.raises(labels.LabelError, match="does not match"):
        labels.read_submission(out)


def test_metric_tolerance():
    # errors 0.5 (-> 0), 2 (-> 1), 11 (-> 10): score = 11/3
    assert metric.score([10.5, 12, 21], [10, 10, 10]) == pytest.approx(11 / 3)
    s = metric.summary([10.5, 12, 21], [10, 10, 10])
    assert s["mae"] == pytest.approx(13.5 / 3)
    assert s["median"] == pytest.approx(2)
    assert s["within_1s"] == pytest.approx(1 / 3) and s["within_2s"] == pytest.approx(2 / 3)


def test_mfcc_length_matches_published_figure():
    assert mfcc_length(200) == 8616


def test_atomic_write_leaves_no_partial(tmp_path, monkeypatch):
    target = tmp_path / "a.npy"

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        uio.atomic_save_npy(target, np.zeros(3))
    assert not target.exists() and list(tmp_path.iterdir()) == []


def _write_marker(save_root, clip):
    if clip.stem.startswith("bad"):
        raise jobs.ClipError("corrupt file")
    uio.atomic_write_text(clip.out(save_root, ".txt"), clip.stem)


def test_run_jobs_resume_shard_and_failures(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for name in ["a_start.mp4", "sub/b_end.mp4", "bad_start.mp4", ".hidden.mp4", "notes.txt"]:
        (data / name).write_bytes(b"")
    save = data / "processed"
    (save / "old").mkdir(parents=True)
    (save / "old" / "z_start.mp4").write_bytes(b"")  # inside save_root: never a clip
    clips = jobs.discover_clips([data], exclude=[save])
    assert [str(c.rel) for c in clips] == ["a_start.mp4", "bad_start.mp4", "sub/b_end.mp4"]
    work = functools.partial(_write_marker, save)
    outs = lambda c: [c.out(save, ".txt")]  # noqa: E731
    s = jobs.run_jobs(clips, work, outs, workers=2, quiet=True)
    assert (s.done, s.skipped, list(s.failed.values()), s.exit_code) == (2, 0, ["corrupt file"], 1)
    assert (save / "sub" / "b_end.txt").read_text() == "b_end"
    s = jobs.run_jobs(clips, work, outs, workers=1, quiet=True)
    assert (s.done, s.skipped) == (0, 2)
    (save / "a_start.txt").unlink()
    s = jobs.run_jobs(clips, work, outs, workers=1, quiet=True)
    assert (s.done, s.skipped) == (1, 2 - 1)
    assert [c.stem for c in jobs.select_shard(clips, (1, 2))] == ["bad_start"]


def test_parse_shard_and_meta(tmp_path):
    assert jobs.parse_shard("1/4") == (1, 4)
    for bad in ["4/4", "x", "1/0"]:
        with pytest.raises(argparse.ArgumentTypeError, match="shard"):
            jobs.parse_shard(bad)
    jobs.check_meta(tmp_path, {"clip_seconds": 20})
    jobs.check_meta(tmp_path, {"clip_seconds": 20, "ocr": "rapidocr"})
    with pytest.raises(SystemExit, match="clip_seconds is 20 there but 200 now"):
        jobs.check_meta(tmp_path, {"clip_seconds": 200})


def test_discover_from_label_file(tmp_path):
    d = tmp_path / "data_B"
    d.mkdir()
    (d / "labels.txt").write_text("q_start 5\n")
    clips = jobs.discover_clips([d / "labels.txt"])
    assert [(c.stem, str(c.rel)) for c in clips] == [("q_start", "q_start.mp4")]
    with pytest.raises(FileNotFoundError):
        jobs.discover_clips([tmp_path / "missing"])
