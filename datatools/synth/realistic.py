"""The ``realistic`` difficulty: episodes built the way real anime is, so that a benchmark on them
can tell a good model from a bad one.

What changes against ``easy`` (each phenomenon has a knob in plan.REALISTIC_KNOBS and is recorded
in spans.json, per episode and, as ``clips.<kind>.flags``, per clip):

- Shared editing styles.  Body scenes (8-50 s) each draw a style: calm pans, dialogue close-ups,
  action (0.3-4 s cuts, zooms, white flashes), montage, long stills.  OPs are fast, mixed or slow
  (3-9 s shots, no flashes); their credits are blocks, small corner text or none.  EDs are slow
  pans, animated (fast cuts and flashes, no scrolling) or 1-3 long stills; their credits a
  scrolling column, static cards or small corner text.  The body carries text too (captions,
  signs, letters, scrolling narration, crawls); some series burn in a subtitle on every line, and
  some show lyrics during the OP/ED.
- Music everywhere.  Loud background scores at OP level with sparse shouted lines; reprises of the
  series' OP/ED song in the body (the same samples, or arranged: tempo 5-14 % off, low-passed,
  under dialogue); insert songs; OP songs that start 1.5-8 s before the OP pictures, under the
  cold open's last lines; narration over the OP; previews that play an arranged OP.
- Boundary variety.  OP end: hard cut (the music stops within 0.3 s), fade to black over 0.5-2 s,
  or the song rings on 1.5-6 s under the first body seconds.  ED start: cut, a song lead-in of
  2-15 s under the last scene, or a fade-in from black after a black gap; the last line of
  dialogue may run over the first ED frames.  Black gaps, episode title cards and sponsor cards
  after the OP.
- Wide positions.  Cold open 0 s (12 %) or 3-150 s, sometimes opened by a recap; after the ED
  nothing (15 %), a short 8-50 s tail, or a long tail (C-part, black, preview, end card).
- Seasons.  A cour change gives a series a new OP and/or ED (song, storyboard, look) from a later
  episode on; a premiere may have no OP (its OP song plays as the ED).

Theme songs are functions of the series (and cour) alone, so they are sample-identical in every
episode that plays them, as on a real disc; OP/ED pictures are laid out in *song time*, so the same
shot is at the same point of the song in every episode, whatever its lead-in.

Label convention: ``op_end`` = the end of the OP *pictures* (after any fade-out; a ringing song does
not count), ``ed_start`` = the first ED frame (after any black gap; a song lead-in does not count).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from datatools.synth.audio import (
    arrange_song,
    bgm_notes,
    compose_song,
    phrases,
    plan_speech,
    render_noise,
    render_notes,
    render_speech,
    tag,
)
from datatools.synth.episode import Episode
from datatools.synth.lettering import Writer, choose_lettering
from datatools.synth.material_media import ref_of, render_lines, song_excerpt, track_choice
from datatools.synth.pictures import Overlay, Scene
from datatools.synth.plan import FPS_CHOICES, EpisodePlan, SeriesPlan, SynthConfig, r3
from datatools.synth.text import Lexicon, word

OP_LOOKS = ("fast", "mixed", "slow")
OP_CREDITS = ("blocks", "corner", "none")
ED_LOOKS = ("pan", "animated", "stills")
ED_CREDITS = ("scroll", "cards", "corner")
BODY_STYLES = ("calm", "dialogue", "action", "montage", "still")
TEXT_KINDS = ("caption", "sign", "letter", "narration", "crawl")
THEME_FADE_S = 0.15     # theme songs end abruptly (a hard cut stops the music within 0.3 s)
NOISE_AMP = 0.004
# Room tone: a faint broadcast floor everywhere but in black gaps, and an ambience level of its own
# in every story scene (silent in some), so that noise switching on or off marks scene changes in
# general, not the OP/ED boundary in particular (the theme songs themselves are studio masters).
FLOOR_GAIN = 0.15                      # x NOISE_AMP
AMBIENCE_SILENT_P, AMBIENCE_GAIN = 0.35, (0.25, 3.0)
BGM_GAIN = (0.12, 0.3)                 # with material: a real score excerpt (RMS 0.08) under dialogue


# ----------------------------------------------------------------------------------------------
# Plans


def _theme(rng: np.random.Generator, kind: str, r: float, name: str) -> dict:
    looks, credits = (OP_LOOKS, OP_CREDITS) if kind == "op" else (ED_LOOKS, ED_CREDITS)
    return dict(name=name, kind=kind, seed=int(rng.integers(2 ** 31)), song_len=r3(rng.uniform(58, 97) * r),
                look=str(rng.choice(looks)), credits=str(rng.choice(credits)),
                logo=bool(rng.random() < 0.7))


def plan_series_realistic(cfg: SynthConfig, index: int, episodes: int = 1) -> SeriesPlan:
    rng = np.random.default_rng(tag(cfg.seed, "series-realistic", index))
    r = cfg.scale
    w, h = cfg.resolutions[int(rng.integers(len(cfg.resolutions)))]
    fps, fps_str = FPS_CHOICES[cfg.fps_choices[int(rng.integers(len(cfg.fps_choices)))]]
    ops = [_theme(rng, "op", r, "op1"), _theme(rng, "op", r, "op2")]
    eds = [_theme(rng, "ed", r, "ed1"), _theme(rng, "ed", r, "ed2")]
    cour = None
    if episodes >= 2 and rng.random() < cfg.cour_change_prob:
        cour = dict(from_episode=int(rng.integers(1, episodes)), which=str(rng.choice(["op", "ed", "both"])))
    style = dict(op=ops, ed=eds, cour_change=cour,
                 premiere_no_op=bool(rng.random() < cfg.premiere_no_op_prob),
                 burned_subs=bool(rng.random() < cfg.burned_subs_prob),
                 lyrics=bool(rng.random() < cfg.lyrics_prob), lyrics_top=bool(rng.random() < 0.3),
                 bgm_seed=int(rng.integers(2 ** 31)))
    title = f"{word(rng)} {word(rng)}".title()
    erng = np.random.default_rng(tag(cfg.seed, "eyecatch", index))
    if cfg.eyecatch_prob > 0 and erng.random() < cfg.eyecatch_prob:
        # the same card and sting in every episode of the series
        style["eyecatch"] = dict(seed=int(erng.integers(2 ** 31)), length=r3(erng.uniform(3.0, 8.0)),
                                 beat=r3(erng.uniform(0.3, 1.0)))
    if cfg.material:   # real material: Japanese, Chinese or Latin lettering in a font of the split
        style["lettering"] = choose_lettering(cfg.seed, index, cfg.material_split)
        if style["lettering"]["script"] != "latin":
            title = Lexicon(style["lettering"]["script"]).title(
                np.random.default_rng(tag(cfg.seed, "lettering-title", index)))
    return SeriesPlan(index, int(rng.integers(2 ** 31)), fps, fps_str, w, h, ops[0]["song_len"],
                      ops[1]["song_len"], eds[0]["song_len"], r3(40 * r), r3(rng.uniform(30, 80) * r), title,
                      style)


def _themes_of(sp: SeriesPlan, episode: int) -> tuple[dict | None, dict, bool, list[str]]:
    """(OP theme or None, ED theme, premiere without OP, cour-changed parts) of an episode."""
    st = sp.style
    cour, changed = st["cour_change"], []
    if cour and episode >= cour["from_episode"]:
        changed = ["op", "ed"] if cour["which"] == "both" else [cour["which"]]
    op = st["op"][1 if "op" in changed else 0]
    ed = st["ed"][1 if "ed" in changed else 0]
    if st["premiere_no_op"] and episode == 0:
        # The premiere has no OP sequence; its OP song plays under the ED pictures.
        return None, dict(ed, song_seed=op["seed"], song_len=op["song_len"], song_style="op"), True, changed
    return op, ed, False, changed


def _body_breaks(cfg: SynthConfig, sp: SeriesPlan, episode: int, attempt: int, a: float,
                 b: float) -> tuple[list[tuple[str, float, float]], list[float] | None]:
    """The body [a, b) as segments: the series' eyecatch near its middle (black beat, card and sting,
    black beat) and a black break (a "gap") at a random place, each where drawn (``eyecatch_prob`` per
    series, ``black_break_prob`` per episode, from streams of their own; otherwise the one body
    segment), and the black break's span (None without one)."""
    rng = np.random.default_rng(tag(cfg.seed, "body-breaks", sp.index, episode, attempt))
    cuts: list[tuple[str, float, float]] = []
    ec = sp.style.get("eyecatch")
    if ec and b - a > 2 * (ec["length"] + 2 * ec["beat"]) + 30 * cfg.scale:
        t = r3(a + (b - a) * float(rng.uniform(0.4, 0.6)))
        t1, t2 = r3(t + ec["beat"]), r3(t + ec["beat"] + ec["length"])
        cuts += [("gap", t, t1), ("eyecatch", t1, t2), ("gap", t2, r3(t2 + ec["beat"]))]
    if cfg.black_break_prob > 0 and rng.random() < cfg.black_break_prob:
        d = r3(rng.uniform(0.5, 2.0))
        t = r3(a + (b - a) * float(rng.uniform(0.15, 0.85)))
        if not all(t + d + 5 < c0 or t > c1 + 5 for _, c0, c1 in cuts):   # clear of the eyecatch
            t = r3(a + 0.2 * (b - a)) if t > (a + b) / 2 else r3(b - 0.2 * (b - a) - d)
        brk = [t, r3(t + d)]
        cuts.append(("gap", t, brk[1]))
    else:
        brk = None
    out, t = [], a
    for kind, c0, c1 in sorted(cuts, key=lambda c: c[1]):
        out.append(("body", t, c0))
        out.append((kind, c0, c1))
        t = c1
    out.append(("body", t, b))
    return out, brk


