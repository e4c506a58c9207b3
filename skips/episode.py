"""Skip timestamps for whole episode files, the library behind predict.py: decode the first and the
last S seconds of an episode in memory, turn them into features with the preprocessing code, run
every checkpoint on both clips, fuse them per boundary (fuse/fuse.py's rule), map clip time back to
episode time, and (``apply_season_mode``) weigh theme-song matches across episodes against the
models (fuse.season_rule).  Output formats are in skips/formats.py, the timeline plot in
skips/plot.py; predict.py is the command line.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from datatools.spec import SAMPLE_RATE, clip_path
from utils.jobs import VIDEO_EXTS, Clip, discover_clips
from utils.media import ClipDecodeError, decode_clip
from utils.preprocess import Options, features_from_decoded

DEFAULT_THEME_LENGTH_S = 90.0   # TV-size theme songs run about 90 s
MIN_CHAPTER_S = 0.5             # shorter leftovers (e.g. 0.2 s before a detected OP) get no chapter
KINDS = ("start", "end")        # the two clips of an episode


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


def skip_ranges(op_end: float, ed_start: float, duration: float, op_length: float,
                ed_length: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """``op = [max(0, op_end - op_length), op_end]``, ``ed = [ed_start, min(duration, ed_start +
    ed_length)]`` in episode seconds."""
    op = (max(0.0, op_end - op_length), op_end)
    ed = (ed_start, min(float(duration), ed_start + ed_length))
    return op, ed


# ----------------------------------------------------------------------------------------------
# Preprocessing one episode (runs in pool workers)


@dataclass
class Prepared:
    """What the models and the plots need of one episode; small enough to pass between processes."""
    path: str
    duration: float
    features: dict[str, dict[str, Any]]       # "start"/"end" -> {"mfcc", "frames", "roi"[, "chroma"]}
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


def prepare_clip(
    path: str, kind: str, clip_seconds: int, opts: Options, season: bool = False
) -> PreparedClip:
    """Decode one window (``kind`` "start" or "end") of an episode once and compute its features in
    memory.  Raises EpisodeError (one line) for an unreadable file, no audio track, or an episode
    shorter than 2 S (the two windows would overlap and the end window's offsets would mean nothing)."""
    t0 = time.perf_counter()
    S = int(clip_seconds)
    names = ("mfcc", "frames", "ocr", "roi") + (("chroma",) if season else ())
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


def prepare_episode(path: str, clip_seconds: int, opts: Options, season: bool = False) -> Prepared:
    """Both windows of an episode, one after the other (prepare_clip)."""
    return assemble(path, [prepare_clip(path, k, clip_seconds, opts, season) for k in KINDS])


def _prepare_job(path: str, kind: str | None, clip_seconds: int, opts: Options, season: bool):
    """Pool worker: never raises, so one bad file cannot end the run.  ``kind`` None: the whole
    episode (path, Prepared | None, error); else one window (path, PreparedClip | None, error)."""
    try:
        if kind is None:
            return path, prepare_episode(path, clip_seconds, opts, season), None
        return path, prepare_clip(path, kind, clip_seconds, opts, season), None
    except EpisodeError as exc:
        return path, None, str(exc)
    except Exception as exc:  # any library error on a strange file stays that file's failure
        return path, None, f"{type(exc).__name__}: {exc}"


def _warm_worker(ocr_backend: str) -> None:
    """Pool worker start-up, while the parent still loads torch and the checkpoints: import the
    decoder's and the features' libraries and build the text detector (kept per process)."""
    import av  # noqa: F401
    import librosa.feature  # noqa: F401

    from utils.ocr import get_detector
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
                  season: bool = False, progress: bool = True, pool: ProcessPoolExecutor | None = None
                  ) -> Iterator[tuple[str, Prepared | None, str | None]]:
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
                yield _prepare_job(p, None, clip_seconds, opts, season)
                bar.update(1)
            return
        with (nullcontext(pool) if pool is not None else
              ProcessPoolExecutor(max_workers=min(workers, 2 * len(paths)))) as pool:
            futs = {
                pool.submit(_prepare_job, p, k, clip_seconds, opts, season): (p, k)
                for p in paths
                for k in KINDS
            }
            parts: dict[str, dict[str, tuple]] = {}
            for fut in as_completed(futs):
                path, kind = futs[fut]
                try:
                    parts.setdefault(path, {})[kind] = fut.result()[1:]
                except Exception as exc:  # the worker process died (e.g. out of memory)
                    parts.setdefault(path, {})[kind] = (None, f"worker crashed: {type(exc).__name__}: {exc}")
                if len(parts[path]) < len(KINDS):
                    continue
                got = parts.pop(path)
                errors = [got[k][1] for k in KINDS if got[k][0] is None]
                yield (
                    (path, None, errors[0])
                    if errors
                    else (path, assemble(path, [got[k][0] for k in KINDS]), None)
                )
                bar.update(1)
    finally:
        bar.close()


