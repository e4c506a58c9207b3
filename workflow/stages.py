"""The published workflow's stages, shared by demo.py and the benchmarks (bench/accuracy_bench.py,
bench/train_shipped.py): each calls the repository's own command-line tools exactly as a user
would (data, preprocessing, the trainings side by side, test B, season mode, fusion and scoring,
the report) and is skipped or resumed when its outputs already exist.  demo.py's docstring lists
the stages in order.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from datatools.fileio import atomic_write_text, read_metrics
from datatools.labels import read_labels, write_submission
from models.kinds import get_kind

ROOT = Path(__file__).resolve().parent.parent   # the repository: the scripts run from here

FUSE_DIR = ROOT / "fuse" / "submission_B_3"


@dataclass(frozen=True)
class DemoSize:
    clip_seconds: int
    train_series: int        # data_A/train
    extra_series: int        # data_B
    test_series: int         # data_C (test B)
    train_episodes: int      # per series in data_A/train
    extra_episodes: int      # per series in data_B (>= 2: season mode fits its offsets on siblings)
    test_episodes: int       # per series in data_C (>= 2, so season mode finds siblings)
    epochs: int
    batch_size: int
    lr: float
    shift_aug: int           # temporal-shift augmentation, whole seconds
    render_fps: float        # synth draws this many pictures a second (the files keep 24-30 fps)


# The full demo must stay within 15 minutes on a 2-core CPU; the fast one is for CI.  What the tiny
# models need to generalise to the unseen series of test B is many training series, and the budget
# buys more of them as 60-s clips than as 100-s ones (per clip, synth + preprocessing cost about
# 0.6 s + 0.022 s per clip-second here; training is proportional to S).  Test B takes 6 series x 2
# episodes rather than 3 x 4: three series are too few to stand for the generator's variety (the
# seed-1 draw of three had every series in 4:3).
SIZES = {
    "full": DemoSize(clip_seconds=60, train_series=48, extra_series=6, test_series=6,
                     train_episodes=1, extra_episodes=2, test_episodes=2, epochs=18, batch_size=8,
                     lr=2e-3, shift_aug=12, render_fps=5),
    "fast": DemoSize(clip_seconds=60, train_series=8, extra_series=2, test_series=2,
                     train_episodes=1, extra_episodes=2, test_episodes=2, epochs=3, batch_size=8,
                     lr=1e-3, shift_aug=10, render_fps=5),
}

# The training runs: run folder -> (script, extra flags, model kind of models/kinds.py).
RUNS = {"avt": ("avt_main.py", [], "avt"), "avt_normal": ("avt_normal_main.py", [], "avt_normal"),
        "yolt": ("avt_yolt_main.py", ["--data_seed", "2"], "yolt"),
        # the fourth kind (models/dense.py): not one of the published five, fused beside them
        "dense": ("avt_dense_main.py", [], "dense")}
# The run whose kind anchors the fusion (models.kinds: anchors_fusion): its submission stays out of
# the published folder and is fused beside the five with ANCHOR_WEIGHT and its confidence.
ANCHOR = next(name for name, (_, _, kind) in RUNS.items() if get_kind(kind).anchors_fusion)
ANCHOR_CKPT = "avnet_bestmodel.pth"
# The anchor counts as this many agreeing inputs in its fusion with the published five: as many as
# all of them together, so they refine its answer where they agree with it but can never outvote it
# (an even 5-5 split goes to the tighter cluster, and a lone input has no spread) ...
ANCHOR_WEIGHT = 5.0
# ... and where its confidence (posterior mass within 2 s) is at least fuse.fuse.TRUST_MIN, its
# answer is taken as it is (`fuse.py --trust`): on realistic data the published kinds are far less
# precise and would only pull it away.


def wide_shift(size: DemoSize) -> int:
    """Temporal-shift augmentation of a position-free kind (models.kinds: position_free): a third of
    the clip, or the demo size's own shift where that is wider."""
    return max(size.shift_aug, size.clip_seconds // 3)


FIVE = [("avt_best", "avt", "avnet_bestmodel.pth"),
        ("avt_normal_best", "avt_normal", "avnet_bestmodel.pth"),
        ("avt_normal_last", "avt_normal", "avnet_epoch{E}.pth"),
        ("yolt_best", "yolt", "avnet_bestmodel.pth"),
        ("yolt_last", "yolt", "avnet_epoch{E}.pth")]


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def run(cmd: list) -> None:
    """Run one command of the pipeline, showing it; stop the demo with its output on failure."""
    shown = " ".join(str(c) for c in cmd)
    print(f"$ {shown}", flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"demo: step failed (exit {proc.returncode}): {shown}")


def stage_data(out: Path, size: DemoSize, seed: int, difficulty: str = "realistic") -> None:
    data = out / "data"
    done = data / ".complete"
    if done.is_file():
        print("data: already generated, skipping")
        return
    py = sys.executable
    for folder, series, episodes, s in (
            ("data_A/train", size.train_series, size.train_episodes, seed),
            ("data_B", size.extra_series, size.extra_episodes, seed + 1),
            ("data_C", size.test_series, size.test_episodes, seed + 2)):
        run([py, "-m", "datatools.synth", "--out", data / folder, "--series", series,
             "--episodes", episodes, "--seed", s, "--clip_seconds", size.clip_seconds,
             "--render_fps", size.render_fps, "--difficulty", difficulty])
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    # Test B is unlabelled in the published layout: its truth moves aside, used only for scoring.
    shutil.move(str(data / "data_C" / "labels.txt"), truth / "testB_labels.txt")
    shutil.move(str(data / "data_C" / "spans.json"), truth / "testB_spans.json")
    atomic_write_text(done, "ok\n")


def stage_preprocess(out: Path, size: DemoSize, data: Path | None = None, feats: Path | None = None) -> None:
    data = data or out / "data"
    # --with_fingerprint adds the Chromaprint points used by season mode (stage 5), from the
    # audio the driver decodes anyway.
    run([sys.executable, "-m", "utils.preprocess", "--data_root", data, "--save_root",
         feats or data / "processed", "--clip_seconds", size.clip_seconds, "--with_fingerprint"])


def stage_train(out: Path, size: DemoSize, data: Path | None = None, feats: Path | None = None) -> None:
    """The three trainings run side by side, one torch thread each: on a 2-core machine this
    finishes sooner than one after another with two threads each (tiny models do not scale)."""
    from tqdm import tqdm

    procs = {}
    for name, (script, extra, kind) in RUNS.items():
        run_dir = out / "runs" / name
        if (run_dir / f"avnet_epoch{size.epochs}.pth").is_file():
            print(f"train {name}: finished earlier, skipping")
            continue
        run_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            script,
            "--data_root",
            data or out / "data",
            *_feat_flag(feats),
            "--preset",
            "tiny",
            "--clip_seconds",
            size.clip_seconds,
            "--max_epoch",
            size.epochs,
            "--warmup_epochs",
            max(1, size.epochs // 8),
            "--batch_size",
            size.batch_size,
            "--lr",
            size.lr,
            "--shift_aug",
            size.shift_aug,
            "--num_workers",
            0,
            "--device",
            "cpu",
            "--show_freq",
            1000,
            "--save_prefix",
            run_dir,
            "--resume",
            "auto",
            *extra,
        ]
        if get_kind(kind).position_free:
            cmd += ["--shift_aug", wide_shift(size)]
        print("$ " + " ".join(map(str, cmd)) + f"  > {run_dir / 'console.log'}", flush=True)
        log = open(run_dir / "console.log", "ab")
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        procs[name] = (subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=env, stdout=log,
                                        stderr=subprocess.STDOUT), log, run_dir)
    bars = {n: tqdm(total=size.epochs, desc=f"train {n}", unit="epoch", position=i)
            for i, n in enumerate(procs)}
    failed = []
    while procs:
        time.sleep(2)
        for name in list(procs):
            proc, log, run_dir = procs[name]
            bars[name].n = _epochs_done(run_dir / "metrics.csv")
            bars[name].refresh()
            if proc.poll() is not None:
                log.close()
                del procs[name]
                bars[name].close()
                if proc.returncode != 0:
                    failed.append(f"{name} (exit {proc.returncode}; see {run_dir / 'console.log'})")
    if failed:
        raise SystemExit("demo: training failed: " + ", ".join(failed))


