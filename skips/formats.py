"""Writing out a run (``write_outputs``): the run's JSON and CSV; per episode a Kodi/MPlayer EDL,
FFmpeg and Matroska chapters, Jellyfin, mpv and AniSkip files; chapters written into the episode
files themselves, and the timeline plots (skips/plot.py).
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datatools.fileio import atomic_write_json, atomic_write_text
from skips.options import DEFAULT_EDL_ACTION, Log, PredictOptions, to_stderr
from skips.result import MIN_CHAPTER_S, EpisodeResult, PredictionRun, preview_range

TICKS_PER_SECOND = 10_000_000   # Jellyfin / .NET ticks
# Chapter names that Jellyfin's chapter-based segment providers, Intro Skipper's chapter analyser
# and mpv's chapterskip script (^Prologue, ^Opening, ^Ending, Preview$) all recognise; the body
# keeps "Part A", which none of them skips.
CHAPTER_NAMES = {"prologue": "Prologue", "opening": "Opening", "body": "Part A", "ending": "Ending",
                 "part_b": "Part B", "preview": "Preview"}

CSV_FIELDS = ("file", "ok", "duration", "op_start", "op_end", "ed_start", "ed_end", "spread_op_end",
              "spread_ed_start", "source_op_end", "source_ed_start", "models_op_end",
              "models_ed_start", "confidence_op_end", "confidence_ed_start", "error")


def csv_text(results: Sequence[EpisodeResult]) -> str:
    """One row per episode: the measured boundaries (not the skip ranges narrowed by
    --skip_margin); per-model predictions joined by ';' in --weights order."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    f3 = lambda x: f"{x:.3f}"  # noqa: E731
    for r in results:
        if not r.ok:
            w.writerow([r.file, 0, *[""] * (len(CSV_FIELDS) - 3), r.error])
            continue
        op_ok, ed_ok = "op_end" not in r.withheld, "ed_start" not in r.withheld
        op, ed = r.measured.get("opening") or r.op, r.measured.get("ending") or r.ed   # measured spans
        w.writerow(
            [
                r.file,
                1,
                f3(r.duration),
                f3(op[0]) if op_ok else "",
                f3(r.op_end) if op_ok else "",
                f3(r.ed_start) if ed_ok else "",
                f3(ed[1]) if ed_ok else "",
                f3(r.spread["op_end"]),
                f3(r.spread["ed_start"]),
                r.source["op_end"],
                r.source["ed_start"],
                ";".join(f3(m["op_end"]) for m in r.models),
                ";".join(f3(m["ed_start"]) for m in r.models),
                f3(r.confidence.get("op_end", float("nan"))),
                f3(r.confidence.get("ed_start", float("nan"))),
                "; ".join(f"{k}: {v}" for k, v in r.withheld.items()),
            ]
        )
    return buf.getvalue()


def edl_text(r: EpisodeResult, action: int = DEFAULT_EDL_ACTION) -> str:
    """Kodi/MPlayer EDL: ``start end action`` per skip range (seconds, 3 decimals)."""
    lines = [f"{a:.3f} {b:.3f} {int(action)}\n" for a, b in answered_ranges(r) if b - a > 0]
    return "".join(lines)


def answered_ranges(r: EpisodeResult) -> list[tuple[float, float]]:
    """The OP and ED skip ranges that are answered (a withheld boundary has none)."""
    return [rng for rng, name in ((r.op, "op_end"), (r.ed, "ed_start")) if name not in r.withheld]


def segments(r: EpisodeResult) -> list[tuple[str, float, float]]:
    """Contiguous segments from 0 to the duration: prologue (before the OP, e.g. a cold open),
    opening, body, ending, part_b (after the ending: a C-part), preview (to the end, an end card
    included) -- each only where it applies (>= MIN_CHAPTER_S; a withheld boundary's segments are
    left out); a shorter sliver is absorbed by the segment after it.  Without a measured preview
    everything after the ending is the preview, as before."""
    op = r.op if "op_end" not in r.withheld else (0.0, 0.0)            # withheld: story from the start
    ed = r.ed if "ed_start" not in r.withheld else (r.duration, r.duration)  # ... or to the end
    pv = preview_range(r)
    marks = [("prologue", 0.0, op[0]), ("opening", op[0], op[1]), ("body", op[1], ed[0]),
             ("ending", ed[0], ed[1])]
    marks += (
        [("part_b", ed[1], pv[0]), ("preview", pv[0], r.duration)] if pv else [("part_b", ed[1], r.duration)]
    )
    kept = [[t, a, b] for t, a, b in marks if b - a >= MIN_CHAPTER_S] or [["body", 0.0, r.duration]]
    kept[0][1] = 0.0
    for prev, cur in zip(kept, kept[1:]):
        cur[1] = prev[2]
    kept[-1][2] = r.duration
    return [(t, float(a), float(b)) for t, a, b in kept]