# ----------------------------------------------------------------------------------------------
# Models


@dataclass
class LoadedModel:
    path: str
    model: Any
    meta: dict[str, Any]


SHIPPED_DIR = Path(__file__).resolve().parent.parent / "models" / "shipped"   # the model in the box


def resolve_weights(given: Sequence[str] | None) -> list[str]:
    """The checkpoints to run: as given; ``None`` (no --weights) the shipped model's (every ``*.pth``
    of SHIPPED_DIR, an ensemble when several); ``["none"]`` none at all (season mode alone).
    FileNotFoundError when the shipped model is missing."""
    if given is not None:
        return [] if [g.lower() for g in given] == ["none"] else list(given)
    found = sorted(str(p) for p in SHIPPED_DIR.glob("*.pth"))
    if not found:
        raise FileNotFoundError(
            f"{SHIPPED_DIR}: no shipped model (*.pth); rebuild it with "
            "`python -m bench.train_shipped`, or give --weights CKPT (or --weights none --season)"
        )
    return found


def model_notes(models: Sequence[LoadedModel]) -> list[str]:
    """What a user should know about the checkpoints before trusting the answers."""
    from models.checkpoint import segment_head_trained

    if not models:
        return ["no model (--weights none): season mode alone; a boundary is answered only where a sibling "
                "episode's theme-song match decides it, and the JSON says so per boundary"]
    notes = []
    for m in models:
        if m.meta.get("kind") == "dense" and not segment_head_trained(m.meta):
            notes.append(
                f"{m.path}: its segment head was never trained (no spans.json beside its label files, or "
                "a checkpoint from before this was recorded): it neither caps confidences nor measures "
                "OP start / ED end / preview (assumed lengths are used)"
            )
    return notes


def load_models(weights: Sequence[str], device: Any) -> tuple[list[LoadedModel], int]:
    """Load every checkpoint; all must share one clip length S (returned).  Raises
    models.checkpoint.CheckpointError / ValueError with the files named."""
    from models.checkpoint import load_checkpoint_model

    loaded = []
    for w in weights:
        model, meta = load_checkpoint_model(w, device)
        loaded.append(LoadedModel(str(w), model, meta))
    lengths = {m.path: int(m.meta["clip_seconds"]) for m in loaded}
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{p} (S={s})" for p, s in lengths.items())
        raise ValueError(f"the checkpoints disagree on the clip length S: {listing}; "
                         f"give checkpoints trained with one --clip_seconds")
    return loaded, next(iter(lengths.values()))


def run_batch(models: Sequence[LoadedModel], features: Sequence[dict[str, np.ndarray]],
              kinds: Sequence[str], clip_seconds: int, device: Any) -> list[dict[str, Any]]:
    """Each model on a batch of clips (``features[i]`` of clip type ``kinds[i]``, "start"/"end").
    Per model: ``seconds``, ``per_second`` (and ``confidence``, ``present`` and ``segments``, the
    per-second segment probabilities (K, S), for kinds that give them), each a list in batch order."""
    from models.checkpoint import segment_head_trained
    from models.inputs import predict_seconds

    batch = {k: np.stack([f[k] for f in features]) for k in ("mfcc", "frames", "roi")}
    batch["is_end"] = np.array([c == "end" for c in kinds], np.float32)
    out = []
    for m in models:
        norm = m.meta.get("normalization") or "unit"
        r = predict_seconds(m.model, batch, norm, clip_seconds, device)
        out.append({"seconds": [float(x) for x in r["seconds"]], "per_second": list(r["per_second"])})
        for key in ("confidence", "present"):
            if key in r:
                out[-1][key] = [float(x) for x in r[key]]
        if "segments" in r and segment_head_trained(m.meta):   # an untrained head says nothing
            out[-1]["segments"] = list(r["segments"])
    return out


