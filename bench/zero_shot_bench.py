"""Zero-shot on the 200-s clips of generated sets: a checkpoint (the shipped model by default) on every
clip the sets' spans.json list -- labelled start and end clips, and start windows without an OP end --
scored as bench/train_shipped.py scores the shipped model's own test series (its ``zero_shot_summary``:
score, median, within 1/2/5 s per clip type and phenomenon, the reliability of the confidence predict.py
reports, what confidence >= 0.9 keeps).  Features are computed first where a set has none
(``utils/preprocess.py`` into ``<set>/processed``; resumes).

    # the clips of the shift family's episodes (bench/season_episodes_bench.py --family shift)
    python -m bench.zero_shot_bench --data work_dir/season_shift/gen/part* \\
        --json bench/results/zero_shot_shift.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from datatools.fileio import atomic_write_json
from workflow.provenance import provenance

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_WEIGHTS = ROOT / "models" / "shipped" / "avt_dense_general.pth"


def preprocess(data: Path, clip_seconds: int) -> None:
    """Features of every clip of ``data`` into ``data/processed`` (the preprocessing resumes)."""
    cmd = [sys.executable, "-m", "utils.preprocess", "--data_root", str(data), "--save_root",
           str(data / "processed"), "--clip_seconds", str(clip_seconds)]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def run(data: Sequence[Path], weights: Path) -> dict:
    from bench.train_shipped import clip_answers, zero_shot_summary
    from models.checkpoint import load_checkpoint_model

    model, meta = load_checkpoint_model(weights, "cpu")
    S = int(meta.get("clip_seconds") or 200)
    rows = []
    for d in data:
        if not (d / "spans.json").is_file():
            raise SystemExit(f"error: {d}: no spans.json (not a generated set)")
        preprocess(d, S)
        # series numbers restart in every set: name them by set so that n_series counts them all
        rows += [{**r, "series": f"{d.name}:{r['series']}"} for r in clip_answers(model, d, S)]
    return {"weights": str(weights), "data": [str(d) for d in data], "clip_seconds": S,
            **zero_shot_summary(rows, meta, S)}


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="generated sets (folders with spans.json)")
    p.add_argument("--weights", default=str(SHIPPED_WEIGHTS), help="the checkpoint to score")
    p.add_argument("--json", required=True, help="result file (with provenance)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    res = run([Path(d) for d in args.data], Path(args.weights))
    doc = {**provenance(["bench/zero_shot_bench.py", *(argv if argv is not None else sys.argv[1:])]), **res}
    atomic_write_json(Path(args.json), doc, indent=1)
    a, sure = res["scores"]["all"], res["at_0.9"]
    print(json.dumps({"n_clips": res["n_clips"], "score": a.get("score"), "median": a.get("median"),
                      "within_2s": a.get("within_2s"), "at_0.9": sure}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
