"""The result tables of the README and of docs/*.md, regenerated from the result files committed in
the repository.

    python -m bench.tables              # print every table
    python -m bench.tables --write      # rewrite the tables in README.md and every docs/*.md
    python -m bench.tables --check      # exit 1 (naming document and table) when one differs from its files
    python -m bench.tables --check --doc docs/benchmarks.md    # only the documents named

Every generated table sits in one of those documents between two markers::

    <!-- table NAME (python -m bench.tables; from FILE, ...) -->
    ...
    <!-- /table NAME -->

and the first line inside names the committed file(s) it comes from.  Editing a number by hand makes
``--check`` (and the test suite, tests/test_tables.py) fail.  Each table this module knows sits in
exactly one document: checking all of them (the default) also fails on a table found in none, or in
more than one place.  A table whose files are not committed yet is printed as a line saying so, never
with figures.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SHIPPED_RESULTS = ROOT / "models" / "shipped" / "results"
SYNTH_SEEDS = ("accuracy_seed1.json", "accuracy_seed11.json", "accuracy_seed21.json")    # in historical/
# result files kept from before every result file carried its command, commit, machine and date
# (workflow/provenance.py) sit in RESULTS / HISTORICAL; a table that reads one says so in its source line
HISTORICAL = "historical"
HISTORICAL_NOTE = ("historical: the files under `bench/results/historical/` were recorded before result "
                   "files carried their command, commit, machine and date")
MARKER = re.compile(r"<!-- table (?P<name>[\w.-]+)[^>]*-->\n(?P<body>.*?)<!-- /table (?P=name) -->", re.S)


def _rel(p: Path) -> str:
    try:
        return p.relative_to(ROOT).as_posix()
    except ValueError:   # a file outside the repository (tests)
        return p.as_posix()


def _nan(obj):
    """JSON null (an empty group) back to NaN, as the table functions expect."""
    if isinstance(obj, dict):
        return {k: _nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan(v) for v in obj]
    return math.nan if obj is None else obj


def _load(path: Path) -> dict:
    return _nan(json.loads(path.read_text(encoding="utf-8")))


def _hist(*parts: str) -> Path:
    """A file kept in bench/results/historical/ (found when called, as RESULTS may be replaced in tests)."""
    return RESULTS.joinpath(HISTORICAL, *parts)


def _is_historical(f: Path) -> bool:
    return f.is_relative_to(_hist())


def _source_line(files: list[Path]) -> str:
    note = f"; {HISTORICAL_NOTE}" if any(_is_historical(f) for f in files) else ""
    return "*From " + ", ".join(f"`{_rel(f)}`" for f in files) + f" (`python -m bench.tables`{note}).*"


def _missing(files: list[Path]) -> str | None:
    gone = [f for f in files if not f.is_file()]
    if gone:
        return "*Not measured yet: " + ", ".join(f"`{_rel(f)}`" for f in gone) + " is not committed.*"
    return None


# ----------------------------------------------------------------------------------------------
# Renderers: each returns the Markdown between its markers.


def accuracy_groups(files: list[Path]) -> str:
    """One accuracy_bench run: every method per clip group, and all clips in detail."""
    from bench.accuracy_bench import detail_table, table
    doc = _load(files[0])
    return "\n".join(
        [
            _source_line(files),
            "",
            f"{doc['n_test_clips']} labelled test-B clips of "
            f"{doc['n_test_series']} unseen series, seed {doc['made_with']['seed']}; score in s (season "
            "mode alone on the clips it answers, that share in brackets):",
            "",
            table(doc["scores"], doc["rows"]),
            "",
            "All clips:",
            "",
            detail_table(doc["scores"]),
            "",
            _stage_times(doc),
        ]
    )


def _stage_times(doc: dict) -> str:
    t = doc.get("timings_s", {})
    first = t.get("first_run") or t.get("this_run") or {}
    return (f"Run at commit {str(doc['commit'])[:7]}; " if doc.get("commit") else "") + \
        "stage times, first run of each stage (s): " + ", ".join(f"{k} {v:.0f}" for k, v in first.items()) + \
        f"; total {sum(first.values()) / 60:.0f} min on the 2-core machine."


def accuracy_season(files: list[Path]) -> str:
    """One accuracy_bench run: the season rule against its two inputs, per group."""
    from fuse.season_check import season_check_table
    doc = _load(files[0])
    parts = [_source_line(files)]
    for combined, rows in doc["season_check"].items():
        models = combined.rsplit("+season", 1)[0]
        parts += ["", season_check_table(rows, models, combined)]
    return "\n".join(parts)


def accuracy_coverage(files: list[Path]) -> str:
    from bench.accuracy_bench import coverage_table
    doc = _load(files[0])
    if not doc.get("coverage"):
        return _source_line(files) + "\n\n*This run has no confidence file (no dense kind).*"
    return _source_line(files) + "\n\n" + coverage_table(doc["coverage"])


def accuracy_spread(files: list[Path]) -> str:
    """Several seeds of one benchmark size: score (within 2 s) per seed, mean and range."""
    from bench.seed_spread import season_verdicts, spread_table
    runs = [_load(f) for f in files]
    return "\n".join([_source_line(files), "", spread_table(runs), "", "Season rule, per seed:", "",
                      season_verdicts(runs)])


def shipped_zero_shot(files: list[Path]) -> str:
    """The shipped model on its own unseen test series (bench/train_shipped.py's evaluate stage)."""
    from bench.shipped_card import reliability_table, score_table
    doc = _load(files[0])
    parts = [
        _source_line(files),
        "",
        f"{doc.get('n_clips', '?')} lone 200-s clips of "
        f"{doc.get('n_series', '?')} unseen series (material no training saw):",
        "",
        score_table(doc["scores"]),
    ]
    if doc.get("reliability"):
        parts += ["", "Reliability (confidence bins against the share within 2 s):", "",
                  reliability_table(doc["reliability"])]
    return "\n".join(parts)


def zero_shot_clips(files: list[Path]) -> str:
    """bench/zero_shot_bench.py: a checkpoint on the 200-s clips of generated sets, with what confidence
    >= 0.9 keeps and issue 43's clip bar (score <= 1.0 s, >= 95 % within 2 s at confidence >= 0.9)."""
    from bench.shipped_card import reliability_table, score_table
    doc = _load(files[0])
    a, sure = doc["scores"]["all"], doc["at_0.9"]
    w = doc["windows_without_op_end"]
    kept = sure["within_2s"]
    bar = a["score"] <= 1.0 and kept is not None and kept >= 0.95
    return "\n".join([
        _source_line(files) + _made(doc), "",
        f"{doc['n_clips']} labelled 200-s clips of {doc['n_series']} series, and {w['n']} start windows "
        f"without an OP end (`{Path(doc['weights']).name}`):", "",
        score_table(doc["scores"]), "",
        f"At confidence >= 0.9: {sure['answered']:.0%} of the clips answered, "
        f"{'-' if kept is None else format(kept, '.0%')} of those within 2 s; windows without an OP end "
        f"claimed at 0.9: {w['claimed_at_0.9']} of {w['n']}. Clip bar (score <= 1.0 s and >= 95 % within "
        f"2 s at confidence >= 0.9): **{'met' if bar else 'NOT met'}**.", "",
        "Reliability (confidence bins against the share within 2 s):", "",
        reliability_table(doc["reliability"]),
        *_clip_season(doc.get("season")),
    ])


def zero_shot_compare(files: list[Path]) -> str:
    """bench/zero_shot_bench.py with several checkpoints on the same clips: one row per checkpoint and
    clip type (score, MAE, median, within 1/2/5 s), and what confidence >= 0.9 keeps."""
    rows = ["| run | weights | clips | n | score (s) | MAE (s) | median (s) | within 1 s | within 2 s "
            "| within 5 s | answered at >= 0.9 | of those within 2 s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in files:
        doc = _load(f)
        sure = doc["at_0.9"]
        for kind in ("all", "s", "e"):
            a = doc["scores"][kind]
            rows.append(f"| `{f.stem}` | {doc['weights']} | {kind} | {a['n']} | {a['score']:.2f} | "
                        f"{a['mae']:.2f} | {a['median']:.2f} | {a['within_1s']:.0%} | {a['within_2s']:.0%} | "
                        f"{a['within_5s']:.0%} | "
                        + (f"{sure['answered']:.0%} | {sure['within_2s']:.0%} |" if kind == "all" else "| |"))
    return "\n".join([_source_line(files) + _made(_load(files[0])), "", *rows])


def episodes_by_method(files: list[Path]) -> str:
    """bench/predict_bench.py with several methods on each episode set, at predict.py's defaults: per
    set and method, boundaries answered, story-safe share, the most story skipped, theme left."""
    import statistics

    rows = ["| set | method | episodes | boundaries answered | story-safe (<= 1 s) | most story skipped (s) "
            "| theme left unskipped, median s | answers within 2 s |",
            "|---|---|---|---|---|---|---|---|"]
    for f in files:
        doc = _load(f)
        for name, r in doc["at_default"].items():
            eaten = r["story_eaten_s"]
            rows.append(f"| `{f.stem}` | {name} | {len(eaten)} | {r['answered_share']:.0%} | "
                        f"{r['story_safe_share']:.0%} | {max(eaten):.1f} | "
                        f"{statistics.median(r['theme_left_s']):.1f} | {r['all']['within_2s']:.0%} |")
    return "\n".join([_source_line(files) + _made(_load(files[0])), "", *rows])


def _clip_season(season: dict | None) -> list[str]:
    """bench/zero_shot_bench.py --season: the model with and without season mode, per group."""
    if not season:
        return []
    from fuse.season_check import season_check_table
    out = []
    for combined, rows in season["season_check"].items():
        models = combined.removesuffix("+season")
        out += ["", f"With season mode on the same clips (`{season['season_rule']}`; siblings found from "
                    "the clips' audio alone, across every set given):", "",
                season_check_table(_nan(rows), models, combined)]
    return out


def zero_shot_season_variants(files: list[Path]) -> str:
    """bench/zero_shot_bench.py --season on one clip set with several versions of the season rule:
    per run, the model with and without season mode per group."""
    out = [_source_line(files)]
    for f in files:
        doc = _load(f)
        out += ["", f"**`{f.stem}`** (commit {doc['commit'][:7]}{', dirty' if doc.get('dirty') else ''}):"]
        out += _clip_season(doc.get("season"))
    return "\n".join(out)


def shipped_text(files: list[Path]) -> str:
    """A result file that carries its own sentence (``text``): whole episodes, predict.py's speed."""
    return _source_line(files) + "\n\n" + _load(files[0])["text"]


def _made(doc: dict) -> str:
    """The provenance a result file records (workflow/provenance.py): command, commit, machine, date."""
    if "commit" not in doc or "machine" not in doc:
        return ""
    m = doc["machine"]
    return (
        f" `{doc['command']}` at commit "
        f"{str(doc['commit'])[:7]}{' (uncommitted changes)' if doc.get('dirty') else ''}, "
        f"{doc['date']}, {m.get('cores')} cores, {m.get('memory_gb')} GiB, {m.get('cpu', '?')}, Python "
        f"{m.get('python')}."
    )


def episodes_history(files: list[Path]) -> str:
    """Every method of the committed whole-episode benchmark runs, one row each."""
    from bench.predict_bench import summary_table
    runs = [(f"{m} (`{f.stem}`)", doc, m) for f in files for doc in [_load(f)] for m in doc["methods"]]
    return "\n".join(
        [
            _source_line(files),
            "",
            "Median / p90 error in episode seconds (share within 2 s) at "
            "`--min_confidence 0`; late OP end: median over the late openings (share within 2 s); "
            "story <= 1 s: episodes whose skip ranges cover at most 1 s of story; predict.py's wall "
            "time per episode with two workers (beside other jobs in the earlier runs):",
            "",
            summary_table(runs),
        ]
    )


def episodes_coverage(files: list[Path]) -> str:
    """Error against coverage and predict.py's default threshold, for each run given."""
    from bench.predict_bench import coverage_table
    parts = [_source_line(files)]
    for f in files:
        doc = _load(f)
        parts += ["", f"`{f.stem}` ({doc['data']}):", "", coverage_table(doc["coverage"])]
        if doc.get("at_default"):
            parts += [
                "",
                "At predict.py's default threshold when it ran: "
                + "; ".join(
                    f"{k} (threshold {v['threshold']:g}) {v['answered_share']:.0%} of the boundaries "
                    "answered "
                    f"({v['all']['answered']}/{v['all']['n']}), {v['story_safe_share']:.0%} of episodes "
                    "with at most 1 s "
                    "of story skipped"
                    for k, v in doc["at_default"].items()
                )
                + ".",
            ]
    return "\n".join(parts)


def episodes_material(files: list[Path]) -> str:
    """Whole episodes made from real material, one row per run and method: what predict.py's default
    threshold answers (how many OP ends / ED starts of them hedged below --sure_confidence; "-": a run
    from before hedging) and how much story its skips eat, beside every answer kept."""
    from bench.predict_bench import _table
    rows = []
    for f in files:
        doc = _load(f)
        season = " --season" if "season" in f.stem else ""
        for m, at in doc["at_default"].items():
            zero, eaten = doc["results"][m], at["story_eaten_s"]
            rows.append([
                f"`{f.stem}`", f"{m}{season}", doc["data"],
                f"{at['answered_share']:.0%} ({at['all']['answered']}/{at['all']['n']})",
                str(at["hedged"]) if "hedged" in at else "-",
                "-" if at["all"]["within_2s"] is None else f"{at['all']['within_2s']:.0%}",
                f"{at['story_safe_share']:.0%}", f"{max(eaten):.1f}",
                f"{zero['story_safe_share']:.0%}",
            ])
    return "\n".join([
        _source_line(files), "",
        _table(["run", "method", "episodes", "answered at the default threshold", "of them hedged",
                "answered within 2 s", "episodes with <= 1 s of story skipped", "most story skipped (s)",
                "story-safe with every answer kept"], rows),
    ])


def episodes_edge_margin(files: list[Path]) -> str:
    """The skip-margin grid of whole-episode runs at predict.py's default threshold
    (bench/predict_bench.py)."""
    from bench.predict_bench import margin_table
    parts = [_source_line(files)]
    for f in files:
        doc = _load(f)
        at = {m: v["threshold"] for m, v in doc["at_default"].items()}
        rows = {m: [r for r in rr if r["threshold"] == at[m]] for m, rr in doc["margins"].items()}
        parts += ["", f"`{f.stem}` ({doc['data']}):", "", margin_table(rows)]
    return "\n".join(parts)


def episodes_safe_edges(files: list[Path]) -> str:
    """The skip ranges with and without the innermost plausible places (the segment head's OP start
    and ED end; the boundary posterior's OP end and ED start of a hedged answer), per whole-episode
    run: fixed margins (a 3-s edge margin, nothing hedged) against the present default (1 s, stopping
    at those places), at predict.py's default threshold and with every answer kept (the margin grids
    of bench/predict_bench.py)."""
    import numpy as np

    from bench.predict_bench import _table
    rows = []
    for f in files:
        doc = _load(f)
        at = {m: v["threshold"] for m, v in doc["at_default"].items()}
        for m, grid in doc["margins"].items():
            for t in sorted({0.0, at[m]}, reverse=True):
                got = {(r["edge_margin"], bool(r.get("safe_edges"))): r for r in grid
                       if r["threshold"] == t and r["margin"] == 1.0}
                cells = [f"`{f.stem}`", m, f"{t:g}"]
                for key in ((3.0, False), (1.0, True)):
                    r = got[key]
                    n = len(r["story_eaten_s"])
                    cells += [f"{r['story_safe_share']:.0%} ({round(r['story_safe_share'] * n)}/{n})",
                              f"{max(r['story_eaten_s']):.1f}", f"{np.median(r['theme_left_s']):.1f}"]
                rows.append(cells)
    return "\n".join([
        _source_line(files), "",
        _table(["run", "method", "--min_confidence",
                "fixed 3 s, nothing hedged: story-safe episodes", "most story (s)", "theme left, median s",
                "plausible places + 1 s: story-safe episodes", "most story (s)", "theme left, median s"],
               rows),
    ])


def edge_doubt_calib(files: list[Path]) -> str:
    """bench/edge_doubt.py: outer edges in story against the doubt threshold, at the default edge margin."""
    from bench.edge_doubt import table
    from skips.options import DEFAULT_EDGE_MARGIN_S
    doc = _load(files[0])
    rows = [r for r in doc["rows"] if r["edge_margin"] == DEFAULT_EDGE_MARGIN_S]
    head = f"{doc['clips']} clips of `{doc['data']}`, `{doc['command']}`:"
    return "\n".join([_source_line(files), "", head, "", table(rows)])


def inner_doubt_calib(files: list[Path]) -> str:
    """bench/edge_doubt.py: answered OP ends / ED starts in story against --min_confidence, hedged below
    --sure_confidence at each doubt threshold on the boundary posterior, or not."""
    from bench.edge_doubt import inner_table
    doc = _load(files[0])
    head = (f"{doc['clips']} clips of `{doc['data']}`, `{doc['command']}`; OP ends and ED starts together, "
            f"--skip_margin {doc['skip_margin']:g} s:")
    return "\n".join([_source_line(files), "", head, "", inner_table(doc["inner_rows"])])


def before_after(files: list[Path]) -> str:
    """The shipped model's whole-episode runs at predict.py's default before a change (the first half of
    ``files``) and with it (the second half, the same sets in the same order): what the criteria fixed
    for the change read ("Hedged answers", "The OP start's doubt, reconsidered")."""
    import numpy as np

    from bench.predict_bench import _table
    half = len(files) // 2
    rows = []
    for old_f, new_f in zip(files[:half], files[half:]):
        old, new = (next(iter(_load(f)["at_default"].values())) for f in (old_f, new_f))
        rows.append([f"`{new_f.stem}`"] + [
            f"{old['answered_share']:.0%} -> {new['answered_share']:.0%} ({new.get('hedged', 0)} hedged)",
            f"{old['story_safe_share']:.0%} -> {new['story_safe_share']:.0%}",
            f"{max(old['story_eaten_s']):.1f} -> {max(new['story_eaten_s']):.1f}",
            f"{np.median(old['theme_left_s']):.1f} -> {np.median(new['theme_left_s']):.1f}",
            f"{old['all']['within_2s']:.0%} -> {new['all']['within_2s']:.0%}",
        ])
    return "\n".join([
        _source_line(files), "",
        _table(["run", "boundaries answered", "episodes with <= 1 s of story skipped",
                "most story skipped (s)", "theme left unskipped, median s", "answers within 2 s"], rows),
    ])


EPISODE_SETS = ("val", "test", "test2", "test3")
# the shipped model's row name, and the rows beside it: its own runs under the default before hedging,
# the builds not shipped now (an earlier shipped model, candidates that failed what they had to do):
# (row name, folder with their episode result files); each one's zero_shot_test.json (written before
# result files carried their provenance) is in the folder of the same name under historical/
SHIPPED_ROW = "shipped (300 series): --min_confidence 0.7, hedged below 0.9, OP-start doubt"
BEFORE_OP_START_DOUBT = RESULTS / "before_op_start_doubt"
CANDIDATES = (("shipped (300 series), before the OP-start doubt rule", BEFORE_OP_START_DOUBT),
              ("shipped (300 series), before hedging: --min_confidence 0.9",
               RESULTS / "shipped_300series_unhedged"),
              ("earlier shipped (150 series)", RESULTS / "shipped_150series"),
              ("candidate (150 series, 48 epochs)", RESULTS / "candidate_48epoch"))


def _build_files(zero_shot: Path, episodes: Path, prefix: str) -> list[Path]:
    return [zero_shot, *[episodes / f"{prefix}{x}.json" for x in EPISODE_SETS]]


def shipped_vs_candidates(files: list[Path]) -> str:
    """The shipped model beside earlier builds that are not shipped now: lone unseen clips (the
    evaluate stage of bench/train_shipped.py) and whole episodes at predict.py's default threshold
    (bench/predict_bench.py), from groups of 1 + len(EPISODE_SETS) files."""
    from bench.predict_bench import _table
    k = 1 + len(EPISODE_SETS)
    rows = []
    names = [SHIPPED_ROW, *[name for name, _ in CANDIDATES]]
    for name, group in zip(names, [files[i:i + k] for i in range(0, len(files), k)]):
        z = _load(group[0])
        a, sure = z["scores"]["all"], z["at_0.9"]
        cells = [name, f"{a['score']:.2f}", f"{a['median']:.2f}", f"{a['within_2s']:.0%}",
                 f"{sure['answered']:.0%} / {sure['within_2s']:.0%}"]
        for f in group[1:]:
            (at,) = _load(f)["at_default"].values()
            cells.append(f"{at['answered_share']:.0%} / {at['story_safe_share']:.0%}")
        rows.append(cells)
    return "\n".join([
        _source_line(files), "",
        _table(["model", "clips: score (s)", "median (s)", "within 2 s", "at 0.9: answered / within 2 s",
                *[f"episodes {x}: answered / story-safe" for x in EPISODE_SETS]], rows),
    ])


def preprocess_speed(files: list[Path]) -> str:
    doc = _load(files[0])
    S, n = doc["clip_seconds"], doc["clips"]
    st = doc["stage_seconds_one_clip"]
    rows = [f"| our driver, {doc['workers']} workers, {n} clips x {S} s at 640x360, 25 fps | "
            f"{doc['ours_wall_s']:.1f} s wall = **{doc['ours_video_s_per_s']:.1f} s of video per second** "
            "(includes each worker's start-up and model load) |"]
    if "baseline_video_s_per_s" in doc:
        rows += [
            f"| published approach, {1 if 'speedup' in doc else 0} clip (every frame decoded, EasyOCR/CRAFT "
            "at full "
            f"resolution every second) | **{doc['baseline_video_s_per_s']:.2f} s of video per second** |",
            f"| speed ratio | **{doc['speedup']:.0f}x** |",
            "| text-ROI agreement (mean IoU per second): ours vs published / ours vs truth / published vs "
            "truth | "
            f"{doc['roi_iou_ours_vs_baseline']:.2f} / {doc['ours_iou_vs_truth']:.2f} / "
            f"{doc['baseline_iou_vs_truth']:.2f} |",
        ]
    if "backends" in doc:
        b = doc["backends"]
        rows.append(
            f"| OCR backends at {doc['ocr_size']} px, every second, OCR only | rapidocr "
            f"{b['rapidocr']['frames_per_s']:.1f} frames/s, easyocr {b['easyocr']['frames_per_s']:.1f} "
            "frames/s; "
            f"IoU vs truth {b['rapidocr']['iou_vs_truth']:.2f} vs {b['easyocr']['iou_vs_truth']:.2f}; with "
            "each "
            f"other {b['iou_rapidocr_vs_easyocr']:.2f} |"
        )
    total = sum(v for k, v in st.items() if k != "detector_calls")
    rows.append("| stage times on one clip (one process, models loaded) | " + ", ".join(
        f"{k} {v:.2f} s ({v / total:.0%})" for k, v in st.items() if k != "detector_calls")
        + (f"; {st['detector_calls']:.0f} detector calls for {S} s" if "detector_calls" in st else "") + " |")
    return "\n".join([_source_line(files) + _made(doc), "", "| measured | result |", "|---|---|", *rows])


def train_speed(files: list[Path]) -> str:
    doc = _load(files[0])
    rows = [
        f"| {r['preset']}, {r['kind']}, S={r['clip_seconds']}, batch {r['batch']}, {r['threads']} thread(s) "
        "+ "
        f"{r['data_workers']} data worker(s), {r['memory_format']} | {r['clips_per_s']:.1f} clips/s, "
        "waiting for "
        f"data {r['data_wait_share']:.1%} of step time |"
        for r in doc["tiny"]
    ]
    rows += [
        f"| {r['preset']}, {r['kind']}, S={r['clip_seconds']}, batch {r['batch']}, {r['threads']} thread(s) "
        "| "
        f"forward {r['forward_s']:.1f} s, backward {r['backward_s']:.1f} s, {r['parameters_m']:.1f} M "
        "parameters |"
        for r in doc["full"]
    ]
    return "\n".join([_source_line(files) + _made(doc), "", "| measured | result |", "|---|---|", *rows])


def season_speed(files: list[Path]) -> str:
    doc = _load(files[0])
    S, d = doc["clip_seconds"], doc["discovery"]
    lines = [_source_line(files) + _made(doc), ""]
    if "fingerprint_s_per_clip" in doc:
        lines.append(f"- Fingerprinting: {doc['fingerprint_s_per_clip']:.2f} s per {S:.0f}-s mp4/AAC clip "
                     f"(mean of {doc['fingerprint_clips']}, one process).")
    lines.append(
        f"- Sibling discovery over {d['clips']} clips of {S:.0f} s ({doc['series']} synthetic series x "
        f"{doc['episodes']} episodes x start/end; audio synthesised directly rather than encoded): "
        f"{d['seconds']:.1f} s, {d['groups']} groups, {d['cross_series_pairs']} cross-series pairs, "
        f"{d['clips_without_sibling']} clips without a sibling."
    )
    errs = [f"{label} median {doc[k]['median_s']:.2f} s / p90 {doc[k]['p90_s']:.2f} s"
            for k, label in (("op_end", "OP end"), ("ed_start", "ED start")) if k in doc]
    if errs:
        lines.append("- Raw error (no learned offset): " + ", ".join(errs) + ".")
    return "\n".join(lines)


def demo_run(files: list[Path]) -> str:
    """The demo's record (demo.py writes <out>/result.json): data, scores, verdicts, stage times."""
    from fuse.season_check import season_check_table
    from workflow.report import _verdicts, score_table
    doc = _load(files[0])
    d, mw = doc["data"], doc["made_with"]
    table, rows = score_table(doc["results"])
    ep = sorted(set(d["epochs"].values()))
    secs = doc["seconds"]
    reused = set(doc.get("reused_earlier_outputs", []))
    return "\n".join(
        [
            _source_line(files) + _made(doc),
            "",
            f"Difficulty {mw['difficulty']}, seed {mw['seed']}, S = {d['clip_seconds']} s; training "
            f"{d['train']['clips']} labelled clips of {d['train']['series']} series, test B "
            f"{d['test']['clips']} clips "
            f"of {d['test']['series']} unseen series; tiny preset, "
            + (
                f"{ep[0]} epochs"
                if len(ep) == 1
                else ", ".join(f"{k} {v} epochs" for k, v in d["epochs"].items())
            )
            + ".",
            "",
            table,
            "",
            *[f"- {v}" for v in _verdicts(rows)],
            "",
            "Stage times (s): "
            + ", ".join(f"{k} {v:.0f}{' (reused)' if k in reused else ''}" for k, v in secs.items())
            + f"; total {sum(secs.values()) / 60:.1f} min.",
            *[
                line
                for combined, rows in doc.get("season", {}).get("season_check", {}).items()
                for line in ("", season_check_table(rows, combined.rsplit("+season", 1)[0], combined))
            ],
        ]
    )


def song_end_study(files: list[Path]) -> str:
    """bench/song_end_study.py: per set and per change curve, how often the strongest audio change near
    an ending's end lies within 2 s of it, and how far inside the song the others lie."""
    from bench.predict_bench import _table
    from bench.song_end_study import CURVES
    rows = []
    for f in files:
        doc = _load(f)
        d = doc["data"]
        name = f"seed {d.get('seed')}, {d.get('family') or 'project'} family, {d.get('material_split')} split"
        for curve in CURVES:
            got = [e[curve] for e in doc["episodes"] if curve in e]
            missed = sorted(-g["peak_from_end_s"] for g in got if not g["hit"])
            c_part = doc["summary"].get("c_part", {}).get(curve)
            rows.append([name, f"`{curve}`", str(len(got)), f"{doc['summary']['all'][curve]['hit_2s']:.0%}",
                         "-" if c_part is None else f"{c_part['hit_2s']:.0%}",
                         ", ".join(f"{x:.0f}" for x in missed) or "-"])
    head = ["set", "curve", "episodes", "strongest change within 2 s of the ED end",
            "of those followed by a C-part", "the others: seconds before the ED end (- after)"]
    return "\n".join([_source_line(files), "", _table(head, rows)])


def picture_study(files: list[Path]) -> str:
    """bench/picture_study.py: per calibration-side set, how often aligned seconds fall below each picture
    threshold by class, and how close each run rule puts the opening's start."""
    from bench.predict_bench import _table
    doc = _load(files[0])
    rows, runs = [], []
    for st in doc["sets"]:
        d = st["data"]
        name = f"seed {d['seed']}, {d['family']} family ({d['episodes']} episodes)"
        for t, by in st["max_diff"].items():
            rows.append([name, t] + [f"{by[c]['below']:.0%} of {by[c]['n']}" if by[c]["below"] is not None
                                     else "-" for c in ("both", "neither", "mixed")])
        for k, v in st["run_shared"].items():
            run = doc["sets"][0]["in_force"]["RUN"]
            rule = f"{v['run_shared']} of {run}, {v['song_diff']:.2f} inside the song" \
                if "run_shared" in v else f"{k} of {run}"
            runs.append([name, rule, str(v["episodes"]),
                         f"{v['within_2s']:.0%}" if v.get("within_2s") is not None else "-",
                         str(v["early_over_0_5s"]),
                         f"{v['earliest']:+.1f}" if v.get("earliest") is not None else "-"])
    force = doc["sets"][0]["in_force"]
    return "\n".join([
        _source_line(files), "", f"`{doc['command']}` at commit {doc['commit'][:7]}; in force then: "
        + ", ".join(f"{k} = {v}" for k, v in force.items()) + ".", "",
        _table(["set", "mean grey difference below", "same point of the opening (both inside it)",
                "two cold opens", "a cold open against the opening"], rows), "",
        _table(["set", "shared seconds in a stretch; difference allowed inside the song",
                "episodes with a sibling's pictures",
                "start within 2 s", "more than 0.5 s early", "earliest (s)"], runs)])


def recalibration(files: list[Path]) -> str:
    """bench/recalibrate.py: the confidence bins on the new calibration clips, with the calibration the
    checkpoint had and with the refitted one."""
    from bench.predict_bench import _table
    doc = _load(files[0])

    def cell(row):
        return "-" if not row["n"] else f"{row['n']} / {row['within_2s']:.0%}"
    rows = [[f"{a['bin'][0]:.2f}-{a['bin'][1]:.2f}", cell(a), cell(b)]
            for a, b in zip(doc["reliability_before"], doc["reliability_calibrated"])]
    cal = doc["calibration"]
    return "\n".join([
        _source_line(files), "", f"{doc['n_clips']} clips of {doc['n_series']} series (`{doc['data']}`); "
        f"`{doc['command']}` at commit {doc['commit'][:7]}. Refitted map: {cal['method']}, "
        f"a = {cal['a']:.3f}, b = {cal['b']:.3f} (before: a = {doc['calibration_before']['a']:.3f}, "
        f"b = {doc['calibration_before']['b']:.3f}).", "",
        _table(["confidence", "clips / within 2 s, the calibration it had", "clips / within 2 s, refitted"],
               rows)])


def season_rule_fit(files: list[Path]) -> str:
    """The season rule's fitted values (fuse/season.py --save_offsets, under "decision") in each file
    that holds them: the shipped rule, and the accuracy runs that record theirs."""
    rows = []
    for f in files:
        doc = _load(f)
        dec = doc.get("decision") or doc.get("season_rule")
        if not dec:
            continue
        rel, n = dec["reliability"], dec.get("n", {})
        rows.append(f"| `{_rel(f)}` | {dec['spread_cut']:g} s | " + " | ".join(
            f"{rel[k]:.2f} ({n.get(k, '?')})" for k in ("one", "several", "several_spread"))
            + f" | {dec['model_trust']:.2f} | {dec['min_song_s']:.0f}-{dec['max_song_s']:.0f} s |")
    return "\n".join(
        [
            _source_line(files),
            "",
            "| fitted in | spread_cut | p_season one sibling (clips) | several | "
            "several, spread | model_trust | theme-song length |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


def library_speed(files: list[Path]) -> str:
    """Library mode's throughput (bench/library_bench.py): first run, unchanged run, floor, memory."""
    doc = _load(files[0])
    f, a, sm, fl = doc["first_run"], doc["unchanged_run"], doc["small_first_run"], doc["floor"]
    n = doc["episodes"]

    def peak(d: dict) -> str:
        return f"{statistics.median(r['peak_mb'] for r in d['runs']):.0f} ({d['peak_mb_max']:.0f})"

    def row(what: str, d: dict) -> str:
        mem = peak(d)
        return (f"| {what} | {d['wall_median_s']:.1f} | {d['wall_min_s']:.1f} | {d['wall_max_s']:.1f} | "
                f"{mem} |")

    lines = [_source_line(files) + _made(doc), "",
             f"| {len(f['runs'])} whole-process runs each | median wall (s) | min | max | "
             "peak memory, MB: median (max) |",
             "| --- | --- | --- | --- | --- |",
             row(f"first run, {n} episodes (fresh database)", f),
             row(f"second run, unchanged library ({n} episodes)", a),
             row(f"first run, {doc['small']} of the episodes", sm),
             f"| ffmpeg floor: just the two 200-s windows of the {n} episodes | {fl['wall_median_s']:.1f} | "
             f"{min(r['wall_s'] for r in fl['runs']):.1f} | {max(r['wall_s'] for r in fl['runs']):.1f} | - |",
             "",
             f"First run: **{doc['episodes_per_minute']:.1f} episodes per minute**, "
             f"{doc['first_over_floor']:.1f}x the decode-only floor measured in the same session; "
             f"the unchanged second run takes **{100 * doc['unchanged_share']:.1f} %** of the first run's "
             "time. "
             f"Peak memory (the process and its workers together, median of the runs) is {peak(f)} MB "
             f"for {n} episodes against {peak(sm)} MB for {doc['small']}."]
    if "memory" in doc:
        m = doc["memory"]
        r = m["runs"]
        lines += ["", f"Memory as the library grows (`{m['made']['command']}`): a first run over "
                  f"**{m['episodes']} short episodes** ({m['minutes']:.0f} minutes, S = {m['clip_seconds']}, "
                  "season mode alone: "
                  f"`--weights none`) peaks at **{r['all']['peak_mb']:.0f} MB** (process and workers) in "
                  f"{r['all']['wall_s'] / 60:.1f} min, against {r['tenth']['peak_mb']:.0f} MB over the first "
                  f"{m['tenth']} of them."]
    return "\n".join(lines)


def season_variants(files: list[Path]) -> str:
    """Several runs of bench/season_episodes_bench.py on one set (rule variants): per run and mode
    the season episodes' and all episodes' story-safe share, worst story, answered share, the OP start
    and ED end within 2 s and the theme left unskipped."""
    rows = []
    for f in files:
        doc = _load(f)
        for mode, key in (("--season", "with_season"), ("without", "without_season")):
            for g in ("season", "all"):
                r = doc[key][g]
                b = r["boundaries"]
                rows.append(
                    f"| `{f.stem}` | {doc['commit'][:7]}{' (dirty)' if doc.get('dirty') else ''} | {mode} | "
                    f"{g} | {r['episodes']} | {r['story_safe_share']:.0%} | {r['story_eaten_max_s']:.1f} | "
                    f"{r['answered_share']:.0%} | {b['op_start'].get('within_2s', 0):.0%} | "
                    f"{b['ed_end'].get('within_2s', 0):.0%} | {r['theme_left_median_s']:.1f} |")
    d = _load(files[0])["data"]
    return "\n".join([
        _source_line(files), "",
        f"{d['episodes']} episodes ({d['material_split']} split, the {d.get('family', 'project')} family, "
        f"seed {d['seed']}).", "",
        "| run | commit | mode | episodes | n | story-safe (<= 1 s) | worst story s | boundaries answered | "
        "OP start within 2 s | ED end within 2 s | theme left median s |",
        "|---|---|---|---|---|---|---|---|---|---|---|", *rows])


def season_episodes(files: list[Path]) -> str:
    """bench/season_episodes_bench.py: library mode with and without --season per group of episodes,
    the bars fixed before the run, the library's own timings."""
    doc = _load(files[0])
    names = {"season": "in seasons of 2+", "lone": "lone shows", "late_op": "late openings",
             "late_op_shared": "late openings whose OP a sibling shares", "cour_change": "cour-changed",
             "c_part": "with a C-part", "all": "all"}

    def edge(r: dict, b: str) -> str:
        x = r["boundaries"][b]
        if not x.get("answered"):
            return f"- (0/{x['n']})"
        return f"{x['within_2s']:.0%} ({x['answered']}/{x['n']})"

    rows = []
    for g, label in names.items():
        for mode, key in (("--season", "with_season"), ("without", "without_season")):
            r = doc[key].get(g)
            if not r:
                continue
            late = r.get("late_op") or {}
            rows.append(
                f"| {label} | {mode} | {r['episodes']} | {r['story_safe_share']:.0%} | "
                f"{r['story_eaten_max_s']:.1f} | "
                f"{r['answered_share']:.0%} | " + " | ".join(edge(r, b) for b in (
                    "op_start", "op_end", "ed_start", "ed_end", "preview_start"))
                + f" | {'-' if not late.get('answered') else format(late['within_2s'], '.0%')} | "
                f"{r['theme_left_median_s']:.1f} |")
    bars = doc["bars"]
    w = doc["wall_s"]
    d = doc["data"]
    return "\n".join([
        _source_line(files) + _made(doc), "",
        f"{d['episodes']} episodes ({d['material_split']} split, "
        + (f"the {d['family']} family, " if d.get("family", "project") != "project" else "")
        + f"seed {d['seed']}, seasons "
        f"{d['seasons']} as EPISODES:SEASONS, {d['lone']} lone shows, "
        f"{d['minutes'][0]:g}-{d['minutes'][1]:g} min); "
        f"season rule: {doc['season_rule']}.", "",
        "| episodes | mode | n | story-safe (<= 1 s) | worst story s | boundaries answered | "
        "OP start within 2 s | OP end | ED start | ED end | preview start | late OP end within 2 s | "
        "theme left unskipped, median s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows, "",
        "Bars fixed before the run: "
        + ", ".join(f"{k} **{'met' if v else 'NOT met'}**" for k, v in bars.items()) + ".", "",
        *([("Bars on every episode decided alone (without `--season`), fixed before the run: "
            + ", ".join(f"{k} **{'met' if v else 'NOT met'}**" for k, v in doc["bars_lone_episode"].items())
            + "."), ""] if "bars_lone_episode" in doc else []),
        "Library timings (the three runs one after another in one process): "
        f"first run {w['first_run']:.0f} s "
        f"({w['first_run'] / d['episodes']:.1f} s per episode), the unchanged rerun "
        f"{w['unchanged_rerun']:.1f} s "
        f"(**{100 * doc['rerun_share']:.1f} %** of the first; same answers: "
        f"{'yes' if doc['rerun_same_answers'] else 'NO'}), without season mode from the same database "
        f"{w['without_season_from_db']:.1f} s.",
    ])


def _material_runs() -> list[Path]:
    return sorted(
        _hist().glob("accuracy_material_seed*.json"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0)
    )


# name -> (files, renderer); files as a callable when they are found by pattern
def _runs(day: str, stem: str, *variants: str) -> list[Path]:
    """Result files ``RESULTS/runs_<day>/<stem>.json``, ``{}`` in ``stem`` replaced by each variant."""
    return [RESULTS / f"runs_{day}" / f"{stem.format(v)}.json" for v in variants]


TABLES: dict[str, tuple[Callable[[], list[Path]], Callable[[list[Path]], str]]] = {
    "accuracy_seed1": (lambda: [_hist("accuracy_seed1.json")], accuracy_groups),
    "accuracy_seed1_season": (lambda: [_hist("accuracy_seed1.json")], accuracy_season),
    "accuracy_seed1_coverage": (lambda: [_hist("accuracy_seed1.json")], accuracy_coverage),
    "accuracy_spread": (lambda: [_hist(f) for f in SYNTH_SEEDS], accuracy_spread),
    "material_spread": (
        lambda: _material_runs() or [_hist("accuracy_material_seed1.json")],
        accuracy_spread,
    ),
    "material_seed1": (lambda: [_hist("accuracy_material_seed1.json")], accuracy_groups),
    "material_seed1_season": (lambda: [_hist("accuracy_material_seed1.json")], accuracy_season),
    "material_seed1_coverage": (lambda: [_hist("accuracy_material_seed1.json")], accuracy_coverage),
    "shipped_zero_shot": (lambda: [SHIPPED_RESULTS / "zero_shot_test.json"], shipped_zero_shot),
    "shipped_episodes": (lambda: [SHIPPED_RESULTS / "episode_test.json"], shipped_text),
    "shipped_speed": (lambda: [SHIPPED_RESULTS / "predict_speed.json"], shipped_text),
    "episodes_history": (
        lambda: [_hist(f"episode_bench{x}.json") for x in ("", "_sel", "_ab")],
        episodes_history,
    ),
    "episodes_coverage": (
        lambda: [_hist("episode_bench_ab.json"), _hist("episode_val_ab.json")],
        episodes_coverage,
    ),
    "episodes_material": (   # the shipped model in the code of 2026-12-07 (before: episodes_material_f289859)
        lambda: [*[RESULTS / "runs_2026-12-07" / f"episode_material_{x}_shipped.json"
                   for x in ("val", "test", "test2", "test3", "test4", "test5")],
                 *[RESULTS / "runs_2026-12-07" / f"episode_material_{x}_season_v6.json"
                   for x in ("val", "test")]],
        episodes_material,
    ),
    "episodes_material_f289859": (
        lambda: [RESULTS / f"episode_material_{x}.json"
                 for x in ("val", "test", "test2", "test3", "test4", "test5", "val_season", "test_season")],
        episodes_material,
    ),
    "episodes_material_rerun": (
        lambda: [RESULTS / f"episode_material_{x}_rerun.json"
                 for x in ("val", "test", "test2", "test3", "test4", "test5")], episodes_material),
    "edge_doubt_calib": (lambda: [RESULTS / "edge_doubt_two_calib.json"], edge_doubt_calib),
    "inner_doubt_calib": (lambda: [RESULTS / "edge_doubt_calib.json"], inner_doubt_calib),
    "inner_doubt_two_calib": (lambda: [RESULTS / "edge_doubt_two_calib.json"], inner_doubt_calib),
    "hedging_before_after": (
        lambda: [d / f"episode_material_{x}.json"
                 for d in (RESULTS / "shipped_300series_unhedged", BEFORE_OP_START_DOUBT)
                 for x in (*EPISODE_SETS, "val_season", "test_season")],
        before_after,
    ),
    "op_start_doubt_before_after": (
        lambda: [d / f"episode_material_{x}.json" for d in (BEFORE_OP_START_DOUBT, RESULTS)
                 for x in (*EPISODE_SETS, "test4", "test5", "val_season", "test_season")],
        before_after,
    ),
    "shipped_vs_candidates": (
        lambda: [*_build_files(SHIPPED_RESULTS / "zero_shot_test.json", RESULTS, "episode_material_"),
                 *[f for _, d in CANDIDATES
                   for f in _build_files(_hist(d.name, "zero_shot_test.json"), d, "episode_material_")]],
        shipped_vs_candidates,
    ),
    "episodes_safe_edges": (
        lambda: [RESULTS / f"episode_material_{x}.json" for x in EPISODE_SETS],
        episodes_safe_edges,
    ),
    "episodes_edge_margin": (
        lambda: [RESULTS / f"episode_material_{x}.json" for x in ("val", "test")],
        episodes_edge_margin,
    ),
    "preprocess_speed": (lambda: [RESULTS / "preprocess_bench.json"], preprocess_speed),
    "train_speed": (lambda: [RESULTS / "train_bench.json"], train_speed),
    "season_speed": (lambda: [RESULTS / "season_bench.json"], season_speed),
    "demo": (lambda: [RESULTS / "demo.json"], demo_run),
    "library_speed": (lambda: [RESULTS / "library_bench.json"], library_speed),
    "season_episodes": (lambda: [RESULTS / "season_episodes.json"], season_episodes),
    "season_episodes_calib": (lambda: [RESULTS / "season_episodes_calib.json"], season_episodes),
    "season_episodes_test2": (lambda: [RESULTS / "season_episodes_test2.json"], season_episodes),
    "season_episodes_shift": (lambda: [RESULTS / "season_episodes_shift.json"], season_episodes),
    "zero_shot_shift": (lambda: [RESULTS / "zero_shot_shift.json"], zero_shot_clips),
    "season_shift_calib": (
        lambda: [RESULTS / f"season_episodes_shift_calib_{x}.json"
                 for x in ("before", "safe_edges", "after")],
        season_variants,
    ),
    "season_episodes_shift2": (lambda: [RESULTS / "season_episodes_shift2.json"], season_episodes),
    "zero_shot_shift2": (lambda: [RESULTS / "zero_shot_shift2.json"], zero_shot_clips),
    "zero_shot_shift_calib": (
        lambda: [RESULTS / f"zero_shot_shift_calib_{x}.json" for x in ("before", "after")],
        zero_shot_season_variants,
    ),
    "song_end_study": (
        lambda: [RESULTS / f"song_end_study_{x}.json" for x in ("calib", "shift_calib")], song_end_study,
    ),
    "recalibration": (lambda: [RESULTS / "runs_2026-12-07" / "calibration.json"], recalibration),
    "recalibration_in_family": (
        lambda: [RESULTS / "runs_2026-12-07" / f"episode_material_{x}_{m}.json"
                 for m in ("shipped", "recalibrated") for x in (*EPISODE_SETS, "test4", "test5")],
        before_after,
    ),
    "in_family_since_f289859": (
        lambda: [*[RESULTS / f"episode_material_{x}.json" for x in (*EPISODE_SETS, "test4", "test5")],
                 *[RESULTS / "runs_2026-12-07" / f"episode_material_{x}_shipped.json"
                   for x in (*EPISODE_SETS, "test4", "test5")]],
        before_after,
    ),
    "recalibration_shift_calib": (
        lambda: [RESULTS / "runs_2026-12-07" / f"season_episodes_shift_calib_{m}.json"
                 for m in ("shipped", "recalibrated")],
        season_variants,
    ),
    "picture_study": (lambda: [RESULTS / "picture_study.json"], picture_study),
    "pictures_calib": (
        lambda: [RESULTS / "runs_2026-12-07" / f"season_episodes_calib_{x}.json"
                 for x in ("v6", "pictures_mean008", "pictures")],
        season_variants,
    ),
    "pictures_shift_calib": (
        lambda: [RESULTS / "runs_2026-12-07" / f"season_episodes_shift_calib_{x}.json"
                 for x in ("v6", "pictures_mean008", "pictures")],
        season_variants,
    ),
    "pictures_in_family": (
        lambda: [RESULTS / "runs_2026-12-07" / f"episode_material_{x}_season_{v}.json"
                 for v in ("v6", "v7") for x in ("val", "test")],
        before_after,
    ),
    "ed_pictures_calib": (
        lambda: [*_runs("2026-12-07", "season_episodes_calib_{}", "pictures"),
                 *_runs("2026-12-08", "season_episodes_calib_{}", "ed_pictures", "ed_pictures_earlier")],
        season_variants,
    ),
    "ed_pictures_shift_calib": (
        lambda: [*_runs("2026-12-07", "season_episodes_shift_calib_{}", "pictures"),
                 *_runs("2026-12-08", "season_episodes_shift_calib_{}", "ed_pictures",
                        "ed_pictures_earlier")],
        season_variants,
    ),
    "ed_pictures_in_family": (
        lambda: [RESULTS / f"runs_2026-12-0{d}" / f"episode_material_{x}_season_v{v}.json"
                 for d, v in ((7, 7), (8, 8)) for x in ("val", "test")],
        before_after,
    ),
    "agreement_calib": (
        lambda: _runs("2026-12-08", "season_episodes_calib_{}", "ed_pictures_earlier", "agree_reliable",
                      "ed_pictures_confirm"),
        season_variants,
    ),
    "agreement_shift_calib": (
        lambda: _runs("2026-12-08", "season_episodes_shift_calib_{}", "ed_pictures_earlier", "agree_reliable",
                      "ed_pictures_confirm"),
        season_variants,
    ),
    "agreement_clips": (
        lambda: [RESULTS / "zero_shot_shift_calib_after.json",
                 RESULTS / "runs_2026-12-08" / "zero_shot_shift_calib_agree_reliable.json",
                 RESULTS / "runs_2026-12-08" / "zero_shot_calib_agree_reliable.json"],
        zero_shot_season_variants,
    ),
    "agreement_in_family": (
        lambda: [RESULTS / "runs_2026-12-08" / f"episode_material_{x}_season_{v}.json"
                 for v in ("v8", "v8b") for x in ("val", "test")],
        before_after,
    ),
    "op_end_pictures_calib": (
        lambda: _runs("2026-12-08", "season_episodes_calib_{}", "ed_pictures_confirm", "op_end_pictures"),
        season_variants,
    ),
    "op_end_pictures_shift_calib": (
        lambda: _runs("2026-12-08", "season_episodes_shift_calib_{}", "ed_pictures_confirm",
                      "op_end_pictures"),
        season_variants,
    ),
    "ed_range_calib": (
        lambda: _runs("2026-12-08", "season_episodes_calib_{}", "op_end_pictures", "ed_range_pictures_all",
                      "ed_range_pictures"),
        season_variants,
    ),
    "ed_range_shift_calib": (
        lambda: _runs("2026-12-08", "season_episodes_shift_calib_{}", "op_end_pictures",
                      "ed_range_pictures_all", "ed_range_pictures"),
        season_variants,
    ),
    "cjk_rebuild_alone": (
        lambda: [RESULTS / "runs_2026-12-08" / f"season_episodes_{s}_{x}.json"
                 for s in ("calib", "shift_calib") for x in ("op_end_pictures", "cjk")],
        season_variants,
    ),
    "season_episodes_shift4_vs_cjk": (
        lambda: [RESULTS / f"season_episodes_shift4{x}.json" for x in ("", "_cjk")], season_variants,
    ),
    "cjk_rebuild_in_family": (
        lambda: sorted((RESULTS / "runs_2026-12-08").glob("episode_material_*_cjk_cmp.json")),
        episodes_by_method,
    ),
    "agreement_hedge_calib": (
        lambda: [RESULTS / "season_episodes_calib.json",
                 RESULTS / "runs_2026-12-07" / "season_episodes_calib_v6.json"],
        season_variants,
    ),
    "agreement_hedge_shift_calib": (
        lambda: [RESULTS / "runs_2026-12-07" / f"season_episodes_shift_calib_{x}.json"
                 for x in ("shipped", "v6")],
        season_variants,
    ),
    "agreement_hedge_episodes": (
        lambda: [RESULTS / "runs_2026-12-07" / f"episode_material_{x}_season_{v}.json"
                 for v in ("shipped", "v6") for x in ("val", "test")],
        before_after,
    ),
    "season_episodes_shift3": (lambda: [RESULTS / "season_episodes_shift3.json"], season_episodes),
    "season_episodes_shift4": (lambda: [RESULTS / "season_episodes_shift4.json"], season_episodes),
    "zero_shot_shift4": (lambda: [RESULTS / "zero_shot_shift4.json"], zero_shot_clips),
    "season_episodes_shift5": (lambda: [RESULTS / "season_episodes_shift5.json"], season_episodes),
    "zero_shot_shift5": (lambda: [RESULTS / "zero_shot_shift5.json"], zero_shot_clips),
    "cjk_rebuild_clips": (
        lambda: [RESULTS / "runs_2026-12-08" / f"zero_shot_cjk_test_{x}.json"
                 for x in ("shipped", "candidate")],
        zero_shot_compare,
    ),
    "season_episodes_shift6": (lambda: [RESULTS / "season_episodes_shift6.json"], season_episodes),
    "zero_shot_shift6": (lambda: [RESULTS / "zero_shot_shift6.json"], zero_shot_clips),
    "season_shift3_recalibrated": (
        lambda: [RESULTS / f"season_episodes_shift3{x}.json" for x in ("", "_recalibrated")], season_variants,
    ),
    "zero_shot_shift3": (lambda: [RESULTS / "zero_shot_shift3.json"], zero_shot_clips),
    "season_rule_fit": (
        lambda: [
            ROOT / "models" / "shipped" / "season_rule.json",
            _hist("season_rule_clips_before.json"),
            *[f for f in _material_runs() if "season_rule" in _load(f)],
        ],
        season_rule_fit,
    ),
}


def render(name: str) -> str:
    files_of, fn = TABLES[name]
    files = files_of()
    return _missing(files) or fn(files)


def blocks(text: str) -> dict[str, str]:
    """NAME -> the text between its markers, for every generated table in ``text``."""
    return {m["name"]: m["body"] for m in MARKER.finditer(text)}


def rewrite(text: str) -> str:
    """``text`` with every known table regenerated (unknown names are left alone; --check names them)."""
    def sub(m: re.Match) -> str:
        if m["name"] not in TABLES:
            return m.group(0)
        head = m.group(0).split("\n", 1)[0]
        return f"{head}\n{render(m['name'])}\n<!-- /table {m['name']} -->"
    return MARKER.sub(sub, text)


def documents() -> list[Path]:
    """The documents that hold generated tables: README.md, then every docs/*.md by name."""
    return [README, *sorted(DOCS.glob("*.md"))]


def check(docs: Path | Iterable[Path] | None = None, complete: bool | None = None) -> list[str]:
    """Problems of ``docs`` (one document or several; default: every document): tables that differ from
    what the committed files give, names bench/tables.py does not know, and a name found more than
    once.  With ``complete`` (the default when ``docs`` is not given) also every known table found in
    none of them."""
    if complete is None:
        complete = docs is None
    docs = documents() if docs is None else [docs] if isinstance(docs, Path) else list(docs)
    problems: list[str] = []
    where: dict[str, list[str]] = {}
    for doc in docs:
        for m in MARKER.finditer(doc.read_text(encoding="utf-8")):
            n, body = m["name"], m["body"]
            where.setdefault(n, []).append(_rel(doc))
            if n not in TABLES:
                problems.append(f"{_rel(doc)}: table {n!r} is not one bench/tables.py knows")
            elif body != render(n) + "\n":
                problems.append(f"{_rel(doc)}: table {n!r} differs from what its files give "
                                f"(rerun `python -m bench.tables --write`)")
    for n, places in where.items():
        if len(places) > 1:
            problems.append(f"table {n!r} is in more than one place: {', '.join(places)}")
    if complete:
        problems += [f"table {n!r} is in none of {', '.join(_rel(d) for d in docs)}"
                     for n in TABLES if n not in where]
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Regenerate (or check) the result tables of README.md and docs/*.md from the result "
        "files committed in the repository."
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="rewrite the tables in the documents in place")
    g.add_argument(
        "--check", action="store_true",
        help="exit 1 when a table in the documents differs from its files (naming document and table); "
        "without --doc also when a known table is in no document or in more than one place",
    )
    p.add_argument("--doc", action="append", metavar="FILE",
                   help="a document to write or check (repeatable; default: README.md and every docs/*.md)")
    p.add_argument("names", nargs="*", help="print only these tables (default: all)")
    args = p.parse_args(argv)
    docs = [Path(d) for d in args.doc] if args.doc else documents()
    if args.check:
        problems = check(docs, complete=not args.doc)
        for line in problems:
            print(line, file=sys.stderr)
        if not problems:
            counts = {_rel(d): len(blocks(d.read_text(encoding="utf-8"))) for d in docs}
            for doc, n in counts.items():
                if n or args.doc:
                    print(f"{doc}: {n} tables match their result files")
            print(f"{sum(counts.values())} tables in {len(counts)} documents match their result files")
        return 1 if problems else 0
    if args.write:
        for doc in docs:
            text = doc.read_text(encoding="utf-8")
            new = rewrite(text)
            if new != text:
                doc.write_text(new, encoding="utf-8")
            print(f"{_rel(doc)}: {len(blocks(new))} tables written")
        return 0
    for n in args.names or TABLES:
        if n not in TABLES:
            print(f"error: unknown table {n!r}; known: {', '.join(TABLES)}", file=sys.stderr)
            return 2
        print(f"## {n}\n\n{render(n)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
