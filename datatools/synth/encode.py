"""Encoding: clips (and whole episodes) to H.264 + AAC with the imageio-ffmpeg binary, and the
dataset writer (clips, labels.txt, spans.json).

Frames are drawn in numpy and piped raw into ffmpeg's stdin; the audio goes through one temporary
WAV.  Every file is written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

import numpy as np

from datatools.fileio import atomic_write_json
from datatools.labels import write_labels
from datatools.synth.difficulty import build_episode, plan_dataset
from datatools.synth.episode import Episode
from datatools.synth.pictures import stamp_frame
from datatools.synth.plan import EpisodePlan, SynthConfig

TEXT_SUFFIX = "_text.json"
MADE_WITH = ".synth.json"   # the settings a dataset folder was generated with (resume check)
SPANS_VERSION = 2

def encode_range(ep: Episode, t0: float, seconds: float, path: Path, stamp: bool = False,
                 text_truth: bool = False, preset: str = "ultrafast", crf: int = 23,
                 threads: int = 1, render_fps: float = 0.0, stamp_segments: bool = False) -> None:
    """Write episode time [t0, t0 + seconds) to ``path`` (H.264 + AAC, atomic rename).

    ``stamp`` replaces every picture by the code of its frame index (modulo 65536);
    ``stamp_segments`` by ``(segment code << 12) | (frame index % 4096)``, the segment code being
    the index in SEGMENT_KINDS of what is on screen (how tests check the label convention on the
    rendered frames).

    ``render_fps`` > 0 draws a new picture only that many times a second and repeats it in
    between (the file keeps the series' frame rate): a faster, choppier video for quick demos."""
    import imageio_ffmpeg
    from scipy.io import wavfile
    sp, sr = ep.plan.series, ep.sr
    W, H = sp.width, sp.height
    # Whole frames that end by the clip end (ffmpeg's -t drops a frame that would run past it).
    n_frames = int(math.floor(seconds * sp.fps + 1e-6))
    audio = ep.audio(round(t0 * sr), round(seconds * sr))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    want = {int(math.floor(k * sp.fps + 1e-6)): k for k in range(int(math.ceil(seconds)))}
    truth: list[list[list[int]]] = [[] for _ in want]
    overlays = [o for o in ep.overlays if o.end > t0 and o.start < t0 + seconds]
    with tempfile.TemporaryDirectory(prefix="synth_") as td:
        wav = Path(td) / "a.wav"
        wavfile.write(wav, sr, np.clip(audio * 32767, -32768, 32767).astype(np.int16))
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
               "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", sp.fps_str, "-i", "-", "-i", str(wav), "-map",
               "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt",
               "yuv420p", "-threads", str(threads), "-c:a", "aac", "-aac_coder", "fast", "-b:a", "96k", "-t",
               f"{seconds:.6f}", "-movflags", "+faststart", "-f", "mp4", str(tmp)]
        err = Path(td) / "err.txt"
        with open(err, "wb") as fe:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=fe)
            batch = np.empty((24, H, W, 3), np.uint8)
            last_t, last_pic, last_boxes = None, np.empty((H, W, 3), np.uint8), []
            try:
                for k0 in range(0, n_frames, len(batch)):
                    m = min(len(batch), n_frames - k0)
                    for j in range(m):
                        k = k0 + j
                        if stamp:
                            batch[j] = stamp_frame(k % 65536, W, H)
                            continue
                        if stamp_segments:
                            code = ep.segment_code(t0 + k / sp.fps)
                            batch[j] = stamp_frame((code << 12) | (k % 4096), W, H)
                            continue
                        t = k / sp.fps
                        if render_fps > 0:
                            t = math.floor(t * render_fps + 1e-6) / render_fps
                        if t == last_t:
                            batch[j], boxes = last_pic, last_boxes
                        else:
                            _, boxes = ep.frame(t0 + t, batch[j], overlays)
                            last_t, last_boxes = t, boxes
                            last_pic[:] = batch[j]
                        if k in want:
                            truth[want[k]] = boxes
                    proc.stdin.write(batch[:m].tobytes())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            rc = proc.wait()
        if rc != 0 or not tmp.exists():
            if tmp.exists():
                tmp.unlink()
            raise RuntimeError(f"{path}: ffmpeg failed (exit {rc}): {err.read_text(errors='replace')[-500:]}")
    os.replace(tmp, path)
    if text_truth:
        atomic_write_json(path.with_name(path.stem + TEXT_SUFFIX), {
            "width": W, "height": H, "fps": round(sp.fps, 5),
            "frames": sorted(want), "boxes": truth})


