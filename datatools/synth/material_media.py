"""Real sounds and pictures for the realistic generator (``--material DIR``): excerpts of real music
tracks for every song, score and background music, rendered dialogue lines for speech, and real
images for backgrounds and characters (datatools/synth/material.py indexes the folder).

Everything stays a pure function of (material folder, split, seed), like the procedural media it
replaces, so a series' theme song is sample-identical in every episode that plays it and any sample
range renders the same samples as a whole render:

- ``song_excerpt(key, sr, ref)``: the song of a sound key (seed, seconds, style, fade-out, tempo,
  low-pass) as an excerpt of a real track.  Theme songs (``op``/``ed``) come from one half of the
  music, scores, insert songs, previews and background music from the other (crc32 of the file's
  hash), as a soundtrack's themes and its score are different recordings; ``unique_theme_seeds``
  keeps the theme tracks of one dataset distinct while the split has enough of them.  Loudness is
  normalised (RMS 0.08, like the procedural songs); an arranged version (reprise, preview) is the
  same excerpt resampled by ``tempo`` and low-passed.
- ``render_lines(ref, series_seed, syllables, start, n, sr, out)``: each phrase of a dialogue plan
  (datatools.synth.audio.plan_speech) spoken by a rendered line of one of the series' voices (its
  cast of three, drawn from the split's voices), cut to the phrase.
- ``MaterialLook``: what a Scene draws with material: a real background (cover-cropped, flipped,
  tinted by the shot's style, optionally letterboxed) panned like the procedural texture, with real
  cut-out images (sprites) moving over it as the procedural shapes do.
"""
from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np

from datatools.synth.audio import tag
from datatools.synth.material import Pool, load_pool, read_audio

TARGET_RMS = 0.08        # the procedural songs' level
PEAK_MAX = 0.95
THEME_STYLES = ("op", "ed")
THEME_SHARE = 6          # tracks whose hash is < 6 (of 10) are theme songs, the rest score
CAST = 3                 # voices per series
IMAGE_MAX_SIDE = 720     # images are read downscaled to this long side (cached)


def ref_of(cfg) -> tuple[str, str] | None:
    """(material folder, split) of a SynthConfig, None without material."""
    return (cfg.material, cfg.material_split) if getattr(cfg, "material", None) else None


def _pool(ref: tuple[str, str]) -> Pool:
    return load_pool(*ref)


def pick(entries: tuple[dict, ...], rng: np.random.Generator) -> dict:
    """One entry, each source equally likely (a source with thousands of files does not drown the
    others), then each of its files."""
    sources = sorted({e["source"] for e in entries})
    src = sources[int(rng.integers(len(sources)))]
    mine = [e for e in entries if e["source"] == src]
    return mine[int(rng.integers(len(mine)))]


def _is_theme(entry: dict) -> bool:
    return zlib.crc32(entry["sha1"].encode()) % 10 < THEME_SHARE


def _tracks(pool: Pool, style: str) -> tuple[dict, ...]:
    theme = style in THEME_STYLES
    got = tuple(f for f in pool.music if _is_theme(f) == theme)
    return got or pool.music


def track_choice(ref: tuple[str, str], seed: int, style: str, seconds: float) -> tuple[dict, float]:
    """(track entry, offset s) of the excerpt a song key plays: a pure function of its arguments."""
    pool = _pool(ref)
    rng = np.random.default_rng(tag(int(seed), "track", style))
    tracks = _tracks(pool, style)
    long_enough = tuple(f for f in tracks if f["duration"] >= seconds + 1.0) or tracks
    entry = pick(long_enough, rng)
    room = max(0.0, entry["duration"] - seconds - 0.5)
    # a theme song often starts at its intro; scores start anywhere
    offset = 0.0 if (style in THEME_STYLES and rng.random() < 0.5) else float(rng.uniform(0, room))
    return entry, round(offset, 3)


