"""Preparing the model inputs of whole episodes: the clip windows (the first and the last S seconds,
later windows for the late-opening scan) and their mapping to episode time, probing a file, decoding
windows in memory and computing their features with the preprocessing code, and the worker pool that
does it for a run.
"""
from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from datatools.spec import SAMPLE_RATE
from preprocessing.media import ClipDecodeError, decode_clip
from preprocessing.stages import Options, features_from_decoded

WINDOWS = ("start", "end")        # the two clips of an episode


class EpisodeError(RuntimeError):
    """An episode that cannot be used; the message is one line without the file name."""


# ----------------------------------------------------------------------------------------------
# Clip windows and time mapping (pure)


def clip_offset(kind: str, duration: float, clip_seconds: float) -> float:
    """Episode time at which the ``kind`` ("start"/"end") clip begins: 0, or duration - S."""
    if kind == "start":
        return 0.0
    if kind == "end":
        return max(0.0, float(duration) - float(clip_seconds))
    raise ValueError(f"unknown clip kind {kind!r}")


def episode_time(kind: str, clip_time: float, duration: float, clip_seconds: float) -> float:
    """Clip time -> episode time (end clip: duration - S + clip_time)."""
    return clip_offset(kind, duration, clip_seconds) + float(clip_time)


# ----------------------------------------------------------------------------------------------
# Preprocessing one episode (runs in pool workers)


@dataclass
class Prepared:
    """What the models and the plots need of one episode; small enough to pass between processes."""
    path: str
    duration: float
    # "start"/"end" -> {"mfcc", "frames", "roi"[, "chroma", "pictures" with season]}
    features: dict[str, dict[str, Any]]
    energy: dict[str, np.ndarray]             # per-second audio RMS of each clip
    text: dict[str, np.ndarray]               # per-second share of the text-ROI grid that is set
    info: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0                      # wall time of decoding + features


def probe_duration(path: str | os.PathLike) -> float:
    """Duration in seconds from the container (PyAV), else from its longest stream."""
    import av

    try:
        with av.open(str(path)) as c:
            if c.duration is not None and c.duration > 0:
                return float(c.duration) / av.time_base
            lengths = [float(s.duration * s.time_base) for s in c.streams
                       if s.duration is not None and s.time_base is not None]
    except av.error.FFmpegError as exc:
        raise EpisodeError(f"not a readable media file ({exc.__class__.__name__})") from None
    if not lengths:
        raise EpisodeError("the container states no duration")
    return max(lengths)


def per_second_rms(audio: np.ndarray, clip_seconds: int) -> np.ndarray:
    """RMS of each second of a 22 050 Hz signal (zeros past its end)."""
    out = np.zeros(clip_seconds, np.float32)
    n = min(clip_seconds, int(math.ceil(audio.size / SAMPLE_RATE)))
    for k in range(n):
        seg = audio[k * SAMPLE_RATE:(k + 1) * SAMPLE_RATE]
        out[k] = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64)))) if seg.size else 0.0
    return out


@dataclass
class PreparedClip:
    """One window of an episode (the first or the last S seconds), ready for the models."""
    kind: str
    duration: float
    features: dict[str, Any]
    energy: np.ndarray
    text: np.ndarray
    info: dict[str, Any]
    seconds: float


def head_seconds(duration: float, clip_seconds: float, scan_limit: float) -> float:
    """How much of an episode's head season mode fingerprints: as far as the late-opening scan looks
    (``scan_limit``), at least the first window, never into the last window."""
    return float(max(float(clip_seconds), min(float(scan_limit), float(duration) - float(clip_seconds))))


def head_fingerprint(path: str, seconds: float, first: np.ndarray, threads: int = 0) -> np.ndarray:
    """Chromaprint points of an episode's first ``seconds``: the first window's decoded audio
    (``first``) and, where the head is longer, the rest decoded as audio alone in the same way
    (preprocessing.media.decode_clip, the same time origin), so that every head's first S seconds give the
    same points as the window itself."""
    from preprocessing.fingerprint import fingerprint_samples

    n = int(math.ceil(seconds))
    have = first.size // SAMPLE_RATE
    audio = first
    if n > have:
        try:
            rest = decode_clip(path, n - have, start_s=float(have), want_frames=False, want_ocr=False,
                               threads=threads).audio
        except ClipDecodeError:
            rest = np.zeros(0, np.float32)
        audio = np.concatenate([first[:have * SAMPLE_RATE], rest])
    return fingerprint_samples(audio[:int(round(seconds * SAMPLE_RATE))], SAMPLE_RATE)