def run_models(models: Sequence[LoadedModel], prepared: Prepared, clip_seconds: int,
               device: Any) -> list[dict[str, Any]]:
    """Each model on the episode's two clips (one batch of 2).  Per model: clip-time seconds
    and per-second scores for "start" and "end"."""
    raw = run_batch(models, [prepared.features[c] for c in KINDS], KINDS, clip_seconds, device)
    return [{k: dict(zip(KINDS, v)) for k, v in r.items()} for r in raw]


# ----------------------------------------------------------------------------------------------
# Per-episode result


@dataclass
class EpisodeResult:
    file: str
    rel: str                                   # name relative to its input folder (output names)
    ok: bool
    error: str = ""
    duration: float = float("nan")
    op_end: float = float("nan")
    ed_start: float = float("nan")
    op: tuple[float, float] = (float("nan"), float("nan"))
    ed: tuple[float, float] = (float("nan"), float("nan"))
    models: list[dict[str, Any]] = field(default_factory=list)   # weights, kind, op_end, ed_start
    spread: dict[str, float] = field(default_factory=dict)       # max - min between models
    fusion: dict[str, dict] = field(default_factory=dict)        # kept / rejected / gap per boundary
    source: dict[str, str] = field(default_factory=dict)         # who decided each boundary
    season: dict[str, Any] = field(default_factory=dict)         # shared spans when --season
    seconds: float = 0.0                                         # preprocessing + models
    confidence: dict[str, float] = field(default_factory=dict)   # P(within 2 s) per boundary
    withheld: dict[str, str] = field(default_factory=dict)       # boundary -> why it is not answered
    scan: list[dict[str, float]] = field(default_factory=list)    # late-opening windows tried
    preview: tuple[float, float] | None = None                   # measured next-episode preview
    # the measured spans (opening, ending, preview) before apply_skip_margin narrowed the skip ranges
    measured: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    skip_margin: float | None = None
    span_source: dict[str, str] = field(default_factory=dict)    # op_start / ed_end / preview: from what
    # op_end / ed_start: the segment head's mean theme probability beside the answer (it caps the confidence)
    support: dict[str, float] = field(default_factory=dict)
    # for plots and --season only (not written to JSON)
    plot: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = {"file": self.file, "ok": self.ok}
        if not self.ok:
            d["error"] = self.error
            return d
        r3 = lambda x: round(float(x), 3)  # noqa: E731
        op_ok, ed_ok = "op_end" not in self.withheld, "ed_start" not in self.withheld
        d.update(
            duration=r3(self.duration),
            op_end=r3(self.op_end) if op_ok else None,
            ed_start=r3(self.ed_start) if ed_ok else None,
            op=[r3(x) for x in self.op] if op_ok else None,
            ed=[r3(x) for x in self.ed] if ed_ok else None,
            preview=[r3(x) for x in preview_range(self)] if preview_range(self) else None,
            span_source=self.span_source,
            support={k: round(v, 4) for k, v in self.support.items()},
            confidence={k: round(v, 4) for k, v in self.confidence.items()},
            withheld=self.withheld,
            models=self.models,
            spread={k: r3(v) if math.isfinite(v) else None for k, v in self.spread.items()},
            fusion=self.fusion,
            source=self.source,
            seconds=round(self.seconds, 2),
        )
        if self.skip_margin is not None:   # op / ed / preview above are the skip ranges; these the spans
            d["skip_margin"] = self.skip_margin
            shown = {"opening": op_ok, "ending": ed_ok, "preview": ed_ok}
            d["spans"] = {k: [r3(x) for x in v] if v is not None and shown[k] else None
                          for k, v in self.measured.items()}
        if self.season:
            d["season"] = self.season
        if self.scan:
            d["scan"] = self.scan
        return d


