"""Season-mode benchmark: Chromaprint seconds per clip, and sibling-discovery time on a large set.

Two figures (not a test):
  1. fingerprinting: ``--fp_clips`` mp4 clips of S seconds (tiny video + AAC audio, written to a
     temporary folder with the imageio-ffmpeg binary) are fingerprinted with
     ``preprocessing.fingerprint.fingerprint``; prints seconds per clip.
  2. discovery: ``--series`` synthetic series x ``--episodes`` episodes x {_start, _end} clips of
     S seconds.  Their audio is synthesised directly (tonal theme songs identical within a series,
     placed at random times in random tonal "episode" audio) and fingerprinted from memory
     (``fingerprint_samples``) instead of encoding hundreds of videos; the fingerprints are cached
     in ``--cache``.  Then ``discover_siblings`` runs over all clips and the time, the groups found
     and the OP-end / ED-start errors are printed.

    .venv/bin/python bench/season_bench.py                       # 70 series x 5 episodes x 2 = 700 clips
    .venv/bin/python bench/season_bench.py --series 7 --fp_clips 2   # quick look

The song / episode generators here are also used by tests/test_season.py.
"""
from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from preprocessing.fingerprint import (
    DiscoveryParams,
    discover_siblings,
    estimate_spans,
    ffmpeg_exe,
    fingerprint,
    fingerprint_samples,
)

SYNTH_RATE = 11025   # Chromaprint's own rate: synthesising above it would only be resampled away


