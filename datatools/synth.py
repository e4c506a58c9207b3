"""Synthetic anime-episode generator: competition-format clips with exact OP/ED truth.

Writes, for every episode, ``<id>_start.mp4`` (the first S seconds) and ``<id>_end.mp4`` (the last
S seconds), H.264 (libx264, yuv420p) + AAC, encoded by the imageio-ffmpeg binary from numpy frames
piped raw into its stdin; ``labels.txt`` (``<id>_start <OP end>`` / ``<id>_end <ED start>``, clip
seconds) and ``spans.json`` (the whole truth).  ``<id>`` is a random 8-character alphanumeric
string, so a clip name says nothing about its series.

    python -m datatools.synth --out work_dir/synth --series 3 --episodes 4 --clip_seconds 200 --seed 0
    python -m datatools.synth --help            # every flag

What an episode contains (all drawn from the seed):
  [cold open 0-70 s] [gap] OP 55-95 s [gap] body ... [gap] ED 55-95 s [gap] [preview 10-30 s]
- a series has its own OP, ED, preview jingle and insert song, composed procedurally (tempo, key,
  chord progression, melody, bass, drums; datatools/synth_audio.py) and rendered once from the
  series seed, so they are sample-identical in every episode; OP/ED pictures (fast cuts, title
  logo, staff credits; slow scenes, vertically scrolling credit columns) are identical too;
- body: slow panned scenes, formant-shaped speech babble, quiet background chords, room noise,
  occasional subtitles;
- confusers: insert songs in the body (placed inside a clip when there is room), black+silent gaps
  at some boundaries and not others, episodes without a cold open, ED running to the very end
  (no preview), and ``replaced_op``: an episode that uses the series' second OP song (as after a
  cour change).  Lone series (one episode) come from ``--lone_episodes``.
- fps 24 / 25 / 29.97 / 30 and 16:9 or 4:3 resolutions, one choice per series.

Layout scaling for short clips: with S < 200 every layout length (cold open, OP, ED, preview,
insert song) is multiplied by r = S / 200, so e.g. S = 20 gives a 5.5-9.5 s OP and still holds
both boundaries.  Gaps (0.3-1.5 s, scaled by max(r, 0.34)) are counted *outside* the OP/ED: the OP end
label is the last instant of the OP song/pictures (before any gap), the ED start label the first
instant of the ED (after any gap).  Lengths are drawn so that every label lies inside [0, S]
(cold open + gap + OP <= 167 r <= S, and ED + gap + preview <= 127 r <= S); a layout that would
break this is redrawn, and the generator asserts it.  Episodes are at least 2 S long, so the start
and end clips never overlap.

spans.json: {"version", "clip_seconds", "sample_rate", "seed", "episodes": {id: {series, episode,
duration, fps, fps_str, width, height, cold_open, op_start, op_end, op_song, ed_start, ed_end,
preview, insert_songs, gaps, subtitles, confusers, replaced_op, clips: {start: {file, offset,
label}, end: {...}}, full_episode}}}.  All times in episode seconds except ``clips.*.label``.

Python API:
    from datatools.synth import generate_dataset, decode_stamp
    spans = generate_dataset("out", series=2, episodes=3, clip_seconds=20, seed=1)   # the spans dict
    plan = plan_dataset(...); ep = build_episode(plan.episodes[0]); ep.audio(0, n); ep.frame(t)

Test hooks: ``--stamp_frames`` replaces every picture by a 4x4 black/white code of the frame index
within the file (``decode_stamp`` reads it back, also from the 88x66 letterboxed copy);
``--text_truth`` writes ``<stem>_text.json`` with the true text boxes of the frame shown at each
second.  The stamp is the frame index modulo 65536 (a 24-minute full episode at 30 fps has 43200).
"""
from __future__ import annotations

import argparse
import bisect
import math
import os
import string
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datatools.labels import write_labels
from datatools.synth_audio import (bgm_notes, compose_song, plan_speech, render_noise, render_notes,
                                   render_speech, tag)
from datatools.synth_video import Overlay, Scene, decode_stamp, stamp_frame, text_sprite  # noqa: F401
from utils.io import atomic_write_json

FPS_CHOICES = {"24": (24.0, "24"), "25": (25.0, "25"), "29.97": (30000 / 1001, "30000/1001"),
               "30": (30.0, "30")}
