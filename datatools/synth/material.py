"""Real material for the episode generator: music, pictures and speech from a folder, indexed once.

A *material folder* holds one sub-folder per **source** (a Debian package, an album, an artist's
pack...); every audio file of 30 s or more in it is music, every large opaque image a background,
every image with a transparent cut-out a sprite ("character"), and the sub-folders named
``speech-<engine>-<voice>`` hold rendered dialogue lines.  A file ``copyright``, ``LICENSE*`` or
``COPYING*`` at the top of a source names its licence.  ``index_folder`` measures each usable file
once (duration and loudness of audio, size and transparency of images, a SHA-1 content hash; exact
duplicates are kept once) and writes ``material.json`` beside the sources:

    {"version": 1, "sources": {name: {"split", "licence", "music", "backgrounds", "sprites",
     "speech", "music_seconds"}}, "files": [{"path", "source", "kind", "sha1", ...}], "skipped": {...}}

Material is split **by source** into ``train``, ``calib`` (held-out series for fitting the
confidence calibration) and ``test`` (the benchmark's unseen series), so that a test series never
hears or shows a file of a source that training saw.  The split of the Debian set below is fixed
(DEBIAN_SPLIT); any other source is assigned by a hash of its name (SPLIT_RULE), and
``--split SOURCE=PART`` overrides either.  The sources FORBIDDEN are refused everywhere: an
independent held-out judgement is built from them.

    python -m datatools.synth.material index DIR                # (re)build DIR/material.json
    python -m datatools.synth.material show DIR                 # sources, splits, licences, counts
    python -m datatools.synth.material debian --out work_dir/material   # make material: link the installed
                                                          # Debian packages, render the speech bank, index

The generator reads it through ``load_pool(folder, split)`` (datatools/synth/material_media.py):
``python -m datatools.synth --material DIR --material_split train``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MATERIAL_FILE = "material.json"
INDEX_VERSION = 1
SPLITS = ("train", "calib", "test")
AUDIO_EXTS = (".ogg", ".oga", ".opus", ".flac", ".wav", ".mp3")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
LICENCE_FILES = ("copyright", "LICENSE", "LICENCE", "COPYING")
SPEECH_PREFIX = "speech-"
MIN_MUSIC_S = 30.0          # shorter audio is a sound effect, not usable as a theme or a score
MIN_IMAGE_PX = 48           # smaller images are icons
MIN_BACKGROUND_PX = 160     # short side of a usable background
SPRITE_CLEAR = (0.15, 0.95)  # share of transparent pixels that makes an image a sprite (cut-out)
SILENT_DB = -45.0
# Licences named in the prose of an old-style (not machine-readable) Debian copyright file.
LICENCE_WORDS = (
    ("GPL-3", r"GNU General Public License.{0,80}version 3|GPL-3"),
    ("GPL-2", r"GNU General Public License.{0,80}version 2|GPL-2"),
    ("GPL", r"GNU General Public License(?!.{0,80}version [23])"),
    ("CC-BY-SA", r"Attribution-ShareAlike|CC-BY-SA"),
    ("CC-BY", r"Attribution(?!-ShareAlike)|CC-BY(?!-SA)"),
    ("CC0 / public domain", r"public domain|CC0"),
    ("Artistic", r"Artistic License"),
)  # RMS below this (dBFS) is silence, not music

# Reserved for an independent held-out judgement: never indexed, in any split.
FORBIDDEN = ("wesnoth", "warzone2100-music", "asc-music", "colobot")

# The documented Debian set (make material), by split.  test = the benchmark's unseen series,
# calib = held-out series on which the shipped model's confidence is calibrated, train = the rest.
DEBIAN_SPLIT = {
    "nexuiz-music": "train", "ufoai-music": "train", "singularity-music": "train",
    "freedroidrpg-data": "train", "flare-game": "train", "megaglest-data": "train",
    "supertux-data": "train", "openclipart-png": "train",
    "naev-data": "calib", "hyperrogue-music": "calib",
    "hedgewars-data": "test", "drascula-music": "test",
}
DEBIAN_PACKAGES = tuple(DEBIAN_SPLIT)
# Curation of the Debian set, for images only: a source whose "backgrounds" are not scenery (clip-art
# flags and screenshots; texture atlases of 3-D units) gives only the roles named / skips the paths.
IMAGE_CURATION = {"openclipart-png": {"roles": ("sprite",)}, "megaglest-data": {"skip": ("/techs/",)}}
# Dialogue voices of the speech bank, split like the other sources (by voice): espeak-ng languages
# reading made-up romaji lines, flite's English voices, and Japanese (hiragana lines), Mandarin and
# Cantonese (hanzi lines).  Japanese, the language of real anime, is in every split, split by espeak-ng's
# voice variant: a voice named with its variant ("ja+m1") speaks with that one only, and so does a
# language of SPLIT_BY_VARIANT named without one (its default voice), so no timbre crosses splits.
SPEECH_VOICES = {
    "train": ("espeak-ng:en", "espeak-ng:en-us", "espeak-ng:de", "espeak-ng:es", "espeak-ng:nl",
              "espeak-ng:sv", "espeak-ng:pl", "espeak-ng:id", "espeak-ng:fi", "espeak-ng:cs",
              "espeak-ng:hu", "espeak-ng:tr", "flite:kal16", "flite:awb", "flite:rms",
              "espeak-ng:ja+m1", "espeak-ng:ja+f2", "espeak-ng:ja+m3", "espeak-ng:cmn", "espeak-ng:yue"),
    "calib": ("espeak-ng:ro", "espeak-ng:da", "espeak-ng:sk", "flite:slt", "espeak-ng:ja+f1"),
    "test": ("espeak-ng:fr", "espeak-ng:it", "espeak-ng:pt", "espeak-ng:ja", "espeak-ng:vi",
             "espeak-ng:ja+f4"),
}
ESPEAK_VARIANTS = ("", "+m1", "+m3", "+f1", "+f2", "+f4")
SPLIT_BY_VARIANT = ("ja",)


def speech_line(rng: np.random.Generator, voice_name: str) -> str:
    """A made-up dialogue line for an espeak-ng / flite voice: hiragana for Japanese (espeak-ng reads
    kana, not kanji), hanzi for Mandarin and Cantonese, romaji for the others."""
    from datatools.synth.text import HIRAGANA, Lexicon, pick_letters, sentence

    lang = voice_name.split("+", 1)[0]
    if lang == "ja":
        return "、".join(pick_letters(rng, HIRAGANA, 2, 4) for _ in range(int(rng.integers(3, 8)))) + "。"
    if lang in ("cmn", "yue"):
        return Lexicon("zh").sentence(rng)
    return " ".join(sentence(rng) for _ in range(int(rng.integers(1, 3))))


def espeak_variant(rng: np.random.Generator, voice_name: str) -> str:
    """The voice variant a line is spoken with: none for a voice named with one or of a language split
    by variant, else one of ESPEAK_VARIANTS at random."""
    if "+" in voice_name or voice_name in SPLIT_BY_VARIANT:
        return ""
    return ESPEAK_VARIANTS[int(rng.integers(len(ESPEAK_VARIANTS)))]


def SPLIT_RULE(source: str) -> str:
    """Split of a source outside the fixed table: 1 in 5 to test, 1 in 10 to calib, by crc32."""
    h = zlib.crc32(source.encode()) % 10
    return "test" if h < 2 else "calib" if h == 2 else "train"


class MaterialError(ValueError):
    """A material folder or index that cannot be used; the message names the path and the reason."""


def forbidden(name: str) -> bool:
    """True for a source (or any path component) reserved for the independent held-out judgement."""
    low = name.lower()
    return low.startswith(("wesnoth", "colobot", "warzone2100")) or low == "asc-music"


def _forbidden_path(path: Path) -> str | None:
    for part in Path(os.path.realpath(path)).parts:
        if forbidden(part):
            return part
    return None


def default_split(source: str) -> str:
    if source.startswith(SPEECH_PREFIX):
        voice = voice_of_source(source)
        for part, voices in SPEECH_VOICES.items():
            if voice in voices:
                return part
    return DEBIAN_SPLIT.get(source) or SPLIT_RULE(source)


def source_of_voice(voice: str) -> str:
    """``espeak-ng:fr`` -> ``speech-espeak-ng-fr`` (a folder name)."""
    engine, name = voice.split(":", 1)
    return f"{SPEECH_PREFIX}{engine}-{name}"


def voice_of_source(source: str) -> str:
    rest = source[len(SPEECH_PREFIX):]
    for engine in ("espeak-ng", "flite"):
        if rest.startswith(engine + "-"):
            return f"{engine}:{rest[len(engine) + 1:]}"
    return rest


# ----------------------------------------------------------------------------------------------
# Measuring files


def sha1_of(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def audio_info(path: Path) -> tuple[float, int]:
    """(duration s, sample rate) from the file header (libsndfile, else PyAV)."""
    try:
        import soundfile as sf
        info = sf.info(str(path))
        return float(info.duration), int(info.samplerate)
    except Exception:
        import av
        with av.open(str(path)) as c:
            st = c.streams.audio[0]
            if c.duration:
                return float(c.duration) / av.time_base, int(st.rate)
            return float(st.duration * st.time_base), int(st.rate)


def read_audio(path: str | os.PathLike, sr: int, offset: float = 0.0, duration: float | None = None
               ) -> np.ndarray:
    """Mono float32 at ``sr`` Hz of [offset, offset + duration) seconds of an audio file."""
    import librosa
    y, _ = librosa.load(str(path), sr=sr, mono=True, offset=max(0.0, float(offset)), duration=duration,
                        res_type="soxr_hq")
    return np.asarray(y, np.float32)


def loudness_db(path: Path, duration: float, probe_s: float = 30.0) -> float:
    """RMS level (dBFS) of up to ``probe_s`` seconds from the middle of the file."""
    start = max(0.0, duration / 2 - probe_s / 2)
    y = read_audio(path, 22050, start, min(probe_s, duration))
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    return round(20 * np.log10(max(rms, 1e-9)), 2)


def image_info(path: Path) -> tuple[int, int, float]:
    """(width, height, share of transparent pixels) of an image."""
    from PIL import Image
    with Image.open(path) as im:
        w, h = im.size
        clear = 0.0
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            a = np.asarray(im.convert("RGBA").resize((min(w, 128), min(h, 128))))[..., 3]
            clear = float((a < 128).mean())
    return int(w), int(h), round(clear, 4)


def image_role(w: int, h: int, clear: float) -> str | None:
    """'background', 'sprite' or None (unusable: an icon, a strip, almost empty)."""
    if min(w, h) < MIN_IMAGE_PX or max(w, h) > 12 * min(w, h):
        return None
    if SPRITE_CLEAR[0] <= clear <= SPRITE_CLEAR[1]:
        return "sprite"
    if clear < 0.02 and min(w, h) >= MIN_BACKGROUND_PX and 0.4 <= w / h <= 3.5:
        return "background"
    return None


def licence_of(folder: Path) -> tuple[str, str | None]:
    """(licence summary, licence file relative to the folder) from a Debian copyright file (its
    distinct ``License:`` fields) or a LICENSE/COPYING file (its first line)."""
    for name in LICENCE_FILES:
        hits = sorted(p for p in folder.glob(name + "*") if p.is_file())
        if not hits:
            continue
        text = hits[0].read_text(encoding="utf-8", errors="replace")
        names = list(dict.fromkeys(m.strip() for m in re.findall(r"^License:\s*(\S.*)$", text, re.M)))
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not names and len(lines) <= 3:   # a short licence note: its first line names it
            names = lines[:1]
        if not names:   # an old-style copyright file: the licences its prose names
            names = [name for name, pat in LICENCE_WORDS if re.search(pat, text, re.I | re.S)]
            for general, specific in (("GPL", "GPL-"), ("CC-BY", "CC-BY-SA")):   # the more specific wins
                if general in names and any(n.startswith(specific) for n in names):
                    names.remove(general)
        return (", ".join(names)[:200] or "unknown (see the licence file)"), hits[0].name
    return "unknown", None


# ----------------------------------------------------------------------------------------------
# The index


def _entry(path: Path, root: Path, source: str) -> tuple[dict | None, str | None]:
    """One file's index entry, or (None, reason skipped)."""
    ext = path.suffix.lower()
    rel = path.relative_to(root).as_posix()
    try:
        if ext in AUDIO_EXTS:
            dur, rate = audio_info(path)
            speech = source.startswith(SPEECH_PREFIX)
            if not speech and dur < MIN_MUSIC_S:
                return None, "audio shorter than 30 s (a sound effect)"
            level = loudness_db(path, dur)
            if level < SILENT_DB:
                return None, "silent audio"
            e = {"path": rel, "source": source, "kind": "speech" if speech else "music",
                 "duration": round(dur, 3), "rate": rate, "rms_db": level}
        elif ext in IMAGE_EXTS:
            w, h, clear = image_info(path)
            role = image_role(w, h, clear)
            if role is None:
                return None, "image too small, too thin, or neither opaque nor a cut-out"
            cur = IMAGE_CURATION.get(source, {})
            if role not in cur.get("roles", (role,)) or any(x in "/" + rel for x in cur.get("skip", ())):
                return None, f"{role} not used from this source (IMAGE_CURATION)"
            e = {"path": rel, "source": source, "kind": role, "width": w, "height": h, "clear": clear}
        else:
            return None, None
    except Exception as exc:  # a broken file is skipped, never the index
        return None, f"unreadable ({type(exc).__name__})"
    e["sha1"] = sha1_of(path)
    e["bytes"] = path.stat().st_size
    return e, None


