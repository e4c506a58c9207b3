"""Episode layouts: the series and episode plans (cheap: nothing is rendered here).

``plan_dataset`` (datatools/synth/difficulty.py) draws every series and every episode's timeline for
the configured difficulty:
``easy`` (this module: the first generator, clean truth) or ``realistic``
(datatools/synth/realistic.py).  A plan's ``segments`` are what is on screen, contiguous from 0 to
the episode's duration; ``spans`` is the truth written to spans.json.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from datatools.synth.audio import tag
from datatools.synth.text import word

FPS_CHOICES = {"24": (24.0, "24"), "25": (25.0, "25"), "29.97": (30000 / 1001, "30000/1001"),
               "30": (30.0, "30")}
DEFAULT_RESOLUTIONS = "320x180,320x240"

# Probability knobs of the realistic difficulty: (default, help).  Each is a SynthConfig field and a
# command-line flag of the same name; the phenomenon table of docs/generator.md lists the same.
REALISTIC_KNOBS: dict[str, tuple[float, str]] = {
    "cold_open_zero_prob": (0.12, "episode opens with the OP (no cold open)"),
    "recap_prob": (0.2, "a 'previously on' recap opens a long enough cold open"),
    "op_lead_prob": (0.25, "OP song starts 1.5-8 s before the OP pictures, under the cold open's last lines"),
    "op_narration_prob": (0.15, "narration over the OP's first seconds"),
    "op_fade_prob": (0.25, "OP ends with a 0.5-2 s fade to black (else a hard cut, unless it rings)"),
    "op_ring_prob": (0.25, "OP song rings on 1.5-6 s under the first body seconds after the pictures cut"),
    "gap_after_op_prob": (0.3, "black gap of 0.3-2 s after the OP"),
    "title_card_prob": (0.35, "episode title card after the OP"),
    "sponsor_prob": (0.2, "sponsor card after the OP"),
    "ed_lead_prob": (0.3, "ED song leads in 2-15 s before the first ED frame, under the last scene"),
    "ed_fade_in_prob": (0.2, "black gap, then the ED fades in from black"),
    "ed_dialogue_over_prob": (0.2, "the last line of dialogue runs over the first ED frames"),
    "gap_before_ed_prob": (0.25, "black gap of 0.3-2 s before the ED (always with a fade-in)"),
    "no_tail_prob": (0.15, "nothing after the ED: it runs to the end of the episode"),
    "long_tail_prob": (0.35, "long tail after the ED: C-part, black, preview, end card (else a short tail)"),
    "preview_op_prob": (0.3, "the preview plays an arranged version of the OP"),
    "action_scene_prob": (0.18, "body scene cut like an OP: 0.3-4 s shots, zooms, white flashes"),
    "dialogue_scene_prob": (0.25, "body scene of dialogue close-ups"),
    "montage_scene_prob": (0.1, "body scene cut as a montage of 1-3 s shots"),
    "still_scene_prob": (0.12, "body scene of long stills (else calm pans)"),
    "loud_bgm_prob": (0.3, "body scene with loud background music at OP level and sparse shouted lines"),
    "reprise_prob": (0.25, "the body reprises the series' OP or ED song"),
    "reprise_same_audio_prob": (
        0.5,
        "a reprise is the same audio (else arranged: tempo 5-14 %% off, low-passed, under dialogue)",
    ),
    "body_insert_song_prob": (0.2, "an insert song in the body"),
    "body_text_prob": (0.3, "body scene carries text: caption, sign, letter, scrolling narration or a crawl"),
    "burned_subs_prob": (0.25, "series burns in a subtitle on every line of dialogue"),
    "lyrics_prob": (0.3, "series shows lyrics during its OP/ED"),
    "cour_change_prob": (
        0.3,
        "series changes its OP and/or ED (new song, storyboard, style) from a later episode on",
    ),
    "premiere_no_op_prob": (0.15, "series premiere has no OP (its OP song plays as the ED)"),
    "late_op_prob": (
        0.0,
        "late opening: a cold open of 150-480 s (up to 8 min), so the OP ends after the "
        "_start clip, which then has no label (whole-episode tests; 0 keeps clip datasets as published)",
    ),
    "eyecatch_prob": (
        0.0,
        "series shows a mid-body eyecatch: the same 3-8 s card and sting in every episode, between black "
        "beats (0 keeps earlier datasets as they were)",
    ),
    "black_break_prob": (
        0.0,
        "a black, silent break of 0.5-2 s inside the body, as before a commercial (0 keeps earlier "
        "datasets as they were)",
    ),
}
DIFFICULTIES = ("easy", "realistic")


@dataclass(frozen=True)
class SynthConfig:
    clip_seconds: int = 200
    seed: int = 0
    sample_rate: int = 22050
    resolutions: tuple[tuple[int, int], ...] = ((320, 180), (320, 240))
    fps_choices: tuple[str, ...] = ("24", "25", "29.97", "30")
    min_minutes: float = 6.0
    max_minutes: float = 24.0
    difficulty: str = "realistic"
    # easy difficulty (the first generator; clean truth for tests)
    no_cold_open_prob: float = 0.25
    no_preview_prob: float = 0.3
    gap_prob: float = 0.4
    insert_song_prob: float = 0.35
    replaced_op_prob: float = 0.1
    subtitle_prob: float = 0.35
    # realistic difficulty: see REALISTIC_KNOBS
    cold_open_zero_prob: float = 0.12
    recap_prob: float = 0.2
    op_lead_prob: float = 0.25
    op_narration_prob: float = 0.15
    op_fade_prob: float = 0.25
    op_ring_prob: float = 0.25
    gap_after_op_prob: float = 0.3
    title_card_prob: float = 0.35
    sponsor_prob: float = 0.2
    ed_lead_prob: float = 0.3
    ed_fade_in_prob: float = 0.2
    ed_dialogue_over_prob: float = 0.2
    gap_before_ed_prob: float = 0.25
    no_tail_prob: float = 0.15
    long_tail_prob: float = 0.35
    preview_op_prob: float = 0.3
    action_scene_prob: float = 0.18
    dialogue_scene_prob: float = 0.25
    montage_scene_prob: float = 0.1
    still_scene_prob: float = 0.12
    loud_bgm_prob: float = 0.3
    reprise_prob: float = 0.25
    reprise_same_audio_prob: float = 0.5
    body_insert_song_prob: float = 0.2
    body_text_prob: float = 0.3
    burned_subs_prob: float = 0.25
    lyrics_prob: float = 0.3
    cour_change_prob: float = 0.3
    premiere_no_op_prob: float = 0.15
    late_op_prob: float = 0.0
    eyecatch_prob: float = 0.0
    black_break_prob: float = 0.0
    # real material (datatools/synth/material.py): a material folder and the split of it to draw from
    material: str | None = None
    material_split: str = "train"

    def __post_init__(self):
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty {self.difficulty!r}: expected one of {', '.join(DIFFICULTIES)}")
        if self.material and self.difficulty != "realistic":
            raise ValueError("--material works with the realistic difficulty only")

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
    style: dict = field(default_factory=dict)   # realistic: themes, looks, cour change


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
    layout: dict = field(default_factory=dict)    # realistic: sounds, effects, scene styles


@dataclass
class DatasetPlan:
    cfg: SynthConfig
    series: list[SeriesPlan]
    episodes: list[EpisodePlan]


def r3(x: float) -> float:
    return round(float(x), 3)


def plan_series_easy(cfg: SynthConfig, index: int, episodes: int = 1) -> SeriesPlan:
    rng = np.random.default_rng(tag(cfg.seed, "series", index))
    r = cfg.scale
    w, h = cfg.resolutions[int(rng.integers(len(cfg.resolutions)))]
    fps, fps_str = FPS_CHOICES[cfg.fps_choices[int(rng.integers(len(cfg.fps_choices)))]]
    return SeriesPlan(index, int(rng.integers(2 ** 31)), fps, fps_str, w, h,
                      r3(rng.uniform(55, 95) * r), r3(rng.uniform(55, 95) * r), r3(rng.uniform(55, 95) * r),
                      r3(30 * r), r3(rng.uniform(30, 80) * r), f"{word(rng)} {word(rng)}".title())


def plan_episode_easy(cfg: SynthConfig, sp: SeriesPlan, episode: int, ep_id: str,
                      lone: bool = False) -> EpisodePlan:
    """Draw one episode's layout; redrawn until both labels lie inside [0, S]."""
    S, r = cfg.clip_seconds, cfg.scale
    for attempt in range(100):
        rng = np.random.default_rng(tag(cfg.seed, "episode", sp.index, episode, attempt))
        D = int(rng.uniform(cfg.min_minutes, cfg.max_minutes) * 60)
        D = max(D, 2 * S + int(math.ceil(30 * r)))
        confusers: list[str] = []

        def gap(name: str, rng=rng, confusers=confusers) -> float:   # called in this iteration only
            if rng.random() < cfg.gap_prob:
                confusers.append(name)
                return r3(rng.uniform(0.3, 1.5) * max(r, 0.34))
            return 0.0

        cold = 0.0 if rng.random() < cfg.no_cold_open_prob else r3(rng.uniform(5, 70) * r)
        if cold == 0.0:
            confusers.append("no_cold_open")
        g1 = gap("gap_before_op") if cold > 0 else 0.0
        replaced = bool(rng.random() < cfg.replaced_op_prob)
        op_len = sp.op2_len if replaced else sp.op_len
        if replaced:
            confusers.append("replaced_op")
        op_start = r3(cold + g1)
        op_end = r3(op_start + op_len)
        g2 = gap("gap_after_op")
        has_preview = rng.random() >= cfg.no_preview_prob
        preview_len = r3(rng.uniform(10, 30) * r) if has_preview else 0.0
        if not has_preview:
            confusers.append("no_preview")
        g4 = gap("gap_after_ed") if has_preview else 0.0
        ed_end = r3(D - preview_len - g4)
        ed_start = r3(ed_end - sp.ed_len)
        g3 = gap("gap_before_ed")
        body0, body1 = r3(op_end + g2), r3(ed_start - g3)
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
            a = r3(rng.uniform(lo, hi))
            inserts.append([a, r3(a + sp.insert_len)])
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
            segs.append(("preview", r3(D - preview_len), float(D)))
        ep = EpisodePlan(ep_id, sp, episode, int(rng.integers(2 ** 31)), cfg, D, segs)
        ep.spans = dict(
            series=sp.index, episode=episode, duration=D, fps=round(sp.fps, 5), fps_str=sp.fps_str,
            width=sp.width, height=sp.height, cold_open=cold, op_start=op_start, op_end=op_end,
            op_song="op2" if replaced else "op", ed_start=ed_start, ed_end=ed_end,
            preview=[r3(D - preview_len), float(D)] if has_preview else None, insert_songs=inserts,
            gaps=[[a, b] for k, a, b in segs if k == "gap"], confusers=confusers, replaced_op=replaced,
            clips={"start": {"file": f"{ep_id}_start.mp4", "offset": 0, "label": op_end},
                   "end": {"file": f"{ep_id}_end.mp4", "offset": D - S, "label": r3(ed_start - (D - S))}},
            full_episode=None)
        assert 0 <= ep.spans["clips"]["start"]["label"] <= S and 0 <= ep.spans["clips"]["end"]["label"] <= S
        return ep
    raise ValueError(f"clip_seconds={S}: no layout with both labels inside the clip; use S >= 10")
