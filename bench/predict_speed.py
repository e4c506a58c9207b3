"""Whole-process speed of ``predict.py EPISODE`` (the defaults: the shipped model), several runs,
medians, beside the decode-only floor (ffmpeg decoding just the two windows predict.py reads) in the
same run; writes JSON and a Markdown line.

    python bench/predict_speed.py --episode work_dir/speed_ep/EPISODE.mp4 --runs 5 \
        --out models/shipped/results/predict_speed.json

Each run is a fresh process (import, model load and all), timed from outside with the operating
system's accounting of the finished child (like ``/usr/bin/time -v``): wall, user + system CPU and
peak memory.  The floor decodes the first and the last S seconds with the ffmpeg binary of
imageio-ffmpeg (``-ss``/``-t``, video and audio, to the null muxer), also as whole processes.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> dict:
    """Wall, CPU and peak memory of one whole process (its children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}): {proc.stderr.decode()[-500:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        "peak_mb": round(after.ru_maxrss / 1024, 1),
        "exit": proc.returncode,
    }


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s")} | \
        {"wall_min_s": min(r["wall_s"] for r in runs), "wall_max_s": max(r["wall_s"] for r in runs),
         "peak_mb": max(r["peak_mb"] for r in runs)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--episode", required=True, help="episode video file")
    p.add_argument("--runs", type=int, default=5, help="timed runs of each command (after one warm-up run)")
    p.add_argument("--clip_seconds", type=int, default=200, help="S of the windows the floor decodes")
    p.add_argument("--out", default=None, help="JSON to write (default: print only)")
    p.add_argument("predict_args", nargs="*", help="extra predict.py flags (after --)")
    args = p.parse_args(argv)
    import imageio_ffmpeg

    from skips.prepare import probe_duration
    ep = str(Path(args.episode).resolve())
    D, S = probe_duration(ep), args.clip_seconds
    with tempfile.TemporaryDirectory(prefix="speed_") as td:
        pred = [sys.executable, "predict.py", ep, "--out", td, "--no_progress", *args.predict_args]
        ff = imageio_ffmpeg.get_ffmpeg_exe()
        floor = ["sh", "-c", " && ".join(
            f"{ff} -v error -ss {t:.3f} -t {S} -i '{ep}' -f null -" for t in (0.0, max(0.0, D - S)))]
        timed(pred)                                    # warm-up: file cache, bytecode
        runs, floors = [], []
        for _ in range(args.runs):                     # paired: predict, floor, predict, floor ...
            runs.append(timed(pred))
            floors.append(timed(floor))
    m, f = median_of(runs), median_of(floors)
    import av
    with av.open(ep) as c:
        v = c.streams.video[0]
        size = f"{v.codec_context.width}x{v.codec_context.height}"
    from workflow.provenance import provenance
    res = {
        **provenance(argv if argv is None else ["bench/predict_speed.py", *argv]),
        "timed_command": "python predict.py "
        + Path(ep).name
        + (" " + " ".join(args.predict_args) if args.predict_args else ""),
        "episode": {"file": Path(ep).name, "duration_s": round(D, 1), "size": size},
        "runs": runs,
        "floor_runs": floors,
        "predict": m,
        "floor": f,
        "ratio_to_floor": round(m["wall_s"] / max(f["wall_s"], 1e-9), 2),
    }
    res["text"] = (
        f"`{res['timed_command']}` on a {D / 60:.0f}-minute {size} episode, {args.runs} whole-process runs "
        f"on this {os.cpu_count()}-core machine: median **{m['wall_s']:.1f} s** wall (min "
        f"{m['wall_min_s']:.1f}, "
        f"max {m['wall_max_s']:.1f}), {m['cpu_s']:.1f} s CPU, peak {m['peak_mb']:.0f} MB; decoding just the "
        "two "
        f"{S}-s windows with ffmpeg (the floor) takes {f['wall_s']:.1f} s in the same run "
        f"({res['ratio_to_floor']:.1f}x)."
    )
    print(res["text"])
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