def _song_key(theme: dict) -> tuple:
    """(seed, seconds, style, fade-out seconds, tempo, low-pass cutoff) of a theme's song."""
    return (theme.get("song_seed", theme["seed"]), theme["song_len"], theme.get("song_style", theme["kind"]),
            THEME_FADE_S, 1.0, 0.0)


def _story_scenes(rng: np.random.Generator, cfg: SynthConfig, a: float, b: float, part: str) -> list[dict]:
    """Split [a, b) into story scenes of 8-50 s (scaled), each with a style, music and text."""
    r = cfg.scale
    probs = np.array([cfg.dialogue_scene_prob, cfg.action_scene_prob, cfg.montage_scene_prob,
                      cfg.still_scene_prob])
    probs = probs / max(1.0, float(probs.sum()))
    out, t = [], a
    while t < b - 1e-6:
        d = float(rng.uniform(8, 50) * r)
        end = b if b - (t + d) < 4 * r else t + d
        u, style = float(rng.random()), "calm"
        for name, c in zip(("dialogue", "action", "montage", "still"), np.cumsum(probs)):
            if u < c:
                style = name
                break
        loud = bool(rng.random() < cfg.loud_bgm_prob)
        text = str(rng.choice(TEXT_KINDS)) if rng.random() < cfg.body_text_prob else None
        out.append(dict(part=part, start=r3(t), end=r3(end), style=style, loud=loud, text=text,
                        music=None, seed=int(rng.integers(2 ** 31))))
        t = end
    return out


