"""Score a submission against label files: the competition score (SPEC.md section 1), MAE, median
error and the share of clips within 1/2/5 s, overall and per clip type (s = opening end,
e = ending start), plus the worst clips.  Prints a table, writes JSON, optionally a figure.

    python datatools/evaluate.py --pred work_dir/run/submission.csv \
        --labels data/data_A/train/labels.txt data/data_B/labels.txt --plot eval.png
    python -m datatools.evaluate --pred fused.csv --labels labels.txt --json out.json --worst 20

Clips are joined by name (``x_start.mp4`` in the submission matches ``x_start`` in a label file).
Labelled clips without a prediction and predictions without a label are reported (counted and
listed), never silently dropped; the figures are computed on the clips present in both, and the
report says so.  The exit status is non-zero only when an input cannot be read.

Library use (e.g. from the demo):

    from datatools.evaluate import evaluate
    result = evaluate(read_submission(pred), read_labels(labels))   # dict, see evaluate()
"""
from __future__ import annotations

import argparse
import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datatools.fileio import atomic_write_bytes, atomic_write_json
from datatools.labels import VIDEO_SUFFIX, LabelError, LabelRow, SubmissionRow, read_labels, read_submission
from datatools.metric import TOLERANCE_S, summary

CLIP_TYPES = ("s", "e")
LIST_LIMIT = 20  # missing/extra clips named in the printed report (the JSON lists them all)


def clip_key(name: str) -> str:
    """The name clips are joined on: the file name without folder and without ``.mp4``."""
    base = Path(name).name
    return base[: -len(VIDEO_SUFFIX)] if base.endswith(VIDEO_SUFFIX) else base


def _index(rows: Sequence[Any], name_of, where_of) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in rows:
        k = clip_key(name_of(r))
        if k in out:
            raise LabelError(f"{where_of(r)}: clip {k} appears again (first at {where_of(out[k])})")
        out[k] = r
    return out


def evaluate(pred_rows: Sequence[SubmissionRow], label_rows: Sequence[LabelRow],
             worst: int = 10, tolerance: float = TOLERANCE_S) -> dict:
    """Compare predictions with labels, joined by clip name.

    Returns a JSON-ready dict: ``n_pred``, ``n_labels``, ``n_scored``; ``missing`` (labelled clips
    without a prediction) and ``extra`` (predictions without a label), both in input order;
    ``overall`` and ``by_type`` ({"s": ..., "e": ...}) holding datatools.metric.summary() of the
    scored clips; ``worst`` (the ``worst`` largest errors); ``clips`` (every scored clip with
    pred, true and error, in prediction order).  Empty groups hold NaN figures and n = 0."""
    labels = _index(label_rows, lambda r: r.stem, lambda r: f"{r.label_file}:{r.line}")
    preds = _index(pred_rows, lambda r: r.clip, lambda r: f"prediction line {r.line}")
    missing = [k for k in labels if k not in preds]
    extra = [k for k in preds if k not in labels]
    clips = []
    for k, p in preds.items():
        if k in labels:
            true = labels[k].seconds
            clips.append({"clip": k, "type": p.kind, "pred": p.seconds, "true": true,
                          "error": abs(p.seconds - true)})

    def group(rows: list[dict]) -> dict:
        return summary([c["pred"] for c in rows], [c["true"] for c in rows], tolerance)

    ranked = sorted(clips, key=lambda c: (-c["error"], c["clip"]))
    return {
        "tolerance_s": tolerance,
        "n_pred": len(preds),
        "n_labels": len(labels),
        "n_scored": len(clips),
        "missing": missing,
        "extra": extra,
        "overall": group(clips),
        "by_type": {t: group([c for c in clips if c["type"] == t]) for t in CLIP_TYPES},
        "worst": ranked[: max(worst, 0)],
        "clips": clips,
    }