def preview_range(r: EpisodeResult) -> tuple[float, float] | None:
    """The next-episode preview: measured by a segment head (``r.preview``, None when it saw
    none), else what follows the ending skip range if long enough to matter; None when the ending
    itself is withheld."""
    if "ed_start" in r.withheld or "preview" in r.withheld:
        return None
    if r.skip_margin is not None or r.span_source.get("preview", "").startswith("segments"):
        return r.preview
    return (r.ed[1], r.duration) if r.duration - r.ed[1] >= MIN_CHAPTER_S else None


def segment_probs(raw: Sequence[dict[str, Any]], key: Any) -> np.ndarray | None:
    """Mean per-second segment probabilities (K, S) over the models that give them (the dense
    kind), for clip ``key`` of run_models / run_batch output; None when no model has a segment head."""
    got = [np.asarray(r["segments"][key]) for r in raw if "segments" in r]
    return np.mean(got, 0) if got else None


def cap_by_support(res: EpisodeResult, name: str, probs: np.ndarray, kind: str, clip_boundary: float) -> None:
    """Cap a boundary's confidence by the segment head's support for it (models.dense.segment_support:
    an OP end with no opening before it, an ED start with no ending after it, cannot be right)."""
    from models.dense import segment_support

    sup = segment_support(probs, kind, clip_boundary)
    res.support[name] = sup
    if name in res.confidence:
        res.confidence[name] = min(res.confidence[name], sup)


def measure_spans(res: EpisodeResult, raw: Sequence[dict[str, Any]], clip_seconds: int,
                  args: argparse.Namespace) -> None:
    """OP start, ED end and the preview from the segment head (models.dense.decode_spans) where a
    model has one and sees the span; else the assumed lengths (``--op_length``/``--ed_length``).
    ``res.span_source`` says which, per span."""
    from models.dense import decode_spans

    D, S = res.duration, clip_seconds
    res.op, res.ed = skip_ranges(res.op_end, res.ed_start, D, args.op_length, args.ed_length)
    res.span_source = {"op_start": f"assumed {args.op_length:g} s", "ed_end": f"assumed {args.ed_length:g} s",
                       "preview": "rest after the ending"}
    p = segment_probs(raw, "start")
    if p is not None:
        cap_by_support(res, "op_end", p, "start", res.op_end - clip_offset("start", D, S))
        got = decode_spans(p, "start", res.op_end - clip_offset("start", D, S))["op_start"]
        if got is not None:
            res.op, res.span_source["op_start"] = (episode_time("start", got, D, S), res.op_end), "segments"
    p = segment_probs(raw, "end")
    if p is not None:
        off = clip_offset("end", D, S)
        cap_by_support(res, "ed_start", p, "end", res.ed_start - off)
        got = decode_spans(p, "end", res.ed_start - off)
        if got["ed_end"] is not None:
            res.ed, res.span_source["ed_end"] = (res.ed_start, off + got["ed_end"]), "segments"
        res.preview = None if got["preview"] is None else (off + got["preview"][0], off + got["preview"][1])
        res.span_source["preview"] = "segments" if got["preview"] else "segments (none seen)"
        if got["preview"]:   # its own confidence: P(ED start right) x the mean preview probability
            res.confidence["preview"] = float(res.confidence.get("ed_start", 1.0) * got["preview_share"])


DEFAULT_MODEL_TRUST = 0.5   # P(within 2 s) of a checkpoint that states no validation figure


def boundary_confidence(models: Sequence[LoadedModel], per_model: Sequence[dict], name: str,
                        answer: float, weights: Sequence[float]) -> float:
    """P(the answer is within 2 s) for one boundary: the best calibrated confidence of the models
    that give one (the dense kind; models/calibration.py, fitted on their validation split), else
    the share of the models within 2 s of the answer times their validation within-2-s share
    (fuse.season_rule.model_reliability)."""
    from fuse.season_rule import SeasonRule, model_reliability
    from models.calibration import apply_calibration

    confs = [apply_calibration(p["confidence"][name], m.meta.get("calibration"))
             for m, p in zip(models, per_model) if "confidence" in p]
    if confs:
        return float(max(confs))
    shares = [m.meta["validation"]["within_2s"] for m in models if (m.meta.get("validation") or {}).get("n")]
    trust = float(np.mean(shares)) if shares else DEFAULT_MODEL_TRUST
    return model_reliability(
        [p[name] for p in per_model], answer, None, SeasonRule(model_trust=trust), weights
    )