def prepare_clip(
    path: str, kind: str, clip_seconds: int, opts: Options, season: bool = False, scan_limit: float = 0.0
) -> PreparedClip:
    """Decode one window (``kind`` "start" or "end") of an episode once and compute its features in
    memory.  With ``season``, its Chromaprint points too: of the last window itself, and of the head of
    the episode as far as ``scan_limit`` (head_fingerprint).  Raises EpisodeError (one line) for an
    unreadable file, no audio track, or an episode shorter than 2 S (the two windows would overlap and
    the end window's offsets would mean nothing)."""
    t0 = time.perf_counter()
    S = int(clip_seconds)
    names = ("mfcc", "frames", "ocr", "roi") + (("chroma",) if season and kind == "end" else ())
    kw = dict(ocr_size=opts.ocr_size, threads=opts.threads)
    too_short = (
        "episode is {:.1f} s long; needs at least 2 x S = " + f"{2 * S} s (S = {S} s from the checkpoints)"
    )
    if kind == "start":   # decoding first gives the most telling message for a bad file
        try:
            dec = decode_clip(path, S, start_s=0.0, **kw)
        except ClipDecodeError as exc:
            raise EpisodeError(str(exc)) from None
        if not dec.info.get("has_audio"):
            raise EpisodeError("no audio stream (the models need the soundtrack)")
        duration = probe_duration(path)
        if duration < 2 * S:
            raise EpisodeError(too_short.format(duration))
    else:
        duration = probe_duration(path)
        if duration < 2 * S:
            raise EpisodeError(too_short.format(duration))
        try:
            dec = decode_clip(path, S, start_s=clip_offset("end", duration, S), **kw)
        except ClipDecodeError as exc:
            raise EpisodeError(f"end clip: {exc}") from None
        if not dec.info.get("has_audio"):
            raise EpisodeError("no audio stream (the models need the soundtrack)")
    f = features_from_decoded(dec, S, opts, names)
    f.pop("ocr")  # boxes are only needed for the ROI maps
    if season:
        from fuse.pictures import thumbnails

        f["pictures"] = thumbnails(f["frames"])   # the head's: the late-opening scan extends them
    if season and kind == "start":
        f["chroma"] = head_fingerprint(path, head_seconds(duration, S, scan_limit), dec.audio, opts.threads)
    info = {k: dec.info.get(k) for k in ("width", "height", "fps")}
    return PreparedClip(
        kind,
        duration,
        f,
        per_second_rms(dec.audio, S),
        f["roi"].reshape(S, -1).mean(axis=1).astype(np.float32),
        info,
        time.perf_counter() - t0,
    )


def assemble(path: str, clips: Sequence[PreparedClip]) -> Prepared:
    """The episode from its two prepared windows."""
    by = {c.kind: c for c in clips}
    return Prepared(
        str(path),
        by["start"].duration,
        {k: c.features for k, c in by.items()},
        {k: c.energy for k, c in by.items()},
        {k: c.text for k, c in by.items()},
        by["start"].info,
        sum(c.seconds for c in clips),
    )


def prepare_episode(path: str, clip_seconds: int, opts: Options, season: bool = False,
                    scan_limit: float = 0.0) -> Prepared:
    """Both windows of an episode, one after the other (prepare_clip)."""
    return assemble(path, [prepare_clip(path, k, clip_seconds, opts, season, scan_limit) for k in WINDOWS])


def _prepare_job(path: str, kind: str | None, clip_seconds: int, opts: Options, season: bool,
                 scan_limit: float = 0.0):
    """Pool worker: never raises, so one bad file cannot end the run.  ``kind`` None: the whole
    episode (path, Prepared | None, error); else one window (path, PreparedClip | None, error)."""
    try:
        if kind is None:
            return path, prepare_episode(path, clip_seconds, opts, season, scan_limit), None
        return path, prepare_clip(path, kind, clip_seconds, opts, season, scan_limit), None
    except EpisodeError as exc:
        return path, None, str(exc)
    except Exception as exc:  # any library error on a strange file stays that file's failure
        return path, None, f"{type(exc).__name__}: {exc}"


def _warm_worker(ocr_backend: str) -> None:
    """Pool worker start-up, while the parent still loads torch and the checkpoints: import the
    decoder's and the features' libraries and build the text detector (kept per process)."""
    import av  # noqa: F401
    import librosa.feature  # noqa: F401

    from preprocessing.ocr import get_detector
    get_detector(ocr_backend, threads=1)


def start_pool(workers: int, ocr_backend: str) -> ProcessPoolExecutor:
    """The worker processes of a whole predict run (windows of every episode, the late-opening
    scan), started before the parent imports torch so that their start-up overlaps its model
    loading; every worker single-threaded."""
    pool = ProcessPoolExecutor(max_workers=workers)
    for _ in range(workers):
        pool.submit(_warm_worker, ocr_backend)
    return pool