def index_folder(root: str | os.PathLike, splits: Mapping[str, str] | None = None, progress: bool = True,
                 workers: int = 1) -> dict:
    """Index every source of a material folder and write ``<root>/material.json`` (see the module
    docstring).  Raises MaterialError for a missing folder, a forbidden source, or a folder with no
    usable file."""
    from tqdm import tqdm

    root = Path(root).resolve()
    if not root.is_dir():
        raise MaterialError(f"{root}: no such material folder")
    splits = dict(splits or {})
    bad = [p for p, s in splits.items() if s not in SPLITS]
    if bad:
        raise MaterialError(f"--split {bad[0]}={splits[bad[0]]}: the part must be one of {', '.join(SPLITS)}")
    jobs: list[tuple[Path, str]] = []
    sources: dict[str, dict] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        name = folder.name
        if forbidden(name):
            raise MaterialError(
                f"{folder}: source {name!r} is reserved for the independent held-out judgement "
                f"(never {', '.join(FORBIDDEN)}); remove it from the material folder"
            )
        lic, lic_file = licence_of(folder)
        sources[name] = {"split": splits.get(name) or default_split(name), "licence": lic,
                         "licence_file": f"{name}/{lic_file}" if lic_file else None}
        for p in sorted(folder.rglob("*")):
            if p.suffix.lower() in AUDIO_EXTS + IMAGE_EXTS and p.is_file():
                hit = _forbidden_path(p)
                if hit:
                    raise MaterialError(
                        f"{p}: lies in {hit!r}, reserved for the independent held-out judgement"
                    )
                jobs.append((p, name))
    files, skipped, seen = [], {}, {}
    it = ((p, s, *_entry(p, root, s)) for p, s in jobs)
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        pool = ProcessPoolExecutor(workers)
        it = ((p, s, *r) for (p, s), r in zip(jobs, pool.map(_entry_job, [(p, root, s) for p, s in jobs],
                                                             chunksize=16)))
    for _p, _s, e, why in tqdm(it, total=len(jobs), desc="material", unit="file", disable=not progress):
        if e is None:
            if why:
                skipped[why] = skipped.get(why, 0) + 1
            continue
        if e["sha1"] in seen:      # the same file twice (e.g. one soundtrack per game language)
            skipped["duplicate content"] = skipped.get("duplicate content", 0) + 1
            continue
        seen[e["sha1"]] = e["path"]
        files.append(e)
    if workers > 1:
        pool.shutdown()
    for name, src in sources.items():
        mine = [f for f in files if f["source"] == name]
        src.update(music=sum(f["kind"] == "music" for f in mine),
                   music_seconds=round(sum(f.get("duration", 0) for f in mine if f["kind"] == "music"), 1),
                   backgrounds=sum(f["kind"] == "background" for f in mine),
                   sprites=sum(f["kind"] == "sprite" for f in mine),
                   speech=sum(f["kind"] == "speech" for f in mine))
    sources = {
        k: v for k, v in sources.items() if any(v[c] for c in ("music", "backgrounds", "sprites", "speech"))
    }
    if not files:
        raise MaterialError(f"{root}: no usable file (audio of {MIN_MUSIC_S:g} s or more, images of at least "
                            f"{MIN_BACKGROUND_PX} px or with a cut-out) in any source sub-folder")
    index = {"version": INDEX_VERSION, "sources": sources, "files": files, "skipped": skipped,
             "content_hash": hashlib.sha1("".join(sorted(f["sha1"] for f in files)).encode()).hexdigest()}
    from datatools.fileio import atomic_write_json
    atomic_write_json(root / MATERIAL_FILE, index, indent=1)
    return index