def plan_episode_realistic(cfg: SynthConfig, sp: SeriesPlan, episode: int, ep_id: str,
                           lone: bool = False) -> EpisodePlan:
    """Draw one realistic episode's layout; redrawn until both labels lie inside the clips."""
    S, r = cfg.clip_seconds, cfg.scale
    fr = max(r, 0.34)            # short effects (fades, gaps, leads) shrink less
    op_theme, ed_theme, no_op, changed = _themes_of(sp, episode)
    for attempt in range(200):
        rng = np.random.default_rng(tag(cfg.seed, "episode-realistic", sp.index, episode, attempt))
        D = int(rng.uniform(cfg.min_minutes, cfg.max_minutes) * 60)
        D = max(D, 2 * S + int(math.ceil(60 * r)))
        segs: list[tuple[str, float, float]] = []
        sounds: list[dict] = []
        effects: list[tuple[float, float, str]] = []
        info: dict = {}
        # ---- the opening: [recap] cold open, OP, [gap] [title card] [sponsor]
        cold = 0.0 if rng.random() < cfg.cold_open_zero_prob else r3(rng.uniform(3, 150) * r)
        # A late opening draws from a stream of its own, so that late_op_prob = 0 leaves every
        # other draw (and so every published-size dataset) exactly as it was.
        late = op_theme is not None and cfg.late_op_prob > 0 and np.random.default_rng(
            tag(cfg.seed, "late-op", sp.index, episode, attempt)).random() < cfg.late_op_prob
        if late:
            cold = r3(np.random.default_rng(tag(cfg.seed, "late-op-len", sp.index, episode, attempt)
                                            ).uniform(150, 480) * r)
        recap = r3(rng.uniform(8, min(40.0, 0.6 * cold / r)) * r) \
            if cold >= 25 * r and rng.random() < cfg.recap_prob else 0.0
        lead_draw, lead_len = rng.random(), r3(rng.uniform(1.5, 8) * fr)
        u_end = rng.random()
        ring_len, fade_len, cut_jit = (
            r3(rng.uniform(1.5, 6) * fr),
            r3(rng.uniform(0.5, 2) * fr),
            r3(rng.uniform(0, 0.3)),
        )
        narration = rng.random() < cfg.op_narration_prob
        narr_len = r3(rng.uniform(5, 12) * r)
        after = [(k, r3(rng.uniform(lo, hi) * fr)) for k, p, lo, hi in (
            ("gap", cfg.gap_after_op_prob, 0.3, 2.0), ("title_card", cfg.title_card_prob, 2.0, 5.0),
            ("sponsor", cfg.sponsor_prob, 3.0, 6.0)) if rng.random() < p]
        if recap:
            segs.append(("recap", 0.0, recap))
        if cold > recap:
            segs.append(("cold_open", recap, cold))
        if op_theme is None:
            op_start = op_end = None
            t = cold
            info.update(op_end_kind=None, op_lead=0.0, op_ring=0.0, op_fade=0.0, op_song_span=None)
        else:
            L = op_theme["song_len"]
            lead = lead_len if (lead_draw < cfg.op_lead_prob and cold >= lead_len + 2 * r) else 0.0
            if u_end < cfg.op_ring_prob:
                kind, ring, fade = "ring", ring_len, 0.0
            elif u_end < cfg.op_ring_prob + cfg.op_fade_prob:
                kind, ring, fade = "fade", 0.0, fade_len
            else:
                kind, ring, fade = "cut", cut_jit, 0.0
            song0 = r3(cold - lead)
            op_start, op_end = cold, r3(song0 + L - ring)
            segs.append(("op", op_start, op_end))
            sounds.append(
                dict(
                    kind="song",
                    start=song0,
                    end=r3(song0 + L),
                    key=_song_key(op_theme),
                    offset=0.0,
                    gain=1.0,
                    fade_in=0.0,
                    fade_out=(ring if kind == "ring" else fade),
                    role="op",
                )
            )
            if fade:
                effects.append((r3(op_end - fade), op_end, "fade_out"))
                sounds[-1]["end"] = op_end
            if narration:
                sounds.append(
                    dict(
                        kind="speech",
                        start=op_start,
                        end=r3(op_start + narr_len),
                        seed=sp.seed + 17,
                        speakers=1,
                        role="narration",
                    )
                )
            info.update(op_end_kind=kind, op_lead=lead, op_ring=ring if kind == "ring" else 0.0,
                        op_fade=fade, op_song_span=[song0, r3(song0 + L if kind != "fade" else op_end)],
                        op_narration=bool(narration))
            t = op_end
        for k, d in after:
            segs.append((k, r3(t), r3(t + d)))
            t = r3(t + d)
        body0 = t
        # ---- the ending: [lead-in under the last scene] [gap] ED [tail]
        u_tail = rng.random()
        tail_kind = "none" if u_tail < cfg.no_tail_prob else \
            "long" if u_tail < cfg.no_tail_prob + cfg.long_tail_prob else "short"
        tail: list[tuple[str, float]] = []
        if tail_kind == "long":
            tail = [("c_part", rng.uniform(15, 80) * r), ("gap", rng.uniform(0.5, 2) * fr),
                    ("preview", rng.uniform(15, 35) * r), ("end_card", rng.uniform(3, 6) * r)]
        elif tail_kind == "short":
            total = float(rng.uniform(8, 50) * r)
            k = str(rng.choice(["preview", "end_card", "c_part"])) if total >= 12 * r else "end_card"
            tail = [(k, total)]
        tail = [(k, r3(d)) for k, d in tail]
        L_ed = ed_theme["song_len"]
        u_ed = rng.random()
        ed_kind = "lead" if u_ed < cfg.ed_lead_prob else \
            "fade_in" if u_ed < cfg.ed_lead_prob + cfg.ed_fade_in_prob else "cut"
        lead_ed = r3(rng.uniform(2, 15) * r) if ed_kind == "lead" else 0.0
        fade_in = r3(rng.uniform(0.5, 1.5) * fr) if ed_kind == "fade_in" else 0.0
        gap_ed = (
            r3(rng.uniform(0.3, 2) * fr)
            if (ed_kind == "fade_in" or rng.random() < cfg.gap_before_ed_prob)
            else 0.0
        )
        dialogue_over = rng.random() < cfg.ed_dialogue_over_prob and ed_kind != "fade_in"
        over_len = r3(rng.uniform(1, 3) * fr)
        tail_total = r3(sum(d for _, d in tail))
        ed_end = r3(D - tail_total)
        ed_start = r3(ed_end - (L_ed - lead_ed))
        body1 = r3(ed_start - gap_ed)
        ed_label = r3(ed_start - (D - S))
        ok = (4 * r <= ed_label <= S - 2 * r and body1 - body0 > 60 * r
              and (op_end is None or 45 * r <= op_end <= S - 3 * r or (late and op_end > S)))
        if not ok:
            continue
        body_segs, black_break = _body_breaks(cfg, sp, episode, attempt, body0, body1)
        segs += body_segs
        if gap_ed:
            segs.append(("gap", body1, ed_start))
        segs.append(("ed", ed_start, ed_end))
        t = ed_end
        for k, d in tail:
            segs.append((k, t, r3(t + d)))
            t = r3(t + d)
        segs[-1] = (segs[-1][0], segs[-1][1], float(D))
        ed_song0 = r3(ed_start - lead_ed)
        sounds.append(
            dict(
                kind="song",
                start=ed_song0,
                end=ed_end,
                key=_song_key(ed_theme),
                offset=0.0,
                gain=1.0,
                fade_in=fade_in,
                fade_out=0.0,
                role="ed",
            )
        )
        if fade_in:
            effects.append((ed_start, r3(ed_start + fade_in), "fade_in"))
        if dialogue_over:
            sounds.append(dict(kind="speech", start=r3(ed_start - 1.0 * fr), end=r3(ed_start + over_len),
                               seed=sp.seed + 29 + episode, speakers=1, role="dialogue_over"))
        # ---- story scenes of the cold open, body and C-part; reprises, insert songs
        scenes: list[dict] = []
        for k, a, b in segs:
            if k in ("recap", "cold_open", "body", "c_part"):
                scenes += _story_scenes(rng, cfg, a, b, k)
        in_clip = [s for s in scenes if s["part"] == "body" and s["end"] - s["start"] >= 10 * r
                   and (s["start"] < S or s["end"] > D - S)]
        anywhere = [s for s in scenes if s["part"] == "body" and s["end"] - s["start"] >= 10 * r]
        reprises, inserts = [], []
        if rng.random() < cfg.reprise_prob and anywhere:
            pool = in_clip if (in_clip and rng.random() < 0.8) else anywhere
            s = pool[int(rng.integers(len(pool)))]
            theme = op_theme if (op_theme is not None and rng.random() < 0.6) else ed_theme
            same = bool(rng.random() < cfg.reprise_same_audio_prob)
            n = min(s["end"] - s["start"] - 1 * r, float(rng.uniform(10, 40) * r))
            off = float(rng.uniform(0, max(0.0, theme["song_len"] - n - 1)))
            a0 = r3(s["start"] + rng.uniform(0, 0.5) * (s["end"] - s["start"] - n))
            key = _song_key(theme)
            tempo = 1.0 + float(rng.choice([-1, 1])) * float(rng.uniform(0.05, 0.14))
            cutoff = float(rng.uniform(1200, 2500))
            if not same:
                key = key[:4] + (r3(tempo), r3(cutoff))
            s["music"] = "reprise_same" if same else "reprise_arranged"
            s["loud"] = False
            sounds.append(
                dict(
                    kind="song",
                    start=a0,
                    end=r3(a0 + n),
                    key=key,
                    offset=r3(off * (1 if same else 1 / tempo)),
                    gain=1.0 if same else 0.4,
                    fade_in=0.3,
                    fade_out=0.8,
                    role="reprise",
                )
            )
            reprises.append(dict(song=theme["name"], same_audio=same, span=[a0, r3(a0 + n)],
                                 tempo=1.0 if same else r3(tempo)))
        if rng.random() < cfg.body_insert_song_prob and anywhere:
            free = [s for s in (in_clip or anywhere) if s["music"] is None] or [
                s for s in anywhere if s["music"] is None
            ]
            if free:
                s = free[int(rng.integers(len(free)))]
                n = min(s["end"] - s["start"], sp.insert_len)
                s["music"], s["loud"] = "insert", False
                sounds.append(
                    dict(
                        kind="song",
                        start=s["start"],
                        end=r3(s["start"] + n),
                        key=(sp.seed, sp.insert_len, "insert", 1.2, 1.0, 0.0),
                        offset=0.0,
                        gain=0.8,
                        fade_in=0.2,
                        fade_out=0.5,
                        role="insert",
                    )
                )
                inserts.append([s["start"], r3(s["start"] + n)])
        preview_op = rng.random() < cfg.preview_op_prob and op_theme is not None
        layout = dict(scenes=scenes, sounds=sounds, effects=effects, preview_op=bool(preview_op),
                      op_theme=op_theme, ed_theme=ed_theme)
        ep = EpisodePlan(ep_id, sp, episode, int(rng.integers(2 ** 31)), cfg, D, segs, layout=layout)

        def span_of(kind, segs=segs):
            found = [[a, b] for k, a, b in segs if k == kind]
            return found[0] if found else None
        cc = sp.style["cour_change"]
        ep.spans = dict(
            difficulty="realistic", series=sp.index, episode=episode, duration=D, fps=round(sp.fps, 5),
            fps_str=sp.fps_str, width=sp.width, height=sp.height, cold_open=cold,
            late_op=bool(late), recap=span_of("recap"),       # a late OP always ends after the clip
            op_start=op_start, op_end=op_end, op_theme=op_theme["name"] if op_theme else None,
            op_song="op2" if op_theme and op_theme["name"] == "op2" else ("op" if op_theme else None),
            ed_start=ed_start, ed_end=ed_end, ed_theme=ed_theme["name"], ed_song_span=[ed_song0, ed_end],
            ed_start_kind=ed_kind, ed_lead=lead_ed, ed_fade_in=fade_in, ed_gap=gap_ed,
            ed_dialogue_over=bool(dialogue_over), tail=tail_kind, tail_seconds=tail_total,
            c_part=span_of("c_part"), preview=span_of("preview"), end_card=span_of("end_card"),
            after_op=[k for k, _ in after], title_card=span_of("title_card"), sponsor=span_of("sponsor"),
            eyecatch=span_of("eyecatch"), black_break=black_break,
            gaps=[[a, b] for k, a, b in segs if k == "gap"], insert_songs=inserts, reprises=reprises,
            preview_op=bool(preview_op),
            loud_bgm=[[s["start"], s["end"]] for s in scenes if s["loud"]],
            body_styles=[[s["style"], s["start"], s["end"]] for s in scenes],
            body_text=[[s["text"], s["start"], s["end"]] for s in scenes if s["text"]],
            burned_subs=sp.style["burned_subs"], lyrics=sp.style["lyrics"],
            op_look=[op_theme["look"], op_theme["credits"]] if op_theme else None,
            ed_look=[ed_theme["look"], ed_theme["credits"]],
            cour_change=dict(cc, changed=changed) if cc else None, premiere_no_op=no_op, lone_episode=lone,
            segments=[[k, a, b] for k, a, b in segs], **info,
            replaced_op=bool("op" in changed), confusers=[], subtitles=[], full_episode=None)
        if cfg.material:   # which real recordings the theme songs are (audits: no test track in training)
            ref = ref_of(cfg)
            ep.spans["material_tracks"] = {
                k: {"path": e["path"], "source": e["source"], "offset": off}
                for k, th in (("op", op_theme), ("ed", ed_theme))
                if th is not None
                for e, off in [
                    track_choice(
                        ref, th.get("song_seed", th["seed"]), th.get("song_style", th["kind"]), th["song_len"]
                    )
                ]
            }
        ep.spans["clips"] = {
            "start": {"file": f"{ep_id}_start.mp4", "offset": 0,
                      "label": op_end if op_end is not None and op_end <= S else None,
                      **({"no_label": "no opening in this episode (premiere: its OP song plays as the ED)"}
                         if op_end is None else
                         {"no_label": f"late opening: the OP ends at {op_end:g} s, after the first {S} s"}
                         if op_end > S else {})},
            "end": {"file": f"{ep_id}_end.mp4", "offset": D - S, "label": ed_label}}
        for kind in ("start", "end"):
            ep.spans["clips"][kind]["flags"] = clip_flags(ep.spans, kind, S)
        ep.spans["confusers"] = sorted(
            set(ep.spans["clips"]["start"]["flags"]) | set(ep.spans["clips"]["end"]["flags"])
        )
        return ep
    raise ValueError(f"clip_seconds={S}: no realistic layout with both labels inside the clip; use S >= 20")


