"""The result of a run: ``EpisodeResult`` per episode (boundaries, skip ranges, what decided them,
confidences, what is withheld and why; its JSON), an immutable record that the decision's working copy
``Draft`` gives once every step has filled it in; the preview it implies; its stored form (``to_record``
/ ``from_record``, the library database); and ``PredictionRun``, the whole run (every result, the
models, the resolved settings) that skips/formats.py writes out.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np

from skips.inference import LoadedModel

MIN_CHAPTER_S = 0.5             # shorter leftovers (e.g. 0.2 s before a detected OP) get no chapter


def _frozen(x: Any) -> Any:
    """``x`` read-only all the way down: mappings as MappingProxyType, lists and tuples as tuples,
    arrays as read-only views."""
    if isinstance(x, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return tuple(_frozen(v) for v in x)
    if isinstance(x, np.ndarray):
        v = x.view()
        v.flags.writeable = False
        return v
    return x


@dataclass(frozen=True)
class EpisodeResult:
    """One decided episode as a run answers it; immutable (its mappings read-only, its lists tuples).
    Built once, by ``Draft.freeze`` at the end of the decision; ``to_dict`` is its JSON."""
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
    edge_margin: float | None = None
    span_source: dict[str, str] = field(default_factory=dict)    # op_start / ed_end / preview: from what
    # op_start / ed_end: the innermost plausible outer edge the segment head measured (episode seconds;
    # models.dense.decode_spans): the skip range begins no earlier / ends no later
    # op_end / ed_start: the innermost plausible place of the answer from its boundary posterior
    # (models.dense.inner_edge), where a hedged answer's skip range stops
    safe_edges: dict[str, float] = field(default_factory=dict)
    # the boundaries answered below --sure_confidence: their skip ranges stop at safe_edges' inner edges
    hedged: tuple[str, ...] = ()
    # op_end / ed_start: the segment head's mean theme probability beside the answer (it caps the confidence)
    support: dict[str, float] = field(default_factory=dict)
    # library mode (predict.py --db): its season group, whether it was decoded this run, siblings read
    # from the database
    library: dict[str, Any] = field(default_factory=dict)
    # for plots and --season only (not written to JSON)
    plot: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _frozen(getattr(self, f.name)))

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
            safe_edges={k: r3(v) for k, v in self.safe_edges.items()},
            support={k: round(v, 4) for k, v in self.support.items()},
            confidence={k: round(v, 4) for k, v in self.confidence.items()},
            withheld=self.withheld,
            hedged=list(self.hedged),
            models=self.models,
            spread={k: r3(v) if math.isfinite(v) else None for k, v in self.spread.items()},
            fusion=self.fusion,
            source=self.source,
            seconds=round(self.seconds, 2),
        )
        if self.skip_margin is not None:   # op / ed / preview above are the skip ranges; these the spans
            d["skip_margin"] = self.skip_margin
            d["edge_margin"] = self.edge_margin
            shown = {"opening": op_ok, "ending": ed_ok, "preview": ed_ok}
            d["spans"] = {k: [r3(x) for x in v] if v is not None and shown[k] else None
                          for k, v in self.measured.items()}
        if self.season:
            d["season"] = self.season
        if self.scan:
            d["scan"] = self.scan
        if self.library:
            d["library"] = self.library
        return _plain(d)


class Draft:
    """The decision's working copy of one episode: ``decide_episode`` (or a failed file, or a stored
    record) starts it, the late-opening scan, season mode, the thresholds and the skip margin fill it
    in, and ``freeze`` gives the EpisodeResult.  It has EpisodeResult's fields, defaults and
    constructor, all of them writable."""

    __slots__ = tuple(f.name for f in fields(EpisodeResult))

    def __init__(self, file: str, rel: str, ok: bool, **values: Any):
        values.update(file=file, rel=rel, ok=ok)
        for f in fields(EpisodeResult):
            if f.name in values:
                v = values.pop(f.name)
            elif f.default_factory is not MISSING:
                v = f.default_factory()
            else:
                v = f.default
            setattr(self, f.name, v)
        if values:
            raise TypeError(f"Draft got unknown fields {sorted(values)}")

    def freeze(self) -> EpisodeResult:
        return EpisodeResult(**{name: getattr(self, name) for name in self.__slots__})

    def to_dict(self) -> dict[str, Any]:
        """The JSON of the episode as it stands (``freeze().to_dict()``)."""
        return self.freeze().to_dict()


# ----------------------------------------------------------------------------------------------
# The stored form of a decided episode (the library database): plain JSON data, versioned


RECORD_FORMAT = 1          # raised whenever the fields of the record change
_PAIRS = ("op", "ed", "preview")


class RecordError(ValueError):
    """Stored data that is not a decided-episode record of RECORD_FORMAT; the message is one line."""


def _plain(x: Any) -> Any:
    """Numbers, strings, lists and dicts only: numpy arrays, scalars and tuples become lists and numbers."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def to_record(r: EpisodeResult | Draft) -> dict[str, Any]:
    """Every field of a decided episode as plain JSON data (the per-second arrays of ``plot`` as lists;
    the fingerprints and picture thumbnails apart, which the library stores as raw bytes):
    ``{"format", "episode"}``."""
    d = {f.name: getattr(r, f.name) for f in fields(EpisodeResult)}
    d["plot"] = {k: v for k, v in r.plot.items() if k not in ("chroma", "pictures")}
    return {"format": RECORD_FORMAT, "episode": _plain(d)}


