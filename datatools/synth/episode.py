"""A rendered-on-demand episode: ``Episode.frame(t)`` and ``Episode.audio(start, n)`` over the
episode's own time axis, built from a plan (datatools/synth/plan.py).

``build_episode`` (datatools/synth/difficulty.py) dispatches on the plan's difficulty; this module builds
the ``easy`` episodes,
datatools/synth/realistic.py the ``realistic`` ones.  Both give an ``Episode``: realistic ones add a
list of sound events (``sounds``, mixed in ``audio``) and picture effects (fades, white flashes).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from datatools.synth.audio import (
    bgm_notes,
    compose_song,
    plan_speech,
    render_noise,
    render_notes,
    render_speech,
    tag,
)
from datatools.synth.pictures import Overlay, Scene, text_sprite
from datatools.synth.plan import EpisodePlan, SeriesPlan, r3
from datatools.synth.text import ROLES, person, sentence

# Kinds of on-screen segment, in the order of their code in --stamp_segments frames.
SEGMENT_KINDS = ("body", "op", "ed", "gap", "cold_open", "recap", "title_card", "sponsor", "insert",
                 "c_part", "preview", "end_card", "eyecatch")


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
        lines = [str(rng.choice(ROLES)), person(rng)]
        pos = (float(rng.uniform(0.05, 0.95)), float(rng.uniform(0.1, 0.9)))
        ov.append(
            (t, t + d, lambda lines=lines: text_sprite(lines, max(9, H // 14), (255, 255, 255)), pos, pos)
        )
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
        lines += [str(rng.choice(ROLES)), person(rng), ""]
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
    sounds: list | None = None            # realistic: sound events mixed by audio()
    effects: list = field(default_factory=list)   # realistic: (start, end, "fade_in"|"fade_out"|"flash")

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
        for a, b, kind in self.effects:
            if a <= t < b:
                apply_effect(out, kind, (t - a) / max(1e-6, b - a))
        return out, boxes

    def segment_code(self, t: float) -> int:
        """The code of the on-screen segment at ``t`` (index in SEGMENT_KINDS), for stamps."""
        return SEGMENT_KINDS.index(self.segment(t)[0])

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
        if self.sounds is not None:
            for snd in self.sounds:
                snd.render(self, start, n, out)
            return out
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


def apply_effect(frame: np.ndarray, kind: str, u: float) -> None:
    """Fade (``u`` = progress 0..1 through the effect) or white flash, in place."""
    if kind == "flash":
        frame[:] = (frame.astype(np.uint16) // 5 + 204).astype(np.uint8)
        return
    # A fade-in starts a little above black so its first frame is not a black-gap frame.
    g = (1.0 - u) if kind == "fade_out" else 0.08 + 0.92 * u
    frame[:] = (frame * np.float32(g)).astype(np.uint8)


def build_episode_easy(plan: EpisodePlan) -> Episode:
    """Scenes, overlays and sounds of an ``easy`` episode (pictures and samples are made lazily)."""
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
                lines = ["Next Episode", f"Episode {plan.episode + 2}: {sentence(rng)}"]
                overlays.append(Overlay(a, a + card, lambda lines=lines: text_sprite(
                    lines, max(10, H // 10), (255, 255, 255), bold=True), (0.5, 0.45), (0.5, 0.45)))
                t = a + card
            lo, hi = {"insert": (2.0, 5.0), "preview": (1.5, 4.0)}.get(kind, (3.0, 12.0))
            while t < b:
                d = float(rng.uniform(lo, hi))
                scenes.append(Scene(t, min(b, t + d), int(rng.integers(2 ** 31)), "body"))
                if (
                    kind in ("cold_open", "body")
                    and rng.random() < plan.cfg.subtitle_prob
                    and min(b, t + d) - t > 1.6
                ):
                    s0 = t + float(rng.uniform(0, 0.3 * d))
                    s1 = min(b, s0 + float(rng.uniform(1.5, 4.0)))
                    text = sentence(rng)
                    overlays.append(Overlay(s0, s1, lambda text=text: text_sprite(
                        [text], max(9, H // 15), (255, 255, 255)), (0.5, 0.94), (0.5, 0.94), "subtitle"))
                t += d
    scenes.sort(key=lambda s: s.start)
    overlays.sort(key=lambda o: o.start)
    plan.spans["subtitles"] = [[r3(o.start), r3(o.end)] for o in overlays if o.kind == "subtitle"]
    return Episode(plan, [s[1] for s in plan.segments], scenes, [s.start for s in scenes], overlays, speech)
