"""Zero-shot on the 200-s clips of generated sets: a checkpoint (the shipped model by default) on every
clip the sets' spans.json list -- labelled start and end clips, and start windows without an OP end --
scored as bench/train_shipped.py scores the shipped model's own test series (its ``zero_shot_summary``:
score, median, within 1/2/5 s per clip type and phenomenon, the reliability of the confidence predict.py
reports, what confidence >= 0.9 keeps).  Features are computed first where a set has none
(``utils/preprocess.py`` into ``<set>/processed``; resumes).

``--season RULE``: also season mode on the same clips (``fuse/season.py`` over the sets' labelled
clips together, siblings found from their audio alone, the offsets of RULE) and the checkpoint combined
with it (``fuse/fuse.py --season``, its confidence as the models' reliability), checked per group as
bench/accuracy_bench.py checks it (fuse.season_check: the combination no worse than the model alone,
nor than season mode alone on the clips season mode answers).

    # the clips of the shift family's episodes (bench/season_episodes_bench.py --family shift)
    python -m bench.zero_shot_bench --data work_dir/season_shift/gen/part* \\
        --season models/shipped/season_rule.json --json bench/results/zero_shot_shift.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from datatools.fileio import atomic_write_json, no_nan
from workflow.provenance import provenance

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_WEIGHTS = ROOT / "models" / "shipped" / "avt_dense_general.pth"


def preprocess(data: Path, clip_seconds: int) -> None:
    """Features of every clip of ``data`` into ``data/processed`` (the preprocessing resumes)."""
    cmd = [sys.executable, "-m", "utils.preprocess", "--data_root", str(data), "--save_root",
           str(data / "processed"), "--clip_seconds", str(clip_seconds)]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def season_check_clips(data: Sequence[Path], rows: list[dict], S: int, rule: Path, work: Path) -> dict:
    """Season mode alone, the checkpoint alone and combined, per season_check group (see the module
    docstring); the scores and the check rows."""
    from datatools.labels import write_confidence, write_submission
    from fuse.season_check import season_check, sibling_groups

    work.mkdir(parents=True, exist_ok=True)
    py, side = sys.executable, work / "season_sidecar.csv"
    labelled = [r for r in rows if r["truth"] is not None]
    subprocess.run([py, "-m", "fuse.season", "--data_root", *[str(d / "labels.txt") for d in data],
                    "--clip_seconds", str(S), "--offsets", str(rule), "--output", str(work / "season.csv"),
                    "--sidecar", str(side), "--quiet"], cwd=ROOT, check=True)
    model_csv, conf_csv = work / "model.csv", work / "model_confidence.csv"
    write_submission(model_csv, [(f"{r['clip']}.mp4", r["answer"]) for r in labelled])
    write_confidence(conf_csv, [(f"{r['clip']}.mp4", r["confidence"]) for r in labelled])
    combined = work / "model_season.csv"
    subprocess.run([py, "fuse/fuse.py", "--inputs", str(model_csv), "--output", str(combined), "--trust",
                    f"model={conf_csv}", "--season", str(side), "--season_rule", str(rule), "--quiet"],
                   cwd=ROOT, check=True)
    from bench.accuracy_bench import season_alone
    from datatools.labels import read_submission

    preds = {"model": {r["clip"]: r["answer"] for r in labelled}, "season": season_alone(side),
             "model+season": {Path(x.clip).stem: x.seconds for x in read_submission(combined)}}
    truth = {r["clip"]: r["truth"] for r in labelled}
    flags = {r["clip"]: list(r["flags"]) for r in labelled}
    for stem, g in sibling_groups(side).items():
        flags[stem] = flags.get(stem, []) + g
    return {"season_rule": str(rule), "season_check": {"model+season": season_check(
        preds, truth, flags, "model", "model+season")}}


def run(data: Sequence[Path], weights: Path, season_rule: Path | None = None,
        work: Path | None = None) -> dict:
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
    res = {"weights": str(weights), "data": [str(d) for d in data], "clip_seconds": S,
           **zero_shot_summary(rows, meta, S)}
    if season_rule is not None:
        work = work or ROOT / "work_dir" / "zero_shot"
        res["season"] = season_check_clips(data, res["rows"], S, season_rule, work)
    return res


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="generated sets (folders with spans.json)")
    p.add_argument("--weights", default=str(SHIPPED_WEIGHTS), help="the checkpoint to score")
    p.add_argument("--json", required=True, help="result file (with provenance)")
    p.add_argument("--season", metavar="RULE", default=None,
                   help="also season mode and the checkpoint with it on the same clips, with this season "
                        "rule (e.g. models/shipped/season_rule.json)")
    p.add_argument("--work", default="work_dir/zero_shot", help="folder for the season run's files")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    res = run([Path(d) for d in args.data], Path(args.weights),
              Path(args.season) if args.season else None, Path(args.work))
    doc = {**provenance(["bench/zero_shot_bench.py", *(argv if argv is not None else sys.argv[1:])]), **res}
    atomic_write_json(Path(args.json), no_nan(doc), indent=1)
    a, sure = res["scores"]["all"], res["at_0.9"]
    print(json.dumps({"n_clips": res["n_clips"], "score": a.get("score"), "median": a.get("median"),
                      "within_2s": a.get("within_2s"), "at_0.9": sure,
                      "season_check": res.get("season", {}).get("season_check")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