def _entry_job(args):
    return _entry(*args)


def read_index(root: str | os.PathLike) -> dict:
    """The index of a material folder; MaterialError when it is missing or of another version."""
    path = Path(root) / MATERIAL_FILE
    if not path.is_file():
        raise MaterialError(f"{Path(root)}: no {MATERIAL_FILE}; build it with "
                            f"`python -m datatools.synth.material index {root}`")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MaterialError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if index.get("version") != INDEX_VERSION:
        raise MaterialError(f"{path}: index version {index.get('version')!r}, this code reads "
                            f"{INDEX_VERSION}; rebuild it with "
                            f"`python -m datatools.synth.material index {root}`")
    return index


@dataclass(frozen=True)
class Pool:
    """The usable files of one split, absolute paths, sorted (so a seed picks the same file)."""
    root: str
    split: str
    music: tuple[dict, ...]
    backgrounds: tuple[dict, ...]
    sprites: tuple[dict, ...]
    speech: dict[str, tuple[dict, ...]]     # voice source -> its lines
    content_hash: str

    def path(self, entry: Mapping) -> str:
        return os.path.join(self.root, entry["path"])


@lru_cache(maxsize=8)
def load_pool(root: str, split: str) -> Pool:
    """The files of ``split`` (train, calib, test or all) of a material folder; cached per process.
    MaterialError when the split has no music or no background."""
    if split not in SPLITS + ("all",):
        raise MaterialError(f"material split {split!r}: choose one of {', '.join(SPLITS)}, all")
    index = read_index(root)
    parts = {k: v["split"] for k, v in index["sources"].items()}
    mine = [f for f in index["files"] if split == "all" or parts.get(f["source"]) == split]
    by = {k: tuple(sorted((f for f in mine if f["kind"] == k), key=lambda f: f["path"]))
          for k in ("music", "background", "sprite", "speech")}
    if not by["music"] or not by["background"]:
        raise MaterialError(f"{root}: split {split!r} has {len(by['music'])} music file(s) and "
                            f"{len(by['background'])} background(s); it needs both")
    speech: dict[str, list[dict]] = {}
    for f in by["speech"]:
        speech.setdefault(f["source"], []).append(f)
    return Pool(str(Path(root).resolve()), split, by["music"], by["background"], by["sprite"],
                {k: tuple(v) for k, v in sorted(speech.items())}, index.get("content_hash", ""))


