"""bench/accuracy_bench.py at its --quick size, through its command line: every stage runs, every
figure in accuracy.json is recomputed here from the submissions and the truth it wrote, the
per-flag rows come from spans.json, a rerun with other settings refuses the folder, and ``--data``
runs the same stages on an existing dataset in the published layout.

The second-slowest test (a few minutes on a 2-core machine).
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from datatools.labels import read_labels, read_submission
from datatools.metric import summary

ROOT = Path(__file__).resolve().parent.parent
BENCH = [sys.executable, "bench/accuracy_bench.py"]


def _run(*args, timeout=900):
    return subprocess.run(
        [*BENCH, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("acc") / "run"
    proc = _run("--quick", "--out", out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout


def test_scores_are_recomputed_from_the_files(quick):
    out, stdout = quick
    res = json.loads((out / "accuracy.json").read_text())
    truth = {r.stem: r.seconds for r in read_labels(out / "truth" / "testB_labels.txt")}
    spans = json.loads((out / "truth" / "testB_spans.json").read_text())
    assert spans["difficulty"] == "realistic"
    # unseen series: no test series is a training series (different seeds give other songs)
    train = json.loads((out / "data" / "data_A" / "train" / "spans.json").read_text())
    assert train["seed"] != spans["seed"]
    lone = [e for e in spans["episodes"].values() if e["lone_episode"]]
    assert lone and any(e["cour_change"] for e in spans["episodes"].values())
    subs = {"baseline": out / "baseline_submission.csv", "fusion": out / "fused_submission.csv",
            "fusion+season": out / "fused_season_submission.csv", "dense": out / "dense.csv",
            "fusion+dense": out / "fused_dense_submission.csv",
            **{p.stem: p for p in (out / "submissions").glob("*.csv") if p.stem != "submission"}}
    for name, path in subs.items():
        pred = {Path(r.clip).stem: r.seconds for r in read_submission(path)}
        for group, keep in (("all", lambda k: True), ("s", lambda k: k.endswith("_start")),
                            ("e", lambda k: k.endswith("_end"))):
            clips = [k for k in truth if keep(k)]
            want = summary([pred[k] for k in clips], [truth[k] for k in clips])
            got = res["scores"][name][group]
            assert got["n"] == want["n"] and got["score"] == pytest.approx(want["score"]), (name, group)
            assert got["within_2s"] == pytest.approx(want["within_2s"])
    # per-flag rows hold exactly the clips whose spans.json flags name them
    flags = {f"{i}_{k}": c["flags"] for i, e in spans["episodes"].items() for k, c in e["clips"].items()}
    for flag in ("lone_episode", "cour_change"):
        n = sum(flag in flags[k] for k in truth)
        assert res["scores"]["baseline"][flag]["n_clips"] == n > 0
    # season mode alone answers only where it found a sibling, never a lone episode
    assert res["scores"]["season"]["lone_episode"]["n"] == 0
    assert 0 < res["scores"]["season"]["all"]["coverage"] < 1
    assert "| cour_change |" in stdout and "| baseline |" in stdout
    assert (out / "accuracy.png").stat().st_size > 1000


def test_rerun_with_other_settings_refuses_the_folder(quick):
    out, _ = quick
    proc = _run("--quick", "--out", out, "--epochs", 3)
    assert proc.returncode == 2 and "other settings" in proc.stderr and "--out" in proc.stderr


def test_existing_dataset_through_data_and_truth(quick, tmp_path):
    out, _ = quick
    data = tmp_path / "mine"
    for folder in ("data_A/train", "data_B", "data_C"):
        shutil.copytree(out / "data" / folder, data / folder)
    truth = out / "truth" / "testB_labels.txt"
    proc = _run("--data", data, "--truth", truth, "--out", tmp_path / "res", "--quick", "--epochs", 1)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((tmp_path / "res" / "accuracy.json").read_text())
    assert res["n_test_clips"] == len(read_labels(truth))
    assert (tmp_path / "res" / "processed" / "meta.json").is_file()     # features beside, not in DIR
    assert not (data / "processed").exists()
    assert set(res["rows"]) >= {"all", "s", "e"}
    assert _run("--data", data, "--out", tmp_path / "x").returncode == 2    # --truth is required


def test_season_check_coverage_and_seed_spread(quick, tmp_path):
    from datatools.metric import score
    out, _ = quick
    res = json.loads((out / "accuracy.json").read_text())
    truth = {r.stem: r.seconds for r in read_labels(out / "truth" / "testB_labels.txt")}
    fs = {Path(r.clip).stem: r.seconds for r in read_submission(out / "fused_season_submission.csv")}
    rows = {r["group"]: r for r in res["season_check"]["fusion+season"]}
    assert rows["all"]["combined"] == pytest.approx(score([fs[k] for k in truth], [truth[k] for k in truth]))
    assert rows["all"]["ok"] == (rows["all"]["combined"] <= rows["all"]["models"] + 1e-9 and
                                 (rows["all"]["n_season"] == 0 or
                                  rows["all"]["combined_on_season_clips"] <= rows["all"]["season"] + 1e-9))
    cov = res["coverage"]["dense"]
    assert [c["coverage"] for c in cov][0] == 1.0 and cov[0]["n"] == len(truth)
    assert all(a["threshold"] <= b["threshold"] for a, b in zip(cov, cov[1:]))   # fewer clips, surer ones
    # a folder and an accuracy.json file name the same run
    spread = subprocess.run(
        [sys.executable, "bench/seed_spread.py", str(out), str(out / "accuracy.json"), "--out",
         str(tmp_path / "s.md")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert spread.returncode == 0, spread.stderr
    fusion = res["scores"]["fusion"]["all"]["score"]
    assert f"| fusion | {fusion:.2f}" in (tmp_path / "s.md").read_text()
