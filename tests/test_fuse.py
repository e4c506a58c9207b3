"""Tests of fuse/fuse.py: the K-means consensus, joining by clip name, refusals, CLI defaults.

    .venv/bin/python -m pytest -q tests/test_fuse.py
"""
from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from datatools.labels import LabelError, read_submission, write_submission
from fuse.fuse import fuse_clip, fuse_predictions, fuse_tables, main

ROOT = Path(__file__).resolve().parent.parent


def test_outlier_is_rejected():
    assert fuse_predictions([50.0, 50.4, 49.8, 120.0, 50.2]) == pytest.approx(50.1, abs=1e-3)
    f = fuse_clip([50.0, 50.4, 49.8, 120.0, 50.2])
    assert (f.kept, f.rejected, f.outlier) == (4, 1, True)
    assert f.gap == pytest.approx(120.0 - 50.1)
    f = fuse_clip([50.0, 50.4, 49.8, 50.9, 50.2])  # a split inside the tolerance is no outlier
    assert f.rejected > 0 and not f.outlier


def test_median_and_mean_methods():
    v = [50.0, 50.4, 49.8, 120.0, 50.2]
    assert fuse_predictions(v, "median") == pytest.approx(50.2)
    assert fuse_predictions(v, "mean") == pytest.approx(sum(v) / 5)
    with pytest.raises(ValueError):
        fuse_predictions(v, "mode")


def test_identical_values_no_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a KMeans ConvergenceWarning would fail here
        f = fuse_clip([42.5] * 5)
    assert (f.seconds, f.kept, f.rejected) == (42.5, 5, 0)
    # two distinct values only: a 4-1 split, still the larger cluster
    assert fuse_predictions([7.0, 7.0, 7.0, 7.0, 9.0]) == pytest.approx(7.0)


def _all_orders(values: list[float]) -> set[float]:
    """The fused value of every permutation of ``values`` (rounded off float noise)."""
    return {round(fuse_predictions(list(p)), 9) for p in itertools.permutations(values)}


def test_tie_goes_to_tighter_cluster_in_any_order():
    values = [10.0, 10.2, 60.0, 64.0]  # 2-2 split; the 10 s pair is tighter
    assert _all_orders(values) == {10.1}
    values = [30.0, 31.0, 80.0, 80.1]  # now the later pair is tighter
    assert _all_orders(values) == {80.05}


def test_tie_with_equal_spread_takes_earlier_cluster():
    values = [20.0, 21.0, 90.0, 91.0]
    assert _all_orders(values) == {20.5}
    assert fuse_predictions([5.0, 7.0]) == 5.0 and fuse_predictions([7.0, 5.0]) == 5.0


def _write(path: Path, rows: list[tuple[str, float]]) -> Path:
    write_submission(path, rows)
    return path


CLIPS = ["a_start.mp4", "a_end.mp4", "b_start.mp4", "b_end.mp4"]
TABLE = [  # five "models", one row per clip
    [60.0, 150.0, 30.0, 120.0],
    [60.4, 150.2, 30.2, 119.6],
    [59.8, 10.0, 29.9, 120.4],
    [5.0, 149.8, 30.1, 120.0],
    [60.2, 150.0, 90.0, 120.2],
]


def test_rows_in_different_orders_fuse_the_same(tmp_path):
    tables = []
    for i, vals in enumerate(TABLE):
        rows = list(zip(CLIPS, vals))
        if i % 2:
            rows = rows[::-1]  # every other input lists its clips in reverse
        tables.append((f"m{i}.csv", read_submission(_write(tmp_path / f"m{i}.csv", rows))))
    recs = fuse_tables(tables)
    assert [r.clip for r in recs] == CLIPS  # the first input's order
    expect = [fuse_predictions([t[j] for t in TABLE]) for j in range(len(CLIPS))]
    assert [r.seconds for r in recs] == pytest.approx(expect)
    assert expect[0] == pytest.approx(60.1) and expect[2] == pytest.approx(30.05)
    assert [r.fusion.outlier for r in recs] == [True, True, True, False]  # b_end: all within 1 s
    assert {r.source for r in recs} == {"kmeans"}


def test_missing_clip_is_an_error(tmp_path):
    a = _write(tmp_path / "a.csv", list(zip(CLIPS, TABLE[0])))
    b = _write(tmp_path / "b.csv", list(zip(CLIPS[:3], TABLE[1])))
    with pytest.raises(LabelError, match=r"b\.csv.*b_end\.mp4.*missing"):
        fuse_tables([(str(a), read_submission(a)), (str(b), read_submission(b))])
    # an extra clip in the second input names its file and line
    c = _write(tmp_path / "c.csv", list(zip(CLIPS + ["c_start.mp4"], TABLE[1] + [3.0])))
    with pytest.raises(LabelError, match=r"c\.csv:5: clip c_start\.mp4"):
        fuse_tables([(str(a), read_submission(a)), (str(c), read_submission(c))])


@pytest.mark.parametrize("bad", ["nan", "abc"])
def test_unparsable_value_names_file_and_line(tmp_path, capsys, bad):
    d = tmp_path / "subs"
    _write(d / "a.csv", list(zip(CLIPS, TABLE[0])))
    (d / "b.csv").write_text(f"a_start.mp4,s,60\na_end.mp4,e,{bad}\nb_start.mp4,s,1\nb_end.mp4,e,2\n")
    out = tmp_path / "fused.csv"
    assert main(["--inputs", str(d), "--output", str(out), "--quiet"]) == 2
    assert "b.csv:2:" in capsys.readouterr().err
    assert not out.exists()