def _feat_flag(feats: Path | None) -> list:
    return ["--feat_root", feats] if feats else []


def _epochs_done(metrics_csv: Path) -> int:
    return len(read_metrics(metrics_csv))


def stage_test(out: Path, size: DemoSize, fuse_dir: Path, data: Path | None = None,
               feats: Path | None = None) -> list[Path]:
    fuse_dir.mkdir(parents=True, exist_ok=True)
    ours = {f"{n}.csv" for n, _, _ in FIVE} | {"submission.csv"}
    others = [f for f in fuse_dir.glob("*.csv") if f.name not in ours]
    if others:  # they would get a vote in the fusion; move them aside, never delete a result
        keep = fuse_dir / time.strftime("previous_%Y%m%d_%H%M%S")
        keep.mkdir()
        for f in others:
            shutil.move(str(f), keep / f.name)
        print(f"moved {len(others)} other CSV file(s) from {fuse_dir} to {keep}")
    csvs = []
    for csv_name, run_name, ckpt in FIVE:
        weights = out / "runs" / run_name / ckpt.format(E=size.epochs)
        test_dir = out / "runs" / f"testB_{csv_name}"
        script = RUNS[run_name][0]
        run([sys.executable, script, "--testB", "--weights", weights, "--data_root", data or out / "data",
             *_feat_flag(feats),
             "--preset", "tiny", "--clip_seconds", size.clip_seconds, "--num_workers", 0,
             "--device", "cpu", "--save_prefix", test_dir])
        dest = fuse_dir / f"{csv_name}.csv"
        shutil.copyfile(test_dir / "submission.csv", dest)
        csvs.append(dest)
    # The anchor's submission (and its confidence sidecar) stays out of the published folder, whose
    # every CSV the published `python fuse/fuse.py` would fuse.
    test_dir = out / "runs" / f"testB_{ANCHOR}"
    run([sys.executable, RUNS[ANCHOR][0], "--testB", "--weights", out / "runs" / ANCHOR / ANCHOR_CKPT,
         "--data_root", data or out / "data", *_feat_flag(feats), "--preset", "tiny", "--clip_seconds",
         size.clip_seconds, "--num_workers", 0, "--device", "cpu", "--save_prefix", test_dir])
    shutil.copyfile(test_dir / "submission.csv", out / f"{ANCHOR}.csv")
    shutil.copyfile(test_dir / "submission_confidence.csv", out / f"{ANCHOR}_confidence.csv")
    return csvs