def chapter_list(r: EpisodeResult) -> list[tuple[str, float, float]]:
    """``segments`` with the chapter names players recognise (CHAPTER_NAMES)."""
    return [(CHAPTER_NAMES[k], a, b) for k, a, b in segments(r)]


def _clock(seconds: float) -> str:
    """Matroska chapter time, HH:MM:SS.nnnnnnnnn."""
    ns = round(seconds * 1e9)
    h, rem = divmod(ns, 3600 * 10**9)
    m, rem = divmod(rem, 60 * 10**9)
    sec, frac = divmod(rem, 10**9)
    return f"{h:02d}:{m:02d}:{sec:02d}.{frac:09d}"


def _uid(*parts: object) -> int:
    """A stable non-zero 63-bit UID from the episode file and the segment (same input, same UID)."""
    import hashlib
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big") >> 1 or 1


def matroska_xml(r: EpisodeResult) -> str:
    """Matroska chapter XML (mkvmerge --chapters, mkvpropedit --chapters)."""
    from xml.sax.saxutils import escape
    name = Path(r.file).name
    atoms = []
    for title, a, b in chapter_list(r):
        atoms.append(
            "    <ChapterAtom>\n"
            f"      <ChapterUID>{_uid(name, title, round(a, 3))}</ChapterUID>\n"
            f"      <ChapterTimeStart>{_clock(a)}</ChapterTimeStart>\n"
            f"      <ChapterTimeEnd>{_clock(b)}</ChapterTimeEnd>\n"
            "      <ChapterDisplay>\n"
            f"        <ChapterString>{escape(title)}</ChapterString>\n"
            "        <ChapterLanguage>eng</ChapterLanguage>\n"
            "      </ChapterDisplay>\n"
            "    </ChapterAtom>\n")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Chapters SYSTEM "matroskachapters.dtd">\n'
            "<Chapters>\n  <EditionEntry>\n"
            f"    <EditionUID>{_uid(name, 'edition')}</EditionUID>\n"
            "    <EditionFlagDefault>1</EditionFlagDefault>\n" + "".join(atoms) +
            "  </EditionEntry>\n</Chapters>\n")


def _skip_spans(r: EpisodeResult) -> dict[str, tuple[float, float]]:
    """The skippable segments by kind (prologue is story: never skipped)."""
    return {k: (a, b) for k, a, b in segments(r) if k in ("opening", "ending", "preview")}


def jellyfin_document(r: EpisodeResult) -> dict[str, Any]:
    """Bodies for Jellyfin: Intro Skipper's ``POST /Episode/{id}/Timestamps`` (seconds, keys
    Introduction / Credits / Preview) and the MediaSegments API plugin (one segment per skip, Type
    Intro / Outro / Preview, StartTicks / EndTicks at 10 000 000 per second; ItemId is the
    server's id of the episode, which only the server knows)."""
    spans = _skip_spans(r)
    names = {
        "opening": ("Introduction", "Intro"),
        "ending": ("Credits", "Outro"),
        "preview": ("Preview", "Preview"),
    }
    timestamps = {names[k][0]: {"Start": round(a, 3), "End": round(b, 3)} for k, (a, b) in spans.items()}
    media = [
        {
            "Type": names[k][1],
            "StartTicks": round(a * TICKS_PER_SECOND),
            "EndTicks": round(b * TICKS_PER_SECOND),
            "ItemId": None,
        }
        for k, (a, b) in spans.items()
    ]
    return {"file": r.file, "intro_skipper_timestamps": timestamps, "media_segments": media}


def mpv_script_opts(r: EpisodeResult) -> str:
    """One ``--script-opts`` line for the common mpv skip script (``skip-op_start=...`` in seconds);
    -1 marks a segment that is not there, as that script's own default does."""
    spans = _skip_spans(r)
    op, ed = spans.get("opening", (-1.0, -1.0)), spans.get("ending", (-1.0, -1.0))
    return (f"skip-op_start={op[0]:.3f},skip-op_end={op[1]:.3f},"
            f"skip-ed_start={ed[0]:.3f},skip-ed_end={ed[1]:.3f}")


def aniskip_document(r: EpisodeResult) -> dict[str, Any]:
    """AniSkip v2-shaped answer: ``results`` of ``interval.startTime/endTime``, ``skipType``
    (op / ed), ``skipId`` (stable per file and type) and ``episodeLength``."""
    import uuid
    spans = _skip_spans(r)
    results = [{"interval": {"startTime": round(a, 3), "endTime": round(b, 3)}, "skipType": t,
                "skipId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{Path(r.file).name}#{t}")),
                "episodeLength": round(r.duration, 3)}
               for k, t in (("opening", "op"), ("ending", "ed")) if k in spans for a, b in [spans[k]]]
    return {"found": bool(results), "results": results, "message": "from predict.py", "statusCode": 200}


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


