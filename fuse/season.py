"""Season mode: OP end / ED start of every clip from theme songs shared with its siblings.

Takes the Chromaprint fingerprints of a clip set (``<stem>_chroma.npy`` from
utils/extract_fingerprint.py, or computed here from the raw clips), finds without any metadata
which clips share a theme-song span (preprocessing.fingerprint.discover_siblings: _start clips among _start
clips, _end clips among _end clips), and writes
  * a submission CSV (SPEC.md section 1): for a ``_start`` clip the end of the shared span (OP end),
    for an ``_end`` clip its start (ED start), each the median over the clip's siblings;
  * a sidecar CSV, one row per clip: ``clip,kind,seconds,source,siblings,spread_s,span_start,
    span_end,group`` where ``source`` is ``season`` (a sibling match decided) or ``none`` (no
    sibling: ``seconds`` is then only a placeholder -- the models must decide, see
    ``fuse/fuse.py --season``).

Systematic offsets (e.g. labels put the OP end after the song's fade-out) are corrected only by a
rule learned on TRAINING labels: ``--fit_labels`` learns the median (label - estimate) per clip
type over labelled clips that have siblings and saves it (``--save_offsets``); ``--offsets`` applies
a saved rule.  Training clips may be in the same clip set (they also help test clips find siblings).

    .venv/bin/python fuse/season.py --feat_root data/processed --data_root data/data_A/train/label.txt \\
        --fit_labels data/data_A/train/label.txt --save_offsets work_dir/season_offsets.json
    .venv/bin/python fuse/season.py --feat_root data/processed --data_root data/data_C \\
        --offsets work_dir/season_offsets.json --output work_dir/season_C.csv
    .venv/bin/python fuse/season.py --data_root clips/ --output season.csv   # fingerprints raw clips

Library use (predict.py --season): ``season_rows(fps, kinds)`` and ``fingerprint_episode(path, S)``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__" and __package__ in (None, ""):
    # Run as `python fuse/season.py`: fuse/ comes first on the module path and its fuse.py hides the fuse
    # package, so run again as `python -m fuse.season` from the repository this file sits in.
    _root = str(Path(__file__).resolve().parent.parent)
    _path = os.pathsep.join(p for p in (_root, os.environ.get("PYTHONPATH")) if p)
    os.execve(sys.executable, [sys.executable, "-P", "-m", "fuse.season", *sys.argv[1:]],
              {**os.environ, "PYTHONPATH": _path})

import argparse
import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from datatools.fileio import atomic_write_json, atomic_write_text
from datatools.labels import LabelError, clip_kind, read_labels, read_submission, write_submission
from datatools.spec import CHROMA_SUFFIX, DEFAULT_CLIP_SECONDS, feature_path
from fuse.season_rule import (
    Decision,
    SeasonRule,
    decide,
    fit_model_trust,
    fit_reliability,
    mass_near,
    model_reliability,
    widen_for_clip_set,
)
from preprocessing.fingerprint import (
    DiscoveryParams,
    FingerprintError,
    MatchParams,
    NoAudioError,
    discover_siblings,
    estimate_spans,
    fingerprint,
)

SIDECAR_FIELDS = ("clip", "kind", "seconds", "source", "siblings", "spread_s", "span_start",
                  "span_end", "group", "clip_seconds", "short_s")
OPTIONAL_FIELDS = ("clip_seconds", "short_s")   # absent in sidecars of earlier versions


@dataclass
class SeasonRow:
    """One clip's season-mode answer.  ``source`` is "season" when siblings decided, else "none"."""
    clip: str            # clip stem, e.g. "0NJvw4n0_start"
    kind: str            # 's' or 'e'
    seconds: float       # OP end (s) / ED start (e), offset-corrected; placeholder when source=none
    source: str
    siblings: int = 0
    spread_s: float = 0.0
    span_start: float = float("nan")   # raw shared span in the clip (before any offset)
    span_end: float = float("nan")
    group: int = -1                    # index of the connected group of clips sharing a song
    clip_seconds: float | None = None  # S of the clip set (the decision rule checks span edges)
    # how much shorter this clip's shared span is than the median of its siblings' own shared spans
    # (fuse.season_rule.partial_match); nan without siblings
    short_s: float = float("nan")
    # every sibling and the span it shares, in this clip's seconds: (name, start, end); not in the sidecar
    partners: tuple[tuple[str, float, float], ...] = ()
    # every sibling's clip time minus this clip's at the song they share: (name, seconds); not in the sidecar
    shifts: tuple[tuple[str, float], ...] = ()


