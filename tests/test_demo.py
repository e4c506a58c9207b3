"""End to end: the fast demo (`python demo.py --fast`) runs every stage through the repository's
own command-line tools, and every number in its report comes from the files it wrote.

This is the slowest test (about 2-3 minutes on a 2-core machine): it generates, preprocesses,
trains three tiny models for a few epochs, tests five checkpoints, fuses and scores.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from datatools.evaluate import evaluate
from datatools.labels import read_labels, read_submission
from fuse.fuse import fuse_tables

ROOT = Path(__file__).resolve().parent.parent
FIVE = ["avt_best", "avt_normal_best", "avt_normal_last", "yolt_best", "yolt_last"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    out, fuse_dir = base / "demo", base / "submission_B_3"
    fuse_dir.mkdir()
    (fuse_dir / "mine.csv").write_text("someone_start.mp4,s,1.000\n")  # must be moved, not lost
    proc = subprocess.run([sys.executable, "demo.py", "--fast", "--out", str(out),
                           "--fuse_dir", str(fuse_dir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, fuse_dir, proc.stdout


def _report_rows(report: str) -> dict[str, list[str]]:
    rows = {}
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0] not in ("submission", "---"):
            rows[cells[0]] = cells
    return rows


def test_demo_writes_every_stage_output(demo):
    out, fuse_dir, stdout = demo
    for name in FIVE:
        assert (fuse_dir / f"{name}.csv").is_file()
    assert (fuse_dir / "submission.csv").is_file()
    assert not (fuse_dir / "mine.csv").exists()
    moved = list(fuse_dir.glob("previous_*/mine.csv"))
    assert len(moved) == 1 and moved[0].read_text() == "someone_start.mp4,s,1.000\n"
    for f in ["report.md", "report.png", "timings.json", "season/offsets.json",
              "season/season_testB_season.csv", "truth/testB_labels.txt"]:
        assert (out / f).is_file(), f
    # test B is unlabelled in the published layout: its labels were moved aside
    assert not (out / "data" / "data_C" / "labels.txt").exists()
    stages = json.loads((out / "timings.json").read_text())["seconds"]
    assert list(stages) == ["1 data", "2 preprocess", "3 train", "4 test B", "5 season mode",
                            "6 fuse and score", "7 report"]
    assert "| submission | score (s)" in stdout


def test_report_numbers_come_from_the_files(demo):
    out, fuse_dir, _ = demo
    labels = read_labels(out / "truth" / "testB_labels.txt")
    rows = _report_rows((out / "report.md").read_text())
    assert set(rows) == set(FIVE) | {"fusion", "fusion+season", "baseline", "dense", "fusion+dense",
                                     "fusion+dense+season"}
    subs = {n: fuse_dir / f"{n}.csv" for n in FIVE}
    subs.update({"fusion": out / "fused_submission.csv",
                 "fusion+season": out / "fused_season_submission.csv",
                 "baseline": out / "baseline_submission.csv", "dense": out / "dense.csv",
                 "fusion+dense": out / "fused_dense_submission.csv",
                 "fusion+dense+season": out / "fused_dense_season_submission.csv"})
    # realistic data: a premiere without an OP has a _start clip but no label (spans.json says why)
    spans = json.loads((out / "truth" / "testB_spans.json").read_text())
    unlabelled = {f"{i}_{k}" for i, e in spans["episodes"].items() for k, c in e["clips"].items()
                  if c["label"] is None}
    scores = {}
    for name, path in subs.items():
        # recompute the score from the submission file and the held-aside labels
        res = evaluate(read_submission(path), labels)
        assert res["n_scored"] == len(labels) and not res["missing"], name
        assert set(res["extra"]) == (unlabelled if name != "baseline" else set()), name
        assert rows[name][1] == f"{res['overall']['score']:.3f}", name
        assert rows[name][2] == f"{res['overall']['mae']:.2f}", name
        saved = json.loads((out / "eval" / f"{name}.json").read_text())
        assert saved["overall"]["score"] == pytest.approx(res["overall"]["score"])
        scores[name] = res["overall"]["score"]
    for name in FIVE + ["fusion"]:
        if scores[name] > 0:
            gain = scores["baseline"] / scores[name]
            assert rows[name][7] == (">100x" if gain > 100 else f"{gain:.1f}x"), name
    # the fused file is the K-means fusion of the five collected submissions
    fused = fuse_tables([(n, read_submission(subs[n])) for n in FIVE])
    fused_file = {r.clip: r.seconds for r in read_submission(subs["fusion"])}
    for rec in fused:
        assert fused_file[rec.clip] == pytest.approx(round(rec.seconds, 3), abs=1e-3)
    # fusion+dense: dense's own answer where it is confident, else the five and dense, dense weighing 5
    conf = {
        c.split(",")[0]: float(c.split(",")[1])
        for c in (out / "dense_confidence.csv").read_text().splitlines()[1:]
    }
    assert len(conf) == len(read_submission(subs["dense"]))
    fused = fuse_tables([(n, read_submission(subs[n])) for n in FIVE + ["dense"]], weights=[1] * 5 + [5])
    fused_file = {r.clip: r.seconds for r in read_submission(subs["fusion+dense"])}
    for rec in fused:
        want = rec.inputs[-1] if conf[rec.clip] >= 0.5 else rec.seconds
        assert fused_file[rec.clip] == pytest.approx(round(want, 3), abs=1e-3)


def test_report_states_the_verdicts(demo):
    """The verdicts are the ones the evaluation files imply: which submissions fall short of 5x the
    baseline, and whether the fusion beats the best of the five (recomputed here, not matched loosely)."""
    out, _, _ = demo
    text = (out / "report.md").read_text()
    score = {p.stem: json.loads(p.read_text())["overall"]["score"] for p in (out / "eval").glob("*.json")}
    base = score["baseline"]
    weak = [n for n in [*FIVE, "fusion", "dense"] if (base / score[n] if score[n] > 0 else math.inf) < 5.0]
    if weak:
        assert f"**Not all submissions beat the baseline 5x:** {', '.join(weak)} fall short." in text
    else:
        assert "Every single model and the fusion score at least 5x better than the trivial baseline." in text
    best = min(FIVE, key=lambda n: score[n])
    if score["fusion"] <= score[best]:
        assert f"The K-means fusion ({score['fusion']:.3f} s) is at least as good as the best single model " \
               f"({best}, {score[best]:.3f} s)." in text
    else:
        assert f"The K-means fusion ({score['fusion']:.3f} s) is **not** the best number here: the single " \
               f"model {best} scores {score[best]:.3f} s." in text
    assert "## Season mode against the learned models" in text


def test_report_describes_the_data_it_read(demo):
    out, _, _ = demo
    text = (out / "report.md").read_text()
    labels = [
        r.stem for f in ("data_A/train", "data_B") for r in read_labels(out / "data" / f / "labels.txt")
    ]
    n_series = 0   # series ids are per folder (each folder is its own generator run)
    for f in ("data_A/train", "data_B"):
        eps = json.loads((out / "data" / f / "spans.json").read_text())["episodes"]
        n_series += len({eps[s.rsplit("_", 1)[0]]["series"] for s in labels if s.rsplit("_", 1)[0] in eps})
    test = [r.stem for r in read_labels(out / "truth" / "testB_labels.txt")]
    test_eps = json.loads((out / "truth" / "testB_spans.json").read_text())["episodes"]
    test_series = {test_eps[s.rsplit("_", 1)[0]]["series"] for s in test}
    assert f"training (data_A/train + data_B) {len(labels)} labelled clips" in text
    assert f"of {n_series} series; test B {len(test)} labelled clips" in text
    assert f"of {len(test_series)} unseen series" in text
    assert "Reproducibility: the same command on the same machine with the same thread count" in text


def test_full_size_on_a_fast_folder_is_refused(demo, tmp_path):
    """The fast demo's folder, rerun with the full size's arguments: a one-line refusal naming the
    flags, and nothing in the folder is touched."""
    out, fuse_dir, _ = demo
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    proc = subprocess.run(
        [sys.executable, "demo.py", "--out", str(out), "--fuse_dir", str(fuse_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    msg = proc.stderr.strip().splitlines()
    assert (
        len(msg) == 1 and "made with other settings" in msg[0] and "--out" in msg[0] and "--force" in msg[0]
    )
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    import demo as demo_mod
    assert demo_mod.default_out(True) != demo_mod.default_out(False)
    assert demo_mod.default_out(True).name == "demo_fast" and demo_mod.default_out(False).name == "demo"


def test_season_check_comes_from_the_files(demo):
    from datatools.metric import score
    from fuse.season import read_sidecar
    out, _, _ = demo
    checks = json.loads((out / "season_comparison.json").read_text())["season_check"]
    truth = {r.stem: r.seconds for r in read_labels(out / "truth" / "testB_labels.txt")}
    side = read_sidecar(out / "season" / "season_testB_season.csv")
    for combined, path in (("fusion+season", "fused_season_submission.csv"),
                           ("fusion+dense+season", "fused_dense_season_submission.csv")):
        pred = {r.clip.removesuffix(".mp4"): r.seconds for r in read_submission(out / path)}
        rows = {r["group"]: r for r in checks[combined]}
        ks = [k for k in truth if k in pred]
        assert rows["all"]["combined"] == pytest.approx(score([pred[k] for k in ks], [truth[k] for k in ks]))
        lone = [k for k in ks if side[k].source != "season"]
        if lone:
            assert rows["no_sibling"]["n"] == len(lone)
    sources = (out / "fused_season_submission_sources.csv").read_text().splitlines()
    assert sources[0].endswith(",reason") and all(line.split(",")[-1] for line in sources[1:])