def run_document(run: PredictionRun, options: PredictOptions) -> dict[str, Any]:
    """predictions.json: the run's settings, its models and every episode."""
    return {"version": 1, "clip_seconds": run.clip_seconds, "op_length": options.op_length,
            "ed_length": options.ed_length, "fusion": options.fusion, "season": bool(options.season),
            "min_confidence": run.min_confidence, "sure_confidence": run.sure_confidence,
            "weights": [{"path": m.path, "kind": m.meta["kind"], "preset": m.meta["preset"],
                         "epoch": m.meta.get("epoch")} for m in run.models],
            "episodes": [_with_segments(r) for r in run.results]}


def _with_segments(r: EpisodeResult) -> dict[str, Any]:
    """The episode's JSON with its contiguous segments (prologue, opening, body, ending, part_b,
    preview; ``segments``) in episode seconds."""
    d = r.to_dict()
    if r.ok:
        d["segments"] = [[k, round(a, 3), round(b, 3)] for k, a, b in segments(r)]
    return d


def write_outputs(run: PredictionRun, options: PredictOptions, log: Log = to_stderr) -> list[Path]:
    """Every output ``options`` ask for: predictions.json / .csv in ``options.out`` and the
    per-episode files of ``options.formats`` (there, or beside each video with ``next_to_video``);
    with ``apply_chapters`` the chapters written into each episode (a message each to ``log``), with
    ``plot`` a timeline PNG per episode.  Returns the prediction files written."""
    results, formats = run.results, options.formats
    out = Path(options.out)
    written = []
    if "json" in formats:
        p = out / "predictions.json"
        atomic_write_json(p, run_document(run, options), indent=1)
        written.append(p)
    if "csv" in formats:
        p = out / "predictions.csv"
        atomic_write_text(p, csv_text(results))
        written.append(p)
    for r in results:
        if not r.ok:
            continue
        if "edl" in formats:
            p = sidecar_path(r, ".edl", out, options.next_to_video)
            p.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(p, edl_text(r, options.edl_action))
            written.append(p)
        per_episode = {
            "chapters": (".chapters.txt", chapters_text),
            "xml": (".chapters.xml", matroska_xml),
            "jellyfin": (".jellyfin.json", lambda e: json.dumps(jellyfin_document(e), indent=1) + "\n"),
            "mpv": (".mpv.txt", lambda e: mpv_script_opts(e) + "\n"),
            "aniskip": (".aniskip.json", lambda e: json.dumps(aniskip_document(e), indent=1) + "\n"),
        }
        for fmt, (suffix, render) in per_episode.items():
            if fmt in formats:
                p = sidecar_path(r, suffix, out, options.next_to_video)
                p.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(p, render(r))
                written.append(p)
    if options.apply_chapters:
        for r in results:
            if r.ok:
                _, message = apply_chapters(r)
                log(f"[predict] {message}")
    if options.plot:
        from skips.plot import plot_episode

        for r in results:
            if r.ok:
                plot_episode(r, Path(options.plot) / Path(r.rel).with_suffix(".png"))
    return written


MATROSKA_SUFFIXES = (".mkv", ".mka", ".mk3d", ".webm")


def apply_chapters(r: EpisodeResult) -> tuple[Path | None, str]:
    """Write the chapters into the episode: Matroska files in place with ``mkvpropedit`` (only the
    chapter element changes), other containers through an ffmpeg remux to a new file
    ``<stem>.chapters<ext>`` beside the original (never overwritten).  Returns (file written or
    None, a one-line message)."""
    import shutil
    import subprocess
    import tempfile

    src = Path(r.file)
    with tempfile.TemporaryDirectory(prefix="chapters_") as tmp:
        if src.suffix.lower() in MATROSKA_SUFFIXES:
            tool = shutil.which("mkvpropedit")
            if tool is None:
                return None, (f"{src}: chapters not applied: mkvpropedit is not installed "
                              "(Debian/Ubuntu: apt install mkvtoolnix; or use the .chapters.xml file)")
            xml = Path(tmp) / "chapters.xml"
            xml.write_text(matroska_xml(r), encoding="utf-8")
            proc = subprocess.run([tool, str(src), "--chapters", str(xml)], capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no message"]
                return None, f"{src}: mkvpropedit failed: {last[0]}"
            return src, f"{src}: chapters written in place (mkvpropedit)"
        from preprocessing.fingerprint import ffmpeg_exe

        meta = Path(tmp) / "chapters.txt"
        meta.write_text(chapters_text(r), encoding="utf-8")
        dst = src.with_name(f"{src.stem}.chapters{src.suffix}")
        part = Path(tmp) / f"out{src.suffix}"
        proc = subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(src), "-i", str(meta), "-map", "0",
             "-map_metadata", "1", "-map_chapters", "1", "-codec", "copy", str(part)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1:] or ["no message"]
            return None, f"{src}: ffmpeg could not remux it with chapters: {last[0]}"
        shutil.move(str(part), dst)
        return dst, f"{src}: chapters written to a new file {dst} (ffmpeg remux; the original is untouched)"