DEFAULT_SKIP_MARGIN_S = 1.0    # the metric's own tolerance: a second of theme kept rather than of story lost


def narrow_span(span: tuple[float, float] | None, margin: float,
                duration: float = math.inf) -> tuple[float, float] | None:
    """``[a + margin, b - margin]``: a skip range that stops short of the story on both sides,
    except at the file's own edges (0 and ``duration``: no story lies beyond them); a span no
    longer than 2 margin + 1 s is kept as it is (nothing sensible would be left)."""
    if span is None or margin <= 0:
        return span
    a, b = float(span[0]), float(span[1])
    if b - a <= 2 * margin + 1.0:
        return (a, b)
    return (a if a <= 1e-3 else a + margin, b if b >= duration - 1e-3 else b - margin)


def apply_skip_margin(results: Sequence[EpisodeResult], margin: float) -> None:
    """Narrow every skip range (opening, ending, preview) by ``margin`` seconds at both ends, so
    that a boundary off by up to that much skips theme, not story.  The boundaries themselves
    (``op_end``, ``ed_start``) and the measured spans (``measured``, the JSON's ``spans``) stay as
    measured; ``op`` / ``ed`` / ``preview`` and every skip file and chapter follow the narrowed
    ranges."""
    for r in results:
        if not r.ok:
            continue
        pv = preview_range(r)
        r.measured = {"opening": tuple(r.op), "ending": tuple(r.ed),
                      "preview": None if pv is None else tuple(pv)}
        r.op, r.ed = narrow_span(r.op, margin, r.duration), narrow_span(r.ed, margin, r.duration)
        r.preview = narrow_span(pv, margin, r.duration)
        r.skip_margin = float(margin)


# --min_confidence auto: the threshold for models that state a calibrated confidence (the dense kind).
# Chosen on validation episodes (bench/predict_bench.py --seed 4321, 18 episodes of 6 series that are
# neither trained on nor benchmarked): the lowest threshold at which at most 1 s of story is skipped
# in at least 95 % of them (0.9: 100 %, 86 % of the boundaries answered; 0.8: 94 %).
DEFAULT_MIN_CONFIDENCE = 0.9


def resolve_min_confidence(value: float | None, models: Sequence[LoadedModel]) -> tuple[float, str]:
    """The threshold ``--min_confidence`` means, and why: a number as given; ``None`` (auto)
    DEFAULT_MIN_CONFIDENCE when a model gives its own calibrated confidence (the dense kind), else 0
    (the other kinds' agreement-based confidence never reaches it: they would answer nothing)."""
    if value is not None:
        return float(value), "given"
    if auto_min_confidence([m.meta.get("kind") for m in models]):
        return DEFAULT_MIN_CONFIDENCE, "auto: a dense model gives a calibrated confidence"
    return 0.0, "auto: no model gives a calibrated confidence (no dense checkpoint), every answer is kept"


def auto_min_confidence(kinds: Sequence[str | None]) -> float:
    """``--min_confidence auto`` for checkpoints of these model kinds (resolve_min_confidence)."""
    return DEFAULT_MIN_CONFIDENCE if "dense" in kinds else 0.0


def withhold_unsure(results: Sequence[EpisodeResult], min_confidence: float) -> None:
    """Mark every boundary whose confidence is below ``min_confidence`` as withheld (no answer
    rather than a wrong one): the JSON writes null with the reason, skip files leave it out."""
    for r in results:
        if not r.ok:
            continue
        for name in ("op_end", "ed_start", "preview"):
            if name == "preview" and name not in r.confidence:   # no measured preview: nothing to withhold
                continue
            if name != "preview" and not math.isfinite(getattr(r, name)):
                why = (r.season.get("start" if name == "op_end" else "end") or {}).get(
                    "reason", "no sibling matched"
                )
                r.withheld[name] = f"no answer: no model ran and season mode did not decide ({why})"
                continue
            c = r.confidence.get(name, float("nan"))
            if not c >= min_confidence:
                r.withheld[name] = f"confidence {c:.2f} < --min_confidence {min_confidence:g}"