def unique_theme_seeds(ref: tuple[str, str], themes: list[dict]) -> None:
    """Re-seed (in place, deterministically) the themes of a dataset whose track another theme already
    plays, while the split still has unused theme tracks: different series never share a theme song."""
    pool = _pool(ref)
    n_tracks = len(_tracks(pool, "op"))
    used: set[str] = set()
    for th in themes:
        for bump in range(64):
            entry, _ = track_choice(ref, th["seed"], th.get("song_style", th["kind"]), th["song_len"])
            if entry["sha1"] not in used or len(used) >= n_tracks:
                break
            th["seed"] = int(np.random.default_rng(tag(th["seed"], "reseed", bump)).integers(2 ** 31))
        used.add(entry["sha1"])


@lru_cache(maxsize=48)
def song_excerpt(ref: tuple[str, str], seed: int, seconds: float, style: str, fade_out: float,
                 tempo: float, cutoff: float, sr: int) -> np.ndarray:
    """The samples of a song key from real music (float32, read-only; see the module docstring)."""
    pool = _pool(ref)
    entry, offset = track_choice(ref, seed, style, seconds)
    n = max(1, round(seconds * sr))
    y = read_audio(pool.path(entry), sr, offset, seconds + 0.2)[:n]
    k = 1
    while y.size < n:        # a track shorter than the song: go on with the next one
        nxt = _tracks(pool, style)[(_tracks(pool, style).index(entry) + k) % len(_tracks(pool, style))]
        y = np.concatenate([y, read_audio(pool.path(nxt), sr, 0.0, (n - y.size) / sr + 0.2)])[:n]
        k += 1
    y = y.astype(np.float32)
    if tempo != 1.0:         # arranged: the same excerpt played faster or slower (resampled)
        m = max(1, int(round(y.size / tempo)))
        y = np.interp(np.arange(m) * tempo, np.arange(y.size), y).astype(np.float32)
    if cutoff:
        from scipy.signal import butter, sosfilt
        y = sosfilt(butter(4, cutoff, fs=sr, output="sos"), y).astype(np.float32)
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    gain = TARGET_RMS / max(rms, 1e-6)
    peak = float(np.abs(y).max()) * gain if y.size else 0.0
    if peak > PEAK_MAX:
        gain *= PEAK_MAX / peak
    y *= np.float32(gain)
    fi, fo = min(y.size, int(0.02 * sr)), min(y.size, max(1, int(fade_out * sr)))
    y[:fi] *= np.linspace(0, 1, fi, dtype=np.float32)
    y[y.size - fo:] *= np.linspace(1, 0, fo, dtype=np.float32)
    y.setflags(write=False)
    return y


# ----------------------------------------------------------------------------------------------
# Dialogue


@lru_cache(maxsize=1024)
def _line(path: str, sr: int) -> np.ndarray:
    y = read_audio(path, sr)
    y.setflags(write=False)
    return y


def cast_of(ref: tuple[str, str], series_seed: int) -> list[str]:
    pool = _pool(ref)
    voices = sorted(pool.speech)
    if not voices:
        return []
    rng = np.random.default_rng(tag(int(series_seed), "cast"))
    return [voices[int(i)] for i in rng.choice(len(voices), size=min(CAST, len(voices)), replace=False)]


def render_lines(ref: tuple[str, str], series_seed: int, syllables: list, start: int, n: int, sr: int,
                 out: np.ndarray) -> bool:
    """Add the samples [start, start + n) of a dialogue plan spoken by real rendered lines into
    ``out``; False (nothing added) when the split has no speech bank (then the caller synthesises)."""
    from datatools.synth.audio import phrases
    cast = cast_of(ref, series_seed)
    if not cast:
        return False
    pool = _pool(ref)
    amps = {round(s.onset, 4): s.amp for s in syllables}
    for a, b in phrases(syllables):
        sa = round(a * sr)
        sb = sa + round((b - a + 0.25) * sr)
        if sb <= start or sa >= start + n:
            continue
        rng = np.random.default_rng(tag(int(series_seed), "line", round(a * 1000)))
        voice = cast[int(rng.integers(len(cast)))]
        lines = pool.speech[voice]
        y = _line(pool.path(lines[int(rng.integers(len(lines)))]), sr)
        m = min(y.size, sb - sa)
        if m <= 0:
            continue
        seg = y[:m].copy()
        fo = min(m, int(0.05 * sr))
        seg[m - fo:] *= np.linspace(1, 0, fo, dtype=np.float32)
        seg *= np.float32(1.6 * amps.get(round(a, 4), 0.17))
        lo, hi = max(sa, start), min(sa + m, start + n)
        if lo < hi:
            out[lo - start:hi - start] += seg[lo - sa:hi - sa]
    return True