def clip_flags(spans: dict, kind: str, S: int) -> list[str]:
    """The hard-case flags of one clip: the phenomena that lie inside its S seconds (or shape its
    boundary).  The benchmark scores each flag's clips separately."""
    off = spans["clips"][kind]["offset"]
    lo, hi = off, off + S
    r = min(1.0, S / 200.0)

    def inside(span):
        return span is not None and span[1] > lo and span[0] < hi
    f = []
    if spans["lone_episode"]:
        f.append("lone_episode")
    cc = spans["cour_change"]
    if cc and ("op" if kind == "start" else "ed") in cc["changed"]:
        f.append("cour_change")
    if any(inside(x["span"]) for x in spans["reprises"]):
        f.append("reprise")
        f += sorted({"reprise_same_audio" if x["same_audio"] else "reprise_arranged"
                     for x in spans["reprises"] if inside(x["span"])})
    if any(inside(s) for s in spans["insert_songs"]):
        f.append("insert_song")
    if any(inside(s) for s in spans["loud_bgm"]):
        f.append("loud_bgm")
    if any(st == "action" and inside([a, b]) for st, a, b in spans["body_styles"]):
        f.append("action_scene")
    if any(inside([a, b]) for _, a, b in spans["body_text"]):
        f.append("body_text")
    if spans["burned_subs"]:
        f.append("burned_subs")
    if kind == "start":
        if spans["premiere_no_op"]:
            f.append("no_op")
        if spans.get("late_op"):
            f.append("late_op")
        if spans["cold_open"] == 0:
            f.append("no_cold_open")
        elif spans["cold_open"] >= 60 * r:
            f.append("long_cold_open")
        if spans["recap"]:
            f.append("recap")
        if spans["op_lead"] > 0:
            f += ["song_lead", "op_lead"]
        if spans["op_end_kind"]:
            f.append("op_" + spans["op_end_kind"])
            if spans["op_end_kind"] == "ring":
                f.append("ring")
        if spans.get("op_narration"):
            f.append("op_narration")
        f += [f"{k}_after_op" for k in spans["after_op"]]
        if spans["op_look"]:
            f += [f"op_{spans['op_look'][0]}", f"op_credits_{spans['op_look'][1]}"]
    else:
        f.append("ed_" + spans["ed_start_kind"])
        if spans["ed_start_kind"] == "lead":
            f.append("song_lead")
        if spans["ed_gap"]:
            f.append("gap_before_ed")
        if spans["ed_dialogue_over"]:
            f.append("dialogue_over_ed")
        f.append(f"{spans['tail']}_tail")
        if spans["preview_op"] and inside(spans["preview"]):
            f.append("preview_op")
        f += [f"ed_{spans['ed_look'][0]}", f"ed_credits_{spans['ed_look'][1]}"]
    return sorted(set(f))