def fuse_boundary(models: Sequence[LoadedModel], per_model: Sequence[dict], name: str, fusion: str):
    """One boundary from every model's answer (``per_model[i][name]``, episode time): the fused
    answer, its source ("models" or "dense"), the fuse.fuse.ClipFusion and the confidence.

    A dense model weighs as much as all the other models together: they refine its answer where they
    agree with it, never outvote it; where its confidence is at least fuse.fuse.TRUST_MIN it answers
    alone (the rule of demo.py's fusion+dense, fuse.py --weight/--trust)."""
    from fuse.fuse import TRUST_MIN, fuse_clip

    others = sum(p["kind"] != "dense" for p in per_model)
    weights = [float(max(1, others)) if p["kind"] == "dense" else 1.0 for p in per_model]
    f = fuse_clip([p[name] for p in per_model], fusion, None if fusion == "median" else weights)
    answer, source = f.seconds, "models"
    trusted = [p for p in per_model if p.get("confidence", {}).get(name, 0.0) >= TRUST_MIN]
    if trusted:
        answer, source = max(trusted, key=lambda p: p["confidence"][name])[name], "dense"
    return answer, source, f, boundary_confidence(models, per_model, name, answer, weights)


def decide_episode(rel: str, prepared: Prepared, models: Sequence[LoadedModel],
                   raw: Sequence[dict[str, Any]], clip_seconds: int, args: argparse.Namespace
                   ) -> EpisodeResult:
    """Fuse the models' clip times per boundary and map everything to episode time."""
    D, S = prepared.duration, clip_seconds
    res = EpisodeResult(prepared.path, rel, True, duration=D)
    res.plot = {"energy": prepared.energy, "text": prepared.text,
                "scores": [r["per_second"] for r in raw], "clip_seconds": S}
    if args.season:
        res.plot["chroma"] = {k: prepared.features[k]["chroma"] for k in KINDS}
    if not models:   # season mode alone (--weights none): no answer until a sibling's match gives one
        nan = float("nan")
        res.op, res.ed = (nan, nan), (nan, nan)
        for name in ("op_end", "ed_start"):
            res.spread[name], res.source[name], res.confidence[name] = nan, "none", 0.0
        res.span_source = {"op_start": "none", "ed_end": "none", "preview": "none"}
        return res
    per_model = []
    for m, r in zip(models, raw):
        per_model.append({"weights": m.path, "kind": m.meta["kind"], "preset": m.meta["preset"],
                          "op_end": round(episode_time("start", r["seconds"]["start"], D, S), 3),
                          "ed_start": round(episode_time("end", r["seconds"]["end"], D, S), 3)})
        if "confidence" in r:   # the dense kind: posterior mass within 2 s of its answer
            per_model[-1]["confidence"] = {"op_end": round(r["confidence"]["start"], 4),
                                           "ed_start": round(r["confidence"]["end"], 4)}
    res.models = per_model
    for name in ("op_end", "ed_start"):
        answer, source, f, conf = fuse_boundary(models, per_model, name, args.fusion)
        setattr(res, name, answer)
        res.spread[name] = float(np.ptp([p[name] for p in per_model]))
        res.fusion[name] = {"method": args.fusion, "kept": f.kept, "rejected": f.rejected,
                            "gap": round(f.gap, 3)}
        res.source[name], res.confidence[name] = source, conf
    measure_spans(res, raw, S, args)
    return res


# ----------------------------------------------------------------------------------------------
# Late openings: an OP that ends after the first S seconds (a long cold open)


def scan_windows(duration: float, clip_seconds: int, hop: float, limit: float) -> list[float]:
    """Start times of the later windows to scan for an opening: hop, 2 hop, ... while the window
    ends by ``limit`` seconds into the episode and before the end clip begins."""
    S = float(clip_seconds)
    last = min(float(limit), float(duration) - S) - S     # the window's start must leave it inside both
    n = int(math.floor(last / hop + 1e-9)) if hop > 0 and last >= hop else 0
    return [round(hop * k, 3) for k in range(1, n + 1)]


