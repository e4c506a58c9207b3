"""The whole-episode benchmark's scoring (bench/predict_bench.py) on hand-made predictions: five
boundaries, the story inside the skip ranges, and what a confidence threshold withholds.

    .venv/bin/python -m pytest -q tests/test_predict_bench.py
"""
from __future__ import annotations

import pytest

from bench.predict_bench import answers_at, failure_table, failures, overlap, score_run, subtract, truth_of


def _spans():
    ep = {
        "duration": 1000.0,
        "series": 0,
        "op_start": 30.0,
        "op_end": 120.0,
        "ed_start": 850.0,
        "ed_end": 930.0,
        "preview": [960.0, 990.0],
        "late_op": False,
        "segments": [
            ["cold_open", 0.0, 30.0],
            ["op", 30.0, 120.0],
            ["body", 120.0, 850.0],
            ["ed", 850.0, 930.0],
            ["c_part", 930.0, 958.0],
            ["gap", 958.0, 960.0],
            ["preview", 960.0, 990.0],
            ["end_card", 990.0, 1000.0],
        ],
    }
    return {"clip_seconds": 200, "episodes": {"a": ep}}


def _pred(op, ed, pv, conf=(0.9, 0.9)):
    return {"episodes": [{"file": "/x/a.mp4", "ok": True, "op_end": op[1], "ed_start": ed[0], "op": list(op),
                          "ed": list(ed), "preview": list(pv) if pv else None,
                          "confidence": {"op_end": conf[0], "ed_start": conf[1]}}]}


def test_interval_helpers():
    assert subtract([(0.0, 10.0)], [(2.0, 3.0), (8.0, 12.0)]) == [(0.0, 2.0), (3.0, 8.0)]
    assert overlap([(0.0, 5.0), (3.0, 8.0)], [(4.0, 6.0), (7.0, 20.0)]) == pytest.approx(3.0)
    t = truth_of(_spans()["episodes"]["a"])
    assert t["story"] == [(0.0, 30.0), (120.0, 850.0), (930.0, 958.0)] and t["preview_start"] == 960.0


def test_exact_answers_eat_no_story():
    r = score_run(_pred((30.0, 120.0), (850.0, 930.0), (960.0, 1000.0)), _spans())
    assert r["answered_share"] == 1.0 and r["story_safe_share"] == 1.0 and r["story_eaten_s"] == [0.0]
    assert all(row["median"] == 0.0 for row in r["boundaries"].values())


def test_assumed_lengths_eat_the_cold_open_and_the_c_part():
    # a 60-s OP: the assumed 90 s start 30 s early, in the cold open
    spans = _spans()
    spans["episodes"]["a"]["op_start"] = 60.0
    spans["episodes"]["a"]["segments"][0] = ["cold_open", 0.0, 60.0]
    spans["episodes"]["a"]["segments"][1] = ["op", 60.0, 120.0]
    r = score_run(_pred((30.0, 120.0), (850.0, 940.0), (940.0, 1000.0)), spans)
    b = r["boundaries"]
    assert b["op_start"]["median"] == pytest.approx(30.0) and b["ed_end"]["median"] == pytest.approx(10.0)
    assert b["preview_start"]["median"] == pytest.approx(20.0)
    # 30 s of cold open and the whole 28-s C-part (the preview range starts at the assumed ED end)
    assert r["story_eaten_s"] == [pytest.approx(58.0)] and r["story_safe_share"] == 0.0


def test_a_threshold_withholds_ranges_with_their_boundary():
    doc = _pred((30.0, 120.0), (850.0, 930.0), (960.0, 1000.0), conf=(0.4, 0.95))
    got, ranges = answers_at(doc["episodes"][0], 0.5)
    assert got["op_start"] is None and got["op_end"] is None and got["ed_end"] == 930.0
    assert ranges == [(850.0, 930.0), (960.0, 1000.0)]
    r = score_run(doc, _spans(), 0.5)
    assert r["answered_share"] == pytest.approx(3 / 5) and r["boundaries"]["op_end"]["answered"] == 0
    none = score_run(doc, _spans(), 0.99)
    assert none["answered_share"] == 0.0 and none["story_eaten_s"] == [0.0] and none["all"]["median"] is None