DEFAULT_RESOLUTIONS = "320x180,320x240"
TEXT_SUFFIX = "_text.json"
ROLES = ("Original Story", "Director", "Series Composition", "Script", "Character Design",
         "Art Director", "Color Design", "Director of Photography", "Editing", "Sound Director",
         "Music", "Animation Producer", "Storyboard", "Key Animation", "Theme Song", "Producer",
         "Chief Animation Director", "Background Art", "3DCG", "Production")
SYL = ("ka", "ki", "ku", "ke", "ko", "sa", "shi", "su", "ta", "to", "na", "ni", "no", "ha", "hi",
       "mi", "mo", "ya", "yu", "ri", "ro", "wa", "ga", "da", "be", "ma", "se", "tsu", "chi", "o", "a")
ID_CHARS = string.ascii_letters + string.digits


def _word(rng: np.random.Generator, lo: int = 2, hi: int = 4) -> str:
    return "".join(SYL[int(i)] for i in rng.integers(len(SYL), size=int(rng.integers(lo, hi + 1))))


def _name(rng: np.random.Generator) -> str:
    return f"{_word(rng).capitalize()} {_word(rng).capitalize()}"


def _sentence(rng: np.random.Generator) -> str:
    return " ".join(_word(rng, 1, 3) for _ in range(int(rng.integers(2, 6)))).capitalize()


@dataclass(frozen=True)
class SynthConfig:
    clip_seconds: int = 200
    seed: int = 0
    sample_rate: int = 22050
    resolutions: tuple[tuple[int, int], ...] = ((320, 180), (320, 240))
    fps_choices: tuple[str, ...] = ("24", "25", "29.97", "30")
    min_minutes: float = 6.0
    max_minutes: float = 24.0
    no_cold_open_prob: float = 0.25
    no_preview_prob: float = 0.3
    gap_prob: float = 0.4
    insert_song_prob: float = 0.35
    replaced_op_prob: float = 0.1
    subtitle_prob: float = 0.35

    @property
    def scale(self) -> float:
        return min(1.0, self.clip_seconds / 200.0)


@dataclass
class SeriesPlan:
    index: int
    seed: int
    fps: float
    fps_str: str
    width: int
    height: int
    op_len: float
    op2_len: float
    ed_len: float
    preview_max: float
    insert_len: float
    title: str


@dataclass
class EpisodePlan:
    id: str
    series: SeriesPlan
    episode: int
    seed: int
    cfg: SynthConfig
    duration: int
    segments: list[tuple[str, float, float]]    # (kind, start, end), contiguous from 0 to duration
    spans: dict = field(default_factory=dict)


@dataclass
class DatasetPlan:
    cfg: SynthConfig
    series: list[SeriesPlan]
    episodes: list[EpisodePlan]


def _r3(x: float) -> float:
    return round(float(x), 3)


def plan_series(cfg: SynthConfig, index: int) -> SeriesPlan:
    rng = np.random.default_rng(tag(cfg.seed, "series", index))
    r = cfg.scale
    w, h = cfg.resolutions[int(rng.integers(len(cfg.resolutions)))]
    fps, fps_str = FPS_CHOICES[cfg.fps_choices[int(rng.integers(len(cfg.fps_choices)))]]
    return SeriesPlan(index, int(rng.integers(2 ** 31)), fps, fps_str, w, h,
                      _r3(rng.uniform(55, 95) * r), _r3(rng.uniform(55, 95) * r), _r3(rng.uniform(55, 95) * r),
                      _r3(30 * r), _r3(rng.uniform(30, 80) * r), f"{_word(rng)} {_word(rng)}".title())