def _fmt(x: float, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def format_report(result: dict) -> str:
    """The human-readable table printed by the CLI."""
    lines = []
    r = result
    cover = f"scored {r['n_scored']} clips present in both the prediction and the labels"
    if r["missing"] or r["extra"]:
        cover += f" (only the intersection: {len(r['missing'])} labelled clips have no prediction, " \
                 f"{len(r['extra'])} predictions have no label)"
    lines.append(cover)
    for what, names in (("missing from prediction", r["missing"]), ("without label", r["extra"])):
        if names:
            shown = ", ".join(names[:LIST_LIMIT])
            more = f", ... ({len(names) - LIST_LIMIT} more in the JSON)" if len(names) > LIST_LIMIT else ""
            lines.append(f"  {what} ({len(names)}): {shown}{more}")
    lines.append(f"{'type':<6}{'n':>6}{'score':>9}{'MAE':>9}{'median':>9}{'<=1s':>8}{'<=2s':>8}{'<=5s':>8}")
    rows = [("all", r["overall"])] + [(t, r["by_type"][t]) for t in CLIP_TYPES]
    for name, s in rows:
        lines.append(f"{name:<6}{s['n']:>6}{_fmt(s['score']):>9}{_fmt(s['mae']):>9}{_fmt(s['median']):>9}"
                     f"{_fmt(s['within_1s'], True):>8}{_fmt(s['within_2s'], True):>8}"
                     f"{_fmt(s['within_5s'], True):>8}")
    if r["worst"]:
        lines.append(f"worst {len(r['worst'])} clips:")
        lines.append(f"  {'clip':<32}{'type':>5}{'pred':>10}{'true':>10}{'error':>9}")
        for c in r["worst"]:
            lines.append(f"  {c['clip']:<32}{c['type']:>5}{c['pred']:>10.3f}{c['true']:>10.3f}"
                         f"{c['error']:>9.3f}")
    return "\n".join(lines)


def _json_ready(obj: Any) -> Any:
    """NaN (an empty group) becomes null, since strict JSON has no NaN."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    return obj


def plot_report(result: dict, path: str | Path) -> None:
    """Save a figure: histogram of signed errors (pred - true) and predicted vs true times."""
    import matplotlib
    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    clips = result["clips"]
    tol = result["tolerance_s"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    # One set of bin edges for both types, so their bars are comparable.
    edges = np.histogram_bin_edges([c["pred"] - c["true"] for c in clips] or [0.0], bins=40)
    for t, colour, label in (("s", "tab:blue", "s (opening end)"), ("e", "tab:orange", "e (ending start)")):
        sel = [c for c in clips if c["type"] == t]
        if not sel:
            continue
        signed = np.array([c["pred"] - c["true"] for c in sel])
        ax1.hist(signed, bins=edges, alpha=0.6, color=colour, label=label)
        ax2.scatter([c["true"] for c in sel], [c["pred"] for c in sel], s=10, alpha=0.7,
                    color=colour, label=label)
    ax1.axvspan(-tol, tol, color="grey", alpha=0.2, label=f"±{tol:g} s tolerance")
    ax1.set_xlabel("prediction - label (s)")
    ax1.set_ylabel("clips")
    s = result["overall"]
    ax1.set_title(f"errors: score {_fmt(s['score'])}, MAE {_fmt(s['mae'])} (n = {s['n']})")
    ax1.legend(fontsize=8)
    if clips:
        lo = min(min(c["true"], c["pred"]) for c in clips)
        hi = max(max(c["true"], c["pred"]) for c in clips)
        ax2.plot([lo, hi], [lo, hi], color="grey", lw=1, label="pred = true")
    ax2.set_xlabel("label (s)")
    ax2.set_ylabel("prediction (s)")
    ax2.set_title("predicted vs true")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Score a submission CSV against label files.",
                                add_help=add_help)
    p.add_argument("--pred", required=True, help="submission CSV (<clip>.mp4,<s|e>,<seconds>)")
    p.add_argument("--labels", nargs="+", required=True, metavar="FILE",
                   help="one or more label files (<clip_stem> <seconds> per line)")
    p.add_argument("--json", default=None,
                   help="where to write the full result; default: <pred stem>_eval.json next to --pred")
    p.add_argument("--plot", default=None, help="also save a PNG: error histogram and predicted-vs-true")
    p.add_argument("--worst", type=int, default=10, help="how many worst clips to list (default 10)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    pred_path = Path(args.pred)
    try:
        preds = read_submission(pred_path)
        labels: list[LabelRow] = []
        for f in args.labels:
            labels.extend(read_labels(f))
        result = evaluate(preds, labels, worst=args.worst)
    except LabelError as exc:
        print(f"evaluate: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(result))
    json_path = Path(args.json) if args.json else pred_path.with_name(pred_path.stem + "_eval.json")
    atomic_write_json(json_path, _json_ready({"pred": str(pred_path), "labels": list(args.labels),
                                              **result}), indent=2)
    print(f"wrote {json_path}")
    if args.plot:
        plot_report(result, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
