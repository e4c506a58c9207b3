"""Whole-episode benchmark of predict.py: boundary errors in episode time and seconds per episode.

Runs predict.py (the real CLI, through ``predict.main``) on the full synthetic episodes listed in
``<data>/spans.json`` (``datatools/synth.py --full_episodes``) and compares ``op_end`` / ``ed_start``
with the truth.  Prints, per boundary and for both together, the median and 90th-percentile
absolute error and the competition score (datatools.metric), and the wall time per episode (decode
+ features + every model + outputs; the first episode also pays the OCR model start-up).

    # data: 6-24 min episodes at the demo's clip length (S must match the checkpoints)
    .venv/bin/python bench/predict_bench.py --generate --data work_dir/predict_bench \\
        --clip_seconds 200 --series 3 --episodes 2 --weights work_dir/demo/runs/*/avnet_bestmodel.pth
    # existing data
    .venv/bin/python bench/predict_bench.py --data work_dir/predict_bench --weights a.pth b.pth
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import predict  # noqa: E402
from datatools.metric import summary  # noqa: E402


def errors(doc: dict, spans: dict) -> dict[str, np.ndarray]:
    """Absolute errors (s) of op_end and ed_start for every episode predict.py got through."""
    out: dict[str, list[float]] = {"op_end": [], "ed_start": []}
    truth = {f"{k}.mp4": v for k, v in spans["episodes"].items()}
    for e in doc["episodes"]:
        t = truth.get(Path(e["file"]).name)
        if not e["ok"] or t is None:
            continue
        for name in out:
            out[name].append(abs(e[name] - t[name]))
    return {k: np.asarray(v) for k, v in out.items()}


def report(errs: dict[str, np.ndarray], n_ok: int, n_all: int, wall: float) -> str:
    lines = [f"episodes: {n_ok} predicted of {n_all}; wall {wall:.1f} s = "
             f"{wall / max(n_all, 1):.1f} s per episode"]
    both = np.concatenate(list(errs.values()))
    for name, e in [*errs.items(), ("both", both)]:
        if e.size == 0:
            continue
        s = summary(e, np.zeros_like(e))
        lines.append(f"{name:9s} n={e.size:3d} median {np.median(e):7.2f} s  p90 "
                     f"{np.percentile(e, 90):7.2f} s  score {s['score']:.2f}  within 5 s "
                     f"{100 * s['within_5s']:.0f}%")
    return "\n".join(lines)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Median / p90 boundary error in episode time and "
                                "seconds per episode of predict.py on synthetic full episodes.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="folder with spans.json and <id>.mp4 full episodes")
    p.add_argument("--weights", nargs="+", required=True, help="checkpoints given to predict.py")
    p.add_argument("--out", default=None, help="predict.py output folder (default: <data>/predict)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="predict.py --workers")
    p.add_argument("--device", default="auto", help="predict.py --device")
    p.add_argument("--season", action="store_true", help="predict.py --season")
    g = p.add_argument_group("generate the data first (datatools.synth --full_episodes)")
    g.add_argument("--generate", action="store_true", help="write the episodes into --data first")
    g.add_argument("--clip_seconds", type=int, default=200, help="S (must match the checkpoints)")
    g.add_argument("--series", type=int, default=3, help="series")
    g.add_argument("--episodes", type=int, default=2, help="episodes per series")
    g.add_argument("--min_minutes", type=float, default=6.0, help="shortest episode")
    g.add_argument("--max_minutes", type=float, default=24.0, help="longest episode")
    g.add_argument("--difficulty", choices=("easy", "realistic"), default="easy",
                   help="generator difficulty (the README figure was measured on easy data)")
    g.add_argument("--seed", type=int, default=1234, help="synth seed (not the demo's training seed)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    data = Path(args.data)
    if args.generate:
        from datatools.synth import generate_dataset

        generate_dataset(data, args.series, args.episodes, args.clip_seconds, args.seed,
                         full_episodes=True, workers=args.workers, min_minutes=args.min_minutes,
                         max_minutes=args.max_minutes, difficulty=args.difficulty)
    spans_path = data / "spans.json"
    if not spans_path.is_file():
        print(f"error: {spans_path}: not found (use --generate)", file=sys.stderr)
        return 2
    spans = json.loads(spans_path.read_text())
    files = [str(data / v["full_episode"]) for v in spans["episodes"].values() if v.get("full_episode")]
    if not files:
        print(f"error: {spans_path}: no full episodes (generate with --full_episodes)", file=sys.stderr)
        return 2
    out = Path(args.out or data / "predict")
    argv_p = [*files, "--weights", *args.weights, "--out", str(out), "--format", "json,csv",
              "--workers", str(args.workers), "--device", args.device] + (["--season"] if args.season else [])
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        rc = predict.main(argv_p)
    wall = time.perf_counter() - t0
    doc = json.loads((out / "predictions.json").read_text())
    n_ok = sum(e["ok"] for e in doc["episodes"])
    print(f"command: predict.py <{len(files)} episodes of {data}> --weights {' '.join(args.weights)}"
          f" --workers {args.workers} (S = {doc['clip_seconds']} s)")
    print(report(errors(doc, spans), n_ok, len(files), wall))
    return rc


if __name__ == "__main__":
    sys.exit(main())