def plan_episode(cfg: SynthConfig, sp: SeriesPlan, episode: int, ep_id: str) -> EpisodePlan:
    """Draw one episode's layout; redrawn until both labels lie inside [0, S]."""
    S, r = cfg.clip_seconds, cfg.scale
    for attempt in range(100):
        rng = np.random.default_rng(tag(cfg.seed, "episode", sp.index, episode, attempt))
        D = int(rng.uniform(cfg.min_minutes, cfg.max_minutes) * 60)
        D = max(D, 2 * S + int(math.ceil(30 * r)))
        confusers: list[str] = []

        def gap(name: str) -> float:
            if rng.random() < cfg.gap_prob:
                confusers.append(name)
                return _r3(rng.uniform(0.3, 1.5) * max(r, 0.34))
            return 0.0

        cold = 0.0 if rng.random() < cfg.no_cold_open_prob else _r3(rng.uniform(5, 70) * r)
        if cold == 0.0:
            confusers.append("no_cold_open")
        g1 = gap("gap_before_op") if cold > 0 else 0.0
        replaced = bool(rng.random() < cfg.replaced_op_prob)
        op_len = sp.op2_len if replaced else sp.op_len
        if replaced:
            confusers.append("replaced_op")
        op_start = _r3(cold + g1)
        op_end = _r3(op_start + op_len)
        g2 = gap("gap_after_op")
        has_preview = rng.random() >= cfg.no_preview_prob
        preview_len = _r3(rng.uniform(10, 30) * r) if has_preview else 0.0
        if not has_preview:
            confusers.append("no_preview")
        g4 = gap("gap_after_ed") if has_preview else 0.0
        ed_end = _r3(D - preview_len - g4)
        ed_start = _r3(ed_end - sp.ed_len)
        g3 = gap("gap_before_ed")
        body0, body1 = _r3(op_end + g2), _r3(ed_start - g3)
        if not (0 < op_end <= S and D - S <= ed_start < D and body1 - body0 > 2):
            continue
        segs: list[tuple[str, float, float]] = []
        if cold > 0:
            segs.append(("cold_open", 0.0, cold))
        if g1:
            segs.append(("gap", cold, op_start))
        segs.append(("op", op_start, op_end))
        if g2:
            segs.append(("gap", op_end, body0))
        inserts = []
        if rng.random() < cfg.insert_song_prob and body1 - body0 > sp.insert_len + 4:
            # Prefer a place inside one of the clips, where it actually confuses a model; always
            # >= 1 s away from the OP/ED so the boundary itself stays a clean body/theme change.
            windows = [(body0 + 1, min(S, body1) - sp.insert_len - 1),
                       (max(body0, D - S) + 1, body1 - sp.insert_len - 1),
                       (body0 + 1, body1 - sp.insert_len - 1)]
            lo, hi = windows[int(rng.integers(3))]
            if hi <= lo:
                lo, hi = windows[2]
            a = _r3(rng.uniform(lo, hi))
            inserts.append([a, _r3(a + sp.insert_len)])
            confusers.append("insert_song")
        t = body0
        for a, b in inserts:
            segs += [("body", t, a), ("insert", a, b)]
            t = b
        segs.append(("body", t, body1))
        if g3:
            segs.append(("gap", body1, ed_start))
        segs.append(("ed", ed_start, ed_end))
        if g4:
            segs.append(("gap", ed_end, ed_end + g4))
        if has_preview:
            segs.append(("preview", _r3(D - preview_len), float(D)))
        ep = EpisodePlan(ep_id, sp, episode, int(rng.integers(2 ** 31)), cfg, D, segs)
        ep.spans = dict(
            series=sp.index, episode=episode, duration=D, fps=round(sp.fps, 5), fps_str=sp.fps_str,
            width=sp.width, height=sp.height, cold_open=cold, op_start=op_start, op_end=op_end,
            op_song="op2" if replaced else "op", ed_start=ed_start, ed_end=ed_end,
            preview=[_r3(D - preview_len), float(D)] if has_preview else None, insert_songs=inserts,
            gaps=[[a, b] for k, a, b in segs if k == "gap"], confusers=confusers, replaced_op=replaced,
            clips={"start": {"file": f"{ep_id}_start.mp4", "offset": 0, "label": op_end},
                   "end": {"file": f"{ep_id}_end.mp4", "offset": D - S, "label": _r3(ed_start - (D - S))}},
            full_episode=None)
        assert 0 <= ep.spans["clips"]["start"]["label"] <= S and 0 <= ep.spans["clips"]["end"]["label"] <= S
        return ep
    raise ValueError(f"clip_seconds={S}: no layout with both labels inside the clip; use S >= 10")


def plan_dataset(cfg: SynthConfig, series: int, episodes: int, lone_episodes: int = 0) -> DatasetPlan:
    """Series plans and episode layouts (cheap: nothing is rendered)."""
    ser = [plan_series(cfg, i) for i in range(series + lone_episodes)]
    rng = np.random.default_rng(tag(cfg.seed, "ids"))
    ids: set[str] = set()
    eps = []
    for sp in ser:
        for e in range(episodes if sp.index < series else 1):
            while True:
                ep_id = "".join(ID_CHARS[int(i)] for i in rng.integers(len(ID_CHARS), size=8))
                if ep_id not in ids:
                    break
            ids.add(ep_id)
            eps.append(plan_episode(cfg, sp, e, ep_id))
    return DatasetPlan(cfg, ser, eps)