# ----------------------------------------------------------------------------------------------
# Pictures


@lru_cache(maxsize=96)
def _image(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(RGB uint8, alpha uint8 or None) of an image, downscaled to IMAGE_MAX_SIDE."""
    from PIL import Image
    with Image.open(path) as im:
        im.load()
        has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
        im = im.convert("RGBA" if has_alpha else "RGB")
        w, h = im.size
        s = min(1.0, IMAGE_MAX_SIDE / max(w, h))
        if s < 1.0:
            im = im.resize((max(1, int(w * s)), max(1, int(h * s))), Image.BILINEAR)
        arr = np.asarray(im)
    if has_alpha:
        return np.ascontiguousarray(arr[..., :3]), np.ascontiguousarray(arr[..., 3])
    return arr, None


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    import cv2

    return cv2.resize(
        img, (max(1, w), max(1, h)), interpolation=cv2.INTER_AREA if img.shape[1] > w else cv2.INTER_LINEAR
    )


# brightness range and saturation of a shot's tint, by Scene style
TINT = {
    "op": ((0.9, 1.25), 1.2),
    "ed": ((0.45, 0.85), 0.9),
    "card": ((0.15, 0.3), 0.6),
    "action": ((0.9, 1.2), 1.15),
    "montage": ((0.8, 1.15), 1.0),
    "closeup": ((0.75, 1.05), 1.0),
    "still": ((0.7, 1.05), 1.0),
}


def background_texture(ref: tuple[str, str], seed: int, style: str, tw: int, th: int) -> np.ndarray:
    """A (th, tw, 3) texture from a real background: cover-resized, cropped at a drawn place,
    maybe mirrored, tinted by the shot's style."""
    pool = _pool(ref)
    rng = np.random.default_rng(tag(int(seed), "background"))
    entry = pick(pool.backgrounds, rng)
    rgb, _ = _image(pool.path(entry))
    h, w = rgb.shape[:2]
    s = max(tw / w, th / h) * float(rng.uniform(1.0, 1.4))      # cover, with some crop
    big = _resize(rgb, int(np.ceil(w * s)), int(np.ceil(h * s)))
    y0 = int(rng.integers(0, big.shape[0] - th + 1))
    x0 = int(rng.integers(0, big.shape[1] - tw + 1))
    tex = big[y0:y0 + th, x0:x0 + tw].astype(np.float32)
    if rng.random() < 0.5:
        tex = tex[:, ::-1]
    (lo, hi), sat = TINT.get(style, ((0.8, 1.1), 1.0))
    grey = tex.mean(2, keepdims=True)
    tex = grey + (tex - grey) * float(sat * rng.uniform(0.85, 1.15))
    tex *= float(rng.uniform(lo, hi)) * rng.uniform(0.88, 1.12, size=3).astype(np.float32)   # a colour cast
    return np.clip(tex, 0, 255).astype(np.uint8)


def sprite_image(ref: tuple[str, str], seed: int, height: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A real cut-out image scaled to ``height`` pixels: uint8 RGB (h, w, 3) and its uint16 alpha
    (h, w, 1), 0..256, as a pictures.Sprite holds them."""
    pool = _pool(ref)
    if not pool.sprites:
        return None
    rng = np.random.default_rng(tag(int(seed), "sprite"))
    entry = pick(pool.sprites, rng)
    rgb, alpha = _image(pool.path(entry))
    if alpha is None:
        return None
    h, w = rgb.shape[:2]
    s = height / h
    nw, nh = max(2, int(w * s)), max(2, int(height))
    rgb, alpha = _resize(rgb, nw, nh), _resize(alpha, nw, nh)
    if rng.random() < 0.5:
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
    a = alpha.astype(np.uint16)[..., None]
    return np.ascontiguousarray(rgb), np.ascontiguousarray(a + (a > 127))
