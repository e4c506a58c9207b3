"""The repository's main job in one command: the whole published workflow on synthetic data.

    make demo                      # set-up, then: python demo.py
    python demo.py --fast          # the small CI version (also: DEMO_FAST=1 make demo)
    python demo.py --out work_dir/demo --force   # redo every stage

Stages (each calls the repository's own command-line tools exactly as a user would, and each is
skipped when its outputs already exist, so an interrupted demo resumes where it stopped):

1. data:       ``python -m datatools.synth`` writes the published folder layout
               (``data_A/train/`` and ``data_B/`` labelled, ``data_C/`` = test B without labels;
               test-B labels are kept aside in ``truth/``);
2. preprocess: ``python -m utils.preprocess`` (MFCC, 1-fps frames, OCR boxes, text ROI);
3. train:      ``avt_main.py``, ``avt_normal_main.py``, ``avt_yolt_main.py --data_seed 2`` at the
               tiny preset;
4. test B:     the five published checkpoints (AVTNet best; normalised best and last epoch; YOLT
               best and last epoch) with ``--testB``, collected in ``fuse/submission_B_3/``;
5. fuse+score: ``python fuse/fuse.py`` (K-means consensus) and ``python -m datatools.evaluate`` for
               every single model, the fusion and the trivial baseline (training-set median per
               clip type);
6. report:     ``<out>/report.md``, ``<out>/report.png`` and the score table on the console.

Stage times go to ``<out>/timings.json`` and into the report.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from datatools.labels import read_labels, read_submission, write_submission  # noqa: E402
from utils.io import atomic_write_json, atomic_write_text  # noqa: E402

FUSE_DIR = ROOT / "fuse" / "submission_B_3"


@dataclass(frozen=True)
class DemoSize:
    clip_seconds: int
    train_series: int        # data_A/train
    extra_series: int        # data_B
    test_series: int         # data_C (test B)
    episodes: int            # per series
    epochs: int
    batch_size: int
    lr: float


# The full demo must stay within 15 minutes on a 2-core CPU; the fast one is for CI.
SIZES = {
    "full": DemoSize(clip_seconds=200, train_series=8, extra_series=4, test_series=4, episodes=4,
                     epochs=24, batch_size=8, lr=1e-3),
    "fast": DemoSize(clip_seconds=60, train_series=3, extra_series=1, test_series=2, episodes=3,
                     epochs=4, batch_size=8, lr=1e-3),
}

# (csv name, run folder, checkpoint file) of the five published submissions; {E} = last epoch.
RUNS = {"avt": ("avt_main.py", []), "avt_normal": ("avt_normal_main.py", []),
        "yolt": ("avt_yolt_main.py", ["--data_seed", "2"])}
FIVE = [("avt_best", "avt", "avnet_bestmodel.pth"),
        ("avt_normal_best", "avt_normal", "avnet_bestmodel.pth"),
        ("avt_normal_last", "avt_normal", "avnet_epoch{E}.pth"),
        ("yolt_best", "yolt", "avnet_bestmodel.pth"),
        ("yolt_last", "yolt", "avnet_epoch{E}.pth")]


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def run(cmd: list[str], log: Path | None = None) -> None:
    """Run one command of the pipeline, showing it; stop the demo with its output on failure."""
    shown = " ".join(str(c) for c in cmd)
    print(f"$ {shown}", flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"demo: step failed (exit {proc.returncode}): {shown}")


def stage_data(out: Path, size: DemoSize, seed: int) -> None:
    data = out / "data"
    done = data / ".complete"
    if done.is_file():
        print("data: already generated, skipping")
        return
    py = sys.executable
    common = ["--clip_seconds", size.clip_seconds, "--episodes", size.episodes, "--no_progress"]
    for folder, series, s in (("data_A/train", size.train_series, seed),
                              ("data_B", size.extra_series, seed + 1),
                              ("data_C", size.test_series, seed + 2)):
        run([py, "-m", "datatools.synth", "--out", data / folder, "--series", series,
             "--seed", s, *common])
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    # Test B is unlabelled in the published layout: its truth moves aside, used only for scoring.
    shutil.move(str(data / "data_C" / "labels.txt"), truth / "testB_labels.txt")
    shutil.move(str(data / "data_C" / "spans.json"), truth / "testB_spans.json")
    atomic_write_text(done, "ok\n")


def stage_preprocess(out: Path, size: DemoSize) -> None:
    data = out / "data"
    run([sys.executable, "-m", "utils.preprocess", "--data_root", data, "--save_root",
         data / "processed", "--clip_seconds", size.clip_seconds])


def stage_train(out: Path, size: DemoSize) -> None:
    for name, (script, extra) in RUNS.items():
        run_dir = out / "runs" / name
        if (run_dir / f"avnet_epoch{size.epochs}.pth").is_file():
            print(f"train {name}: finished earlier, skipping")
            continue
        run([sys.executable, script, "--data_root", out / "data", "--preset", "tiny",
             "--clip_seconds", size.clip_seconds, "--max_epoch", size.epochs,
             "--warmup_epochs", max(1, size.epochs // 8), "--batch_size", size.batch_size,
             "--lr", size.lr, "--num_workers", 0, "--device", "cpu", "--show_freq", 1000,
             "--save_prefix", run_dir, "--resume", "auto", *extra])


def stage_test(out: Path, size: DemoSize) -> list[Path]:
    FUSE_DIR.mkdir(parents=True, exist_ok=True)
    for old in FUSE_DIR.glob("*.csv"):  # a previous demo's (or user's) files would get a vote
        old.unlink()
    csvs = []
    for csv_name, run_name, ckpt in FIVE:
        weights = out / "runs" / run_name / ckpt.format(E=size.epochs)
        test_dir = out / "runs" / f"testB_{csv_name}"
        script = RUNS[run_name][0]
        run([sys.executable, script, "--testB", "--weights", weights, "--data_root", out / "data",
             "--preset", "tiny", "--clip_seconds", size.clip_seconds, "--num_workers", 0,
             "--device", "cpu", "--save_prefix", test_dir])
        dest = FUSE_DIR / f"{csv_name}.csv"
        shutil.copyfile(test_dir / "submission.csv", dest)
        csvs.append(dest)
    return csvs


def baseline_submission(out: Path) -> Path:
    """The trivial baseline: every clip gets the training-set median of its clip type."""
    data = out / "data"
    train = [r for f in ("data_A/train/labels.txt", "data_B/labels.txt")
             for r in read_labels(data / f)]
    med = {k: statistics.median(r.seconds for r in train if r.kind == k) for k in ("s", "e")}
    test = read_labels(out / "truth" / "testB_labels.txt")
    path = out / "baseline_submission.csv"
    write_submission(path, [(r.stem, med[r.kind]) for r in test])
    return path


def stage_fuse_and_score(out: Path, csvs: list[Path]) -> dict[str, dict]:
    py = sys.executable
    run([py, "fuse/fuse.py"])  # the published call: fuse/submission_B_3/*.csv -> submission.csv
    fused = out / "fused_submission.csv"
    shutil.copyfile(FUSE_DIR / "submission.csv", fused)
    preds = {p.stem: p for p in csvs}
    preds["fusion"] = fused
    preds["baseline"] = baseline_submission(out)
    labels = out / "truth" / "testB_labels.txt"
    results = {}
    for name, pred in preds.items():
        js = out / "eval" / f"{name}.json"
        run([py, "-m", "datatools.evaluate", "--pred", pred, "--labels", labels, "--json", js])
        with open(js, encoding="utf-8") as fh:
            results[name] = json.load(fh)
    return results


def stage_report(out: Path, size: DemoSize, results: dict[str, dict], timings: dict[str, float]) -> str:
    from datatools.demo_report import write_report

    return write_report(out, size, results, timings,
                        spans_path=out / "truth" / "testB_spans.json",
                        submissions={n: FUSE_DIR / f"{n}.csv" for n, _, _ in FIVE}
                        | {"fusion": out / "fused_submission.csv"})


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default=str(ROOT / "work_dir" / "demo"), help="demo folder")
    p.add_argument("--fast", action="store_true", default=os.environ.get("DEMO_FAST") == "1",
                   help="small CI version (also DEMO_FAST=1)")
    p.add_argument("--seed", type=int, default=1, help="dataset seed")
    p.add_argument("--force", action="store_true", help="delete the demo folder and start afresh")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    size = SIZES["fast" if args.fast else "full"]
    out = Path(args.out).resolve()
    if args.force and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    def timed(name: str, fn, *a):
        banner(name)
        t0 = time.perf_counter()
        res = fn(*a)
        timings[name] = round(time.perf_counter() - t0, 1)
        print(f"[{name}] {timings[name]:.1f} s", flush=True)
        return res

    timed("1 data", stage_data, out, size, args.seed)
    timed("2 preprocess", stage_preprocess, out, size)
    timed("3 train", stage_train, out, size)
    csvs = timed("4 test B", stage_test, out, size)
    results = timed("5 fuse and score", stage_fuse_and_score, out, csvs)
    atomic_write_json(out / "timings.json", timings, indent=2)
    table = timed("6 report", stage_report, out, size, results, timings)
    atomic_write_json(out / "timings.json", timings, indent=2)
    print("\n" + table)
    print(f"\nreport: {out / 'report.md'}   figure: {out / 'report.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
