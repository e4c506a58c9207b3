"""Whole-episode benchmark of predict.py: all five boundaries, the story the skips would eat, and
error against coverage, on synthetic full episodes of series the models never saw.

Runs predict.py's library (``skips.predict_episodes`` and ``skips.write_outputs``, what the CLI
runs; ``--min_confidence 0`` so that every answer and its confidence is on record) once per method
on the full episodes listed in ``<data>/spans.json`` (``python -m datatools.synth --full_episodes``),
then scores in episode time:

- the five boundaries -- OP start, OP end, ED start, ED end, preview start -- against the truth
  (the measured spans, the JSON's ``spans``): median, p90, MAE and within-1/2/5-s shares of the
  answered ones, and how many were answered;
- the story inside the skip ranges (opening, ending and preview, as every skip file writes them:
  narrowed by predict.py's default ``--skip_margin``) per episode: cold open, body and C-part
  seconds they cover; the share of episodes where that is at most 1 s; the theme seconds they
  leave unskipped; and the same recomputed at other margins (the margin table);
- the same at confidence thresholds 0 ... 0.95 (what ``--min_confidence P`` would withhold:
  a withheld OP end takes its OP range with it, a withheld ED start its ED range and preview; a
  measured preview also has a confidence of its own),
  as a table and a figure (``coverage.png``).

    # 24 episodes of 8 unseen series, realistic, a quarter of them with cold opens of 2.5-8 min
    .venv/bin/python bench/predict_bench.py --generate --data work_dir/episode_bench/data \\
        --out work_dir/episode_bench --method published=R/avt/avnet_bestmodel.pth,... \\
        --method all=R/avt/avnet_bestmodel.pth,...,R/dense/avnet_bestmodel.pth
    .venv/bin/python bench/predict_bench.py --data DIR --weights a.pth b.pth   # one method

Each stage resumes: the data folder records what it was generated with (a rerun with other
settings refuses it), and a method whose predictions.json lists the same checkpoints and episodes
is not run again.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datatools.fileio import atomic_write_json, atomic_write_text
from skips import PredictError, PredictOptions, predict_episodes, write_outputs
from skips.decide import auto_min_confidence, skip_ranges_from_spans
from skips.options import DEFAULT_EDGE_MARGIN_S, DEFAULT_MIN_CONFIDENCE

BOUNDARIES = ("op_start", "op_end", "ed_start", "ed_end", "preview_start")
STORY_KINDS = ("cold_open", "body", "c_part", "insert")   # what a skip must not eat
STORY_TOLERANCE_S = 1.0
THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
DATA_RECORD = "bench_data.json"


# ----------------------------------------------------------------------------------------------
# Scoring (pure)


def truth_of(ep: dict) -> dict:
    """Boundaries (episode seconds, None where the episode has none) and story spans of a spans.json
    episode (realistic: its segments; easy: what is not OP, ED, preview or gap)."""
    pv = ep.get("preview")
    t = {
        "op_start": ep.get("op_start"),
        "op_end": ep.get("op_end"),
        "ed_start": ep.get("ed_start"),
        "ed_end": ep.get("ed_end"),
        "preview_start": pv[0] if pv else None,
        "duration": float(ep["duration"]),
    }
    t["theme"] = [tuple(map(float, x)) for x in ((ep.get("op_start"), ep.get("op_end")),
                                                (ep.get("ed_start"), ep.get("ed_end")), pv or (None, None))
                  if x[0] is not None and x[1] is not None]
    if ep.get("segments"):
        t["story"] = [(float(a), float(b)) for k, a, b in ep["segments"] if k in STORY_KINDS]
    else:
        cut = [(ep["op_start"], ep["op_end"])] if ep.get("op_end") is not None else []
        cut += (
            [(ep["ed_start"], ep["ed_end"])]
            + ([tuple(pv)] if pv else [])
            + [tuple(g) for g in ep.get("gaps") or []]
        )
        t["story"] = subtract([(0.0, float(ep["duration"]))], cut)
    return t


def subtract(
    spans: Sequence[tuple[float, float]], cuts: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = list(spans)
    for c0, c1 in cuts:
        nxt = []
        for a, b in out:
            if c1 <= a or c0 >= b:
                nxt.append((a, b))
                continue
            if c0 > a:
                nxt.append((a, c0))
            if c1 < b:
                nxt.append((c1, b))
        out = nxt
    return out


def overlap(ranges: Sequence[tuple[float, float]], spans: Sequence[tuple[float, float]]) -> float:
    """Seconds of ``spans`` covered by ``ranges`` (ranges may overlap each other: each second once)."""
    merged: list[list[float]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return float(sum(max(0.0, min(b, d) - max(a, c)) for a, b in merged for c, d in spans))


def answers_at(e: dict, threshold: float, margin: float | None = None,
               edge_margin: float = DEFAULT_EDGE_MARGIN_S,
               safe_edges: bool = True) -> tuple[dict, list[tuple[float, float]]]:
    """(boundary -> predicted seconds or None, skip ranges) of one predictions.json episode as
    ``--min_confidence threshold`` would leave them.  The boundaries are the measured spans (the
    JSON's ``spans``; ``op``/``ed``/``preview`` where it has none), the skip ranges what the skip
    files wrote, or, with ``margin``, the measured spans narrowed as ``--skip_margin margin
    --edge_margin edge_margin`` would (stopping at the segment head's innermost plausible outer edges,
    the JSON's ``safe_edges``, unless ``safe_edges`` is False: the fixed margins alone, as before)."""

    conf = e.get("confidence", {})
    withheld = e.get("withheld", {})   # at any threshold: hedging found no safe skip (--sure_confidence)
    ok = {
        name: e.get(name) is not None and conf.get(name, 0.0) >= threshold for name in ("op_end", "ed_start")
    }
    sp = e.get("spans") or {"opening": e.get("op"), "ending": e.get("ed"), "preview": e.get("preview")}
    # a measured preview also has a confidence of its own
    ok["preview"] = ok["ed_start"] and conf.get("preview", 1.0) >= threshold and "preview" not in withheld
    op, ed, pv = sp["opening"] if ok["op_end"] else None, sp["ending"] if ok["ed_start"] else None, \
        sp["preview"] if ok["preview"] else None
    got = {"op_start": op[0] if op else None, "op_end": e["op_end"] if op else None,
           "ed_start": e["ed_start"] if ed else None, "ed_end": ed[1] if ed else None,
           "preview_start": pv[0] if pv else None}
    if margin is None:
        skip = [e.get("op") if ok["op_end"] else None, e.get("ed") if ok["ed_start"] else None,
                e.get("preview") if ok["preview"] else None]
    else:
        skip = list(skip_ranges_from_spans(op, ed, pv, margin, edge_margin, float(e["duration"]),
                                           e.get("safe_edges") if safe_edges else None,
                                           e.get("hedged", ()) if safe_edges else ()))
        for i, names in ((0, ("op_start", "op_end")), (1, ("ed_start", "ed_end"))):
            if skip[i] is None:   # a hedged answer with no safe skip at these margins: withheld
                got.update(dict.fromkeys(names))
    ranges = [tuple(x) for x in skip if x]
    return got, ranges


def score_run(doc: dict, spans: dict, threshold: float = 0.0, margin: float | None = None,
              edge_margin: float = DEFAULT_EDGE_MARGIN_S, safe_edges: bool = True) -> dict:
    """Per boundary: n (episodes whose truth has it), answered, and the error summary of the
    answered ones; the story eaten and the theme (OP, ED, preview) left unskipped per episode; the
    answered share over all boundaries.  ``margin`` / ``edge_margin``: skip ranges as --skip_margin /
    --edge_margin would narrow them (answers_at; ``safe_edges`` False: without the innermost plausible
    outer edges)."""
    from datatools.metric import summary

    truth = {f"{k}.mp4": truth_of(v) for k, v in spans["episodes"].items()}
    errs: dict[str, list[float]] = {b: [] for b in BOUNDARIES}
    n = dict.fromkeys(BOUNDARIES, 0)
    eaten, left, false_skips, hedged = [], [], 0, 0
    for e in doc["episodes"]:
        t = truth.get(Path(e["file"]).name)
        if t is None:
            continue
        if not e["ok"]:
            n.update({b: n[b] + (t[b] is not None) for b in BOUNDARIES})
            eaten.append(0.0)
            left.append(sum(b - a for a, b in t["theme"]))
            continue
        got, ranges = answers_at(e, threshold, margin, edge_margin, safe_edges)
        hedged += sum(b in e.get("hedged", ()) and got[b] is not None for b in ("op_end", "ed_start"))
        for b in BOUNDARIES:
            if t[b] is None:
                false_skips += got[b] is not None and b in ("op_end", "preview_start")
                continue
            n[b] += 1
            if got[b] is not None:
                errs[b].append(abs(got[b] - t[b]))
        eaten.append(overlap(ranges, t["story"]))
        left.append(sum(b - a for a, b in t["theme"]) - overlap(ranges, t["theme"]))
    per = {}
    for b in BOUNDARIES:
        e = np.asarray(errs[b])
        row = {"n": n[b], "answered": int(e.size)}
        if e.size:
            s = summary(e, np.zeros_like(e))
            row.update(median=float(np.median(e)), p90=float(np.percentile(e, 90)), mae=float(e.mean()),
                       within_1s=float((e <= 1).mean()), within_2s=s["within_2s"], within_5s=s["within_5s"])
        per[b] = row
    all_e = np.concatenate([np.asarray(errs[b]) for b in BOUNDARIES])
    total = sum(n.values())
    eaten_a = np.asarray(eaten)
    return {"threshold": threshold, "boundaries": per, "answered_share": float(all_e.size / max(total, 1)),
            "all": {"n": total, "answered": int(all_e.size),
                    "median": float(np.median(all_e)) if all_e.size else None,
                    "p90": float(np.percentile(all_e, 90)) if all_e.size else None,
                    "within_2s": float((all_e <= 2).mean()) if all_e.size else None},
            "story_eaten_s": [round(float(x), 3) for x in eaten],
            "story_safe_share": float((eaten_a <= STORY_TOLERANCE_S).mean()) if eaten_a.size else None,
            "theme_left_s": [round(float(x), 3) for x in left], "margin": margin,
            "edge_margin": None if margin is None else edge_margin,
            "safe_edges": None if margin is None else safe_edges,
            "false_skips": int(false_skips), "episodes": int(eaten_a.size),
            "hedged": int(hedged)}


def failures(doc: dict, spans: dict, threshold: float = 0.0) -> list[dict]:
    """The episodes whose skip ranges (as ``answers_at`` leaves them at ``threshold``) cover more
    than ``STORY_TOLERANCE_S`` of story: per skip range the story it covers, with the truth, the
    answer, its confidence and what decided it beside it -- what to look at first."""
    truth = {f"{k}.mp4": (k, truth_of(v), v) for k, v in spans["episodes"].items()}
    out = []
    for e in doc["episodes"]:
        if not e["ok"] or Path(e["file"]).name not in truth:
            continue
        key, t, ep = truth[Path(e["file"]).name]
        got, ranges = answers_at(e, threshold)
        eaten = overlap(ranges, t["story"])
        if eaten <= STORY_TOLERANCE_S:
            continue
        conf = e.get("confidence", {})
        parts = []
        for name, r in zip(("opening", "ending", "preview"), (e.get("op"), e.get("ed"), e.get("preview"))):
            if r is None or tuple(r) not in ranges:
                continue
            s = overlap([tuple(r)], t["story"])
            if s > 0:
                parts.append({"range": name, "skip": [round(float(x), 2) for x in r], "story_s": round(s, 2)})
        out.append({"episode": key, "story_s": round(eaten, 2), "late_op": bool(ep.get("late_op")),
                    "c_part": bool(ep.get("c_part")), "parts": parts,
                    "truth": {b: t[b] for b in BOUNDARIES},
                    "answer": {b: None if got[b] is None else round(float(got[b]), 2) for b in BOUNDARIES},
                    "confidence": {k: round(float(v), 3) for k, v in conf.items()},
                    "source": e.get("source", {}), "span_source": e.get("span_source", {})})
    return sorted(out, key=lambda f: -f["story_s"])


def failure_table(fails: Sequence[dict]) -> str:
    def cell(f, name):
        return "; ".join(f"{p['range']} {p['skip'][0]:.1f}-{p['skip'][1]:.1f}: {p['story_s']:.1f} s"
                         for p in f["parts"] if p["range"] == name) or "-"

    rows = [
        [
            f["episode"],
            f"{f['story_s']:.1f}",
            ("late OP" if f["late_op"] else "") + (" C-part" if f["c_part"] else ""),
            cell(f, "opening"),
            f"{_f(f['truth']['op_start'], '{:.1f}')}-{_f(f['truth']['op_end'], '{:.1f}')}",
            _f(f["confidence"].get("op_end")),
            cell(f, "ending") + " / " + cell(f, "preview"),
            f"{_f(f['truth']['ed_start'], '{:.1f}')}-{_f(f['truth']['ed_end'], '{:.1f}')}, preview "
            f"{_f(f['truth']['preview_start'], '{:.1f}')}",
            _f(f["confidence"].get("preview")),
        ]
        for f in fails
    ]
    return _table(["episode", "story s", "kind", "opening skip: story", "true OP", "OP conf",
                   "ending / preview skip: story", "true ED, preview", "preview conf"], rows)


def late_rows(doc: dict, spans: dict) -> dict:
    """OP end on the episodes with a late opening (the OP ends after the first S seconds)."""
    late = {f"{k}.mp4": v for k, v in spans["episodes"].items() if v.get("late_op")}
    e = [abs(x["op_end"] - late[Path(x["file"]).name]["op_end"]) for x in doc["episodes"]
         if x["ok"] and Path(x["file"]).name in late and x.get("op_end") is not None]
    return {"n": len(late), "answered": len(e), "median": float(np.median(e)) if e else None,
            "within_2s": float(np.mean(np.asarray(e) <= 2)) if e else None}


# ----------------------------------------------------------------------------------------------
# Tables and figure


def _f(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    return "\n".join("| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header), *rows])


def boundary_table(results: dict[str, dict]) -> str:
    rows = [[name, b, f"{row['answered']}/{row['n']}", _f(row.get("median")), _f(row.get("p90")),
             _f(row.get("mae")), "-" if "median" not in row else
             f"{row['within_1s']:.0%} / {row['within_2s']:.0%} / {row['within_5s']:.0%}"]
            for name, res in results.items() for b, row in res["boundaries"].items()]
    return _table(["method", "boundary", "answered", "median", "p90", "MAE", "within 1 / 2 / 5 s"], rows)


def coverage_table(curves: dict[str, list[dict]]) -> str:
    rows = [[name, f"{r['threshold']:g}",
             f"{r['answered_share']:.0%} ({r['all']['answered']}/{r['all']['n']})",
             _f(r["all"]["median"]), _f(r["all"]["p90"]), _f(r["all"]["within_2s"], "{:.0%}"),
             _f(r["story_safe_share"], "{:.0%}")] for name, rr in curves.items() for r in rr]
    return _table(["method", "--min_confidence", "boundaries answered", "median", "p90", "within 2 s",
                   "episodes with <= 1 s of story skipped"], rows)


def summary_table(runs: Sequence[tuple[str, dict, str]]) -> str:
    """One row per (label, bench.json, method): median / p90 error (share within 2 s) per boundary at
    --min_confidence 0, the late openings' OP end, episodes with at most 1 s of story skipped, and
    predict.py's wall time per episode."""
    rows = []
    for label, doc, m in runs:
        res, late = doc["results"][m], doc["late_op"].get(m, {})
        n_eps = len(res["story_eaten_s"])
        cells = [label]
        for b in ("op_start", "op_end", "ed_start", "ed_end", "preview_start"):
            r = res["boundaries"][b]
            cells.append("none answered" if not r.get("answered") else
                         f"{_f(r['median'])} / {_f(r['p90'])} ({r['within_2s']:.0%})"
                         + (f", {r['answered']}/{r['n']}" if r["answered"] < r["n"] else ""))
        cells.append("-" if not late.get("answered") else f"{_f(late['median'])} ({late['within_2s']:.0%})")
        cells.append(f"{res['story_safe_share']:.0%}")
        wall = doc.get("wall_s", {}).get(m)
        cells.append("-" if wall is None else f"{wall / n_eps:.1f}")
        rows.append(cells)
    return _table(["method", "OP start", "OP end", "ED start", "ED end", "preview start", "late OP end",
                   f"story <= {STORY_TOLERANCE_S:g} s", "s per episode"], rows)


# (--skip_margin, --edge_margin) pairs the margin table recomputes from the measured spans
MARGIN_GRID = ((0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (1.0, 2.0), (1.0, 3.0), (1.0, 4.0), (1.0, 5.0), (2.0, 2.0))
# (--skip_margin, --edge_margin, stop at the segment head's innermost plausible outer edges): the grid,
# and the fixed margins alone at 1 s and at the former default of 3 s
MARGINS = tuple((m, em, True) for m, em in MARGIN_GRID) + ((1.0, 1.0, False), (1.0, 3.0, False))


def margin_table(margins: dict[str, list[dict]]) -> str:
    rows = [[name, f"{r['threshold']:g}", f"{r['margin']:g}", f"{r['edge_margin']:g}",
             "yes" if r.get("safe_edges") else "no",
             _f(r["story_safe_share"], "{:.0%}"),
             f"{np.median(r['story_eaten_s']):.1f} / {max(r['story_eaten_s']):.1f}",
             f"{np.median(r['theme_left_s']):.1f}"] for name, rr in margins.items() for r in rr]
    return _table(["method", "--min_confidence", "--skip_margin", "--edge_margin",
                   "stops at the innermost plausible places (outer edges, hedged answers)",
                   "episodes with <= 1 s of story skipped",
                   "story skipped, median / max s", "theme left unskipped, median s"], rows)


def plot_coverage(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, rows in curves.items():
        x = [r["answered_share"] for r in rows]
        axes[0].plot(x, [r["all"]["within_2s"] or 0 for r in rows], marker="o", label=name)
        axes[1].plot(x, [r["story_safe_share"] or 0 for r in rows], marker="o", label=name)
        for r in rows:
            axes[0].annotate(
                f"{r['threshold']:g}", (r["answered_share"], r["all"]["within_2s"] or 0), fontsize=7
            )
    axes[0].set(xlabel="share of boundaries answered", ylabel="answered within 2 s",
                title="error against coverage (labels: --min_confidence)")
    axes[1].set(xlabel="share of boundaries answered", ylabel="episodes with <= 1 s of story skipped",
                title="story the skips eat")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# Stages


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="All five boundaries, the story the skips eat and error against "
                                "coverage of predict.py on synthetic full episodes of unseen series.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="folder with spans.json and <id>.mp4 full episodes")
    p.add_argument("--method", action="append", default=[], metavar="NAME=CKPT[,CKPT...]",
                   help="a named set of checkpoints given to predict.py together (repeat for several; "
                        "none with --generate: only generate)")
    p.add_argument("--weights", nargs="+", default=None, help="one method, named 'models'")
    p.add_argument("--season", action="store_true", help="predict.py --season for every method")
    p.add_argument("--out", default=None, help="output folder (default: <data>/../predict_bench)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="predict.py --workers")
    p.add_argument("--device", default="auto", help="predict.py --device")
    g = p.add_argument_group("generate the data first (datatools.synth --full_episodes)")
    g.add_argument("--generate", action="store_true", help="write the episodes into --data first (resumes)")
    g.add_argument("--clip_seconds", type=int, default=200, help="S (must match the checkpoints)")
    g.add_argument("--series", type=int, default=8, help="series")
    g.add_argument("--episodes", type=int, default=3, help="episodes per series")
    g.add_argument("--min_minutes", type=float, default=12.0, help="shortest episode")
    g.add_argument("--max_minutes", type=float, default=24.0, help="longest episode")
    g.add_argument(
        "--difficulty", choices=("easy", "realistic"), default="realistic", help="generator difficulty"
    )
    g.add_argument("--late_op_prob", type=float, default=0.25,
                   help="share of episodes whose cold open runs 150-480 s (the OP ends after the first S)")
    g.add_argument("--render_fps", type=float, default=5.0, help="pictures drawn per second")
    g.add_argument("--seed", type=int, default=1234, help="synth seed (unseen series: not a training seed)")
    g.add_argument("--material", default=None, metavar="DIR",
                   help="real material (make material) for the episodes; with --material_split test, sources "
                        "no training saw")
    g.add_argument("--material_split", default="test", choices=("train", "calib", "test", "all"),
                   help="split of --material to draw from")
    return p


def generate(args: argparse.Namespace, data: Path) -> None:
    from datatools.synth import generate_dataset

    made = {k: getattr(args, k) for k in ("clip_seconds", "series", "episodes", "min_minutes", "max_minutes",
                                          "difficulty", "late_op_prob", "render_fps", "seed")}
    if args.material:
        made.update(material=str(Path(args.material).resolve()), material_split=args.material_split)
    rec = data / DATA_RECORD
    if rec.is_file():
        old = json.loads(rec.read_text(encoding="utf-8"))
        if old != made:
            diff = ", ".join(f"{k} {old.get(k)} -> {v}" for k, v in made.items() if old.get(k) != v)
            raise SystemExit(f"error: {data}: generated with other settings ({diff}); use another --data")
        if (data / "spans.json").is_file():
            print(f"data: {data} generated earlier with the same settings, reusing it", file=sys.stderr)
            return
    data.mkdir(parents=True, exist_ok=True)
    atomic_write_json(rec, made, indent=1)
    kw = {"late_op_prob": args.late_op_prob} if args.difficulty == "realistic" else {}
    if args.material:
        kw.update(material=made["material"], material_split=args.material_split)
    generate_dataset(data, args.series, args.episodes, args.clip_seconds, args.seed, full_episodes=True,
                     workers=args.workers, min_minutes=args.min_minutes, max_minutes=args.max_minutes,
                     difficulty=args.difficulty, render_fps=args.render_fps, **kw)


def methods_of(args: argparse.Namespace) -> dict[str, list[str]]:
    out = {}
    for item in args.method:
        name, sep, ckpts = item.partition("=")
        if not sep or not name or not ckpts:
            raise SystemExit(f"error: --method {item!r}: expected NAME=CKPT[,CKPT...]")
        out[name] = [c for c in ckpts.split(",") if c]
    if args.weights:
        out["models"] = list(args.weights)
    if not out and not args.generate:
        raise SystemExit("error: give --weights or at least one --method (or only --generate)")
    for name, ckpts in out.items():
        for c in ckpts:
            if not Path(c).is_file():
                raise SystemExit(f"error: {c}: checkpoint of method {name!r} not found")
    return out


def run_method(
    name: str, ckpts: list[str], files: list[str], out: Path, args: argparse.Namespace
) -> tuple[dict, float]:
    """predict.py on every episode (or the earlier run of the same checkpoints, by content, the same
    deciding options and the same episodes)."""
    from skips.library import model_set_key

    folder = out / name
    pred = folder / "predictions.json"
    timing = folder / "bench_timing.json"
    # predict.py FILES --weights CKPTS --out FOLDER --format json,csv --min_confidence 0 --workers W
    # --device D [--season]
    options = PredictOptions(weights=tuple(ckpts), out=str(folder), formats=("json", "csv"),
                             min_confidence=0.0, workers=args.workers, device=args.device,
                             season=args.season)
    key = model_set_key(ckpts, options)
    if pred.is_file() and timing.is_file():
        doc, earlier = json.loads(pred.read_text(encoding="utf-8")), json.loads(timing.read_text())
        # predict.py records the episodes by absolute path; --data may be relative
        same = [w["path"] for w in doc["weights"]] == ckpts and sorted(
            str(Path(e["file"]).resolve()) for e in doc["episodes"]
        ) == sorted(str(Path(f).resolve()) for f in files)
        # the skip ranges it wrote follow the margins of its day (not part of the key: they are not
        # deciding options, a library run applies them afresh)
        margins = all(e.get("skip_margin", options.skip_margin) == options.skip_margin
                      and e.get("edge_margin", options.edge_margin) == options.edge_margin
                      for e in doc["episodes"])
        if same and margins and doc.get("season") == bool(args.season) and earlier.get("model_set") == key:
            print(
                f"{name}: predicted earlier with the same checkpoints and episodes, reusing it",
                file=sys.stderr,
            )
            return doc, earlier["wall_s"]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        try:
            run = predict_episodes(files, options)
        except PredictError as exc:
            print(f"error: {exc}", file=sys.stderr)
            rc = 2
        else:
            write_outputs(run, options)
            for line in run.summary(options.out, time.perf_counter() - run.started):
                print(line, file=sys.stderr)
            rc = 1 if run.n_failed else 0
    wall = time.perf_counter() - t0
    if not pred.is_file():
        raise SystemExit(f"error: {name}: predict.py wrote no {pred} (exit {rc})")
    atomic_write_json(timing, {"wall_s": wall, "episodes": len(files), "exit": rc, "model_set": key})
    return json.loads(pred.read_text(encoding="utf-8")), wall


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    data = Path(args.data)
    methods = methods_of(args)
    if args.generate:
        generate(args, data)
        if not methods:
            print(f"data: {data} ready (no --method given, nothing predicted)")
            return 0
    spans_path = data / "spans.json"
    if not spans_path.is_file():
        print(f"error: {spans_path}: not found (use --generate)", file=sys.stderr)
        return 2
    spans = json.loads(spans_path.read_text(encoding="utf-8"))
    files = [str(data / v["full_episode"]) for v in spans["episodes"].values() if v.get("full_episode")]
    if not files:
        print(f"error: {spans_path}: no full episodes (generate with --full_episodes)", file=sys.stderr)
        return 2
    out = Path(args.out or data.parent / "predict_bench")
    out.mkdir(parents=True, exist_ok=True)
    results, curves, margins, late, walls, fails = {}, {}, {}, {}, {}, {}
    at_default, fails_default = {}, {}   # at predict.py's default --min_confidence (auto)
    for name, ckpts in methods.items():
        doc, walls[name] = run_method(name, ckpts, files, out, args)
        results[name] = score_run(doc, spans, 0.0)
        curves[name] = [score_run(doc, spans, t) for t in THRESHOLDS]
        thr = auto_min_confidence([w["kind"] for w in doc["weights"]])
        margins[name] = [score_run(doc, spans, t, m, em, safe) for t in sorted({0.0, thr})
                         for m, em, safe in MARGINS]
        late[name] = late_rows(doc, spans)
        fails[name] = failures(doc, spans)
        at_default[name] = score_run(doc, spans, thr)
        fails_default[name] = failures(doc, spans, thr)
    n_late = sum(1 for v in spans["episodes"].values() if v.get("late_op"))
    eps = spans["episodes"].values()
    md = [
        f"{len(files)} full episodes ({min(v['duration'] for v in eps) / 60:.1f}-"
        f"{max(v['duration'] for v in eps) / 60:.1f} min) of {len({v['series'] for v in eps})} series, "
        f"{spans.get('difficulty', 'easy')}, {n_late} with a late opening (the OP ends after the first "
        f"{spans['clip_seconds']} s), {sum(1 for v in eps if v.get('c_part'))} with a C-part; "
        f"predict.py --min_confidence 0{' --season' if args.season else ''}, --workers {args.workers}.",
        "",
        "Errors in episode seconds at --min_confidence 0 (every answer):",
        "",
        boundary_table(results),
        "",
        "Late openings, OP end: "
        + "; ".join(
            f"{k} {v['answered']}/{v['n']} answered, median {_f(v['median'])} s, within 2 s "
            f"{_f(v['within_2s'], '{:.0%}')}"
            for k, v in late.items()
        ),
        "",
        "Story skipped (cold open, body, C-part inside the OP / ED / preview skip ranges), per episode: "
        + "; ".join(
            f"{k} median {np.median(v['story_eaten_s']):.1f} s, "
            f"max {max(v['story_eaten_s']):.1f} s, "
            f"{_f(v['story_safe_share'], '{:.0%}')} of episodes at most 1 s; theme left unskipped "
            f"median {np.median(v['theme_left_s']):.1f} s"
            for k, v in results.items()
        ),
        "",
        "At predict.py's default --min_confidence (auto: "
        f"{DEFAULT_MIN_CONFIDENCE:g} with a dense checkpoint, else 0): "
        + "; ".join(
            f"{k} (threshold {v['threshold']:g}) {v['answered_share']:.0%} of the boundaries answered "
            f"({v['all']['answered']}/{v['all']['n']}; {v.get('hedged', 0)} OP ends / ED starts of them "
            f"hedged below --sure_confidence, their skips stopping at the innermost plausible place), "
            f"{_f(v['story_safe_share'], '{:.0%}')} of episodes "
            f"with at most {STORY_TOLERANCE_S:g} s of story skipped"
            for k, v in at_default.items()
        ),
        "",
        "Error against coverage (what --min_confidence P withholds):",
        "",
        coverage_table(curves),
        "",
        "Skip ranges narrowed by --skip_margin at the answered edges (OP end, ED start) and --edge_margin at "
        "the measured or assumed ones (OP start, ED end, preview), stopping at the segment head's innermost "
        "plausible OP start and ED end (or not: the fixed margins alone), recomputed from the measured spans "
        "at --min_confidence 0 and at the default threshold (the skip files above used predict.py's "
        "defaults):",
        "",
        margin_table(margins),
        "",
        *[
            line
            for name, ff in fails.items()
            if ff and name != "published"
            for line in (
                f"Episodes where {name} skips more than {STORY_TOLERANCE_S:g} s of story "
                f"(--min_confidence 0; seconds in episode time):",
                "",
                failure_table(ff),
                "",
            )
        ],
        *[
            line
            for name, ff in fails_default.items()
            if ff
            for line in (
                f"Episodes where {name} still skips more than {STORY_TOLERANCE_S:g} s of story at the "
                f"default threshold ({at_default[name]['threshold']:g}):",
                "",
                failure_table(ff),
                "",
            )
        ],
        "Wall time of predict.py: "
        + "; ".join(f"{k} {w:.0f} s ({w / len(files):.1f} s per episode)" for k, w in walls.items()),
    ]
    text = "\n".join(md) + "\n"
    atomic_write_text(out / "bench.md", text)
    from workflow.provenance import provenance

    atomic_write_json(
        out / "bench.json",
        {
            **provenance(None if argv is None else ["bench/predict_bench.py", *argv]),
            "methods": methods,
            "results": results,
            "coverage": curves,
            "margins": margins,
            "late_op": late,
            "failures": fails,
            "wall_s": walls,
            "at_default": at_default,
            "failures_at_default": fails_default,
            "data": str(data),
        },
        indent=1,
    )
    plot_coverage(curves, out / "coverage.png")
    print(text)
    print(f"wrote {out / 'bench.md'}, {out / 'bench.json'}, {out / 'coverage.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