def fuse_window(models: Sequence[LoadedModel], raw: Sequence[dict[str, Any]], index: int, offset: float,
                fusion: str) -> tuple[float, float]:
    """(episode-time OP end, confidence) of window ``index`` of a run_batch result (fuse_boundary)."""
    per_model = []
    for m, r in zip(models, raw):
        per_model.append({"kind": m.meta["kind"], "op_end": offset + r["seconds"][index]})
        if "confidence" in r:
            per_model[-1]["confidence"] = {"op_end": r["confidence"][index]}
    answer, _, _, conf = fuse_boundary(models, per_model, "op_end", fusion)
    return answer, conf


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
    start on a whole second are decoded one by one.  Stops at the first window that cannot be decoded."""
    from utils.media import mfcc_from_audio
    from utils.text_roi import roi_from_boxes

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


def scan_late_opening(res: EpisodeResult, models: Sequence[LoadedModel], clip_seconds: int, opts: Options,
                      device: Any, args: argparse.Namespace, pool: ProcessPoolExecutor | None = None) -> None:
    """When the first window's OP end is unsure (confidence below ``--scan_below``), run the models
    on later windows (``--scan_hop``, up to ``--scan_limit`` s into the episode) and answer from the
    window whose OP end is the most confident, if it beats the first and itself reaches
    ``--scan_below``.  ``res.scan`` lists every
    window tried (start, answer, confidence)."""
    S = int(clip_seconds)
    if (
        not models
        or not res.ok
        or res.confidence.get("op_end", 0.0) >= args.scan_below
        or args.scan_limit <= 0
    ):
        return
    hop = float(args.scan_hop or S / 2)
    starts = scan_windows(res.duration, S, hop, args.scan_limit)
    if not starts:
        return
    feats = window_features(res.file, starts, S, opts, getattr(args, "workers", 1), pool)
    starts = starts[:len(feats)]
    if not feats:
        return
    raw = run_batch(models, feats, ["start"] * len(feats), S, device)
    tried = [{"start": 0.0, "op_end": round(res.op_end, 3), "confidence": round(res.confidence["op_end"], 4)}]
    best = None
    if "op_end" in res.support:
        tried[0]["support"] = round(res.support["op_end"], 4)
    for i, t in enumerate(starts):
        answer, conf = fuse_window(models, raw, i, t, args.fusion)
        p = segment_probs(raw, i)
        sup = None
        if p is not None:   # the segment head's word on this window's answer caps it too
            from models.dense import segment_support
            sup = segment_support(p, "start", answer - t)
            conf = min(conf, sup)
        tried.append({"start": t, "op_end": round(answer, 3), "confidence": round(conf, 4)})
        if sup is not None:
            tried[-1]["support"] = round(sup, 4)
        present = [r["present"][i] for r in raw if "present" in r]
        if present:   # P(the OP ends inside this window), the dense kind's state head
            tried[-1]["present"] = round(max(present), 4)
        # a later window answers only when it is sure enough to stop a scan itself: replacing an
        # unsure first answer by another unsure one far into the story only moves the error
        if conf >= args.scan_below and conf > res.confidence["op_end"] and (best is None or conf > best[1]):
            best = (answer, conf, t, i)
    res.scan = tried
    if best is not None:
        from models.dense import decode_spans

        res.op_end, res.confidence["op_end"] = best[0], best[1]
        if "support" in tried[best[3] + 1]:
            res.support["op_end"] = tried[best[3] + 1]["support"]
        res.op = skip_ranges(best[0], res.ed_start, res.duration, args.op_length, 0.0)[0]  # the OP range only
        res.span_source["op_start"] = f"assumed {args.op_length:g} s"
        res.source["op_end"] = f"models (window at {best[2]:g} s)"
        p = segment_probs(raw, best[3])
        got = None if p is None else decode_spans(p, "start", best[0] - best[2])["op_start"]
        if got is not None:
            res.op, res.span_source["op_start"] = (best[2] + got, best[0]), "segments"


# ----------------------------------------------------------------------------------------------
# Season mode (fuse/season.py): sibling theme-song matches decide where they exist


def apply_season_mode(results: Sequence[EpisodeResult], clip_seconds: int,
                      args: argparse.Namespace) -> None:
    """Match the start/end clips of all good episodes by Chromaprint; where fuse.season's rule
    lets the sibling match decide, replace the model consensus and take the skip range's other end
    from the shared span itself unless the segment head measured it (``span_source``).  ``source``
    says per boundary which one decided."""
    from fuse.season import load_rule, season_rows
    from fuse.season_rule import decide, mass_near, model_reliability, widen_for_clip_set

    rule_path = getattr(args, "season_rule", None)
    rule = load_rule(rule_path)
    offsets = json.loads(Path(rule_path).read_text(encoding="utf-8")) if rule_path else None

    good = [r for r in results if r.ok and "chroma" in r.plot]
    if len(good) < 2:
        return
    fps, kinds = {}, {}
    for i, r in enumerate(good):
        for kind, k in (("start", "s"), ("end", "e")):
            fps[f"{i}_{kind}"] = r.plot["chroma"][kind]
            kinds[f"{i}_{kind}"] = k
    rows = {row.clip: row for row in season_rows(fps, kinds, offsets=offsets, clip_seconds=clip_seconds)}
    rule = widen_for_clip_set(
        rule, [r.span_end - r.span_start for r in rows.values() if r.source == "season"]
    )
    S = clip_seconds
    for i, r in enumerate(good):
        D = r.duration
        for kind, name in (("start", "op_end"), ("end", "ed_start")):
            row = rows[f"{i}_{kind}"]
            if row.source != "season":
                continue
            span = [episode_time(kind, row.span_start, D, S), episode_time(kind, row.span_end, D, S)]
            r.season[kind] = {"span": [round(x, 3) for x in span], "siblings": row.siblings,
                              "spread": round(row.spread_s, 3)}
            model_clip = getattr(r, name) - clip_offset(kind, D, S)
            p_models = r.confidence.get(name)   # decide_episode's boundary_confidence
            if p_models is None:
                confs = [m["confidence"][name] for m in r.models if "confidence" in m]
                p_models = model_reliability([m[name] for m in r.models], getattr(r, name),
                                             max(confs) if confs else None, rule)
            # the dense models' own probability of the matched time (their mean per-second posterior)
            posts = [sc[kind] for sc, m in zip(r.plot.get("scores", []), r.models) if "confidence" in m]
            q = mass_near(np.mean(posts, 0), row.seconds) if posts else None
            d = decide(row.kind, model_clip, p_models, row.seconds, row.siblings, row.spread_s,
                       row.span_start, row.span_end, S, rule, q)
            r.season[kind]["reason"] = d.reason
            if d.source == "season":
                r.confidence[name] = d.confidence
                setattr(r, name, episode_time(kind, row.seconds, D, S))
                r.source[name] = "season"
                # the span's other end is the song's, which may lead in before the OP pictures: a
                # span the segment head measured keeps its measured end
                if kind == "start":
                    measured = r.span_source.get("op_start") == "segments" and r.op[0] < r.op_end
                    r.op = (r.op[0] if measured else max(0.0, span[0]), r.op_end)
                    r.span_source["op_start"] = "segments" if measured else "season"
                else:
                    measured = r.span_source.get("ed_end") == "segments" and r.ed[1] > r.ed_start
                    r.ed = (r.ed_start, r.ed[1] if measured else min(D, span[1]))
                    r.span_source["ed_end"] = "segments" if measured else "season"


def find_episodes(inputs: Sequence[str]) -> list[Clip]:
    """Episode files given directly, and every video file under given folders (recursive).
    ``Clip.rel`` (the path under its folder) names the per-episode outputs in --out."""
    found: dict[Path, Clip] = {}
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for c in discover_clips([p]):
                found.setdefault(c.video, c)
        elif p.exists() or p.suffix.lower() in VIDEO_EXTS:
            # a missing or broken file is reported per file later, not as a fatal error
            found.setdefault(clip_path(p), Clip(clip_path(p), Path(p.name)))
        else:
            raise FileNotFoundError(f"{item}: no such episode file or folder")
    return list(found.values())


def resolve_device(name: str) -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)

