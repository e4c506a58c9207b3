"""Could the audio alone tell where an ending's song stops?  A study on whole generated episodes, for
issue 43's "an ED skip range ends where its song ends, from per-second audio evidence that does not
depend on the picture".

For every episode of a generated season set (``bench/season_episodes_bench.py --stage generate``: its
``truth.json`` and ``library/``) that has an ED, the audio from 45 s before the ED's end to 10 s after
it is decoded (preprocessing.media.decode_clip, 22.05 kHz mono) and three per-0.1-s change curves are
computed, each the kind of evidence a rule could bound the ED range with without a picture:

- ``level``: how far the loudness (RMS, dB) of the next second falls below the median of the 8 s
  before it (a song that stops, a silence or a fade);
- ``mfcc`` / ``chroma``: how far the statistics of the next 6 s differ from those of the 6 s before
  (mean difference over the pooled spread, averaged over the 20 MFCC / 12 chroma bins): a change of
  timbre or harmony, such as a song giving way to dialogue.

Such a rule would cut a segment head's ED range at the strongest change in the last ~40 s of what it
calls the ending.  So per curve the study reports the share of episodes whose strongest change in
[ED end - 40 s, ED end + 5 s] lies within 2 s of the true ED end (``hit_2s``), split by what follows
the ED (a C-part, a preview or end card, nothing), and the ratio of the change at the end to the
strongest one inside the song.  The windows are set around the truth, as if the segment head's end
were exact: the best case for such a rule.

    python -m bench.song_end_study --data work_dir/season_shift_calib \\
        --json bench/results/song_end_study_shift_calib.json

Uses only calibration-side sets (never a set a rule is judged on).  About 3 minutes for 28 episodes
on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datatools.fileio import atomic_write_json
from workflow.provenance import provenance

FPS = 10              # curve frames per second
BEFORE_S, AFTER_S = 45.0, 10.0
SEARCH = (-40.0, 5.0)  # where a rule would look for the song's end, around the ED's end
HIT_S = 2.0
CURVES = ("level", "mfcc", "chroma")


def change_curve(feats: np.ndarray, half: int) -> np.ndarray:
    """Per frame t: mean over bins of |mean(after) - mean(before)| / pooled std, windows of ``half``
    frames on each side; 0 where a window does not fit."""
    d, n = feats.shape
    out = np.zeros(n)
    for t in range(half, n - half):
        a, b = feats[:, t - half:t], feats[:, t:t + half]
        spread = np.sqrt((a.var(1) + b.var(1)) / 2) + 1e-6
        out[t] = float(np.mean(np.abs(a.mean(1) - b.mean(1)) / spread))
    return out


def level_curve(db: np.ndarray) -> np.ndarray:
    """Per frame t: median level of the 8 s before minus the median of the next second (dB)."""
    n = db.size
    out = np.zeros(n)
    for t in range(8 * FPS, n - FPS):
        out[t] = float(np.median(db[t - 8 * FPS:t]) - np.median(db[t:t + FPS]))
    return out


def curves_of(audio: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    import librosa

    hop = sr // FPS
    y = np.asarray(audio, np.float32)
    n = len(y) // hop
    frames = y[:n * hop].reshape(n, hop)
    db = 10 * np.log10((frames.astype(np.float64) ** 2).mean(1) + 1e-10)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20, hop_length=hop, n_fft=1024)[:, :n]
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, hop_length=hop, n_fft=2048)[:, :n]
    return {"level": level_curve(db), "mfcc": change_curve(mfcc, 6 * FPS),
            "chroma": change_curve(chroma, 6 * FPS)}


def after_ed(ep: dict) -> str:
    """What follows the ED: 'c_part', 'preview or end card' or 'nothing'."""
    nxt = [k for k, a, _ in ep["segments"] if a >= ep["ed_end"] - 0.5 and k != "gap"]
    if not nxt:
        return "nothing"
    return "c_part" if nxt[0] == "c_part" else "preview or end card"


def study_episode(path: Path, ep: dict) -> dict | None:
    from datatools.spec import SAMPLE_RATE
    from preprocessing.media import decode_clip

    ed_start, ed_end, dur = float(ep["ed_start"]), float(ep["ed_end"]), float(ep["duration"])
    t0 = max(ed_start, ed_end - BEFORE_S)
    seconds = int(np.ceil(min(dur, ed_end + AFTER_S) - t0))
    dec = decode_clip(path, seconds, start_s=t0, want_frames=False, want_ocr=False, threads=1)
    if dec.audio.size < SAMPLE_RATE * 20:
        return None
    curves = curves_of(dec.audio, SAMPLE_RATE)
    tt = t0 + np.arange(curves["level"].size) / FPS
    row: dict = {"after": after_ed(ep), "ed_end": round(ed_end, 2)}
    for name, c in curves.items():
        look = (tt >= ed_end + SEARCH[0]) & (tt <= ed_end + SEARCH[1]) & (c > 0)
        near = look & (np.abs(tt - ed_end) <= HIT_S)
        inside = look & (tt < ed_end - HIT_S)
        if not near.any() or not inside.any():
            continue
        peak = tt[look][int(np.argmax(c[look]))]
        row[name] = {"peak_from_end_s": round(float(peak - ed_end), 2),
                     "hit": bool(abs(peak - ed_end) <= HIT_S),
                     "end_over_inside": round(float(c[near].max() / max(c[inside].max(), 1e-9)), 3)}
    return row


def summarise(rows: Sequence[dict]) -> dict:
    out = {}
    for group in ("all", "c_part", "preview or end card", "nothing"):
        sel = [r for r in rows if group == "all" or r["after"] == group]
        if not sel:
            continue
        out[group] = {"episodes": len(sel)}
        for name in CURVES:
            got = [r[name] for r in sel if name in r]
            if got:
                out[group][name] = {
                    "n": len(got), "hit_2s": round(float(np.mean([g["hit"] for g in got])), 3),
                    "end_over_inside_median": round(float(np.median([g["end_over_inside"] for g in got])), 3)}
    return out


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="a generated season set (truth.json, library/)")
    p.add_argument("--json", required=True, help="result file to write")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    data = Path(args.data)
    truth_file = data / "truth.json"
    if not truth_file.is_file():
        print(f"error: {truth_file}: missing (generate the set with bench.season_episodes_bench)",
              file=sys.stderr)
        return 2
    from tqdm import tqdm

    eps = json.loads(truth_file.read_text(encoding="utf-8"))["episodes"]
    rows = []
    for key, ep in tqdm(sorted(eps.items()), desc="episodes", unit="ep"):
        if ep.get("ed_start") is None or ep.get("ed_end") is None:
            continue
        row = study_episode(data / "library" / ep["rel"], ep)
        if row is not None:
            rows.append({"episode": key, **row})
    made = data / "made.json"
    res = {**provenance(sys.argv),
           "data": {"folder": str(data), **(json.loads(made.read_text(encoding="utf-8"))
                                            if made.is_file() else {})},
           "search_s": list(SEARCH), "hit_s": HIT_S, "summary": summarise(rows), "episodes": rows}
    atomic_write_json(Path(args.json), res, indent=1)
    for group, s in res["summary"].items():
        parts = [f"{n} {s[n]['hit_2s']:.0%}" for n in CURVES if n in s]
        print(f"{group} ({s['episodes']} episodes): strongest change within {HIT_S:g} s of the ED end: "
              + ", ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