def make_episode(plan: EpisodePlan, out: str | os.PathLike, full_episode: bool = False,
                 stamp: bool = False, text_truth: bool = False, preset: str = "ultrafast",
                 crf: int = 23, render_fps: float = 0.0, stamp_segments: bool = False) -> dict:
    """Render and write one episode's clips (and optionally the whole episode); returns its spans.
    A file already there is kept: files are written whole or not at all (atomic rename), and the
    plan is a pure function of the settings, so a rerun resumes an interrupted dataset."""
    out = Path(out)
    ep = build_episode(plan)
    S, D = plan.cfg.clip_seconds, plan.duration
    kw = dict(stamp=stamp, text_truth=text_truth, preset=preset, crf=crf, render_fps=render_fps,
              stamp_segments=stamp_segments)
    todo = [(0.0, S, out / f"{plan.id}_start.mp4"), (float(D - S), S, out / f"{plan.id}_end.mp4")]
    if full_episode:
        todo.append((0.0, D, out / f"{plan.id}.mp4"))
        plan.spans["full_episode"] = f"{plan.id}.mp4"
    for t0, seconds, path in todo:
        if not (path.is_file() and (not text_truth or path.with_name(path.stem + TEXT_SUFFIX).is_file())):
            encode_range(ep, t0, seconds, path, **kw)
    return plan.spans


def _job(args: tuple) -> tuple[str, dict]:
    plan, out, kw = args
    return plan.id, make_episode(plan, out, **kw)


def generate_dataset(out: str | os.PathLike, series: int, episodes: int, clip_seconds: int = 200,
                     seed: int = 0, lone_episodes: int = 0, full_episodes: bool = False,
                     stamp_frames: bool = False, text_truth: bool = False, workers: int = 1,
                     preset: str = "ultrafast", crf: int = 23, progress: bool = True,
                     render_fps: float = 0.0, stamp_segments: bool = False, **cfg_kw) -> dict:
    """Generate ``series`` series of ``episodes`` episodes (plus ``lone_episodes`` one-episode
    series) into ``out``; writes the clips, labels.txt and spans.json and returns the spans dict.
    ``cfg_kw`` are SynthConfig fields (difficulty, resolutions, fps_choices, probabilities...).
    A clip whose label is None (a ``_start`` clip of an episode without an OP) is rendered and
    listed in spans.json with its ``no_label`` reason, and left out of labels.txt."""
    cfg = SynthConfig(clip_seconds=int(clip_seconds), seed=int(seed), **cfg_kw)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kw = dict(full_episode=full_episodes, stamp=stamp_frames, text_truth=text_truth, preset=preset, crf=crf,
              render_fps=render_fps, stamp_segments=stamp_segments)
    # A rerun resumes (make_episode keeps finished files) only with the settings that made them.
    made_with = json.loads(json.dumps({"config": asdict(cfg), "series": series, "episodes": episodes,
                                       "lone_episodes": lone_episodes, **kw}))
    rec = out / MADE_WITH
    if rec.is_file() and json.loads(rec.read_text(encoding="utf-8")) != made_with:
        raise ValueError(f"{out} holds clips generated with other settings ({rec}); choose another --out "
                         "or empty it")
    atomic_write_json(rec, made_with, indent=1)
    plan = plan_dataset(cfg, series, episodes, lone_episodes)
    jobs = [(ep, out, kw) for ep in plan.episodes]
    results: dict[str, dict] = {}
    from tqdm import tqdm
    bar = tqdm(total=len(jobs), desc="synth", unit="ep", disable=not progress)
    if workers <= 1:
        for j in jobs:
            k, v = _job(j)
            results[k] = v
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for fut in as_completed([pool.submit(_job, j) for j in jobs]):
                k, v = fut.result()
                results[k] = v
                bar.update()
    bar.close()
    spans = {"version": SPANS_VERSION, "difficulty": cfg.difficulty, "clip_seconds": cfg.clip_seconds,
             "sample_rate": cfg.sample_rate, "seed": cfg.seed,
             "episodes": {ep.id: results[ep.id] for ep in plan.episodes}}
    if cfg.material:
        from datatools.synth.material import load_pool
        spans["material"] = {"folder": cfg.material, "split": cfg.material_split,
                             "content_hash": load_pool(cfg.material, cfg.material_split).content_hash}
    write_labels(out / "labels.txt", [(f"{i}_{k}", v["clips"][k]["label"])
                                      for i, v in spans["episodes"].items() for k in ("start", "end")
                                      if v["clips"][k]["label"] is not None])
    atomic_write_json(out / "spans.json", spans, indent=1)
    return spans