def test_the_margin_keeps_small_errors_out_of_the_story():
    """Every edge 0.6 s off towards the story: 2.4 s eaten without a margin (four edges beside
    story; the preview starts in a gap); none once the ranges are narrowed by 1 s, which leaves
    0.4 s of theme unskipped at each of the five theme edges inside the file.  The boundaries are
    scored from the measured spans (``spans``), never from the narrowed ranges."""
    doc = _pred((29.4, 120.6), (849.4, 930.6), (959.4, 1000.0))
    e = doc["episodes"][0]
    e["duration"] = 1000.0
    plain = score_run(doc, _spans())
    assert plain["story_eaten_s"] == [pytest.approx(2.4)] and plain["story_safe_share"] == 0.0
    assert plain["theme_left_s"] == [pytest.approx(0.0)]
    narrowed = score_run(doc, _spans(), margin=1.0, edge_margin=1.0)
    assert narrowed["story_eaten_s"] == [pytest.approx(0.0)] and narrowed["story_safe_share"] == 1.0
    assert narrowed["theme_left_s"] == [pytest.approx(5 * 0.4)]
    assert narrowed["boundaries"]["op_start"]["median"] == pytest.approx(0.6)
    # the edge margin narrows only the outer edges (OP start, ED end, preview start; the preview's end
    # is the file's): 2.4 s of theme left at each of those three, 0.4 s at the OP end and ED start
    wide = score_run(doc, _spans(), margin=1.0, edge_margin=3.0)
    assert wide["story_eaten_s"] == [pytest.approx(0.0)]
    assert wide["theme_left_s"] == [pytest.approx(3 * 2.4 + 2 * 0.4)] and wide["edge_margin"] == 3.0
    # predict.py's own narrowed ranges with the measured spans beside them: the same figures
    from skips.decide import skip_ranges_from_spans
    e["spans"] = {"opening": e["op"], "ending": e["ed"], "preview": e["preview"]}
    e["op"], e["ed"], e["preview"] = (
        list(x) for x in skip_ranges_from_spans(
            tuple(e["op"]), tuple(e["ed"]), tuple(e["preview"]), 1.0, 1.0, 1000.0)
    )
    again = score_run(doc, _spans())
    assert (
        again["story_eaten_s"] == narrowed["story_eaten_s"] and again["boundaries"] == narrowed["boundaries"]
    )


def test_the_margin_table_stops_at_the_innermost_plausible_edges():
    """An OP start measured 5 s early (truth 30 s): a 1-s edge margin eats 4 s of the cold open; the
    segment head's innermost plausible start (the JSON's safe_edges, 33 s) keeps the skip range out of
    the story; without it (safe_edges=False) the fixed margins alone are scored."""
    doc = _pred((25.0, 120.0), (850.0, 930.0), None)
    e = doc["episodes"][0]
    e["duration"], e["safe_edges"] = 1000.0, {"op_start": 33.0, "ed_end": 925.0}
    with_edges = score_run(doc, _spans(), margin=1.0, edge_margin=1.0)
    assert with_edges["story_eaten_s"] == [pytest.approx(0.0)] and with_edges["safe_edges"] is True
    fixed = score_run(doc, _spans(), margin=1.0, edge_margin=1.0, safe_edges=False)
    assert fixed["story_eaten_s"] == [pytest.approx(4.0)] and fixed["safe_edges"] is False
    # the ED end stops at 925 - 1 s instead of 930 - 1 s: 5 s more of its theme left unskipped
    assert with_edges["theme_left_s"][0] - fixed["theme_left_s"][0] == pytest.approx((34.0 - 30.0) + 5.0)
    _, ranges = answers_at(e, 0.0, 1.0, 1.0)
    assert ranges[0] == pytest.approx((34.0, 119.0)) and ranges[1] == pytest.approx((851.0, 924.0))


