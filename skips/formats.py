"""Output formats of predict.py: the run's JSON and CSV, and per episode a Kodi/MPlayer EDL and an
FFmpeg chapter file.
"""
from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import Any, Sequence

from skips.episode import MIN_CHAPTER_S, EpisodeResult, LoadedModel
from utils.io import atomic_write_json, atomic_write_text

FORMATS = ("json", "csv", "edl", "chapters")
DEFAULT_EDL_ACTION = 3          # Kodi: commercial break (skipped automatically, can be rewound)



CSV_FIELDS = ("file", "ok", "duration", "op_start", "op_end", "ed_start", "ed_end", "spread_op_end",
              "spread_ed_start", "source_op_end", "source_ed_start", "models_op_end",
              "models_ed_start", "error")


def csv_text(results: Sequence[EpisodeResult]) -> str:
    """One row per episode; per-model predictions joined by ';' in --weights order."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    f3 = lambda x: f"{x:.3f}"  # noqa: E731
    for r in results:
        if not r.ok:
            w.writerow([r.file, 0, *[""] * (len(CSV_FIELDS) - 3), r.error])
            continue
        w.writerow([r.file, 1, f3(r.duration), f3(r.op[0]), f3(r.op_end), f3(r.ed_start),
                    f3(r.ed[1]), f3(r.spread["op_end"]), f3(r.spread["ed_start"]),
                    r.source["op_end"], r.source["ed_start"],
                    ";".join(f3(m["op_end"]) for m in r.models),
                    ";".join(f3(m["ed_start"]) for m in r.models), ""])
    return buf.getvalue()


def edl_text(r: EpisodeResult, action: int = DEFAULT_EDL_ACTION) -> str:
    """Kodi/MPlayer EDL: ``start end action`` per skip range (seconds, 3 decimals)."""
    lines = [f"{a:.3f} {b:.3f} {int(action)}\n" for a, b in (r.op, r.ed) if b - a > 0]
    return "".join(lines)


def chapter_list(r: EpisodeResult) -> list[tuple[str, float, float]]:
    """Contiguous chapters from 0 to the duration: Episode (before the OP, e.g. a cold open),
    Opening, Episode, Ending, Preview -- each only where it applies (>= MIN_CHAPTER_S); a shorter
    sliver is absorbed by the chapter after it."""
    marks = [("Episode", 0.0, r.op[0]), ("Opening", r.op[0], r.op[1]), ("Episode", r.op[1], r.ed[0]),
             ("Ending", r.ed[0], r.ed[1]), ("Preview", r.ed[1], r.duration)]
    kept = [[t, a, b] for t, a, b in marks if b - a >= MIN_CHAPTER_S] or [["Episode", 0.0, r.duration]]
    kept[0][1] = 0.0
    for prev, cur in zip(kept, kept[1:]):
        cur[1] = prev[2]
    kept[-1][2] = r.duration
    return [(t, float(a), float(b)) for t, a, b in kept]


def chapters_text(r: EpisodeResult) -> str:
    """FFmpeg metadata file (``;FFMETADATA1``) with TIMEBASE=1/1000 chapters."""
    parts = [";FFMETADATA1\n"]
    for title, a, b in chapter_list(r):
        parts.append(f"\n[CHAPTER]\nTIMEBASE=1/1000\nSTART={round(a * 1000)}\nEND={round(b * 1000)}\n"
                     f"title={title}\n")
    return "".join(parts)


def sidecar_path(r: EpisodeResult, suffix: str, out: Path, next_to_video: bool) -> Path:
    if next_to_video:
        return Path(r.file).with_suffix(suffix)
    return out / Path(r.rel).with_suffix(suffix)


def run_document(results: Sequence[EpisodeResult], models: Sequence[LoadedModel], clip_seconds: int,
                 args: argparse.Namespace) -> dict[str, Any]:
    return {"version": 1, "clip_seconds": clip_seconds, "op_length": args.op_length,
            "ed_length": args.ed_length, "fusion": args.fusion, "season": bool(args.season),
            "weights": [{"path": m.path, "kind": m.meta["kind"], "preset": m.meta["preset"],
                         "epoch": m.meta.get("epoch")} for m in models],
            "episodes": [r.to_dict() for r in results]}


def write_outputs(results: Sequence[EpisodeResult], models: Sequence[LoadedModel], clip_seconds: int,
                  args: argparse.Namespace, formats: Sequence[str]) -> list[Path]:
    out = Path(args.out)
    written = []
    if "json" in formats:
        p = out / "predictions.json"
        atomic_write_json(p, run_document(results, models, clip_seconds, args), indent=1)
        written.append(p)
    if "csv" in formats:
        p = out / "predictions.csv"
        atomic_write_text(p, csv_text(results))
        written.append(p)
    for r in results:
        if not r.ok:
            continue
        if "edl" in formats:
            p = sidecar_path(r, ".edl", out, args.next_to_video)
            p.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(p, edl_text(r, args.edl_action))
            written.append(p)
        if "chapters" in formats:
            p = sidecar_path(r, ".chapters.txt", out, args.next_to_video)
            p.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(p, chapters_text(r))
            written.append(p)
    return written

