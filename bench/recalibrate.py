"""Refit a dense checkpoint's confidence on another set of held-out series, keeping its weights: a
candidate model folder beside the shipped one, to compare before anything ships.

    python -m bench.recalibrate --weights models/shipped/avt_dense_general.pth \\
        --data work_dir/shipped_cjk/calib --out work_dir/recalibrated

``--data`` is a preprocessed clip set of series the weights never trained on (``datatools.synth`` then
``utils.preprocess``; bench/train_shipped.py's calibrate stage fits on such a set the same way,
bench.train_shipped.fit_confidence).  Writes ``OUT/avt_dense_general.pth`` (the given weights with the
refitted calibration and preview calibration, and where they were fitted), the season rule that lies
beside the given weights (``season_rule.json``, fitted on whole calibration seasons, kept as it is) and
``OUT/results/calibration.json`` (the reliability tables of the raw confidence, of the calibration
the checkpoint had and of the refitted one on these clips; every clip's row).
``predict.py --weights OUT/avt_dense_general.pth`` then uses the candidate.  About a minute per 100
clips on 2 cores.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from datatools.fileio import atomic_write_json
from workflow.provenance import provenance


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--weights", required=True, help="a dense checkpoint (e.g. the shipped model's)")
    p.add_argument("--data", required=True,
                   help="a preprocessed clip set of held-out series (spans.json, processed/)")
    p.add_argument("--out", required=True, help="candidate model folder to write")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    weights, data, out = Path(args.weights), Path(args.data), Path(args.out)
    for path, what in ((weights, "checkpoint"), (data / "spans.json", "clip set's spans.json"),
                       (data / "processed", "clip set's features (utils.preprocess)")):
        if not path.exists():
            print(f"error: {path}: no such {what}", file=sys.stderr)
            return 2
    if out.resolve() == weights.parent.resolve():
        print(f"error: --out {out}: that is the folder of --weights; write the candidate elsewhere",
              file=sys.stderr)
        return 2
    from bench.train_shipped import WEIGHTS, errors, final_confidence, fit_confidence, reliability
    from models.checkpoint import load_checkpoint_model, read_checkpoint, save_checkpoint

    ckpt = read_checkpoint(weights)
    if ckpt.get("kind") != "dense":
        print(f"error: {weights}: a {ckpt.get('kind')!r} checkpoint; only the dense kind gives a raw "
              "confidence to calibrate", file=sys.stderr)
        return 2
    S = int(ckpt["clip_seconds"])
    model, _ = load_checkpoint_model(weights, "cpu")
    res = fit_confidence(model, data, S)
    before = ckpt.get("calibration")
    # how the calibration it had reads on these series: what the refit corrects
    res["reliability_before"] = (reliability(final_confidence(res["rows"], before), errors(res["rows"], S))
                                 if before and res["rows"] else None)
    ckpt["calibration"] = res["calibration"]
    ckpt["preview_calibration"] = res["preview_calibration"]
    shipped = dict(ckpt.get("shipped") or {})
    shipped["calibrated_on"] = f"{data} (refitted by bench/recalibrate.py; weights of {weights})"
    ckpt["shipped"] = shipped
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / WEIGHTS.name, ckpt)
    rule = weights.parent / "season_rule.json"
    if rule.is_file():
        shutil.copyfile(rule, out / rule.name)
    atomic_write_json(out / "results" / "calibration.json",
                      {**provenance(sys.argv), "weights": str(weights), "data": str(data),
                       "calibration_before": before, **res}, indent=1)
    print(f"wrote {out / WEIGHTS.name}: {res['n_clips']} clips of {res['n_series']} series; "
          f"calibration {res['calibration']}")
    for name in ("reliability_before", "reliability_calibrated"):
        print(f"{'with the calibration it had' if name == 'reliability_before' else 'refitted'}:")
        for row in res[name] or []:
            if row["n"]:
                print(f"  confidence {row['bin'][0]:.2f}-{row['bin'][1]:.2f}: {row['n']} clips, "
                      f"{row['within_2s']:.0%} within 2 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