def test_folder_input_skips_output_name(tmp_path, capsys):
    d = tmp_path / "subs"
    for i, vals in enumerate(TABLE):
        _write(d / f"m{i}.csv", list(zip(CLIPS, vals)))
    _write(d / "submission.csv", list(zip(CLIPS, [0.0, 0.0, 0.0, 0.0])))  # an old result
    assert main(["--inputs", str(d), "--output", str(d / "submission.csv")]) == 0
    captured = capsys.readouterr()
    assert "from 5 inputs" in captured.out and "3 clips had an outlier (> 1 s off) rejected" in captured.out
    got = [r.seconds for r in read_submission(d / "submission.csv")]
    assert got == pytest.approx([round(fuse_predictions([t[j] for t in TABLE]), 3) for j in range(4)])
    # naming the output explicitly as an input is refused
    assert main(["--inputs", str(d / "m0.csv"), str(d / "submission.csv"),
                 "--output", str(d / "submission.csv"), "--quiet"]) == 2


def test_cli_defaults_are_relative_to_the_script(tmp_path):
    """`python fuse/fuse.py` with no flags in a copy of the repo, run from the repo root and from
    elsewhere, reads fuse/submission_B_3/*.csv and writes fuse/submission_B_3/submission.csv."""
    repo = tmp_path / "repo"
    for pkg in ("fuse", "datatools", "preprocessing"):
        shutil.copytree(ROOT / pkg, repo / pkg, ignore=shutil.ignore_patterns("__pycache__", "submission_*"))
    d = repo / "fuse" / "submission_B_3"
    for i, vals in enumerate(TABLE):
        _write(d / f"model{i}.csv", list(zip(CLIPS, vals)))
    out = d / "submission.csv"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd, cmd in ((repo, [sys.executable, "fuse/fuse.py"]),
                     (elsewhere, [sys.executable, str(repo / "fuse" / "fuse.py"), "--method", "median"])):
        res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert "fused 4 clips from 5 inputs" in res.stdout  # its own earlier output is not an input
        assert [r.clip for r in read_submission(out)] == CLIPS
    assert [r.seconds for r in read_submission(out)] == pytest.approx([60.0, 150.0, 30.1, 120.0])
    assert not (elsewhere / "submission.csv").exists()


def test_weights_let_one_input_count_as_many():
    # five inputs agree on 80 s, a sixth says 50 s: unweighted, the five win; weighing the sixth as
    # much as the five together makes an even split, won by the tighter cluster (a lone value)
    values = [80.0, 80.5, 79.5, 81.0, 79.0, 50.0]
    assert fuse_predictions(values) == pytest.approx(80.0)
    assert fuse_clip(values, "kmeans", [1, 1, 1, 1, 1, 5]).seconds == pytest.approx(50.0)
    # agreeing inputs refine the heavy one's answer: the weighted mean of its cluster
    f = fuse_clip([50.0, 51.0, 90.0], "kmeans", [4, 1, 1])
    assert f.seconds == pytest.approx((4 * 50 + 51) / 5) and f.kept == 2
    assert fuse_clip([10.0, 20.0], "mean", [3, 1]).seconds == pytest.approx(12.5)
    with pytest.raises(ValueError):
        fuse_clip([1.0, 2.0], "kmeans", [1.0, 0.0])
    with pytest.raises(ValueError):
        fuse_clip([1.0, 2.0], "median", [1.0, 2.0])


def test_weight_and_trust_flags(tmp_path, capsys):
    clips = [("a_start", 10.0), ("b_end", 20.0)]
    for name, shift in (("p1", 0.0), ("p2", 0.4), ("p3", -0.4), ("dense", 30.0)):
        _write(tmp_path / f"{name}.csv", [(c, v + shift) for c, v in clips])
    (tmp_path / "conf.csv").write_text("clip,confidence\na_start.mp4,0.9\nb_end.mp4,0.2\n")
    out = tmp_path / "out" / "f.csv"
    out.parent.mkdir()
    inputs = [str(tmp_path / f"{n}.csv") for n in ("p1", "p2", "p3", "dense")]
    assert main(["--inputs", *inputs, "--output", str(out), "--weight", "dense=3", "--quiet"]) == 0
    got = {r.clip: r.seconds for r in read_submission(out)}
    assert got["a_start.mp4"] == pytest.approx(40.0)             # 3 vs 3: the lone heavy input wins
    assert main(["--inputs", *inputs, "--output", str(out), "--trust", f"dense={tmp_path / 'conf.csv'}",
                 "--quiet"]) == 0
    got = {r.clip: r.seconds for r in read_submission(out)}
    assert got["a_start.mp4"] == pytest.approx(40.0)             # confident: dense's own answer
    assert got["b_end.mp4"] == pytest.approx(20.0)               # unsure: the consensus
    for bad in (["--weight", "nope=2"], ["--weight", "dense=-1"], ["--trust", "dense=/no/such.csv"]):
        assert main(["--inputs", *inputs, "--output", str(out), "--quiet", *bad]) == 2
        assert "error" in capsys.readouterr().err