def _placeholder(kind: str, offsets: Mapping) -> float:
    """Value written for a clip without siblings (the submission needs a line per clip): the
    training-label median of that kind when a fitted rule is loaded, else 0."""
    return float(offsets.get("prior", {}).get(kind, 0.0))


def season_rows(fps: Mapping[str, np.ndarray], kinds: Mapping[str, str] | None = None,
                offsets: Mapping | None = None, params: DiscoveryParams = DiscoveryParams(),
                clip_seconds: float | None = None, progress: bool = False) -> list[SeasonRow]:
    """Season answers for every clip in ``fps`` (name -> fingerprint), in that order.

    ``kinds`` defaults to the names' _start/_end suffix.  ``offsets`` is a rule from
    ``fit_offsets`` (``{"offset": {"s": dx, "e": dx}, ...}``); answers are clipped to
    ``[0, clip_seconds]`` when that is given."""
    kinds = dict(kinds) if kinds is not None else {n: clip_kind(n) for n in fps}
    sib = discover_siblings(fps, kinds, params, progress=progress)
    est = estimate_spans(sib)
    group_of = {n: g for g, names in enumerate(sib.groups) for n in names}
    rows = []
    for name in fps:
        k = kinds[name]
        e = est.get(name)
        if e is None:
            rows.append(SeasonRow(name, k, 0.0, "none"))
        else:
            pairs = sorted(sib.spans[name].items())
            partners = tuple((other, round(sp.a_start, 3), round(sp.a_end, 3)) for other, sp in pairs)
            shifts = tuple((other, round(sp.b_start - sp.a_start, 3)) for other, sp in pairs)
            rows.append(SeasonRow(name, k, e.end if k == "s" else e.start, "season", e.siblings,
                                  e.spread, e.start, e.end, group_of.get(name, -1), partners=partners,
                                  shifts=shifts))
    return apply_offsets(with_short_spans(rows), offsets or {}, clip_seconds)


def with_short_spans(rows: Sequence[SeasonRow]) -> list[SeasonRow]:
    """Each matched row with ``short_s``: the median length of its siblings' own shared spans minus
    its own (a clip that holds only part of their song shares a shorter span with each of them)."""
    length = {r.clip: r.span_end - r.span_start for r in rows if r.source == "season"}
    out = []
    for r in rows:
        theirs = [length[o] for o, _, _ in r.partners if o in length]
        short = float(np.median(theirs)) - length[r.clip] if theirs and r.clip in length else float("nan")
        out.append(replace(r, short_s=round(short, 3)))
    return out


def apply_offsets(rows: Sequence[SeasonRow], offsets: Mapping,
                  clip_seconds: float | None = None) -> list[SeasonRow]:
    """New rows with the rule applied: season answers = raw span boundary + the kind's learned
    offset (clipped to [0, clip_seconds]); clips without siblings get the placeholder."""
    shift = offsets.get("offset", {})
    out = []
    for r in rows:
        if r.source == "season":
            raw = r.span_end if r.kind == "s" else r.span_start
            value = raw + float(shift.get(r.kind, 0.0))
            if clip_seconds is not None:
                value = min(max(value, 0.0), float(clip_seconds))
        else:
            value = _placeholder(r.kind, offsets)
        out.append(replace(r, seconds=value,
                           clip_seconds=float(clip_seconds) if clip_seconds is not None else r.clip_seconds))
    return out


def fit_offsets(rows: Sequence[SeasonRow], labels: Mapping[str, float]) -> dict:
    """Learn the correction rule on labelled (training) clips: per kind the median of
    ``label - raw estimate`` over clips with siblings, plus the median label per kind (the
    placeholder for clips without siblings).  Pass raw rows (made with no offsets)."""
    rule: dict = {"offset": {}, "n": {}, "prior": {}, "abs_error_before": {}, "abs_error_after": {}}
    for k in ("s", "e"):
        lab = [labels[r.clip] for r in rows if r.kind == k and r.clip in labels]
        if lab:
            rule["prior"][k] = float(np.median(lab))
        d = np.array([labels[r.clip] - r.seconds for r in rows
                      if r.kind == k and r.source == "season" and r.clip in labels])
        rule["n"][k] = int(d.size)
        if d.size:
            off = float(np.median(d))
            rule["offset"][k] = off
            rule["abs_error_before"][k] = float(np.median(np.abs(d)))
            rule["abs_error_after"][k] = float(np.median(np.abs(d - off)))
    return rule