def make_song(seed: int, seconds: float, sample_rate: int = SYNTH_RATE, voices: int = 2,
              ) -> np.ndarray:
    """A deterministic tonal signal (random notes with harmonics and decaying envelopes), the kind
    of audio Chromaprint's chroma features describe well; equal seeds give identical samples."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    out = np.zeros(n, dtype=np.float32)
    for _ in range(voices):
        # note boundaries on a 0.125 s grid, 1-4 steps long
        steps = rng.integers(1, 5, size=int(seconds / 0.125) + 8)
        bounds = np.concatenate(([0], np.cumsum(steps))) * int(0.125 * sample_rate)
        bounds = bounds[bounds < n]
        midi = rng.integers(45, 82, size=bounds.size)
        note = np.zeros(n, dtype=np.int64)
        note[bounds[1:]] = 1
        note = np.cumsum(note)
        freq = 440.0 * 2.0 ** ((midi[note] - 69) / 12.0)
        # phase wrapped to one turn keeps float32 precise over minutes of signal
        phase = (2 * np.pi * np.mod(np.cumsum(freq / sample_rate), 1.0)).astype(np.float32)
        since = (np.arange(n) - bounds[note]).astype(np.float32)
        env = np.exp(np.float32(-2.5 / sample_rate) * since)
        tone = sum(np.sin(h * phase) / np.float32(h) for h in range(1, 4))
        out += env * tone
    out += np.float32(0.05) * rng.standard_normal(n, dtype=np.float32)
    return (0.3 * out / (np.abs(out).max() + 1e-9)).astype(np.float32)


def make_clip_audio(seed: int, seconds: float, song: np.ndarray | None, song_at: float,
                    sample_rate: int = SYNTH_RATE) -> np.ndarray:
    """Episode audio of ``seconds``: unique tonal content (from ``seed``) with ``song`` pasted in
    sample-identically at ``song_at`` seconds (cut at the clip end)."""
    audio = make_song(seed, seconds, sample_rate, voices=2)
    if song is not None:
        i = int(round(song_at * sample_rate))
        k = min(song.size, audio.size - i)
        audio[i:i + k] = song[:k]
    return audio


def write_clip(path: Path, audio: np.ndarray, sample_rate: int = SYNTH_RATE) -> None:
    """Encode ``audio`` as an mp4 with AAC audio and a tiny test-pattern video."""
    import subprocess

    seconds = audio.size / sample_rate
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"color=c=gray:size=32x24:rate=5:duration={seconds:.3f}",
           "-f", "f32le", "-ar", str(sample_rate), "-ac", "1", "-i", "-",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "96k",
           "-ar", "44100", "-shortest", str(path)]
    subprocess.run(cmd, input=audio.astype(np.float32).tobytes(), check=True, capture_output=True)


def series_plan(n_series: int, episodes: int, seconds: float, seed: int = 0,
                op_len: float = 90.0, ed_len: float = 90.0) -> list[dict]:
    """Clip recipes: per series an OP and an ED song; per episode a _start clip (cold open of
    0-40 s, then the OP) and an _end clip (ED, then a preview of 0-30 s).  Truth in each recipe."""
    rng = np.random.default_rng(seed)
    plan = []
    for s in range(n_series):
        for _e in range(episodes):
            cold = float(rng.uniform(0, 40))
            prev = float(rng.uniform(0, 30))
            cid = f"{rng.integers(1 << 40):010x}"
            plan.append(dict(name=f"{cid}_start", series=s, song_seed=10_000 + 2 * s,
                             song_len=op_len, song_at=cold, truth=cold + op_len,
                             seed=int(rng.integers(1 << 31))))
            ed_at = seconds - ed_len - prev
            plan.append(dict(name=f"{cid}_end", series=s, song_seed=10_001 + 2 * s,
                             song_len=ed_len, song_at=ed_at, truth=ed_at,
                             seed=int(rng.integers(1 << 31))))
    return plan


@functools.lru_cache(maxsize=8)
def _song(seed: int, seconds: float) -> np.ndarray:
    return make_song(seed, seconds)


def _fp_recipe(args: tuple[dict, float]) -> np.ndarray:
    r, seconds = args
    song = _song(r["song_seed"], r["song_len"])
    return fingerprint_samples(make_clip_audio(r["seed"], seconds, song, r["song_at"]), SYNTH_RATE)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--series", type=int, default=70, help="synthetic series for discovery")
    ap.add_argument("--episodes", type=int, default=5,
                    help="episodes per series (each gives a _start and an _end clip)")
    ap.add_argument("--clip_seconds", type=float, default=200.0, help="clip length S in seconds")
    ap.add_argument("--fp_clips", type=int, default=4,
                    help="mp4 clips to encode and fingerprint for the per-clip timing (0: skip)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes used to synthesise the discovery fingerprints")
    ap.add_argument("--cache", default="work_dir/season_bench",
                    help="folder caching the synthesised fingerprints between runs")
    ap.add_argument("--out", default=None,
                    help="also write the figures as JSON with the command, commit, machine and date "
                         "(docs/benchmarks.md quotes bench/results/season_bench.json)")
    args = ap.parse_args(argv)
    report: dict = {"clip_seconds": args.clip_seconds, "series": args.series, "episodes": args.episodes}
    from tqdm import tqdm

    if args.fp_clips > 0:
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for k in range(args.fp_clips):
                p = Path(tmp) / f"clip{k}.mp4"
                write_clip(p, make_clip_audio(k, args.clip_seconds, None, 0.0))
                paths.append(p)
            t0 = time.perf_counter()
            for p in paths:
                fingerprint(p, duration=args.clip_seconds)
            dt = (time.perf_counter() - t0) / len(paths)
        report["fingerprint_s_per_clip"] = round(dt, 3)
        report["fingerprint_clips"] = args.fp_clips
        print(f"fingerprint: {dt:.3f} s per {args.clip_seconds:.0f} s clip "
              f"(mean of {args.fp_clips} mp4/AAC clips, one process)")

    plan = series_plan(args.series, args.episodes, args.clip_seconds)
    cache = Path(args.cache) / f"fps_{args.series}x{args.episodes}_{args.clip_seconds:.0f}s.npz"
    if cache.is_file():
        data = np.load(cache)
        fps = {r["name"]: data[r["name"]] for r in plan}
    else:
        t0 = time.perf_counter()
        jobs = [(r, args.clip_seconds) for r in plan]
        with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
            arrays = list(tqdm(pool.map(_fp_recipe, jobs, chunksize=4), total=len(jobs),
                               desc="synthesise+fingerprint", unit="clip"))
        fps = {r["name"]: a for r, a in zip(plan, arrays)}
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **fps)
        print(f"synthesised {len(fps)} fingerprints in {time.perf_counter() - t0:.1f} s "
              f"(cached in {cache})")
    kinds = {r["name"]: r["name"].rsplit("_", 1)[1][0] for r in plan}
    t0 = time.perf_counter()
    sib = discover_siblings(fps, kinds, DiscoveryParams(), progress=True)
    dt = time.perf_counter() - t0
    est = estimate_spans(sib)
    series = {r["name"]: r["series"] for r in plan}
    wrong = sum(1 for a, d in sib.spans.items() for b in d if series[a] != series[b]) // 2
    errs = {"s": [], "e": []}
    for r in plan:
        if r["name"] in est:
            e = est[r["name"]]
            got = e.end if kinds[r["name"]] == "s" else e.start
            errs[kinds[r["name"]]].append(abs(got - r["truth"]))
    print(f"discovery: {len(fps)} clips of {args.clip_seconds:.0f} s in {dt:.1f} s "
          f"({sib.candidates} candidate pairs verified, {len(sib.groups)} groups, "
          f"{wrong} cross-series pairs, {len(fps) - len(sib.spans)} clips without sibling)")
    report["discovery"] = {"clips": len(fps), "seconds": round(dt, 2), "candidate_pairs": sib.candidates,
                           "groups": len(sib.groups), "cross_series_pairs": wrong,
                           "clips_without_sibling": len(fps) - len(sib.spans)}
    for k, label in (("s", "OP end"), ("e", "ED start")):
        if errs[k]:
            a = np.array(errs[k])
            print(f"{label} error (raw, no learned offset): median {np.median(a):.2f} s, "
                  f"p90 {np.percentile(a, 90):.2f} s over {a.size} clips")
            report[{"s": "op_end", "e": "ed_start"}[k]] = {
                "clips": int(a.size),
                "median_s": round(float(np.median(a)), 3),
                "p90_s": round(float(np.percentile(a, 90)), 3),
            }
    if args.out:
        from datatools.fileio import atomic_write_json
        from workflow.provenance import provenance
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            Path(args.out),
            {**provenance(None if argv is None else ["bench/season_bench.py", *argv]), **report},
            indent=1,
        )
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
