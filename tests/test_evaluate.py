"""Tests of datatools/evaluate.py: hand-computed scores, missing/extra clips, the CLI outputs.

    .venv/bin/python -m pytest -q tests/test_evaluate.py
"""
from __future__ import annotations

import json

import pytest

from datatools.evaluate import evaluate, main
from datatools.labels import LabelRow, SubmissionRow


def _labels(items):
    return [LabelRow(stem, sec, None, None, i + 1) for i, (stem, sec) in enumerate(items)]


def _preds(items):
    from datatools.labels import clip_kind
    return [SubmissionRow(c, clip_kind(c), sec, i + 1) for i, (c, sec) in enumerate(items)]


def test_hand_computed_scores():
    labels = _labels([("a_start", 60.0), ("a_end", 150.0), ("b_start", 30.5), ("b_end", 120.0)])
    preds = _preds([("a_start.mp4", 60.9), ("a_end.mp4", 153.0), ("b_start.mp4", 30.0),
                    ("b_end.mp4", 100.0)])
    r = evaluate(preds, labels, worst=2)
    # errors 0.9, 3, 0.5, 20 -> excess over 1 s: 0, 2, 0, 19
    o = r["overall"]
    assert o["score"] == pytest.approx(21 / 4)
    assert o["mae"] == pytest.approx((0.9 + 3 + 0.5 + 20) / 4)
    assert o["median"] == pytest.approx((0.9 + 3) / 2)
    assert (o["within_1s"], o["within_2s"], o["within_5s"]) == (0.5, 0.5, 0.75)
    assert r["by_type"]["s"]["score"] == 0.0  # both start errors are under the 1 s tolerance
    assert r["by_type"]["s"]["n"] == 2
    assert r["by_type"]["e"]["score"] == pytest.approx((2 + 19) / 2)
    assert [c["clip"] for c in r["worst"]] == ["b_end", "a_end"]
    assert (r["missing"], r["extra"], r["n_scored"]) == ([], [], 4)


def test_errors_within_tolerance_count_zero():
    labels = _labels([("x_start", 10.0), ("y_end", 100.0)])
    r = evaluate(_preds([("x_start.mp4", 11.0), ("y_end.mp4", 99.2)]), labels)
    assert r["overall"]["score"] == 0.0 and r["overall"]["mae"] == pytest.approx(0.9)
    r = evaluate(_preds([("x_start.mp4", 11.5), ("y_end.mp4", 100.0)]), labels)
    assert r["overall"]["score"] == pytest.approx(0.25)


def test_missing_and_extra_clips_are_reported():
    labels = _labels([("a_start", 1.0), ("b_start", 2.0), ("c_end", 3.0)])
    preds = _preds([("sub/a_start.mp4", 4.0), ("z_end.mp4", 5.0), ("c_end.mp4", 3.0)])
    r = evaluate(preds, labels)
    assert r["missing"] == ["b_start"] and r["extra"] == ["z_end"]
    assert (r["n_pred"], r["n_labels"], r["n_scored"]) == (3, 3, 2)
    assert r["overall"]["score"] == pytest.approx(1.0)  # a_start: 3 s off -> 2, c_end: 0
    assert r["by_type"]["e"]["n"] == 1


def test_cli_prints_and_writes_json_and_png(tmp_path, capsys):
    (tmp_path / "labels.txt").write_text("a_start 60.0\na_end 150.0\nb_start 30.5\nc_end 12\n")
    pred = tmp_path / "pred.csv"
    pred.write_text("a_start.mp4,s,60.5\na_end.mp4,e,153.0\nb_start.mp4,s,30.0\nz_end.mp4,e,3.000\n")
    png = tmp_path / "out" / "eval.png"
    assert main(["--pred", str(pred), "--labels", str(tmp_path / "labels.txt"), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "scored 3 clips" in out and "c_end" in out and "z_end" in out
    data = json.loads((tmp_path / "pred_eval.json").read_text())  # default: next to the prediction
    assert data["overall"]["score"] == pytest.approx(2 / 3)
    assert data["missing"] == ["c_end"] and data["extra"] == ["z_end"]
    assert data["by_type"]["e"]["n"] == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_empty_group_and_bad_input(tmp_path, capsys):
    (tmp_path / "labels.txt").write_text("a_start 60.0\n")
    pred = tmp_path / "pred.csv"
    pred.write_text("a_start.mp4,s,61.5\n")
    js = tmp_path / "r.json"
    assert main(["--pred", str(pred), "--labels", str(tmp_path / "labels.txt"), "--json", str(js)]) == 0
    data = json.loads(js.read_text())
    assert data["by_type"]["e"]["score"] is None and data["overall"]["score"] == pytest.approx(0.5)
    pred.write_text("a_start.mp4,s,61.5\na_end.mp4,e,nan\n")
    assert main(["--pred", str(pred), "--labels", str(tmp_path / "labels.txt")]) == 2
    assert "pred.csv:2:" in capsys.readouterr().err