def _arrays(x: Any) -> Any:
    """The per-second series of a stored ``plot`` back as float32 arrays."""
    if isinstance(x, dict):
        return {k: _arrays(v) for k, v in x.items()}
    return np.asarray(x, np.float32)


def from_record(doc: Any) -> Draft:
    """The decided episode of a ``to_record`` document, as a Draft (season mode and the thresholds
    still fill it in); RecordError for anything else (another format, unknown or missing fields, wrong
    types): data is read, never run."""
    if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT \
            or not isinstance(doc.get("episode"), dict):
        raise RecordError(f"not a decided-episode record of format {RECORD_FORMAT}")
    e = dict(doc["episode"])
    names = {f.name for f in fields(EpisodeResult)}
    unknown = sorted(set(e) - names)
    if unknown:
        raise RecordError(f"unknown fields {unknown}")
    try:
        if not (isinstance(e["file"], str) and isinstance(e["rel"], str) and isinstance(e["ok"], bool)):
            raise RecordError("file, rel and ok have the wrong types")
        for name in _PAIRS:
            if e.get(name) is not None:
                e[name] = tuple(float(v) for v in e[name])
        e["hedged"] = tuple(str(h) for h in e.get("hedged", ()))
        e["measured"] = {k: None if v is None else tuple(float(x) for x in v)
                         for k, v in (e.get("measured") or {}).items()}
        plot = dict(e.get("plot") or {})
        for key in ("energy", "text"):
            if key in plot:
                plot[key] = _arrays(plot[key])
        if "scores" in plot:
            plot["scores"] = [_arrays(sc) for sc in plot["scores"]]
        e["plot"] = plot
        return Draft(**e)
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"a field does not parse ({type(exc).__name__}: {exc})") from None


def preview_range(r: EpisodeResult | Draft) -> tuple[float, float] | None:
    """The next-episode preview: measured by a segment head (``r.preview``, None when it saw
    none), else what follows the ending skip range if long enough to matter; None when the ending
    itself is withheld."""
    if "ed_start" in r.withheld or "preview" in r.withheld:
        return None
    if r.skip_margin is not None or r.span_source.get("preview", "").startswith("segments"):
        return r.preview
    return (r.ed[1], r.duration) if r.duration - r.ed[1] >= MIN_CHAPTER_S else None


@dataclass
class PredictionRun:
    """A whole run (skips.pipeline.predict_episodes), everything skips.formats.write_outputs needs."""
    results: list[EpisodeResult]             # in the order the episodes were found, failures included
    models: list[LoadedModel]                # empty with --weights none
    clip_seconds: int                        # S: the checkpoints', else PredictOptions.clip_seconds
    min_confidence: float                    # the threshold applied (auto resolved)
    min_confidence_reason: str               # "given", or why auto chose it
    sure_confidence: float = 0.0             # below it an answer is hedged (auto resolved)
    sure_confidence_reason: str = ""
    season_rule: str | None = None           # the rule file season mode used (None: built in)
    started: float = 0.0                     # time.perf_counter() when the episodes began
    seconds: float = 0.0                     # wall time of predict_episodes from ``started``

    @property
    def n_failed(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def n_withheld(self) -> int:
        return sum(len(r.withheld) for r in self.results if r.ok)

    @property
    def n_given(self) -> int:
        """Boundaries with a confidence: OP end, ED start and the measured previews."""
        return sum(len(r.confidence) for r in self.results if r.ok)

    def summary(self, out: str, wall_s: float) -> list[str]:
        """The closing lines of a run: what was withheld (if anything) and how it went."""
        n_bad, n_held, n = self.n_failed, self.n_withheld, len(self.results)
        lines = []
        if n_held:
            lines.append(f"[predict] {n_held} of {self.n_given} answers withheld "
                         f"(confidence < --min_confidence {self.min_confidence:g}); see predictions.json")
        n_hedged = sum(len(r.hedged) for r in self.results if r.ok)
        if n_hedged:
            lines.append(f"[predict] {n_hedged} of {self.n_given} answers hedged (confidence < "
                         f"--sure_confidence {self.sure_confidence:g}: the skip stops where every plausible "
                         "reading is theme)")
        lines.append(f"[predict] {n - n_bad} episodes done, {n_bad} failed, {wall_s:.1f} s "
                     f"({wall_s / max(n, 1):.1f} s per episode); outputs in {out}")
        return lines