def test_failures_name_the_range_that_ate_the_story():
    spans = _spans()
    spans["episodes"]["a"]["c_part"] = True
    doc = _pred((30.0, 120.0), (850.0, 940.0), (940.0, 1000.0))     # the preview range covers the C-part
    assert failures(doc, spans) == failures(doc, spans, 0.0)
    (f,) = failures(doc, spans)
    assert f["episode"] == "a" and f["story_s"] == pytest.approx(28.0) and f["c_part"]
    assert [(p["range"], p["story_s"]) for p in f["parts"]] == [("ending", pytest.approx(10.0)),
                                                                  ("preview", pytest.approx(18.0))]
    assert "preview 940.0-1000.0: 18.0 s" in failure_table([f])
    # withheld ranges eat nothing; exact answers are no failure
    assert failures(doc, spans, 0.95) == []
    assert failures(_pred((30.0, 120.0), (850.0, 930.0), (960.0, 1000.0)), spans) == []


def test_an_earlier_run_is_reused_only_for_the_same_checkpoint_contents(tmp_path, monkeypatch):
    """run_method reuses a finished run of the same checkpoints and episodes; a checkpoint replaced
    under the same path (a re-exported model), or skip ranges written with other margins, run
    predict.py again instead of scoring stale answers.  Episodes are compared by absolute path."""
    import argparse
    import json

    import bench.predict_bench as pb

    ckpt = tmp_path / "m.pth"
    ckpt.write_bytes(b"first weights")
    files = [str(tmp_path / "a.mp4")]
    args = argparse.Namespace(workers=1, device="cpu", season=False)
    calls = []

    class Run:
        n_failed = 0
        started = 0.0

        def summary(self, *a):
            return []

    def fake_predict(fs, options):
        calls.append(fs)
        return Run()

    def fake_write(run, options):
        doc = {"weights": [{"path": str(ckpt)}], "season": False, "n": len(calls),
               "episodes": [{"file": files[0], "skip_margin": options.skip_margin,
                             "edge_margin": options.edge_margin}]}
        (tmp_path / "out" / "m").mkdir(parents=True, exist_ok=True)
        (tmp_path / "out" / "m" / "predictions.json").write_text(json.dumps(doc))

    monkeypatch.setattr(pb, "predict_episodes", fake_predict)
    monkeypatch.setattr(pb, "write_outputs", fake_write)
    doc, _ = pb.run_method("m", [str(ckpt)], files, tmp_path / "out", args)
    assert doc["n"] == 1 and len(calls) == 1
    doc, _ = pb.run_method("m", [str(ckpt)], files, tmp_path / "out", args)      # same contents: reused
    assert doc["n"] == 1 and len(calls) == 1
    ckpt.write_bytes(b"re-exported weights")                                       # same path, new contents
    doc, _ = pb.run_method("m", [str(ckpt)], files, tmp_path / "out", args)
    assert doc["n"] == 2 and len(calls) == 2
    # a run whose skip ranges were written with other margins (an earlier default) runs again
    pred = tmp_path / "out" / "m" / "predictions.json"
    old = json.loads(pred.read_text())
    old["episodes"][0]["edge_margin"] += 2.0
    pred.write_text(json.dumps(old))
    doc, _ = pb.run_method("m", [str(ckpt)], files, tmp_path / "out", args)
    assert doc["n"] == 3 and len(calls) == 3
    # predict.py records absolute paths; the same episodes named relative to the working folder reuse it
    monkeypatch.chdir(tmp_path)
    doc, _ = pb.run_method("m", [str(ckpt)], ["a.mp4"], tmp_path / "out", args)
    assert doc["n"] == 3 and len(calls) == 3