def summary_table(index: Mapping) -> str:
    """Markdown table of the sources: split, licence, what each gives."""
    lines = ["| source | split | licence | music (min) | backgrounds | sprites | speech lines |",
             "|---|---|---|---|---|---|---|"]
    for name, s in sorted(index["sources"].items(), key=lambda kv: (SPLITS.index(kv[1]["split"]), kv[0])):
        lines.append(
            f"| {name} | {s['split']} | {s['licence']} | {s['music']} ({s['music_seconds'] / 60:.0f}) | "
            f"{s['backgrounds']} | {s['sprites']} | {s['speech']} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# The documented Debian set and the speech bank (make material)


def _installed_files(package: str) -> list[Path]:
    out = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    if out.returncode != 0:
        raise MaterialError(f"Debian package {package} is not installed (apt-get install {package})")
    return [Path(x) for x in out.stdout.splitlines() if x.strip()]


def link_debian(out: Path, packages: Sequence[str], progress: bool = True) -> list[str]:
    """One source folder per installed package under ``out``: symbolic links to its audio and image
    files (archives of music, such as Quake-style .pk3, are unpacked), and its Debian copyright file.
    Returns the packages linked."""
    done = []
    for pkg in packages:
        if forbidden(pkg):
            raise MaterialError(f"{pkg}: reserved for the independent held-out judgement; never used")
        files = _installed_files(pkg)
        dest = out / pkg
        dest.mkdir(parents=True, exist_ok=True)
        cp = Path("/usr/share/doc") / pkg / "copyright"
        if cp.is_file():
            shutil.copyfile(cp, dest / "copyright")
        media = [f for f in files if f.suffix.lower() in AUDIO_EXTS + IMAGE_EXTS and f.is_file()]
        for f in media:
            rel = Path(*f.parts[1:])   # the installed path below /, so no two files collide
            link = dest / rel
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(f, link)
        for arc in (f for f in files if f.suffix.lower() in (".pk3", ".zip") and f.is_file()):
            with zipfile.ZipFile(arc) as z:
                for m in z.namelist():
                    if m.lower().endswith(AUDIO_EXTS):
                        target = dest / "unpacked" / arc.stem / m
                        if not target.exists():
                            target.parent.mkdir(parents=True, exist_ok=True)
                            with z.open(m) as src, open(target, "wb") as dst:
                                shutil.copyfileobj(src, dst)
        done.append(pkg)
        if progress:
            print(f"material: {pkg}: {len(media)} media files linked", file=sys.stderr)
    return done


def render_speech_bank(out: Path, voices: Iterable[str], lines_per_voice: int = 40, seed: int = 0,
                       sr: int = 22050) -> int:
    """Render dialogue lines (made-up sentences, speech_line: kana, hanzi or romaji) with espeak-ng
    (several voice variants, speeds and pitches) or flite into ``out/speech-<engine>-<voice>/``
    (FLAC, mono, ``sr`` Hz); a line already rendered is kept.  Returns the lines written."""
    import soundfile as sf

    written = 0
    for voice in voices:
        engine, name = voice.split(":", 1)
        exe = shutil.which(engine)
        if exe is None:
            raise MaterialError(
                f"{engine} is not installed (apt-get install {engine}); it renders the speech bank"
            )
        folder = out / source_of_voice(voice)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "LICENSE").write_text(f"Rendered by {engine} (voice {name}) from made-up text; "
                                        f"{'GPL-3+' if engine == 'espeak-ng' else 'BSD-like (flite)'}.\n")
        rng = np.random.default_rng([seed, zlib.crc32(voice.encode())])
        for i in range(lines_per_voice):
            text = speech_line(rng, name)
            variant = espeak_variant(rng, name)
            speed, pitch = int(rng.integers(130, 215)), int(rng.integers(25, 85))
            target = folder / f"{i:03d}.flac"
            if target.is_file():
                continue
            tmp = folder / f".{i:03d}.wav"
            if engine == "espeak-ng":
                cmd = [exe, "-v", name + variant, "-s", str(speed), "-p", str(pitch), "-w", str(tmp), text]
            else:
                cmd = [exe, "-voice", name, "--setf", f"duration_stretch={rng.uniform(0.8, 1.25):.2f}",
                       "--setf", f"int_f0_target_mean={rng.uniform(90, 190):.0f}", "-t", text, "-o", str(tmp)]
            r = subprocess.run(cmd, capture_output=True)
            if r.returncode != 0 or not tmp.is_file():
                raise MaterialError(
                    f"{engine} failed on voice {name}: {r.stderr.decode(errors='replace')[-200:]}"
                )
            y = read_audio(tmp, sr)
            tmp.unlink()
            peak = float(np.abs(y).max()) if y.size else 0.0
            if peak < 1e-4:
                continue
            sf.write(target, (0.9 * y / peak).astype(np.float32), sr, format="FLAC")
            written += 1
    return written


