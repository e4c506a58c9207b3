"""How alike are the pictures of two episodes at the same point of the theme song they share?  A study
on whole generated season sets, for the thresholds of fuse/pictures.py (season mode's picture evidence
of where an opening begins).

For every episode of a generated season set (``bench/season_episodes_bench.py --stage generate``: its
``truth.json`` and ``library/``) whose season has another episode with the same opening, the head is
decoded as predict.py --season keeps it (1-fps letterboxed frames, up to 600 s or the last window) and
reduced to thumbnails (fuse.pictures.thumbnails).  Every pair of such episodes is aligned by the truth's
song start, and each second from 25 s before this episode's song to the end of its opening is compared
with the sibling's at the same point of the song (the closer of the two neighbouring seconds):

- ``both``: both seconds lie inside their episode's opening pictures (they should be alike);
- ``neither``: both lie before their opening (two cold opens, often on the same backgrounds);
- ``mixed``: one inside its opening, the other before it.

Per threshold on the mean grey difference, the share of each class below it.  Then, per rule variant
(``RUN_SHARED`` of ``RUN`` seconds; ``SONG_DIFF``, the difference allowed inside the song once a stretch
at ``MAX_DIFF`` is found), ``fuse.pictures.shared_start`` is run on every pair with the
song span the truth gives, and the earliest start over the siblings is compared with the true opening
start, less the half second predict.py takes off: the share within 2 s, the number more than 0.5 s
early (into the story) and the earliest.  Alignment and song span come from the truth, not from a
match: the best case for the audio side, so that what is measured is the pictures alone.

    python -m bench.picture_study --data work_dir/season_calib work_dir/season_shift_calib \\
        --json bench/results/picture_study.json

Uses only calibration-side sets (never a set a rule is judged on).  About 2 minutes for 47 episodes.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import fuse.pictures as pictures
from datatools.fileio import atomic_write_json
from workflow.provenance import provenance

HEAD_S = 600
BEFORE_S = 25
THRESHOLDS = (0.03, 0.05, 0.08)
# (shared seconds in a stretch, difference allowed inside the song once a stretch is found)
VARIANTS = ((4, 0.05), (3, 0.05), (3, 0.08), (3, 0.10), (3, 0.12))
CLASSES = ("both", "neither", "mixed")


def heads(data: Path, truth: dict) -> dict[str, np.ndarray]:
    """Thumbnails of the heads of the episodes whose opening another episode of the show shares."""
    from preprocessing.media import decode_clip

    out = {}
    for key, sp in truth.items():
        if not sp.get("op_song_span") or sp.get("season_length", 1) < 2:
            continue
        n = int(min(HEAD_S, sp["duration"] - truth_clip_seconds(data)))
        dec = decode_clip(str(data / "library" / sp["rel"]), n, start_s=0.0, want_ocr=False,
                          want_audio=False, threads=1)
        out[key] = pictures.thumbnails(dec.frames)
    return out


def truth_clip_seconds(data: Path) -> int:
    return int(json.loads((data / "truth.json").read_text(encoding="utf-8"))["clip_seconds"])


def pairs(truth: dict, got: dict) -> list[tuple[str, str]]:
    """Ordered pairs of episodes of one show with the same opening."""
    by: dict[tuple, list[str]] = {}
    for key in got:
        sp = truth[key]
        by.setdefault((sp["show"], sp["op_theme"]), []).append(key)
    return [p for keys in by.values() for p in itertools.permutations(keys, 2)]


def second_classes(truth: dict, got: dict) -> list[tuple[str, float]]:
    """(class, mean grey difference, fuse.pictures.differences) of every compared second of every pair;
    seconds outside either head, or blank in either, are left out as the rule leaves them."""
    rows = []
    for a, b in pairs(truth, got):
        A, B = truth[a], truth[b]
        delta = B["op_song_span"][0] - A["op_song_span"][0]
        lo = max(0, int(A["op_song_span"][0]) - BEFORE_S)
        d = pictures.differences(got[a], got[b], delta, lo, int(A["op_end"]))
        for s, ds in zip(range(lo, int(A["op_end"])), d):
            if not np.isfinite(ds):
                continue
            u = s + delta
            in_a = A["op_start"] + 0.5 <= s < A["op_end"]
            in_b = B["op_start"] + 0.5 <= u < B["op_end"]
            out_a, out_b = s < A["op_start"] - 0.5, u < B["op_start"] - 0.5
            cls = "both" if in_a and in_b else "neither" if out_a and out_b else \
                "mixed" if (in_a and out_b) or (out_a and in_b) else None
            if cls:
                rows.append((cls, float(ds)))
    return rows


def start_errors(truth: dict, got: dict, run_shared: int, song_diff: float) -> list[float]:
    """Per episode with a sibling that shows the pictures: earliest shared start - 0.5 - true OP start."""
    saved = pictures.RUN_SHARED, pictures.SONG_DIFF
    pictures.RUN_SHARED, pictures.SONG_DIFF = run_shared, song_diff
    try:
        found: dict[str, list[float]] = {}
        for a, b in pairs(truth, got):
            A, B = truth[a], truth[b]
            p = pictures.shared_start(got[a], got[b], B["op_song_span"][0] - A["op_song_span"][0],
                                      A["op_song_span"][0], A["op_song_span"][1])
            if p is not None:
                found.setdefault(a, []).append(p)
        return [min(ps) - 0.5 - truth[a]["op_start"] for a, ps in found.items()]
    finally:
        pictures.RUN_SHARED, pictures.SONG_DIFF = saved


def study(data: Path) -> dict:
    truth = json.loads((data / "truth.json").read_text(encoding="utf-8"))["episodes"]
    got = heads(data, truth)
    rows = second_classes(truth, got)
    per_threshold = {f"{t:.2f}": {c: {"n": sum(r[0] == c for r in rows),
                                      "below": float(np.mean([r[1] < t for r in rows if r[0] == c]))
                                      if any(r[0] == c for r in rows) else None} for c in CLASSES}
                     for t in THRESHOLDS}
    variants = {}
    for k, song_diff in VARIANTS:
        e = np.array(start_errors(truth, got, k, song_diff))
        v = {"run_shared": k, "song_diff": song_diff, "episodes": int(e.size),
             "early_over_0_5s": int(np.sum(e < -0.5)), "errors": [round(float(x), 2) for x in e]}
        if e.size:
            v.update(within_2s=float(np.mean(np.abs(e) <= 2)), earliest=float(e.min()),
                     median=float(np.median(e)))
        variants[f"{k}/{song_diff:.2f}"] = v
    made = json.loads((data / "made.json").read_text(encoding="utf-8"))
    return {"data": {"folder": str(data), "seed": made["seed"], "family": made.get("family", "project"),
                     "material_split": made["material_split"], "episodes": len(got)},
            "max_diff": per_threshold, "run_shared": variants,
            "in_force": {k: getattr(pictures, k) for k in ("MAX_DIFF", "SONG_DIFF", "RUN", "RUN_SHARED",
                                                             "MIN_STD")}}


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="generated season sets (truth.json, library/)")
    p.add_argument("--json", required=True, help="result file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    sets = []
    for d in args.data:
        data = Path(d)
        if not (data / "truth.json").is_file():
            print(f"error: {data}: no truth.json (make it with bench/season_episodes_bench.py "
                  "--stage generate)", file=sys.stderr)
            return 2
        sets.append(study(data))
        print(f"{data}: {sets[-1]['data']['episodes']} episodes", file=sys.stderr)
    atomic_write_json(Path(args.json), {**provenance(sys.argv), "sets": sets}, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