def baseline_submission(out: Path, data: Path | None = None, truth: Path | None = None) -> Path:
    """The trivial baseline: every clip gets the training-set median of its clip type."""
    data = data or out / "data"
    train = [r for f in ("data_A/train/labels.txt", "data_B/labels.txt") if (data / f).is_file()
             for r in read_labels(data / f)]
    med = {k: statistics.median(r.seconds for r in train if r.kind == k) for k in ("s", "e")}
    test = read_labels(truth or out / "truth" / "testB_labels.txt")
    path = out / "baseline_submission.csv"
    write_submission(path, [(r.stem, med[r.kind]) for r in test])
    return path


def stage_season(out: Path, size: DemoSize, data: Path | None = None, feats: Path | None = None) -> Path:
    """Season mode: theme-song matching across the test-B clips, with the offsets and the decision
    rule learned on the training split only (labels, and the published kinds' validation answers);
    returns the per-clip sidecar (source, siblings, answer)."""
    py, data, d = sys.executable, data or out / "data", out / "season"
    train_labels = [f for f in (data / "data_A/train/labels.txt", data / "data_B/labels.txt") if f.is_file()]
    feats = feats or data / "processed"
    common = ["--clip_seconds", size.clip_seconds, "--quiet"]
    # the decision rule's model_trust: the published kinds' answers on their validation clips
    vals = [
        p
        for p in (out / "runs" / n / "val_predictions.csv" for n in ("avt", "avt_normal", "yolt"))
        if p.is_file()
    ]
    run(
        [
            py,
            "fuse/season.py",
            "--feat_root",
            *[feats / f.parent.relative_to(data) for f in train_labels],
            *common,
            "--fit_labels",
            *train_labels,
            "--save_offsets",
            d / "offsets.json",
            *(["--fit_val_predictions", *vals] if vals else []),
        ]
    )
    run([py, "fuse/season.py", "--feat_root", feats / "data_C", *common, "--offsets",
         d / "offsets.json", "--output", d / "season_testB.csv", "--groups", d / "groups.json"])
    return d / "season_testB_season.csv"


