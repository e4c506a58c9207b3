"""Procedural audio for the synthetic episode generator (datatools/synth/): theme songs,
speech-like babble, quiet background music and noise, all in numpy and all deterministic.

Everything is described as *events on a global time axis* (notes, drum hits, syllables) and
rendered over any sample range on demand, so the first and the last S seconds of a 24-minute
episode can be rendered without rendering the middle, and any range gives the same samples it
would have inside a full render.

    from datatools.synth.audio import compose_song, render_speech, plan_speech
    op = compose_song(seed=123, seconds=89.5, sr=22050, style="op")   # float32 (round(89.5*sr),)

No command of its own; run the generator with ``python -m datatools.synth --help``.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import lfilter

TABLE_N = 4096
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Chord progressions as scale degrees (0 = tonic), one chord per bar.
PROGRESSIONS = ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 5), (0, 3, 4, 3),
                (3, 4, 2, 5), (0, 2, 3, 4), (5, 4, 3, 4))
# Tempo range (BPM) and instrument choice per song style.
STYLES = {
    "op": dict(bpm=(135, 178), lead="lead", pad="pad", eighth_bass=True, kick_every_beat=True),
    "ed": dict(bpm=(68, 104), lead="bell", pad="organ", eighth_bass=False, kick_every_beat=False),
    "insert": dict(bpm=(92, 132), lead="organ", pad="pad", eighth_bass=False, kick_every_beat=False),
    "preview": dict(bpm=(110, 140), lead="bell", pad="pad", eighth_bass=True, kick_every_beat=True),
    # realistic: loud background score in the body, as loud and as busy as an OP
    "score": dict(bpm=(120, 175), lead="lead", pad="organ", eighth_bass=True, kick_every_beat=True),
}
# Vowel formants (F1, F2, F3) in Hz, a rough average adult voice.
VOWELS = ((800, 1200, 2500), (300, 2300, 3000), (350, 800, 2300), (500, 1900, 2600), (500, 900, 2400))


def tag(*keys: object) -> list[int]:
    """Seed material for np.random.default_rng from ints and strings (strings hashed with crc32,
    which, unlike hash(), is the same in every process)."""
    return [k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys]


def _wavetable(amps: tuple[float, ...]) -> np.ndarray:
    ph = np.arange(TABLE_N) / TABLE_N
    w = sum(a * np.sin(2 * np.pi * (k + 1) * ph) for k, a in enumerate(amps))
    return (w / np.abs(w).max()).astype(np.float32)


TABLES = {
    "pad": _wavetable((1, .5, .33, .25, .2, .16)),
    "lead": _wavetable((1, 0, .33, 0, .2, 0, .14, 0, .11)),
    "bass": _wavetable((1, .6, .25)),
    "bell": _wavetable((1, 0, 0, .45, 0, 0, 0, .2)),
    "organ": _wavetable((1, 1, .5, 0, .3, 0, 0, .2)),
    "glottal": _wavetable(tuple(1 / k ** 1.1 for k in range(1, 31))),
}


@dataclass(frozen=True)
class Note:
    onset: float     # seconds on the owning timeline
    dur: float       # seconds until the release starts
    freq: float      # Hz
    amp: float
    inst: str        # key of TABLES
    attack: float = 0.01
    decay: float = 1.5   # exponential decay time constant, seconds
    release: float = 0.05


@dataclass(frozen=True)
class Hit:
    onset: float
    kind: str        # "kick", "snare", "hat"
    amp: float


def midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12)


@lru_cache(maxsize=16)
def _drum(kind: str, sr: int) -> np.ndarray:
    # Fixed one-shot samples; the noise uses a fixed seed so every song shares the same kit.
    rng = np.random.default_rng(7)
    if kind == "kick":
        t = np.arange(int(0.18 * sr)) / sr
        f = 50 + 90 * np.exp(-t / 0.03)
        w = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.06)
    elif kind == "snare":
        t = np.arange(int(0.15 * sr)) / sr
        w = (0.7 * rng.standard_normal(t.size) + 0.4 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.04)
    else:
        t = np.arange(int(0.05 * sr)) / sr
        w = np.diff(rng.standard_normal(t.size + 1)) * 0.5 * np.exp(-t / 0.012)
    return w.astype(np.float32)


@lru_cache(maxsize=512)
def _note_wave(inst: str, freq: float, n: int, attack: float, decay: float, release: float,
               sr: int) -> np.ndarray:
    """One whole enveloped note (amplitude 1).  Cached: chords and melodies repeat the same notes
    many times, so most notes of a song cost one slice-add."""
    local = np.arange(n, dtype=np.float64)
    # Phase from the note's own onset, so a range render equals the full render sample by sample.
    idx = ((local * (freq / sr)) % 1.0 * TABLE_N).astype(np.int32)
    env = np.minimum(local / max(1.0, attack * sr), 1.0) * np.exp(-local / (decay * sr))
    env *= np.clip(n - local, 0, release * sr) / (release * sr)
    w = (env.astype(np.float32) * TABLES[inst][idx])
    w.setflags(write=False)
    return w


def render_notes(notes: list[Note], start: int, n: int, sr: int, out: np.ndarray | None = None) -> np.ndarray:
    """Add the samples [start, start+n) of ``notes`` (onsets in seconds) into ``out`` (float32)."""
    out = np.zeros(n, np.float32) if out is None else out
    for note in notes:
        a = round(note.onset * sr)
        b = a + round((note.dur + note.release) * sr)
        lo, hi = max(a, start), min(b, start + n)
        if lo >= hi:
            continue
        out[lo - start:hi - start] += note.amp * _note_wave(note.inst, note.freq, b - a, note.attack,
                                                            note.decay, note.release, sr)[lo - a:hi - a]
    return out


def render_hits(hits: list[Hit], start: int, n: int, sr: int, out: np.ndarray) -> np.ndarray:
    for h in hits:
        w = _drum(h.kind, sr)
        a = round(h.onset * sr)
        lo, hi = max(a, start), min(a + w.size, start + n)
        if lo < hi:
            out[lo - start:hi - start] += h.amp * w[lo - a:hi - a]
    return out


def _phrase(rng: np.random.Generator, slots: int) -> list[tuple[int, int | None, int]]:
    """A melody phrase: (slot, scale step or None for a rest, length in eighth-note slots)."""
    notes, pos, step = [], 0, int(rng.integers(7, 12))
    while pos < slots:
        length = int(min(rng.choice([1, 1, 2, 2, 3, 4]), slots - pos))
        if rng.random() < 0.15:
            notes.append((pos, None, length))
        else:
            step = int(np.clip(step + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), 4, 16))
            notes.append((pos, step, length))
        pos += length
    return notes


def compose_events(seed: int, seconds: float, style: str) -> tuple[list[Note], list[Hit], dict]:
    """Compose a song: tempo, key, mode, chord progression, two melody phrases (verse/chorus),
    bass line and drums.  Returns the events (times from the song start) and a summary."""
    cfg = STYLES[style]
    rng = np.random.default_rng(tag(seed, "song", style))
    bpm = float(rng.uniform(*cfg["bpm"]))
    root = int(rng.integers(45, 57))
    scale = MAJOR if rng.random() < 0.5 else MINOR
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    beat = 60.0 / bpm
    bar = 4 * beat
    n_bars = int(np.ceil(seconds / bar)) + 1
    verse, chorus = _phrase(rng, 16), _phrase(rng, 16)   # two-bar phrases of eighth notes

    def pitch(step: int) -> float:
        return root + 12 * (step // 7) + scale[step % 7]

    notes: list[Note] = []
    hits: list[Hit] = []
    for b in range(n_bars):
        t0 = b * bar
        deg = prog[b % len(prog)]
        chord = [pitch(deg + k) + 12 for k in (0, 2, 4)]
        for m in chord:
            notes.append(Note(t0, bar, midi_hz(m), 0.07, cfg["pad"], attack=0.08, decay=4.0, release=0.1))
        bass_step = beat / 2 if cfg["eighth_bass"] else beat
        for k in range(int(round(bar / bass_step))):
            notes.append(Note(t0 + k * bass_step, bass_step * 0.85, midi_hz(chord[0] - 24), 0.22, "bass",
                              decay=0.5))
        for k in range(4):
            if cfg["kick_every_beat"] or k in (0, 2):
                hits.append(Hit(t0 + k * beat, "kick", 0.5))
            if k in (1, 3):
                hits.append(Hit(t0 + k * beat, "snare", 0.25))
        hat_step = beat / 2 if style != "ed" else beat
        for k in range(int(round(bar / hat_step))):
            hits.append(Hit(t0 + k * hat_step, "hat", 0.08))
        if b < 2:          # intro bars: no melody yet
            continue
        section = ((b - 2) // 8) % 2       # 8 bars verse, 8 bars chorus
        phrase = chorus if section else verse
        half = (b - 2) % 2
        for slot, step, length in phrase:
            if step is None or not (half * 8 <= slot < half * 8 + 8):
                continue
            notes.append(Note(t0 + (slot - half * 8) * beat / 2, length * beat / 2 * 0.9,
                              midi_hz(pitch(step + (2 if section else 0)) + 12), 0.16, cfg["lead"],
                              decay=0.8))
    info = dict(bpm=round(bpm, 2), root_midi=root, mode="major" if scale is MAJOR else "minor",
                progression=list(prog))
    return notes, hits, info


@lru_cache(maxsize=32)
def compose_song(seed: int, seconds: float, sr: int, style: str, fade_out_s: float = 1.2) -> np.ndarray:
    """A whole song of ``seconds`` (float32, peak 0.5, short fade in, ``fade_out_s`` fade out).
    Cached: the same arguments always return the identical array, which is how every episode of a
    series gets sample-identical theme songs.  Treat the result as read-only."""
    notes, hits, _ = compose_events(seed, seconds, style)
    n = round(seconds * sr)
    out = render_notes(notes, 0, n, sr)
    render_hits(hits, 0, n, sr, out)
    fade_in, fade_out = min(n, int(0.05 * sr)), min(n, max(1, int(fade_out_s * sr)))
    out[:fade_in] *= np.linspace(0, 1, fade_in, dtype=np.float32)
    out[n - fade_out:] *= np.linspace(1, 0, fade_out, dtype=np.float32)
    out *= 0.5 / max(1e-6, float(np.abs(out).max()))
    out.setflags(write=False)
    return out


@lru_cache(maxsize=16)
def arrange_song(
    seed: int, seconds: float, sr: int, style: str, tempo: float, cutoff_hz: float
) -> np.ndarray:
    """An arranged version of ``compose_song(seed, seconds, sr, style)``: played ``tempo`` times
    as fast (resampled, so the key moves too) and low-passed at ``cutoff_hz`` (4th-order
    Butterworth); peak 0.5.  What a reprise under dialogue or a preview's version of the OP
    sounds like: the same melody, not the same samples."""
    from scipy.signal import butter, sosfilt
    x = compose_song(seed, seconds, sr, style)
    n = max(1, int(round(x.size / tempo)))
    y = np.interp(np.arange(n) * tempo, np.arange(x.size), x).astype(np.float32)
    y = sosfilt(butter(4, cutoff_hz, fs=sr, output="sos"), y).astype(np.float32)
    y *= 0.5 / max(1e-6, float(np.abs(y).max()))
    y.setflags(write=False)
    return y


def bgm_notes(seed: int, t0: float, t1: float) -> list[Note]:
    """Quiet sustained chords (background music under dialogue) covering [t0, t1)."""
    rng = np.random.default_rng(tag(seed, "bgm"))
    root = int(rng.integers(48, 60))
    scale = MAJOR if rng.random() < 0.5 else MINOR
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    bar = float(rng.uniform(2.5, 4.5))
    notes = []
    for b in range(int(t0 // bar), int(np.ceil(t1 / bar))):
        deg = prog[b % len(prog)]
        for k in (0, 2, 4):
            m = root + 12 * ((deg + k) // 7) + scale[(deg + k) % 7]
            notes.append(Note(b * bar, bar, midi_hz(m), 0.012, "pad", attack=0.4, decay=8.0, release=0.4))
    return notes


@dataclass(frozen=True)
class Syllable:
    onset: float
    dur: float
    f0: tuple[float, float]              # pitch at start and end (Hz)
    formants: tuple[float, float, float]
    amp: float
    consonant: bool
    seed: int


def plan_speech(seed: int, t0: float, t1: float, n_speakers: int = 3, amp: tuple[float, float] = (0.12, 0.22),
                pause: tuple[float, float] = (0.25, 1.4)) -> list[Syllable]:
    """Dialogue-like syllable events in [t0, t1): phrases of 0.8-4 s from alternating speakers
    (each with its own pitch), separated by pauses of ``pause`` seconds; ``amp`` is the phrase
    loudness range (shouted lines over a loud score: louder, with long pauses)."""
    rng = np.random.default_rng(tag(seed, "speech", round(t0 * 1000)))
    speakers = [float(rng.uniform(95, 260)) for _ in range(n_speakers)]
    out: list[Syllable] = []
    t = t0 + float(rng.uniform(0.1, 0.8))
    while t < t1:
        f0 = speakers[int(rng.integers(n_speakers))]
        end = min(t1 - 0.05, t + float(rng.uniform(0.8, 4.0)))
        amp_p = float(rng.uniform(*amp))
        k = 0
        while t < end:
            d = float(rng.uniform(0.11, 0.3))
            decl = 1.0 - 0.15 * k / 12     # pitch declines along a phrase, as in real speech
            p0 = f0 * decl * float(rng.uniform(0.92, 1.1))
            out.append(Syllable(t, d, (p0, p0 * float(rng.uniform(0.9, 1.08))),
                                VOWELS[int(rng.integers(len(VOWELS)))], amp_p * float(rng.uniform(0.7, 1.0)),
                                bool(rng.random() < 0.6), int(rng.integers(2 ** 31))))
            t += d + float(rng.uniform(0.0, 0.05))
            k += 1
        t += float(rng.uniform(*pause))
    return out


def phrases(syllables: list[Syllable], gap: float = 0.2) -> list[tuple[float, float]]:
    """Spans (start, end) of the spoken phrases: syllables closer than ``gap`` seconds join."""
    out: list[list[float]] = []
    for s in syllables:
        if out and s.onset - out[-1][1] < gap:
            out[-1][1] = s.onset + s.dur
        else:
            out.append([s.onset, s.onset + s.dur])
    return [(a, b) for a, b in out]


def _resonator(freq: float, bw: float, sr: int) -> tuple[list[float], list[float]]:
    r = np.exp(-np.pi * bw / sr)
    th = 2 * np.pi * freq / sr
    return [1 - r], [1.0, -2 * r * np.cos(th), r * r]


def render_syllable(s: Syllable, sr: int) -> np.ndarray:
    n = max(8, round(s.dur * sr))
    f0 = np.linspace(s.f0[0], s.f0[1], n)
    phase = np.cumsum(f0 / sr) % 1.0
    src = TABLES["glottal"][(phase * TABLE_N).astype(np.int32)]
    y = np.zeros(n)
    for f, g in zip(s.formants, (1.0, 0.6, 0.3)):
        if f < sr / 2 - 200:
            b, a = _resonator(f, 80 + f * 0.06, sr)
            y += g * lfilter(b, a, src)
    y /= max(1e-6, float(np.abs(y).max()))
    y *= np.sin(np.pi * np.arange(n) / n) ** 0.7
    if s.consonant:      # a short fricative burst at the syllable start
        rng = np.random.default_rng(s.seed)
        m = min(n, int(rng.uniform(0.02, 0.06) * sr))
        y[:m] += np.diff(rng.standard_normal(m + 1)) * 0.35 * np.linspace(1, 0, m)
    return (s.amp * y).astype(np.float32)


def render_speech(syllables: list[Syllable], start: int, n: int, sr: int, out: np.ndarray) -> np.ndarray:
    for s in syllables:
        a = round(s.onset * sr)
        b = a + max(8, round(s.dur * sr))
        lo, hi = max(a, start), min(b, start + n)
        if lo < hi:
            out[lo - start:hi - start] += render_syllable(s, sr)[lo - a:hi - a]
    return out


def render_noise(seed: int, start: int, n: int, sr: int, amp: float, out: np.ndarray) -> np.ndarray:
    """Room noise; drawn per whole second from a per-second seed so any range is reproducible."""
    for sec in range(start // sr, (start + n - 1) // sr + 1):
        w = np.random.default_rng(tag(seed, "noise", sec)).standard_normal(sr).astype(np.float32)
        a, lo, hi = sec * sr, max(sec * sr, start), min((sec + 1) * sr, start + n)
        out[lo - start:hi - start] += amp * w[lo - a:hi - a]
    return out