# ----------------------------------------------------------------------------------------------
# Command line


def _splits(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise argparse.ArgumentTypeError(f"--split {it!r}: expected SOURCE=PART")
        k, v = it.split("=", 1)
        out[k] = v
    return out


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m datatools.synth.material",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("index", help="(re)build DIR/material.json from DIR's source sub-folders")
    i.add_argument("folder", metavar="DIR")
    s = sub.add_parser("show", help="print the sources of DIR/material.json: split, licence, counts")
    s.add_argument("folder", metavar="DIR")
    d = sub.add_parser("debian", help="link the installed Debian packages into --out, render the speech "
                                      "bank and index (what `make material` runs after apt-get install)")
    d.add_argument("--out", default="work_dir/material", help="material folder to build")
    d.add_argument("--packages", nargs="+", default=list(DEBIAN_PACKAGES), help="Debian packages to link")
    d.add_argument("--lines_per_voice", type=int, default=40, help="dialogue lines rendered per voice")
    d.add_argument("--no_speech", action="store_true", help="do not render the speech bank")
    for q in (i, d):
        q.add_argument("--split", nargs="*", default=[], metavar="SOURCE=PART",
                       help=f"override a source's split ({', '.join(SPLITS)})")
        q.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes measuring files")
        q.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        if args.cmd == "show":
            print(summary_table(read_index(args.folder)))
            return 0
        if args.cmd == "debian":
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            link_debian(out, args.packages, not args.no_progress)
            if not args.no_speech:
                voices = [v for part in SPLITS for v in SPEECH_VOICES[part]]
                n = render_speech_bank(out, voices, args.lines_per_voice)
                print(f"material: speech bank: {n} new line(s) for {len(voices)} voices", file=sys.stderr)
            folder = out
        else:
            folder = Path(args.folder)
        index = index_folder(folder, _splits(args.split), not args.no_progress, args.workers)
    except (MaterialError, argparse.ArgumentTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_table(index))
    print(f"\n{len(index['files'])} files indexed in {Path(folder) / MATERIAL_FILE}; skipped: "
          + (", ".join(f"{v} {k}" for k, v in sorted(index["skipped"].items())) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
