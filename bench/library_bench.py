"""Library mode's throughput (``predict.py LIBRARY --db FILE``, skips/library.py) on generated full
episodes laid out as ``Show NN/Season 01/``: a first run over the whole library (a fresh database each
time, several runs), a second run over the unchanged library, a small library of the same episodes
for the memory reference, and the decode-only floor (ffmpeg decoding just the two windows predict.py
reads of every episode, two at a time as predict.py's two workers do) in the same session.

    python -m bench.library_bench --out work_dir/library_bench --episodes 100 --runs 3 \\
        --json bench/results/library_bench.json
    python -m bench.library_bench --stages memory --memory 1000 --json bench/results/library_bench.json

The ``memory`` stage measures peak memory as the library grows: one first run over ``--memory`` short
generated episodes (2 minutes, S = 60, season mode alone: ``--weights none``, since the shipped model
needs episodes of at least 2 x 200 s) beside one over the first tenth of them; it adds ``memory`` to
the result file and keeps what the main stage wrote there.

Every timing is a whole process (import, model load and all), from outside: wall time, and the peak
of the summed resident memory of the process and its workers (sampled every 0.2 s from /proc).  The
data stage is resumable (an episode already generated is kept); the timed stages run again.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from datatools.fileio import atomic_write_json
from workflow.provenance import provenance

ROOT = Path(__file__).resolve().parent.parent
EPISODES_PER_SEASON = 4


def _tree_rss_mb(pid: int) -> float:
    """Summed resident memory of ``pid`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def timed(cmd: list[str]) -> dict:
    """Wall time and peak summed memory of one whole process and its workers; its stderr's last line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    t.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}): {err[-800:]}")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return {"wall_s": round(wall, 2), "peak_mb": round(peak[0], 1), "exit": proc.returncode,
            "last_line": lines[-1] if lines else ""}


def summary(runs: list[dict]) -> dict:
    walls = [r["wall_s"] for r in runs]
    return {"runs": runs, "wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
            "wall_max_s": max(walls), "peak_mb_max": max(r["peak_mb"] for r in runs)}


def make_library(out: Path, episodes: int, minutes: float, seed: int, name: str = "library",
                 clip_seconds: int = 200, resolution: str = "320x180") -> list[Path]:
    """``episodes`` generated full episodes as ``<name>/Show NN/Season 01/Show NN - S01EMM.mp4``."""
    lib = out / name
    series = -(-episodes // EPISODES_PER_SEASON)
    gen = out / f"generated_{name}" if name != "library" else out / "generated"
    if not (gen / "spans.json").is_file():
        subprocess.run([sys.executable, "-m", "datatools.synth", "--out", str(gen), "--series", str(series),
                        "--episodes", str(EPISODES_PER_SEASON), "--seed", str(seed), "--clip_seconds",
                        str(clip_seconds), "--full_episodes", "--min_minutes", str(minutes), "--max_minutes",
                        str(minutes + 0.5), "--difficulty", "easy", "--resolutions", resolution,
                        "--render_fps", "5"], cwd=ROOT, check=True)
    spans = json.loads((gen / "spans.json").read_text(encoding="utf-8"))["episodes"]
    files = []
    for sp in sorted(spans.values(), key=lambda s: (s["series"], s["episode"]))[:episodes]:
        dst = lib / f"Show {sp['series'] + 1:02d}" / "Season 01" / \
            f"Show {sp['series'] + 1:02d} - S01E{sp['episode'] + 1:02d}.mp4"
        if not dst.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(gen / sp["full_episode"], dst)
        files.append(dst)
    return files


def subset(out: Path, files: list[Path], n: int, name: str = "library") -> Path:
    """The first ``n`` episodes as a library of their own (hard links)."""
    lib = out / f"{name}_{n}"
    for f in files[:n]:
        dst = lib / f.relative_to(out / name)
        if not dst.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(f, dst)
    return lib


def floor_run(files: list[Path], clip_seconds: int) -> dict:
    """ffmpeg decoding the first and the last S seconds of every episode (video and audio, to the null
    muxer), two processes at a time, as one timed whole."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    jobs = [[ffmpeg, "-v", "error", *where, "-t", str(clip_seconds), "-i", str(f), "-f", "null", "-"]
            for f in files for where in (["-ss", "0"], ["-sseof", f"-{clip_seconds}"])]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(lambda c: subprocess.run(c, stdout=subprocess.DEVNULL).returncode, jobs))
    if any(codes):
        raise SystemExit("the ffmpeg floor failed on some window")
    return {"wall_s": round(time.perf_counter() - t0, 2)}


def memory_stage(out: Path, n: int, seed: int) -> dict:
    """Peak memory of a first run over ``n`` short episodes, beside one over the first tenth."""
    files = make_library(out, n, 2.0, seed, name="short", clip_seconds=60, resolution="160x90")
    tenth = subset(out, files, max(4, n // 10), name="short")
    flags = ["--weights", "none", "--clip_seconds", "60", "--no_progress"]
    runs = {}
    for tag, lib in (("tenth", tenth), ("all", out / "short")):
        db = out / f"short_{tag}.sqlite"
        for x in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            x.unlink(missing_ok=True)
        print(f"[library_bench] memory: first run over {lib}", flush=True)
        runs[tag] = timed([sys.executable, "predict.py", str(lib), "--db", str(db), "--out",
                           str(out / f"short_out_{tag}"), *flags])
        print(f"  {runs[tag]}", flush=True)
    return {"episodes": n, "tenth": max(4, n // 10), "minutes": 2.0, "clip_seconds": 60,
            "predict_args": flags, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="work_dir/library_bench", help="working folder (library, databases)")
    p.add_argument("--episodes", type=int, default=100, help="episodes in the library")
    p.add_argument("--minutes", type=float, default=7.0, help="length of each generated episode")
    p.add_argument("--small", type=int, default=8, help="episodes of the small library (memory reference)")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each command")
    p.add_argument("--seed", type=int, default=1, help="generator seed")
    p.add_argument("--json", default=None, help="result file to write (bench/results/library_bench.json)")
    p.add_argument("--stages", default="main", help="comma-separated: main (throughput), memory")
    p.add_argument("--memory", type=int, default=1000, help="short episodes of the memory stage")
    p.add_argument("predict_args", nargs="*", help="extra predict.py flags (after --), e.g. --weights ...")
    args = p.parse_args(argv)
    out = Path(args.out).resolve()
    stages = {x.strip() for x in args.stages.split(",") if x.strip()}
    made = provenance(None if argv is None else ["python", "-m", "bench.library_bench", *argv])
    old = json.loads(Path(args.json).read_text(encoding="utf-8")) if args.json and Path(args.json).is_file() \
        else {}
    if "memory" in stages:
        old["memory"] = {**memory_stage(out, args.memory, args.seed), "made": made}
        if "main" not in stages:
            if args.json:
                atomic_write_json(args.json, old, indent=1)
                print(f"wrote {args.json}")
            return 0
    files = make_library(out, args.episodes, args.minutes, args.seed)
    small = subset(out, files, args.small)
    predict = [sys.executable, "predict.py"]
    flags = ["--no_progress", *args.predict_args]

    def first_run(lib: Path, tag: str, i: int) -> dict:
        db, res = out / f"{tag}_{i}.sqlite", out / f"{tag}_out_{i}"
        for x in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), res):
            shutil.rmtree(x, ignore_errors=True) if x.is_dir() else x.unlink(missing_ok=True)
        return timed([*predict, str(lib), "--db", str(db), "--out", str(res), *flags])

    doc = {**made, **({"memory": old["memory"]} if "memory" in old else {}),
           "episodes": len(files), "minutes": args.minutes, "small": args.small, "clip_seconds": 200,
           "predict_args": args.predict_args}
    first, again, smalls, floors = [], [], [], []
    for i in range(args.runs):
        print(f"[library_bench] run {i + 1}/{args.runs}: first run over {len(files)} episodes", flush=True)
        first.append(first_run(out / "library", "first", i))
        print(f"  {first[-1]}", flush=True)
        again.append(timed([*predict, str(out / "library"), "--db", str(out / "first_0.sqlite"), "--out",
                            str(out / "again_out"), *flags]))
        print(f"  unchanged: {again[-1]}", flush=True)
        smalls.append(first_run(small, "small", i))
        floors.append(floor_run(files, 200))
        print(f"  small: {smalls[-1]}  floor: {floors[-1]}", flush=True)
    f, a, s = summary(first), summary(again), summary(smalls)
    fl = statistics.median(r["wall_s"] for r in floors)
    doc.update(first_run=f, unchanged_run=a, small_first_run=s,
               floor={"runs": floors, "wall_median_s": fl},
               episodes_per_minute=round(60 * len(files) / f["wall_median_s"], 2),
               unchanged_share=round(a["wall_median_s"] / f["wall_median_s"], 4),
               first_over_floor=round(f["wall_median_s"] / fl, 2))
    print(json.dumps({k: doc[k] for k in ("episodes_per_minute", "unchanged_share", "first_over_floor")}))
    if args.json:
        atomic_write_json(args.json, doc, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