def fingerprint_episode(path: str | os.PathLike, clip_seconds: int = DEFAULT_CLIP_SECONDS,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Fingerprints of the first and the last ``clip_seconds`` of a whole episode (for
    predict.py --season); times in each are seconds from that window's start."""
    head = fingerprint(path, duration=clip_seconds)
    tail = fingerprint(path, start=-float(clip_seconds), duration=clip_seconds)
    return head, tail


def write_sidecar(path: str | os.PathLike, rows: Sequence[SeasonRow]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SIDECAR_FIELDS)
    for r in rows:
        d = asdict(r)
        w.writerow([f"{d[f]:.3f}" if isinstance(d[f], float) else "" if d[f] is None else d[f]
                    for f in SIDECAR_FIELDS])
    atomic_write_text(path, buf.getvalue())


def read_sidecar(path: str | os.PathLike) -> dict[str, SeasonRow]:
    """clip stem -> SeasonRow from a sidecar CSV; LabelError names the file for a bad one."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: season sidecar not found")
    out: dict[str, SeasonRow] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        need = [f for f in SIDECAR_FIELDS if f not in OPTIONAL_FIELDS]
        if reader.fieldnames is None or not set(need) <= set(reader.fieldnames):
            raise LabelError(f"{path}: not a season sidecar (need columns {', '.join(need)})")
        for ln, d in enumerate(reader, 2):
            try:
                stem = Path(d["clip"]).name.removesuffix(".mp4")
                cs = d.get("clip_seconds") or None
                out[stem] = SeasonRow(stem, d["kind"], float(d["seconds"]), d["source"],
                                      int(d["siblings"]), float(d["spread_s"]),
                                      float(d["span_start"]), float(d["span_end"]), int(d["group"]),
                                      float(cs) if cs is not None else None,
                                      float(d.get("short_s") or "nan"))
            except (ValueError, TypeError) as exc:
                raise LabelError(f"{path}:{ln}: bad row ({exc})") from None
    return out


# ----------------------------------------------------------------------------------------------
# Fusion with the learned models (used by fuse/fuse.py --season): the rule is fuse.season_rule.decide


def load_rule(path: str | os.PathLike | None) -> SeasonRule:
    """The decision rule saved with the offsets (``"decision"`` in the offsets JSON written by
    ``--fit_labels``); the documented defaults when ``path`` is None or holds no rule."""
    if path is None:
        return SeasonRule()
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        return SeasonRule.from_dict(doc.get("decision"))
    except (OSError, ValueError, TypeError) as exc:
        raise LabelError(f"{path}: not a season rule ({exc})") from None


def apply_season(records: Sequence, season: Mapping[str, SeasonRow], rule: SeasonRule = SeasonRule(),
                 confidence: Mapping[str, float] | None = None,
                 weights: Sequence[float] | None = None,
                 posterior: Mapping[str, np.ndarray] | None = None) -> tuple[list, dict[str, Decision]]:
    """fuse.fuse.FusedRecord list -> (the same with each clip's decision applied, decisions by
    clip).  ``confidence`` (clip file name -> the dense kind's confidence) makes p_models that
    confidence; otherwise it is the inputs' agreement (fuse.season_rule.model_reliability).
    ``posterior`` (clip file name -> the dense kind's per-second boundary posterior) gives the rule
    the model's own probability of the matched time (fuse.season_rule.mass_near)."""
    rule = widen_for_clip_set(
        rule, [r.span_end - r.span_start for r in season.values() if r.source == "season"]
    )
    out, decisions = [], {}
    for r in records:
        stem = Path(r.clip).name.removesuffix(".mp4")
        row = season.get(stem)
        conf = None if confidence is None else confidence.get(Path(r.clip).name)
        p_models = model_reliability(r.inputs, r.seconds, conf, rule, weights)
        if row is None or row.source != "season":
            d = decide(r.kind, r.seconds, p_models, None, 0, 0.0, float("nan"), float("nan"), None, rule)
        else:
            post = None if posterior is None else posterior.get(Path(r.clip).name)
            d = decide(r.kind, r.seconds, p_models, row.seconds, row.siblings, row.spread_s,
                       row.span_start, row.span_end, row.clip_seconds, rule,
                       None if post is None else mass_near(post, row.seconds), row.short_s)
        decisions[r.clip] = d
        out.append(replace(r, seconds=d.seconds, source="season") if d.source == "season" else r)
    return out, decisions


def write_sources(path: str | os.PathLike, records: Sequence, season: Mapping[str, SeasonRow],
                  decisions: Mapping[str, Decision]) -> None:
    """Per clip: the answer, which source decided and why, the model consensus and the match."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("clip", "seconds", "source", "models", "season", "siblings", "reason"))
    for r in records:
        row = season.get(Path(r.clip).name.removesuffix(".mp4"))
        has = row is not None and row.source == "season"
        w.writerow((r.clip, f"{r.seconds:.3f}", r.source, f"{r.fusion.seconds:.3f}",
                    f"{row.seconds:.3f}" if has else "", row.siblings if row is not None else 0,
                    decisions[r.clip].reason))
    atomic_write_text(path, buf.getvalue())


# ----------------------------------------------------------------------------------------------
# CLI


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise LabelError(f"{path}: unreadable fingerprint ({exc})") from None


def _load_fps(args: argparse.Namespace) -> tuple[dict[str, np.ndarray], list[str]]:
    """Fingerprints by clip stem, in clip order; stems must be unique across the set."""
    from tqdm import tqdm

    fps: dict[str, np.ndarray] = {}
    order: list[str] = []

    def add(stem: str, arr: np.ndarray, where: Path) -> None:
        if stem in fps:
            raise LabelError(f"{where}: clip name {stem} occurs twice in the clip set")
        fps[stem] = arr
        order.append(stem)

    if args.data_root:
        from preprocessing.jobs import discover_clips

        if args.feat_root and len(args.feat_root) > 1:
            raise LabelError("with --data_root give one --feat_root (the processed folder that "
                             "mirrors those clips)")
        feat_root = args.feat_root[0] if args.feat_root else None
        clips = discover_clips(args.data_root, exclude=[feat_root] if feat_root else [])
        if not clips:
            raise LabelError(f"{' '.join(args.data_root)}: no clips found")
        for clip in tqdm(clips, desc="fingerprints", unit="clip", delay=2):
            if feat_root:
                p = feature_path(feat_root, clip.rel, CHROMA_SUFFIX)
                if not p.is_file():
                    raise LabelError(f"{p}: missing fingerprint; run utils/extract_fingerprint.py")
                arr = _load_npy(p)
            else:
                try:
                    arr = fingerprint(clip.video, duration=args.clip_seconds)
                except NoAudioError:
                    arr = np.zeros(0, dtype=np.uint32)
                except FingerprintError as exc:
                    raise LabelError(str(exc)) from None
            add(clip.stem, arr, clip.video)
    else:
        for root in map(Path, args.feat_root):
            if not root.is_dir():
                raise LabelError(f"{root}: no such folder")
            found = [p for p in sorted(root.rglob(f"*{CHROMA_SUFFIX}")) if not p.name.startswith(".")]
            if not found:
                raise LabelError(f"{root}: no *{CHROMA_SUFFIX} files")
            for p in found:
                add(p.name[: -len(CHROMA_SUFFIX)], _load_npy(p), p)
    for stem in order:
        if fps[stem].dtype != np.uint32 or fps[stem].ndim != 1:
            raise LabelError(f"{stem}: fingerprint is {fps[stem].dtype} {fps[stem].shape}, "
                             "expected a 1-D uint32 array")
        try:
            clip_kind(stem)
        except LabelError as exc:
            raise LabelError(f"{exc} (season mode pairs _start with _start, _end with _end)") from None
    return fps, order


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Season mode: OP end / ED start from theme songs "
                                "shared across episodes (Chromaprint).", add_help=add_help)
    g = p.add_argument_group("clips")
    g.add_argument("--data_root", nargs="+", metavar="PATH",
                   help="clips: folders (recursive) or label files; with --feat_root their "
                        "fingerprints are read from there, otherwise computed from the videos")
    g.add_argument("--feat_root", metavar="DIR", nargs="+",
                   help="processed folder(s) holding <stem>_chroma.npy; alone, every such file in "
                        "them is one clip (e.g. data/processed/data_C); with --data_root, one "
                        "folder that mirrors those clips' paths relative to --data_root")
    g.add_argument("--clip_seconds", type=int, default=DEFAULT_CLIP_SECONDS, metavar="S",
                   help="clip length S: fingerprint at most S seconds, answers clipped to [0, S] "
                        "(default: %(default)s)")
    o = p.add_argument_group("outputs")
    o.add_argument("--output", metavar="CSV", help="submission to write (SPEC.md section 1)")
    o.add_argument("--sidecar", metavar="CSV",
                   help="per-clip source/siblings table (default: <output stem>_season.csv)")
    o.add_argument("--groups", metavar="JSON",
                   help="also write the groups of clips sharing a song as JSON")
    r = p.add_argument_group("offset rule (training labels only)")
    r.add_argument("--fit_labels", nargs="+", metavar="LABELS",
                   help="TRAINING label files: learn the per-type median (label - estimate)")
    r.add_argument("--fit_val_predictions", nargs="+", metavar="CSV",
                   help="with --fit_labels: the models' validation answers on training clips (each "
                        "run's val_predictions.csv); their within-2-s share becomes the decision "
                        "rule's model_trust (fuse.season_rule)")
    r.add_argument("--save_offsets", metavar="JSON",
                   help="where --fit_labels saves the offsets and the decision rule")
    r.add_argument("--offsets", metavar="JSON", help="apply a rule saved by --save_offsets")
    m = p.add_argument_group("matcher")
    d = MatchParams()
    m.add_argument("--max_bit_errors", type=int, default=d.max_bit_errors, metavar="N",
                   help="a point pair matches when at most this many of 32 bits differ "
                        "(default: %(default)s)")
    m.add_argument("--max_gap_s", type=float, default=d.max_gap_s, metavar="SECONDS",
                   help="longest gap of unmatched points bridged inside a span (default: %(default)s)")
    m.add_argument("--min_span_s", type=float, default=d.min_span_s, metavar="SECONDS",
                   help="shortest shared span that makes two clips siblings (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bars and no summary")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if not args.data_root and not args.feat_root:
        print("season: error: give --data_root and/or --feat_root", file=sys.stderr)
        return 2
    if not args.output and not args.fit_labels:
        print("season: error: nothing to do: give --output and/or --fit_labels", file=sys.stderr)
        return 2
    if args.fit_labels and not args.save_offsets:
        print("season: error: --fit_labels needs --save_offsets", file=sys.stderr)
        return 2
    try:
        offsets: dict = {}
        if args.offsets:
            try:
                with open(args.offsets, encoding="utf-8") as fh:
                    offsets = json.load(fh)
                if not isinstance(offsets.get("offset"), dict):
                    raise ValueError("no 'offset' table")
            except (OSError, ValueError) as exc:
                raise LabelError(f"{args.offsets}: not an offsets rule ({exc})") from None
        fps, order = _load_fps(args)
        params = DiscoveryParams(match=MatchParams(max_bit_errors=args.max_bit_errors,
                                                   max_gap_s=args.max_gap_s,
                                                   min_span_s=args.min_span_s))
        raw = season_rows(fps, params=params, clip_seconds=args.clip_seconds,
                          progress=not args.quiet)
        if args.fit_labels:
            labels: dict[str, float] = {}
            for f in args.fit_labels:
                labels.update({Path(r.stem).name: r.seconds for r in read_labels(f)})
            rule = fit_offsets(raw, labels)
            rule["fit_labels"] = [str(f) for f in args.fit_labels]
            # the decision rule (fuse.season_rule) is fitted on the same training clips, offsets applied
            decision = fit_reliability(apply_offsets(raw, rule, args.clip_seconds), labels, args.clip_seconds)
            if args.fit_val_predictions:
                vals = [{Path(r.clip).name.removesuffix(".mp4"): r.seconds for r in read_submission(f)}
                        for f in args.fit_val_predictions]
                decision = fit_model_trust(vals, labels, decision)
            rule["decision"] = decision.to_dict()
            atomic_write_json(args.save_offsets, rule, indent=2)
            if not args.quiet:
                print(
                    f"season: offsets {rule['offset']} from {rule['n']} labelled clips with "
                    f"siblings (median |error| {rule['abs_error_before']} -> "
                    f"{rule['abs_error_after']}); decision rule: spread cut {decision.spread_cut:g} s, "
                    f"P(match within 2 s) {dict(decision.reliability)}, model_trust {decision.model_trust:g} "
                    f"over {dict(decision.n)} clips "
                    f"-> {args.save_offsets}"
                )
            if not offsets:
                offsets = rule
        rows = apply_offsets(raw, offsets, args.clip_seconds)
        if args.output:
            out = Path(args.output)
            write_submission(out, [(r.clip, r.seconds) for r in rows])
            side = Path(args.sidecar) if args.sidecar else out.with_name(out.stem + "_season.csv")
            write_sidecar(side, rows)
            if args.groups:
                groups: dict[int, list[str]] = {}
                for r in rows:
                    if r.group >= 0:
                        groups.setdefault(r.group, []).append(r.clip)
                atomic_write_json(args.groups, [groups[g] for g in sorted(groups)], indent=1)
            if not args.quiet:
                n_s = sum(r.source == "season" for r in rows)
                n_g = len({r.group for r in rows if r.group >= 0})
                print(f"season: {n_s}/{len(rows)} clips matched a sibling ({n_g} groups); "
                      f"{len(rows) - n_s} without sibling (source=none) -> {out}, {side}")
    except (LabelError, ValueError) as exc:
        print(f"season: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
