"""How far inside its best OP start / ED end a skip range must stay: the shipped model's segment head on
the calibration series' clips (``python -m bench.train_shipped`` builds them in ``<out>/calib``), each
outer edge as predict.py would skip it, for a grid of doubt thresholds (models.dense.EDGE_DOUBT_NATS:
change points whose log-likelihood is within that many nats of the best are plausible, and the skip
range stops at the innermost of them) and fixed edge margins (``--edge_margin``).

    python bench/edge_doubt.py --data work_dir/shipped_4/calib --out bench/results/edge_doubt_calib.json

Per OP start and ED end the clip's skip range is composed as predict.py composes it
(skips.decide.skip_ranges_from_spans, ``--skip_margin`` 1 s); an edge "in story" lies more than 1 s
beyond the true edge (the story tolerance of bench/predict_bench.py), "theme lost" is how far inside
it stops.  An edge at the file's own start or end is not narrowed (no story lies beyond it).  The
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
NATS = (None, 1.0, 2.0, 3.0, 5.0, 8.0)       # None: fixed margins alone
EDGE_MARGINS = (1.0, 2.0, 3.0)
TOLERANCE_S = 1.0


def skip_edge(row: dict, nats: float | None, edge_margin: float, S: int) -> float | None:
    """The clip-seconds start (``start`` clip) or end (``end`` clip) of the skip range predict.py would
    write for this clip's outer edge; None where the segment head measures none."""
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
        return op[0]
    if got["ed_end"] is None:
        return None
    safe = None if nats is None else {"ed_end": got["ed_end_earliest"]}
    # the end clip ends where the episode does
    ed = skip_ranges_from_spans(None, (answer, got["ed_end"]), None, DEFAULT_SKIP_MARGIN_S, edge_margin,
                                float(S), safe)[1]
    return ed[1]


def evaluate(rows: list[dict], S: int) -> list[dict]:
    """One row per (kind, doubt threshold, edge margin): edges measured, in story, theme lost."""
    out = []
    for kind in ("start", "end"):
        mine = [r for r in rows if r["kind"] == kind and r.get("outer_truth") is not None
                and 0.0 <= r["outer_truth"] <= S and "segments" in r]
        for nats in NATS:
            for em in EDGE_MARGINS:
                story, lost = [], []
                for r in mine:
                    e = skip_edge(r, nats, em, S)
                    if e is None:
                        continue
                    t = r["outer_truth"]
                    at_file_edge = t <= 1e-3 if kind == "start" else t >= S - 1e-3
                    s = 0.0 if at_file_edge else (t - e if kind == "start" else e - t)
                    story.append(max(0.0, s))
                    lost.append(max(0.0, -s))
                story_a = np.asarray(story)
                out.append({"kind": kind, "doubt_nats": nats, "edge_margin": em, "n": len(story),
                            "in_story": int((story_a > TOLERANCE_S).sum()),
                            "story_max_s": round(float(story_a.max()), 2) if story else None,
                            "theme_lost_mean_s": round(float(np.mean(lost)), 2) if lost else None})
    return out


def table(res: list[dict]) -> str:
    from bench.predict_bench import _table
    def fixed(nats):   # None (or NaN, as bench.tables reads a JSON null): the fixed margins alone
        return nats is None or math.isnan(nats)

    rows = [[r["kind"], "fixed margins" if fixed(r["doubt_nats"]) else f"{r['doubt_nats']:g}",
             f"{r['edge_margin']:g}", f"{r['in_story']}/{r['n']}", f"{r['story_max_s']:.1f}",
             f"{r['theme_lost_mean_s']:.2f}"] for r in res]
    return _table(["edge", "doubt (nats)", "--edge_margin", "in story (> 1 s)", "most story (s)",
                   "theme lost, mean s"], rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=str(ROOT / "work_dir" / "shipped" / "calib"),
                   help="calibration episodes' clip folder (spans.json, processed/)")
    p.add_argument("--weights", default=str(ROOT / "models" / "shipped" / "avt_dense_general.pth"),
                   help="dense checkpoint with a trained segment head")
    p.add_argument("--out", default=None, help="JSON to write (default: print only)")
    args = p.parse_args(argv)
    data = Path(args.data)
    if not (data / "spans.json").is_file():
        print(f"error: {data}: no spans.json (python -m bench.train_shipped --stages data builds the "
              "calibration episodes)", file=sys.stderr)
        return 2
    from bench.train_shipped import clip_answers
    from models.checkpoint import load_checkpoint_model

    model, meta = load_checkpoint_model(args.weights, "cpu")
    S = int(meta["clip_seconds"])
    rows = clip_answers(model, data, S, keep_segments=True)
    res = evaluate(rows, S)
    where = data.resolve()
    doc = {**provenance(["bench/edge_doubt.py", *(argv if argv is not None else sys.argv[1:])]),
           "data": str(where.relative_to(ROOT)) if where.is_relative_to(ROOT) else str(data),
           "weights": args.weights, "clips": len(rows), "skip_margin": DEFAULT_SKIP_MARGIN_S,
           "tolerance_s": TOLERANCE_S, "rows": res}
    print(table(res))
    if args.out:
        atomic_write_json(Path(args.out), doc, indent=1)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