def iter_prepared(paths: Sequence[str], clip_seconds: int, opts: Options, workers: int,
                  season: bool = False, progress: bool = True, pool: ProcessPoolExecutor | None = None,
                  scan_limit: float = 0.0) -> Iterator[tuple[str, Prepared | None, str | None]]:
    """(path, Prepared or None, error or None) for every path, as they finish; a progress bar
    across files.  With ``workers > 1`` a process per core (decoder and detector single-threaded
    each) prepares the windows, the two windows of an episode as two jobs, so that even a single
    episode uses two cores; ``pool`` (start_pool) is used instead of a pool of its own."""
    from tqdm import tqdm

    bar = tqdm(total=len(paths), desc="episodes", unit="ep", disable=not progress,
               dynamic_ncols=True)
    try:
        if workers <= 1:
            for p in paths:
                yield _prepare_job(p, None, clip_seconds, opts, season, scan_limit)
                bar.update(1)
            return
        with (nullcontext(pool) if pool is not None else
              ProcessPoolExecutor(max_workers=min(workers, 2 * len(paths)))) as pool:
            # a few episodes ahead of the workers, never the whole library: memory stays flat
            jobs = iter([(p, k) for p in paths for k in WINDOWS])
            futs: dict = {}

            def submit(n: int) -> None:
                for path, kind in itertools.islice(jobs, n):
                    futs[pool.submit(_prepare_job, path, kind, clip_seconds, opts, season,
                                     scan_limit)] = (path, kind)

            submit(2 * workers + 2 * len(WINDOWS))
            parts: dict[str, dict[str, tuple]] = {}
            while futs:
                done, _ = wait(futs, return_when=FIRST_COMPLETED)
                fut = next(iter(done))
                path, kind = futs.pop(fut)
                submit(1)
                try:
                    parts.setdefault(path, {})[kind] = fut.result()[1:]
                except Exception as exc:  # the worker process died (e.g. out of memory)
                    parts.setdefault(path, {})[kind] = (None, f"worker crashed: {type(exc).__name__}: {exc}")
                if len(parts[path]) < len(WINDOWS):
                    continue
                got = parts.pop(path)
                errors = [got[k][1] for k in WINDOWS if got[k][0] is None]
                yield (
                    (path, None, errors[0])
                    if errors
                    else (path, assemble(path, [got[k][0] for k in WINDOWS]), None)
                )
                bar.update(1)
    finally:
        bar.close()


# ----------------------------------------------------------------------------------------------
# Later windows of one episode (the late-opening scan)


def _span_part(path: str, start: int, seconds: int, opts: Options) -> tuple:
    """(frames, boxes per second, audio, frame size) of [start, start + seconds) of an episode."""
    dec = decode_clip(path, seconds, start_s=float(start), ocr_size=opts.ocr_size, threads=opts.threads)
    rec = features_from_decoded(dec, seconds, replace(opts), ("ocr",))["ocr"]
    return dec.frames, rec["seconds"], dec.audio, tuple(rec["frame_size"])


def window_features(path: str, starts: Sequence[float], clip_seconds: int, opts: Options,
                    workers: int = 1, pool: ProcessPoolExecutor | None = None) -> list[dict[str, np.ndarray]]:
    """The model inputs of several S-second windows of one episode (``starts`` on whole seconds):
    the span they cover is decoded and its text detected once, however the windows overlap, in
    ``workers`` consecutive parts side by side; each window then takes its seconds of frames and
    boxes and its own MFCC (as the preprocessing computes them for a clip).  Windows that do not
    start on a whole second are decoded one by one.  Stops at the first window that cannot be decoded.
    ``starts`` must be ascending (ValueError otherwise: the covered span is read from its ends)."""
    from preprocessing.media import mfcc_from_audio
    from preprocessing.text_roi import roi_from_boxes

    if any(b < a for a, b in zip(starts, starts[1:])):
        raise ValueError(f"window starts must be ascending, got {list(starts)}")
    S = int(clip_seconds)
    if any(abs(t - round(t)) > 1e-9 for t in starts):
        out = []
        for t in starts:
            try:
                f = features_from_decoded(
                    decode_clip(path, S, start_s=t, ocr_size=opts.ocr_size, threads=opts.threads),
                    S,
                    replace(opts),
                    ("mfcc", "frames", "ocr", "roi"),
                )
            except ClipDecodeError:
                break
            f.pop("ocr")
            out.append(f)
        return out
    lo, hi = int(round(starts[0])), int(round(starts[-1])) + S
    n = max(1, min(int(workers), (hi - lo) // S))
    cuts = [lo + (hi - lo) * i // n for i in range(n + 1)]
    jobs = [
        (path, a, b - a, replace(opts, threads=1 if n > 1 else opts.threads)) for a, b in zip(cuts, cuts[1:])
    ]
    try:
        if n > 1:
            with (nullcontext(pool) if pool is not None else ProcessPoolExecutor(max_workers=n)) as ex:
                parts = list(ex.map(_span_part, *zip(*jobs)))
        else:
            parts = [_span_part(*jobs[0])]
    except ClipDecodeError:
        return []
    frames = np.concatenate([p[0] for p in parts])
    boxes = [b for p in parts for b in p[1]]
    audio = np.concatenate(
        [
            np.pad(p[2], (0, max(0, (b - a) * SAMPLE_RATE - p[2].size)))[: (b - a) * SAMPLE_RATE]
            for p, a, b in zip(parts, cuts, cuts[1:])
        ]
    )
    out = []
    for t in starts:
        a = int(round(t)) - lo
        out.append({"mfcc": mfcc_from_audio(audio[a * SAMPLE_RATE:(a + S) * SAMPLE_RATE], S),
                    "frames": frames[a:a + S], "roi": roi_from_boxes(boxes[a:a + S], parts[0][3], S)})
    return out

