"""How far inside its best OP start / ED end a skip range must stay: the shipped model's segment head on
the calibration series' clips (``python -m bench.train_shipped`` builds them in ``<out>/calib``), each
outer edge as predict.py would skip it, for a grid of doubt thresholds (models.dense.OP_START_DOUBT_NATS
and ED_END_DOUBT_NATS: change points whose log-likelihood is within that many nats of the best are
plausible, and the skip range stops at the innermost of them) and fixed edge margins (``--edge_margin``);
and the answered inner edges (OP end, ED start) kept at a grid of ``--min_confidence`` thresholds,
those below ``--sure_confidence`` (0.9) hedged at a grid of doubt thresholds on their boundary posterior
(models.dense.inner_edge), or not hedged.

    python bench/edge_doubt.py --data work_dir/shipped_more/calib work_dir/calib2 \
        --out bench/results/edge_doubt_two_calib.json

Per OP start and ED end the clip's skip range is composed as predict.py composes it
(skips.decide.skip_ranges_from_spans, ``--skip_margin`` 1 s); an edge "in story" lies more than 1 s
beyond the true edge (the story tolerance of bench/predict_bench.py), "theme lost" is how far inside
it stops, "withheld" where the doubt leaves less than a second of skip.  A true edge at the file's
own start or end has no story beyond it; the doubt narrows a range that begins or ends there all the
same (a cold open may come first).  The
calibration series are neither trained on nor tested on (bench/train_shipped.py), so choosing the
threshold here leaves the test series unseen.  About a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from datatools.fileio import atomic_write_json
from skips.options import DEFAULT_SKIP_MARGIN_S
from workflow.provenance import provenance

ROOT = Path(__file__).resolve().parent.parent
NATS = (None, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 16.0, 24.0)   # None: fixed margins alone
EDGE_MARGINS = (1.0, 2.0, 3.0)
MIN_CONFIDENCES = (0.3, 0.5, 0.7, 0.8, 0.9)   # --min_confidence for the inner edges' grid
INNER_NATS = (None, 3.0, 5.0, 8.0)            # None: answers below --sure_confidence not hedged
TOLERANCE_S = 1.0


NO_SKIP = math.nan   # skip_edge: the doubt leaves less than a second, so predict.py withholds the range


def skip_edge(row: dict, nats: float | None, edge_margin: float, S: int) -> float | None:
    """The clip-seconds start (``start`` clip) or end (``end`` clip) of the skip range predict.py would
    write for this clip's outer edge; None where the segment head measures none, NO_SKIP where the
    innermost plausible edge leaves less than a second (the answer is withheld)."""
    from models.dense import decode_spans
    from skips.decide import skip_ranges_from_spans

    kind, answer = row["kind"], float(row["answer"])
    got = decode_spans(row["segments"], kind, answer, doubt_nats=0.0 if nats is None else nats)
    if kind == "start":
        if got["op_start"] is None:
            return None
        safe = None if nats is None else {"op_start": got["op_start_latest"]}
        op = skip_ranges_from_spans((got["op_start"], answer), None, None, DEFAULT_SKIP_MARGIN_S,
                                    edge_margin, math.inf, safe)[0]
        return NO_SKIP if op is None else op[0]
    if got["ed_end"] is None:
        return None
    safe = None if nats is None else {"ed_end": got["ed_end_earliest"]}
    # the end clip ends where the episode does
    ed = skip_ranges_from_spans(None, (answer, got["ed_end"]), None, DEFAULT_SKIP_MARGIN_S, edge_margin,
                                float(S), safe)[1]
    return NO_SKIP if ed is None else ed[1]


def evaluate(rows: list[dict], S: int) -> list[dict]:
    """One row per (kind, doubt threshold, edge margin): edges measured, of them withheld (no safe skip
    is left), in story, theme lost (over the skipped ones)."""
    out = []
    for kind in ("start", "end"):
        mine = [r for r in rows if r["kind"] == kind and r.get("outer_truth") is not None
                and 0.0 <= r["outer_truth"] <= S and "segments" in r]
        for nats in NATS:
            for em in EDGE_MARGINS:
                story, lost, no_skip = [], [], 0
                for r in mine:
                    e = skip_edge(r, nats, em, S)
                    if e is None:
                        continue
                    if math.isnan(e):
                        no_skip += 1
                        continue
                    t = r["outer_truth"]
                    at_file_edge = t <= 1e-3 if kind == "start" else t >= S - 1e-3
                    s = 0.0 if at_file_edge else (t - e if kind == "start" else e - t)
                    story.append(max(0.0, s))
                    lost.append(max(0.0, -s))
                story_a = np.asarray(story)
                out.append({"kind": kind, "doubt_nats": nats, "edge_margin": em, "n": len(story) + no_skip,
                            "no_skip": no_skip,
                            "in_story": int((story_a > TOLERANCE_S).sum()),
                            "story_max_s": round(float(story_a.max()), 2) if story else None,
                            "theme_lost_mean_s": round(float(np.mean(lost)), 2) if lost else None})
    return out


def inner_skip_edge(row: dict, confidence: float, nats: float | None, sure: float) -> float:
    """The clip-seconds end (``start`` clip: OP end) or start (``end`` clip: ED start) of the skip range
    predict.py would write for this clip's answer: the answer narrowed by --skip_margin, and for an
    answer below ``sure`` (--sure_confidence) no further than its innermost plausible place
    (models.dense.inner_edge within ``nats``; None: not hedged)."""
    from models.dense import inner_edge

    edge = float(row["answer"])
    if nats is not None and confidence < sure:
        edge = inner_edge(row["posterior"], row["kind"], edge, nats)
    return edge - DEFAULT_SKIP_MARGIN_S if row["kind"] == "start" else edge + DEFAULT_SKIP_MARGIN_S


def inner_evaluate(rows: list[dict], calibration: dict | None, S: int) -> list[dict]:
    """One row per (--min_confidence, inner doubt threshold), OP ends and ED starts together: answers
    kept (confidence, calibrated and capped as predict.py caps it, at least the threshold), how many of
    them hedged (below --sure_confidence), their skip ranges' inner edges more than 1 s in the story
    (a kept answer in a window with no boundary at all counts as in story), and the theme lost."""
    from models.calibration import apply_calibration
    from models.dense import supported_confidence
    from skips.options import DEFAULT_SURE_CONFIDENCE as sure

    out = []
    mine = [r for r in rows if "posterior" in r]
    conf = [supported_confidence(float(apply_calibration(r["raw"], calibration)), r["support"]) for r in mine]
    for t in MIN_CONFIDENCES:
        for nats in INNER_NATS:
            kept = [(r, c) for r, c in zip(mine, conf) if c >= t]
            story, lost = [], []
            for r, c in kept:
                e = inner_skip_edge(r, c, nats, sure)
                if r["truth"] is None:
                    story.append(float(S))
                    continue
                s = e - r["truth"] if r["kind"] == "start" else r["truth"] - e
                story.append(max(0.0, s))
                lost.append(max(0.0, -s))
            story_a = np.asarray(story)
            out.append({"min_confidence": t, "doubt_nats": nats, "n": len(mine), "kept": len(kept),
                        "hedged": sum(c < sure for _, c in kept) if nats is not None else 0,
                        "in_story": int((story_a > TOLERANCE_S).sum()),
                        "theme_lost_mean_s": round(float(np.mean(lost)), 2) if lost else None})
    return out


def _no_doubt(nats: float | None) -> bool:
    """A grid row without a doubt threshold: None, or NaN as bench.tables reads a JSON null."""
    return nats is None or math.isnan(nats)


def inner_table(res: list[dict]) -> str:
    from bench.predict_bench import _table

    rows = [[f"{r['min_confidence']:g}",
             "not hedged" if _no_doubt(r["doubt_nats"]) else f"{r['doubt_nats']:g}",
             f"{r['kept']}/{r['n']}", str(r["hedged"]), str(r["in_story"]), f"{r['theme_lost_mean_s']:.2f}"]
            for r in res]
    return _table(["--min_confidence", "hedge below 0.9: doubt (nats)", "answers kept", "hedged",
                   "in story (> 1 s)", "theme lost, mean s"], rows)


def table(res: list[dict]) -> str:
    from bench.predict_bench import _table
    rows = [[r["kind"], "fixed margins" if _no_doubt(r["doubt_nats"]) else f"{r['doubt_nats']:g}",
             f"{r['edge_margin']:g}", f"{r['in_story']}/{r['n']}", str(r.get("no_skip", 0)),
             f"{r['story_max_s']:.1f}", f"{r['theme_lost_mean_s']:.2f}"] for r in res]
    return _table(["edge", "doubt (nats)", "--edge_margin", "in story (> 1 s)", "withheld (no safe skip)",
                   "most story (s)", "theme lost, mean s"], rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", default=[str(ROOT / "work_dir" / "shipped" / "calib")],
                   help="calibration episodes' clip folders (spans.json, processed/); the grid is "
                        "scored over all of them together")
    p.add_argument("--weights", default=str(ROOT / "models" / "shipped" / "avt_dense_general.pth"),
                   help="dense checkpoint with a trained segment head")
    p.add_argument("--out", default=None, help="JSON to write (default: print only)")
    args = p.parse_args(argv)
    folders = [Path(d) for d in args.data]
    for data in folders:
        if not (data / "spans.json").is_file():
            print(f"error: {data}: no spans.json (python -m bench.train_shipped --stages data builds the "
                  "calibration episodes)", file=sys.stderr)
            return 2
    from bench.train_shipped import clip_answers
    from models.checkpoint import load_checkpoint_model

    model, meta = load_checkpoint_model(args.weights, "cpu")
    S = int(meta["clip_seconds"])
    rows = [r for data in folders for r in clip_answers(model, data, S, keep_segments=True)]
    res = evaluate(rows, S)
    inner = inner_evaluate(rows, meta.get("calibration"), S)
    where = [d.resolve() for d in folders]
    doc = {**provenance(["bench/edge_doubt.py", *(argv if argv is not None else sys.argv[1:])]),
           "data": ", ".join(str(w.relative_to(ROOT)) if w.is_relative_to(ROOT) else str(d)
                             for w, d in zip(where, folders)),
           "weights": args.weights, "clips": len(rows), "skip_margin": DEFAULT_SKIP_MARGIN_S,
           "tolerance_s": TOLERANCE_S, "rows": res, "inner_rows": inner}
    print(table(res))
    print()
    print(inner_table(inner))
    if args.out:
        atomic_write_json(Path(args.out), doc, indent=1)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