def stage_fuse_and_score(out: Path, csvs: list[Path], sidecar: Path, fuse_dir: Path, data: Path | None = None,
                         truth: Path | None = None) -> dict[str, dict]:
    py = sys.executable
    if fuse_dir == FUSE_DIR:  # the published call: fuse/submission_B_3/*.csv -> submission.csv
        run([py, "fuse/fuse.py"])
    else:
        run([py, "fuse/fuse.py", "--inputs", fuse_dir, "--output", fuse_dir / "submission.csv"])
    fused = out / "fused_submission.csv"
    shutil.copyfile(fuse_dir / "submission.csv", fused)
    rule = sidecar.parent / "offsets.json"   # offsets and decision rule, fitted on training labels
    fused_season = out / "fused_season_submission.csv"
    run([py, "fuse/fuse.py", "--inputs", *csvs, "--output", fused_season, "--season", sidecar,
         "--season_rule", rule, "--quiet"])
    fused_dense = out / "fused_dense_submission.csv"
    anchor_csv = out / f"{ANCHOR}.csv"
    dense_flags = ["--weight", f"{ANCHOR}={ANCHOR_WEIGHT:g}", "--trust",
                   f"{ANCHOR}={out / f'{ANCHOR}_confidence.csv'}"]
    run([py, "fuse/fuse.py", "--inputs", *csvs, anchor_csv, "--output", fused_dense, *dense_flags,
         "--quiet"])
    fused_dense_season = out / "fused_dense_season_submission.csv"
    run(
        [
            py,
            "fuse/fuse.py",
            "--inputs",
            *csvs,
            anchor_csv,
            "--output",
            fused_dense_season,
            *dense_flags,
            "--season",
            sidecar,
            "--season_rule",
            rule,
            "--quiet",
        ]
    )
    preds = {p.stem: p for p in csvs}
    preds["fusion"] = fused
    preds["fusion+season"] = fused_season
    preds[ANCHOR] = anchor_csv
    preds[f"fusion+{ANCHOR}"] = fused_dense
    preds[f"fusion+{ANCHOR}+season"] = fused_dense_season
    preds["baseline"] = baseline_submission(out, data, truth)
    labels = truth or out / "truth" / "testB_labels.txt"
    results = {}
    for name, pred in preds.items():
        js = out / "eval" / f"{name}.json"
        run([py, "-m", "datatools.evaluate", "--pred", pred, "--labels", labels, "--json", js])
        with open(js, encoding="utf-8") as fh:
            results[name] = json.load(fh)
    return results


def stage_report(out: Path, size: DemoSize, results: dict[str, dict], timings: dict[str, float],
                 reused: list[str], sidecar: Path, fuse_dir: Path) -> str:
    from workflow.report import write_report

    return write_report(out, size, results, timings, reused, sidecar,
                        spans_path=out / "truth" / "testB_spans.json",
                        submissions={n: fuse_dir / f"{n}.csv" for n, _, _ in FIVE}
                        | {"fusion": out / "fused_submission.csv", ANCHOR: out / f"{ANCHOR}.csv"})
