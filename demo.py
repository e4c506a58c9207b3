"""The repository's main job in one command: the whole published workflow on synthetic data.

    make demo                      # set-up, then: python demo.py
    python demo.py --fast          # the small CI version (also: DEMO_FAST=1 make demo)
    python demo.py --out work_dir/demo --force   # redo every stage

Stages (each calls the repository's own command-line tools exactly as a user would, and each is
skipped or resumed when its outputs already exist, so an interrupted demo resumes where it stopped):

1. data:       ``python -m datatools.synth`` writes the published folder layout
               (``data_A/train/`` and ``data_B/`` labelled, ``data_C/`` = test B without labels;
               test-B labels are kept aside in ``truth/``);
2. preprocess: ``python -m utils.preprocess --with_fingerprint`` (MFCC, 1-fps frames, OCR boxes,
               text ROI, Chromaprint);
3. train:      ``avt_main.py``, ``avt_normal_main.py``, ``avt_yolt_main.py --data_seed 2`` at the
               tiny preset (side by side, one thread each);
4. test B:     the five published checkpoints (AVTNet best; normalised best and last epoch; YOLT
               best and last epoch) with ``--testB``, collected in ``fuse/submission_B_3/``;
5. season:     ``fuse/season.py``: theme-song matching across test B (offset rule fitted on the
               training labels only);
6. fuse+score: ``python fuse/fuse.py`` (K-means consensus; again with ``--season``) and
               ``python -m datatools.evaluate`` for every single model, the fusions and the trivial
               baseline (training-set median per clip type);
7. report:     ``<out>/report.md``, ``<out>/report.png`` and the score table on the console.

Stage times go to ``<out>/timings.json`` and into the report.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

from datatools.fileio import atomic_write_json, no_nan
from workflow.stages import (
    FUSE_DIR,
    RUNS,
    SIZES,
    DemoSize,
    banner,
    stage_data,
    stage_fuse_and_score,
    stage_preprocess,
    stage_report,
    stage_season,
    stage_test,
    stage_train,
)

ROOT = Path(__file__).resolve().parent

def default_out(fast: bool) -> Path:
    """Each preset has its own folder, so a fast demo is never resumed as the full one."""
    return ROOT / "work_dir" / ("demo_fast" if fast else "demo")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default=None,
                   help="demo folder (default work_dir/demo, or work_dir/demo_fast with --fast)")
    p.add_argument("--fast", action="store_true", default=os.environ.get("DEMO_FAST") == "1",
                   help="small CI version (also DEMO_FAST=1)")
    p.add_argument("--seed", type=int, default=1, help="dataset seed")
    p.add_argument("--difficulty", choices=("realistic", "easy"), default="realistic",
                   help="generator difficulty (datatools.synth --difficulty)")
    p.add_argument("--force", action="store_true", help="delete the demo folder and start afresh")
    p.add_argument("--fuse_dir", default=str(FUSE_DIR),
                   help="where the five test-B submissions are collected and fused (the published "
                        "folder; other CSV files found there are moved aside, never deleted)")
    o = p.add_argument_group("size overrides (default: the --fast or full preset's values)")
    for f in fields(DemoSize):
        o.add_argument(f"--{f.name}", type={"int": int, "float": float}[f.type], default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    size = SIZES["fast" if args.fast else "full"]
    size = replace(size, **{f.name: getattr(args, f.name) for f in fields(DemoSize)
                            if getattr(args, f.name) is not None})
    out = Path(args.out or default_out(args.fast)).resolve()
    if args.force and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    # Every resumable stage reuses what is in `out`: refuse a folder made with other settings.
    made_with = {"size": asdict(size), "seed": args.seed, "difficulty": args.difficulty}
    rec = out / "made_with.json"
    if rec.is_file() and json.loads(rec.read_text(encoding="utf-8")) != made_with:
        raise SystemExit(f"demo: {out} holds a demo made with other settings ({rec}); "
                         "pass another --out, or --force to start it afresh")
    if not rec.is_file() and (out / "data").exists():
        raise SystemExit(f"demo: {out} holds an earlier demo without {rec.name}; "
                         "pass another --out, or --force to start it afresh")
    atomic_write_json(rec, made_with, indent=1)
    timings: dict[str, float] = {}

    def timed(name: str, fn, *a, resumed: bool = False):
        banner(name)
        t0 = time.perf_counter()
        res = fn(*a)
        timings[name] = round(time.perf_counter() - t0, 1)
        if resumed:  # the report must not pass off a skipped stage's time as the stage's cost
            reused.append(name)
        print(f"[{name}] {timings[name]:.1f} s", flush=True)
        atomic_write_json(out / "timings.json",
                          {"seconds": timings, "reused_earlier_outputs": reused}, indent=2)
        return res

    reused: list[str] = []
    timed(
        "1 data",
        stage_data,
        out,
        size,
        args.seed,
        args.difficulty,
        resumed=(out / "data" / ".complete").is_file(),
    )
    timed("2 preprocess", stage_preprocess, out, size,
          resumed=(out / "data" / "processed" / "meta.json").is_file())
    timed("3 train", stage_train, out, size,
          resumed=any((out / "runs" / n / "checkpoint_last.pth").is_file() for n in RUNS))
    fuse_dir = Path(args.fuse_dir).resolve()
    csvs = timed("4 test B", stage_test, out, size, fuse_dir)
    sidecar = timed("5 season mode", stage_season, out, size)
    results = timed("6 fuse and score", stage_fuse_and_score, out, csvs, sidecar, fuse_dir)
    table = timed("7 report", stage_report, out, size, results, timings, reused, sidecar, fuse_dir)
    from workflow.provenance import provenance
    from workflow.report import describe_data
    atomic_write_json(   # NaN (a clip group without clips) as null
        out / "result.json",
        no_nan({
            **provenance(None if argv is None else ["demo.py", *argv]),
            "made_with": made_with,
            "data": describe_data(out),
            "seconds": timings,
            "reused_earlier_outputs": reused,
            "results": results,
            "season": json.loads((out / "season_comparison.json").read_text(encoding="utf-8")),
        }),
        indent=1,
    )
    print("\n" + table)
    print(f"\nreport: {out / 'report.md'}   figure: {out / 'report.png'}   record: {out / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