# ----------------------------------------------------------------------------------------------
# Rendering plan: scenes, overlays, effects and sounds


@dataclass
class Sound:
    """One sound event on the episode's time axis, rendered over any sample range on demand."""
    kind: str                 # song | speech | bgm | noise
    start: float
    end: float
    key: tuple = ()           # song: (seed, seconds, style, fade-out s, tempo, cutoff Hz)
    offset: float = 0.0       # song time at ``start``, seconds
    gain: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    events: list = field(default_factory=list)   # speech syllables / bgm notes
    seed: int = 0

    def render(self, ep: Episode, start: int, n: int, out: np.ndarray) -> None:
        sr = ep.sr
        a, b = round(self.start * sr), round(self.end * sr)
        lo, hi = max(a, start), min(b, start + n)
        if lo >= hi:
            return
        buf = out[lo - start:hi - start]
        if self.kind == "noise":
            render_noise(self.seed, lo, hi - lo, sr, NOISE_AMP * self.gain, buf)
            return
        x = np.zeros(hi - lo, np.float32)
        ref = ref_of(ep.plan.cfg)
        if self.kind == "song" or (self.kind == "bgm" and ref):
            # with material, quiet background music is a real score excerpt too, far under the dialogue
            key = (
                self.key
                if self.kind == "song"
                else (self.seed, r3(self.end - self.start), "bgm", 1.0, 1.0, 0.0)
            )
            song = _song(key, sr, ref)
            i0 = lo - a + round(self.offset * sr)
            m = max(0, min(hi - lo, song.size - i0))
            if m:
                x[:m] = song[i0:i0 + m]
            if self.kind == "bgm":
                x *= np.float32(np.random.default_rng(tag(self.seed, "bgm-gain")).uniform(*BGM_GAIN))
        elif self.kind == "speech":
            if not (ref and render_lines(ref, ep.plan.series.seed, self.events, lo, hi - lo, sr, x)):
                render_speech(self.events, lo, hi - lo, sr, x)
        else:
            render_notes(self.events, lo, hi - lo, sr, x)
        if self.fade_in > 0 or self.fade_out > 0:
            idx = np.arange(lo, hi, dtype=np.float64)
            env = np.ones(hi - lo)
            if self.fade_in > 0:
                env *= np.clip((idx - a) / (self.fade_in * sr), 0, 1)
            if self.fade_out > 0:
                env *= np.clip((b - idx) / (self.fade_out * sr), 0, 1)
            x *= env.astype(np.float32)
        buf += self.gain * x