# ----------------------------------------------------------------------------------------------
# Pictures


def _op_visuals(sp: SeriesPlan, which: str, length: float, H: int):
    """Scenes and overlays of an OP, times from the OP start; depends only on the series."""
    rng = np.random.default_rng(tag(sp.seed, which, "visual"))
    scenes, t = [], 0.0
    while t < length:
        d = float(rng.uniform(0.4, 2.0))
        scenes.append((t, min(length, t + d), int(rng.integers(2 ** 31)), "op"))
        t += d
    title, size = sp.title, max(12, H // 6)
    ov = []
    t_title = min(0.05 * length, 3.0)
    ov.append((t_title, t_title + min(4.0, 0.15 * length),
               lambda: text_sprite([title], size, (255, 240, 120), bold=True), (0.5, 0.4), (0.5, 0.4)))
    t = t_title + min(4.0, 0.15 * length) + 0.3
    while t < length - 1.0:
        d = float(min(rng.uniform(1.5, 3.0), length - 1.0 - t))
        lines = [str(rng.choice(ROLES)), _name(rng)]
        pos = (float(rng.uniform(0.05, 0.95)), float(rng.uniform(0.1, 0.9)))
        ov.append((t, t + d, lambda lines=lines: text_sprite(lines, max(9, H // 14), (255, 255, 255)), pos, pos))
        t += d + float(rng.uniform(0.2, 0.8))
    return scenes, ov


def _ed_visuals(sp: SeriesPlan, length: float, H: int):
    rng = np.random.default_rng(tag(sp.seed, "ed", "visual"))
    scenes, t = [], 0.0
    while t < length:
        d = float(rng.uniform(4.0, 12.0))
        scenes.append((t, min(length, t + d), int(rng.integers(2 ** 31)), "ed"))
        t += d
    ov = []
    # One column of role/name pairs on the left, centre or right, scrolled bottom to top over the ED.
    lines = []
    for _ in range(int(rng.integers(10, 18))):
        lines += [str(rng.choice(ROLES)), _name(rng), ""]
    x = float(rng.choice([0.04, 0.5, 0.96]))
    ov = [(0.0, length, lambda: text_sprite(lines, max(9, H // 14), (240, 240, 255)), (x, 0.0), (x, 1.0),
           "scroll")]
    return scenes, ov


@dataclass
class Episode:
    """A rendered-on-demand episode: ``frame(t)`` and ``audio(start_sample, n)``."""
    plan: EpisodePlan
    seg_starts: list[float]
    scenes: list[Scene]
    scene_starts: list[float]
    overlays: list[Overlay]
    speech: dict

    @property
    def sr(self) -> int:
        return self.plan.cfg.sample_rate

    def segment(self, t: float) -> tuple[str, float, float]:
        i = max(0, bisect.bisect_right(self.seg_starts, t) - 1)
        return self.plan.segments[i]

    def frame(self, t: float, out: np.ndarray | None = None,
              overlays: list[Overlay] | None = None) -> tuple[np.ndarray, list[list[int]]]:
        """The picture at episode time ``t`` and the boxes of the text drawn on it."""
        sp = self.plan.series
        out = np.empty((sp.height, sp.width, 3), np.uint8) if out is None else out
        if self.segment(t)[0] == "gap":
            out[:] = 0
            return out, []
        i = max(0, bisect.bisect_right(self.scene_starts, t) - 1)
        self.scenes[i].draw(out, t)
        boxes: list[list[int]] = []
        for ov in (self.overlays if overlays is None else overlays):
            if ov.start <= t < ov.end:
                boxes += ov.draw(out, t)
        return out, boxes

    def song(self, kind: str) -> np.ndarray:
        """The series' song for an 'op', 'ed', 'insert' or 'preview' segment of this episode:
        a function of the series alone (op2 for a replaced OP), hence identical across episodes."""
        sp, sr = self.plan.series, self.sr
        if kind == "op" and self.plan.spans["op_song"] == "op2":
            return compose_song(sp.seed + 1, sp.op2_len, sr, "op")
        length = {"op": sp.op_len, "ed": sp.ed_len, "insert": sp.insert_len, "preview": sp.preview_max}[kind]
        return compose_song(sp.seed, length, sr, kind)

    def audio(self, start: int, n: int) -> np.ndarray:
        """Mono float32 samples [start, start + n) of the episode."""
        sr, plan = self.sr, self.plan
        out = np.zeros(n, np.float32)
        for kind, a, b in plan.segments:
            sa, sb = round(a * sr), round(b * sr)
            lo, hi = max(sa, start), min(sb, start + n)
            if lo >= hi or kind == "gap":
                continue
            buf = out[lo - start:hi - start]
            if kind in ("op", "ed", "insert"):
                song = self.song(kind)
                m = min(hi, sa + song.size) - lo      # the segment may be a rounding sample longer
                if m > 0:
                    buf[:m] += song[lo - sa:lo - sa + m] * (0.8 if kind == "insert" else 1.0)
            if kind in ("cold_open", "body", "preview"):
                render_speech(self.speech[(kind, a)], lo, hi - lo, sr, buf)
                render_notes(bgm_notes(plan.seed, a, b), lo, hi - lo, sr, buf)
            if kind == "preview":
                song = self.song("preview")
                idx = np.arange(lo, hi)
                fade = np.clip((sb - idx) / sr, 0, 1).astype(np.float32)   # fade out over the last second
                buf += 0.6 * song[np.minimum(idx - sa, song.size - 1)] * fade
            if kind not in ("op", "ed"):   # theme songs are studio masters: sample-identical, no room noise
                render_noise(plan.seed, lo, hi - lo, sr, 0.004, buf)
        return out


def build_episode(plan: EpisodePlan) -> Episode:
    """Scenes, overlays and speech events of an episode (pictures and sounds are made lazily)."""
    sp, H = plan.series, plan.series.height
    rng = np.random.default_rng(tag(plan.seed, "build"))
    scenes: list[Scene] = []
    overlays: list[Overlay] = []
    speech = {}
    for kind, a, b in plan.segments:
        if kind == "gap":
            scenes.append(Scene(a, b, 0, "black"))
        elif kind in ("op", "ed"):
            if kind == "op":
                sc, ov = _op_visuals(sp, plan.spans["op_song"], b - a, H)
            else:
                sc, ov = _ed_visuals(sp, b - a, H)
            scenes += [Scene(a + s0, a + s1, seed, style) for s0, s1, seed, style in sc]
            for o in ov:
                overlays.append(Overlay(a + o[0], a + o[1], o[2], o[3], o[4], *o[5:]))
        else:
            if kind in ("cold_open", "body", "preview"):
                speech[(kind, a)] = plan_speech(plan.seed, a, b)
            t = a
            if kind == "preview":
                card = min(3.0, 0.25 * (b - a))
                scenes.append(Scene(a, a + card, int(rng.integers(2 ** 31)), "card"))
                lines = ["Next Episode", f"Episode {plan.episode + 2}: {_sentence(rng)}"]
                overlays.append(Overlay(a, a + card, lambda lines=lines: text_sprite(
                    lines, max(10, H // 10), (255, 255, 255), bold=True), (0.5, 0.45), (0.5, 0.45)))
                t = a + card
            lo, hi = {"insert": (2.0, 5.0), "preview": (1.5, 4.0)}.get(kind, (3.0, 12.0))
            while t < b:
                d = float(rng.uniform(lo, hi))
                scenes.append(Scene(t, min(b, t + d), int(rng.integers(2 ** 31)), "body"))
                if kind in ("cold_open", "body") and rng.random() < plan.cfg.subtitle_prob and min(b, t + d) - t > 1.6:
                    s0 = t + float(rng.uniform(0, 0.3 * d))
                    s1 = min(b, s0 + float(rng.uniform(1.5, 4.0)))
                    text = _sentence(rng)
                    overlays.append(Overlay(s0, s1, lambda text=text: text_sprite(
                        [text], max(9, H // 15), (255, 255, 255)), (0.5, 0.94), (0.5, 0.94), "subtitle"))
                t += d
    scenes.sort(key=lambda s: s.start)
    overlays.sort(key=lambda o: o.start)
    plan.spans["subtitles"] = [[_r3(o.start), _r3(o.end)] for o in overlays if o.kind == "subtitle"]
    return Episode(plan, [s[1] for s in plan.segments], scenes, [s.start for s in scenes], overlays, speech)


# ----------------------------------------------------------------------------------------------
# Encoding


def encode_range(ep: Episode, t0: float, seconds: float, path: Path, stamp: bool = False,
                 text_truth: bool = False, preset: str = "ultrafast", crf: int = 23,
                 threads: int = 1, render_fps: float = 0.0) -> None:
    """Write episode time [t0, t0 + seconds) to ``path`` (H.264 + AAC, atomic rename).

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
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", sp.fps_str, "-i", "-",
               "-i", str(wav), "-map", "0:v", "-map", "1:a",
               "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
               "-threads", str(threads), "-c:a", "aac", "-aac_coder", "fast", "-b:a", "96k", "-t", f"{seconds:.6f}",
               "-movflags", "+faststart", "-f", "mp4", str(tmp)]
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
                 crf: int = 23, render_fps: float = 0.0) -> dict:
    """Render and write one episode's clips (and optionally the whole episode); returns its spans."""
    out = Path(out)
    ep = build_episode(plan)
    S, D = plan.cfg.clip_seconds, plan.duration
    kw = dict(stamp=stamp, text_truth=text_truth, preset=preset, crf=crf, render_fps=render_fps)
    encode_range(ep, 0.0, S, out / f"{plan.id}_start.mp4", **kw)
    encode_range(ep, float(D - S), S, out / f"{plan.id}_end.mp4", **kw)
    if full_episode:
        encode_range(ep, 0.0, D, out / f"{plan.id}.mp4", **kw)
        plan.spans["full_episode"] = f"{plan.id}.mp4"
    return plan.spans


def _job(args: tuple) -> tuple[str, dict]:
    plan, out, kw = args
    return plan.id, make_episode(plan, out, **kw)


def generate_dataset(out: str | os.PathLike, series: int, episodes: int, clip_seconds: int = 200,
                     seed: int = 0, lone_episodes: int = 0, full_episodes: bool = False,
                     stamp_frames: bool = False, text_truth: bool = False, workers: int = 1,
                     preset: str = "ultrafast", crf: int = 23, progress: bool = True,
                     render_fps: float = 0.0, **cfg_kw) -> dict:
    """Generate ``series`` series of ``episodes`` episodes (plus ``lone_episodes`` one-episode
    series) into ``out``; writes the clips, labels.txt and spans.json and returns the spans dict.
    ``cfg_kw`` are SynthConfig fields (resolutions, fps_choices, probabilities, sample_rate...)."""
    cfg = SynthConfig(clip_seconds=int(clip_seconds), seed=int(seed), **cfg_kw)
    plan = plan_dataset(cfg, series, episodes, lone_episodes)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kw = dict(full_episode=full_episodes, stamp=stamp_frames, text_truth=text_truth, preset=preset, crf=crf,
              render_fps=render_fps)
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
    spans = {"version": 1, "clip_seconds": cfg.clip_seconds, "sample_rate": cfg.sample_rate, "seed": cfg.seed,
             "episodes": {ep.id: results[ep.id] for ep in plan.episodes}}
    write_labels(out / "labels.txt", [(f"{i}_{k}", v["clips"][k]["label"])
                                      for i, v in spans["episodes"].items() for k in ("start", "end")])
    atomic_write_json(out / "spans.json", spans, indent=1)
    return spans


# ----------------------------------------------------------------------------------------------
# CLI


def _resolutions(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for item in text.split(","):
        try:
            w, h = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad resolution {item!r}; expected WxH, e.g. 320x180") from None
        if w < 16 or h < 16 or w % 2 or h % 2:
            raise argparse.ArgumentTypeError(f"resolution {item!r}: width and height must be even and >= 16")
        out.append((w, h))
    return tuple(out)


def _fps_list(text: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in text.split(","))
    bad = [v for v in items if v not in FPS_CHOICES]
    if bad:
        raise argparse.ArgumentTypeError(f"fps {bad} not in {sorted(FPS_CHOICES)}")
    return items


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m datatools.synth", description="Generate synthetic anime episodes in the competition "
                                "clip format, with exact OP/ED truth.", add_help=add_help,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("dataset")
    g.add_argument("--out", required=True, help="output folder (clips, labels.txt, spans.json)")
    g.add_argument("--series", type=int, default=3, help="number of series")
    g.add_argument("--episodes", type=int, default=4, help="episodes per series")
    g.add_argument("--lone_episodes", type=int, default=0,
                   help="extra series that have a single episode each")
    g.add_argument("--clip_seconds", type=int, default=200,
                   help="S: length of each _start/_end clip; layouts scale by S/200 when S < 200")
    g.add_argument("--seed", type=int, default=0, help="random seed (same seed, same dataset)")
    g.add_argument("--full_episodes", action="store_true", help="also write <id>.mp4, the whole episode")
    g.add_argument("--min_minutes", type=float, default=6.0, help="shortest episode, minutes")
    g.add_argument("--max_minutes", type=float, default=24.0, help="longest episode, minutes")
    g = p.add_argument_group("format")
    g.add_argument("--resolutions", type=_resolutions, default=_resolutions(DEFAULT_RESOLUTIONS),
                   help="comma-separated WxH choices, one drawn per series (16:9 and 4:3 by default)")
    g.add_argument("--width", type=int, default=None, help="force this width (with --height)")
    g.add_argument("--height", type=int, default=None, help="force this height (with --width)")
    g.add_argument("--fps", type=_fps_list, default=tuple(FPS_CHOICES), help="comma-separated fps choices "
                   "from 24,25,29.97,30, one drawn per series")
    g.add_argument("--sample_rate", type=int, default=22050, help="audio sample rate, Hz")
    g.add_argument("--preset", default="ultrafast", help="libx264 preset (ultrafast keeps a 200 s clip "
                   "well under 10 CPU seconds)")
    g.add_argument("--crf", type=int, default=23, help="libx264 quality (lower is better, bigger)")
    g.add_argument("--render_fps", type=float, default=0.0,
                   help="draw a new picture only this many times a second and repeat it between "
                        "(the file keeps its frame rate; faster, choppier; 0 = every frame)")
    g = p.add_argument_group("confusers (probabilities per episode)")
    g.add_argument("--no_cold_open_prob", type=float, default=0.25, help="episode starts with the OP")
    g.add_argument("--no_preview_prob", type=float, default=0.3, help="ED runs to the very end")
    g.add_argument("--gap_prob", type=float, default=0.4, help="black+silent gap at each OP/ED boundary")
    g.add_argument("--insert_song_prob", type=float, default=0.35, help="an insert song in the body")
    g.add_argument("--replaced_op_prob", type=float, default=0.1,
                   help="episode uses the series' second OP song (cour change)")
    g.add_argument("--subtitle_prob", type=float, default=0.35, help="subtitle in a body scene")
    g = p.add_argument_group("test hooks and run")
    g.add_argument("--stamp_frames", action="store_true",
                   help="replace every picture by a 4x4 binary code of its frame index (decode_stamp)")
    g.add_argument("--text_truth", action="store_true",
                   help="write <stem>_text.json: true text boxes of the frame shown at each second")
    g.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    g.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if (args.width is None) != (args.height is None):
        print("error: --width and --height go together", file=sys.stderr)
        return 2
    res = ((args.width, args.height),) if args.width else args.resolutions
    for name in ("series", "episodes", "lone_episodes"):
        if getattr(args, name) < 0:
            print(f"error: --{name} must be >= 0", file=sys.stderr)
            return 2
    if args.clip_seconds < 10 or args.min_minutes > args.max_minutes:
        print("error: need --clip_seconds >= 10 and --min_minutes <= --max_minutes", file=sys.stderr)
        return 2
    try:
        spans = generate_dataset(
            args.out, args.series, args.episodes, args.clip_seconds, args.seed, args.lone_episodes,
            args.full_episodes, args.stamp_frames, args.text_truth, args.workers, args.preset, args.crf,
            progress=not args.no_progress, render_fps=args.render_fps, resolutions=res, fps_choices=args.fps,
            sample_rate=args.sample_rate, min_minutes=args.min_minutes, max_minutes=args.max_minutes,
            no_cold_open_prob=args.no_cold_open_prob, no_preview_prob=args.no_preview_prob,
            gap_prob=args.gap_prob, insert_song_prob=args.insert_song_prob,
            replaced_op_prob=args.replaced_op_prob, subtitle_prob=args.subtitle_prob)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {2 * len(spans['episodes'])} clips to {args.out} (labels.txt, spans.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