def _song(key: tuple, sr: int, ref: tuple[str, str] | None = None) -> np.ndarray:
    seed, seconds, style, fade_out, tempo, cutoff = key
    if ref:   # real music (datatools/synth/material_media.py)
        return song_excerpt(ref, int(seed), float(seconds), str(style), float(fade_out), float(tempo),
                            float(cutoff), sr)
    if tempo == 1.0 and not cutoff:
        return compose_song(int(seed), float(seconds), sr, str(style), float(fade_out))
    return arrange_song(int(seed), float(seconds), sr, str(style), float(tempo), float(cutoff))


SHOTS = {  # body style -> (shot length range s, Scene style)
    "calm": ((3.0, 12.0), "body"), "dialogue": ((2.0, 6.0), "closeup"), "action": ((0.3, 4.0), "action"),
    "montage": ((1.0, 3.0), "montage"), "still": ((5.0, 15.0), "still")}


def _theme_visuals(theme: dict, length: float, H: int, title: str, lyrics: str | None,
                   w: Writer | None = None):
    """Scenes, overlays and flashes of an OP/ED storyboard in song time [0, length): a function of
    the theme alone (and its series' lettering ``w``), so identical in every episode that shows it."""
    w = w or Writer()
    rng = np.random.default_rng(tag(theme["seed"], "storyboard"))
    look, kind = theme["look"], theme["kind"]
    (lo, hi), style, flash_p = {
        ("op", "fast"): ((0.4, 2.0), "op", 0.3),
        ("op", "mixed"): ((0.8, 5.0), "op", 0.1),
        ("op", "slow"): ((3.0, 9.0), "body", 0.0),
        ("ed", "pan"): ((4.0, 12.0), "ed", 0.0),
        ("ed", "animated"): ((0.4, 2.0), "op", 0.25),
        ("ed", "stills"): ((length / 3, length), "still", 0.0),
    }[(kind, look)]
    scenes, flashes, t = [], [], 0.0
    while t < length:
        d = float(rng.uniform(lo, hi))
        if look == "stills" and length - (t + d) < 0.2 * length:
            d = length - t
        scenes.append((t, min(length, t + d), int(rng.integers(2 ** 31)), style,
                       float(rng.uniform(0.1, 0.4)) if style == "op" and rng.random() < 0.2 else 0.0))
        if t > 0 and rng.random() < flash_p:
            flashes.append((t, t + float(rng.uniform(0.06, 0.15))))
        t += d
    ov = []
    small = max(8, H // 22)
    t0 = min(3.0, 0.05 * length)
    if theme["logo"] and kind == "op":
        dur = min(4.0, 0.15 * length)
        ov.append((t0, t0 + dur, lambda: w.sprite([title], max(12, H // 6), (255, 240, 120), bold=True),
                   (0.5, 0.4), (0.5, 0.4), "text"))
        t0 += dur + 0.3
    credits = theme["credits"]
    if credits == "scroll":
        lines = []
        for _ in range(int(rng.integers(10, 18))):
            lines += [str(rng.choice(w.roles)), w.person(rng), ""]
        x = float(rng.choice([0.04, 0.5, 0.96]))
        ov.append(
            (
                0.0,
                length,
                lambda: w.sprite(lines, max(9, H // 14), (240, 240, 255)),
                (x, 0.0),
                (x, 1.0),
                "scroll",
            )
        )
    elif credits in ("blocks", "cards", "corner"):
        t = t0
        while t < length - 1.0:
            if credits == "blocks":
                d, lines, size = (
                    float(rng.uniform(1.5, 3.0)),
                    [str(rng.choice(w.roles)), w.person(rng)],
                    max(9, H // 14),
                )
                pos = (float(rng.uniform(0.05, 0.95)), float(rng.uniform(0.1, 0.9)))
            elif credits == "cards":
                d, size = float(rng.uniform(4.0, 8.0)), max(9, H // 16)
                lines = [str(rng.choice(w.roles))] + [w.person(rng) for _ in range(int(rng.integers(2, 5)))]
                pos = (float(rng.choice([0.15, 0.5, 0.85])), 0.5)
            else:
                d = float(rng.uniform(2.0, 4.0))
                lines, size = [str(rng.choice(w.roles)), w.person(rng)], small
                pos = (float(rng.choice([0.03, 0.97])), float(rng.choice([0.05, 0.95])))
            d = min(d, length - 1.0 - t)
            ov.append(
                (
                    t,
                    t + d,
                    lambda lines=lines, size=size: w.sprite(lines, size, (255, 255, 255)),
                    pos,
                    pos,
                    "text",
                )
            )
            t += d + float(rng.uniform(0.2, 0.8))
    if lyrics:
        y = 0.06 if lyrics == "top" else 0.92
        t = float(rng.uniform(1.0, 4.0))
        while t < length - 2.0:
            d = float(rng.uniform(2.5, 4.5))
            line = w.sentence(rng)
            ov.append(
                (
                    t,
                    min(length, t + d),
                    lambda line=line: w.sprite([line], max(9, H // 16), (255, 230, 250)),
                    (0.5, y),
                    (0.5, y),
                    "lyrics",
                )
            )
            t += d + float(rng.uniform(0.1, 0.6))
    return scenes, ov, flashes


def _body_text(rng: np.random.Generator, kind: str, a: float, b: float, H: int, title: str,
               w: Writer | None = None) -> list[Overlay]:
    w = w or Writer()
    d = b - a
    if kind == "caption":
        text = w.place(rng)
        pos = (float(rng.choice([0.05, 0.95])), float(rng.choice([0.08, 0.9])))
        return [Overlay(a + 0.3, a + min(d, float(rng.uniform(2, 4))), lambda: w.sprite(
            [text], max(9, H // 16), (255, 255, 255)), pos, pos, "caption")]
    if kind == "sign":
        text = str(rng.choice(w.signs))
        pos = (float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.15, 0.6)))
        return [
            Overlay(
                a,
                a + min(d, 8.0),
                lambda: w.sprite([text], max(10, H // 10), (250, 60, 60), bold=True),
                pos,
                pos,
                "sign",
            )
        ]
    if kind == "letter":
        lines = [w.sentence(rng) for _ in range(int(rng.integers(4, 9)))]
        return [Overlay(a + 0.5, a + min(d, float(rng.uniform(6, 12))), lambda: w.sprite(
            lines, max(8, H // 18), (30, 30, 30), align="left"), (0.5, 0.5), (0.5, 0.5), "letter")]
    if kind == "narration":
        lines = [w.sentence(rng) for _ in range(int(rng.integers(6, 13)))]
        x = float(rng.choice([0.1, 0.5, 0.9]))
        return [Overlay(a, a + min(d, float(rng.uniform(10, 20))), lambda: w.sprite(
            lines, max(9, H // 14), (255, 255, 220)), (x, 0.0), (x, 1.0), "scroll")]
    text = "   ".join(w.sentence(rng) for _ in range(4))
    return [Overlay(a, a + min(d, float(rng.uniform(8, 16))), lambda: w.sprite(
        [text], max(9, H // 15), (255, 255, 255)), (0.0, 0.97), (0.0, 0.97), "crawl")]


def build_episode_realistic(plan: EpisodePlan) -> Episode:
    """Scenes, overlays, effects and sound events of a realistic episode (rendered lazily)."""
    sp, H, lay = plan.series, plan.series.height, plan.layout
    w = Writer.of(sp.style)
    mat = ref_of(plan.cfg)
    rng = np.random.default_rng(tag(plan.seed, "build-realistic"))
    scenes: list[Scene] = []
    overlays: list[Overlay] = []
    effects = list(lay["effects"])
    sounds = [Sound(**{k: v for k, v in s.items() if k not in ("role", "speakers")},
                    events=plan_speech(s["seed"], s["start"], s["end"], n_speakers=s["speakers"])
                    if s["kind"] == "speech" else []) for s in lay["sounds"]]
    lyrics = ("top" if sp.style["lyrics_top"] else "bottom") if sp.style["lyrics"] else None
    subs = sp.style["burned_subs"]

    def subtitles(events):
        if subs:
            for a, b in phrases(events):
                text = w.sentence(rng)
                overlays.append(Overlay(a, max(b, a + 1.0), lambda text=text: w.sprite(
                    [text], max(9, H // 15), (255, 255, 255)), (0.5, 0.94), (0.5, 0.94), "subtitle"))

    for s in sounds:
        if s.kind == "speech":
            subtitles(s.events)
    song_of = {s["role"]: s for s in lay["sounds"] if s["kind"] == "song"}
    for kind, a, b in plan.segments:
        if kind != "gap":
            sounds.append(Sound("noise", a, b, gain=FLOOR_GAIN, seed=plan.seed))
        if kind in ("title_card", "sponsor", "end_card", "preview"):
            sounds.append(Sound("noise", a, b, gain=float(rng.uniform(*AMBIENCE_GAIN)), seed=plan.seed + 1))
        if kind == "gap":
            scenes.append(Scene(a, b, 0, "black"))
        elif kind in ("op", "ed"):
            theme = lay["op_theme" if kind == "op" else "ed_theme"]
            song0 = song_of[kind]["start"]
            sc, ov, fl = _theme_visuals(theme, theme["song_len"], H, sp.title, lyrics, w)
            for s0, s1, seed, style, zoom in sc:
                s0, s1 = max(a, song0 + s0), min(b, song0 + s1)
                if s1 > s0:
                    scenes.append(Scene(s0, s1, seed, style, zoom, mat))
            for o in ov:
                s0, s1 = song0 + o[0], song0 + o[1]
                if s1 > a and s0 < b:
                    overlays.append(Overlay(s0, s1, o[2], o[3], o[4], o[5]))
            effects += [(song0 + f0, song0 + f1, "flash") for f0, f1 in fl if a <= song0 + f0 < b]
        elif kind == "eyecatch":   # a function of the series alone: identical in every episode
            ec = sp.style["eyecatch"]
            scenes.append(Scene(a, b, ec["seed"], "card", material=mat))
            overlays.append(Overlay(a, b, lambda: w.sprite([sp.title], max(12, H // 7), (255, 250, 235),
                                                           bold=True), (0.5, 0.5), (0.5, 0.5), "card"))
            sounds.append(Sound("song", a, b, key=(ec["seed"], r3(b - a), "op", THEME_FADE_S, 1.0, 0.0),
                                gain=0.9, fade_in=0.05, fade_out=0.3))
        elif kind in ("title_card", "sponsor", "end_card"):
            scenes.append(Scene(a, b, int(rng.integers(2 ** 31)), "card" if kind != "end_card" else "still",
                                material=mat))
            lines = {
                "title_card": [w.episode(plan.episode + 1), w.sentence(rng)],
                "sponsor": [w.sponsor()] + [w.word(rng).title() for _ in range(3)],
                "end_card": [sp.title],
            }[kind]
            overlays.append(
                Overlay(
                    a,
                    b,
                    lambda lines=lines, bold=(kind == "title_card"): w.sprite(
                        lines, max(10, H // 11), (255, 255, 255), bold=bold
                    ),
                    (0.5, 0.45),
                    (0.5, 0.45),
                    "card",
                )
            )
            if kind == "sponsor":
                sounds.append(
                    Sound("speech", a + 0.3, b - 0.3, events=plan_speech(plan.seed + 3, a + 0.3, b - 0.3, 1))
                )
        elif kind == "preview":
            card = min(3.0, 0.25 * (b - a))
            scenes.append(Scene(a, a + card, int(rng.integers(2 ** 31)), "card", material=mat))
            lines = [w.next_episode(), f"{w.episode(plan.episode + 2)}: {w.sentence(rng)}"]
            overlays.append(Overlay(a, a + card, lambda lines=lines: w.sprite(
                lines, max(10, H // 10), (255, 255, 255), bold=True), (0.5, 0.45), (0.5, 0.45), "card"))
            t = a + card
            while t < b:
                d = float(rng.uniform(1.0, 3.5))
                scenes.append(Scene(t, min(b, t + d), int(rng.integers(2 ** 31)), "montage", material=mat))
                t += d
            ev = plan_speech(plan.seed + 5, a + card, b, 1)
            sounds.append(Sound("speech", a, b, events=ev))
            subtitles(ev)
            op = lay["op_theme"]
            if lay["preview_op"]:
                key = _song_key(op)[:4] + (1.06, 2000.0)
                sounds.append(
                    Sound(
                        "song",
                        a,
                        b,
                        key=key,
                        offset=float(rng.uniform(0, max(0.0, op["song_len"] / 1.06 - (b - a)))),
                        gain=0.45,
                        fade_in=0.3,
                        fade_out=1.0,
                    )
                )
            else:
                sounds.append(
                    Sound(
                        "song",
                        a,
                        b,
                        key=(sp.seed, sp.preview_max, "preview", 1.2, 1.0, 0.0),
                        gain=0.6,
                        fade_out=1.0,
                    )
                )
    for sc in lay["scenes"]:
        a, b = sc["start"], sc["end"]
        srng = np.random.default_rng(sc["seed"])
        (lo, hi), style = SHOTS[sc["style"]]
        t = a
        while t < b - 1e-6:
            d = float(srng.uniform(lo, hi))
            zoom = float(srng.uniform(0.2, 0.8)) if sc["style"] == "action" and srng.random() < 0.4 else 0.0
            scenes.append(Scene(t, min(b, t + d), int(srng.integers(2 ** 31)), style, zoom, mat))
            if sc["style"] == "action" and t > a and srng.random() < 0.3:
                effects.append((t, t + float(srng.uniform(0.06, 0.2)), "flash"))
            t += d
        if sc["part"] == "recap" and sc is next(s for s in lay["scenes"] if s["part"] == "recap"):
            overlays.append(
                Overlay(
                    a + 0.3,
                    min(b, a + 3.0),
                    lambda: w.sprite([w.previously(sp.title)], max(9, H // 14), (255, 255, 255)),
                    (0.5, 0.85),
                    (0.5, 0.85),
                    "caption",
                )
            )
        if sc["text"]:
            overlays += _body_text(srng, sc["text"], a, b, H, sp.title, w)
        if srng.random() >= AMBIENCE_SILENT_P:
            sounds.append(Sound("noise", a, b, gain=float(srng.uniform(*AMBIENCE_GAIN)), seed=plan.seed + 1))
        music = sc["music"]
        if sc["loud"]:
            ev = plan_speech(sc["seed"], a, b, amp=(0.25, 0.4), pause=(1.5, 4.0))
            sounds.append(Sound("song", a, b, key=(sc["seed"], r3(b - a + 1), "score", 1.2, 1.0, 0.0),
                                gain=float(srng.uniform(0.85, 1.0)), fade_in=0.5, fade_out=0.5))
        elif music == "reprise_same":
            ev = plan_speech(sc["seed"], a, b, amp=(0.2, 0.3), pause=(2.0, 5.0))
        else:
            ev = plan_speech(sc["seed"], a, b)
            if music is None:
                piece = sp.style["bgm_seed"] + int(
                    sc["seed"] % 7
                )  # the series' score: seven recurring pieces
                sounds.append(Sound("bgm", a, b, events=bgm_notes(piece, a, b), seed=piece))
        sounds.append(Sound("speech", a, b, events=ev))
        subtitles(ev)
    scenes.sort(key=lambda s: s.start)
    overlays.sort(key=lambda o: o.start)
    effects.sort()
    plan.spans["subtitles"] = [[r3(o.start), r3(o.end)] for o in overlays if o.kind == "subtitle"]
    return Episode(plan, [s[1] for s in plan.segments], scenes, [s.start for s in scenes], overlays, {},
                   sounds=sounds, effects=effects)
