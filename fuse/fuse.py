"""Fuse several submissions into one: a per-clip K-means consensus (SPEC.md section 5).

For every clip the predicted times of all inputs are split into two clusters by K-means
(scikit-learn, fixed random state); the answer is the mean of the larger cluster, so one model that
is far off is outvoted.  Rows are joined by clip name, not by line number, and the output keeps the
clip order of the first input.  ``--method median`` and ``--method mean`` are simpler alternatives.

Run from the repository root (the published usage), or from anywhere:

    python fuse/fuse.py                      # fuse/submission_B_3/*.csv -> fuse/submission_B_3/submission.csv
    python -m fuse.fuse --inputs runs/a/test.csv runs/b/test.csv runs/c/test.csv --output fused.csv
    python fuse/fuse.py --inputs my_subs/ --output my_subs/fused.csv --method median

With no flags the default folder is ``submission_B_3`` next to this script (``fuse/``), whatever the
current directory; paths given on the command line are relative to the current directory.
A folder input means every ``*.csv`` in it, sorted by name, except files named like the output
(a rerun never fuses its own previous result).

Library use:

    from fuse.fuse import fuse_predictions, fuse_tables
    fuse_predictions([50.0, 50.4, 49.8, 120.0, 50.2])   # 50.1
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__" and __package__ in (None, ""):
    # Run as `python fuse/fuse.py`: fuse/ comes first on the module path and its fuse.py hides the fuse
    # package, so run again as `python -m fuse.fuse` from the repository this file sits in.
    _root = str(Path(__file__).resolve().parent.parent)
    _path = os.pathsep.join(p for p in (_root, os.environ.get("PYTHONPATH")) if p)
    os.execve(sys.executable, [sys.executable, "-P", "-m", "fuse.fuse", *sys.argv[1:]],
              {**os.environ, "PYTHONPATH": _path})

import argparse
import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from datatools.labels import LabelError, SubmissionRow, read_submission, write_submission
from datatools.metric import TOLERANCE_S

METHODS = ("kmeans", "median", "mean")
DEFAULT_DIR = Path(__file__).resolve().parent / "submission_B_3"
DEFAULT_OUTPUT_NAME = "submission.csv"
KMEANS_SEED = 0        # fixed: the same inputs always give the same clusters
KMEANS_N_INIT = 10     # restarts; cheap for five 1-D points (~4 ms per clip)
SPREAD_EPS = 1e-6      # seconds; spreads closer than this count as equal (avoids float-noise picks)
# --trust: an input whose confidence (e.g. the dense kind's posterior mass within 2 s) is at least
# this gives the answer alone (demo.py's and the benchmark's fusion+dense, predict.py with a dense model)
TRUST_MIN = 0.5


@dataclass(frozen=True)
class ClipFusion:
    """The fused time of one clip and how it was reached."""
    seconds: float
    kept: int          # predictions that formed the answer
    rejected: int      # predictions left out (always 0 for median/mean)
    gap: float = 0.0   # seconds from the answer to the nearest left-out prediction (0 if none)

    @property
    def outlier(self) -> bool:
        """K-means always leaves a cluster out when the values differ; it only counts as an outlier
        rejected when that cluster lies beyond the metric's 1 s tolerance from the answer."""
        return self.gap > TOLERANCE_S


@dataclass(frozen=True)
class FusedRecord:
    """One output row.  ``source`` says what produced ``seconds`` ("kmeans", "median", "mean");
    a later stage (e.g. a season-level override) can replace a record and set its own source."""
    clip: str
    kind: str
    seconds: float
    source: str
    inputs: tuple[float, ...]
    fusion: ClipFusion


@functools.lru_cache(maxsize=1)
def _kmeans_tools():
    """scikit-learn's KMeans and a thread-pool controller, loaded on first use so that
    `--method median` never pays for the import.  KMeans runs single-threaded: on five numbers
    OpenMP gains nothing, and its thread start-up made fusion ~30x slower on a busy 2-core machine
    (157 s against 5.5 s for 1000 clips)."""
    from sklearn.cluster import KMeans
    from threadpoolctl import ThreadpoolController

    return KMeans, ThreadpoolController()  # after the import, so it sees sklearn's OpenMP


def _kmeans_consensus(values: np.ndarray, weights: np.ndarray | None = None) -> ClipFusion:
    """Mean of the larger of two K-means clusters.  With ``weights`` (one per value), K-means is
    weighted, "larger" means the larger weight sum and the answer is the weighted mean: an input of
    weight 5 counts as five agreeing inputs.

    Tie (an even split): the tighter cluster (smaller standard deviation) wins; if the spreads are
    equal too (within SPREAD_EPS), the cluster with the earlier time wins.  Both rules depend only
    on the set of values, so the answer does not depend on the order of the inputs."""
    n = values.size
    if n == 0:
        raise ValueError("no predictions to fuse")
    if np.ptp(values) == 0.0:
        # All equal: K-means would warn about fewer distinct points than clusters; nothing to reject.
        return ClipFusion(float(values[0]), n, 0)
    KMeans, threads = _kmeans_tools()
    order = np.lexsort((np.zeros(n) if weights is None else weights, values))
    x = values[order]  # sorted input makes the k-means++ seeding independent of input order
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)[order]
    with warnings.catch_warnings(), threads.limit(limits=1, user_api="openmp"):
        warnings.simplefilter("ignore")  # none expected with >= 2 distinct values; never spam a long run
        labels = KMeans(n_clusters=2, n_init=KMEANS_N_INIT, random_state=KMEANS_SEED).fit(
            x.reshape(-1, 1), sample_weight=w).labels_
    groups = [(x[labels == k], w[labels == k]) for k in (0, 1)]
    groups = [g for g in groups if g[0].size]

    def rank(g) -> tuple[int, int, float]:  # smallest wins
        v, gw = g
        spread = float(np.std(v))
        return (-round(float(gw.sum()) / SPREAD_EPS), round(spread / SPREAD_EPS), float(v.mean()))

    best = min(groups, key=rank)
    answer = float(np.average(best[0], weights=best[1]))
    others = [g for g in groups if g is not best]
    gap = float(np.min(np.abs(others[0][0] - answer))) if others else 0.0
    return ClipFusion(answer, int(best[0].size), int(n - best[0].size), gap)


def fuse_clip(values: Sequence[float], method: str = "kmeans",
              weights: Sequence[float] | None = None) -> ClipFusion:
    """Fuse one clip's predictions with ``method`` (kmeans, median or mean); ``weights`` (one per
    value, default all 1) weigh kmeans and mean."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("no predictions to fuse")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"non-finite prediction among {v.tolist()}")
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w is not None and (w.size != v.size or not np.all(w > 0)):
        raise ValueError(f"need one positive weight per prediction, got {list(weights)} for {v.size}")
    if method == "kmeans":
        return _kmeans_consensus(v, w)
    if method == "median":
        if w is not None and np.ptp(w) > 0:
            raise ValueError("--method median does not take weights (use kmeans or mean)")
        return ClipFusion(float(np.median(v)), int(v.size), 0)
    if method == "mean":
        return ClipFusion(float(np.average(v, weights=w)), int(v.size), 0)
    raise ValueError(f"unknown fusion method {method!r}; choose one of {', '.join(METHODS)}")


def fuse_predictions(values: Sequence[float], method: str = "kmeans") -> float:
    """The fused time of one clip, e.g. ``fuse_predictions([50.0, 50.4, 49.8, 120.0, 50.2]) == 50.1``."""
    return fuse_clip(values, method).seconds


def check_same_clips(tables: Sequence[tuple[str, Sequence[SubmissionRow]]]) -> None:
    """Raise LabelError naming file and line unless every table holds exactly the first one's clips."""
    first_name, first_rows = tables[0]
    first = {r.clip: r for r in first_rows}
    for name, rows in tables[1:]:
        have = {r.clip: r for r in rows}
        extra = [r for r in rows if r.clip not in first]
        missing = [r for r in first_rows if r.clip not in have]
        if extra:
            r = extra[0]
            more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
            raise LabelError(f"{name}:{r.line}: clip {r.clip} is not in the first input {first_name}{more}")
        if missing:
            r = missing[0]
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise LabelError(f"{name}: clip {r.clip} (line {r.line} of {first_name}) is missing{more}")


def fuse_tables(tables: Sequence[tuple[str, Sequence[SubmissionRow]]], method: str = "kmeans",
                progress: bool = False, weights: Sequence[float] | None = None) -> list[FusedRecord]:
    """Fuse submissions given as ``(name, rows)`` pairs; rows are joined by clip name.

    Every table must hold the same clips (LabelError otherwise, naming the file and line).  The
    result follows the clip order of the first table."""
    if not tables:
        raise ValueError("no submissions to fuse")
    if method not in METHODS:
        raise ValueError(f"unknown fusion method {method!r}; choose one of {', '.join(METHODS)}")
    check_same_clips(tables)
    lookup = [{r.clip: r.seconds for r in rows} for _, rows in tables]
    out: list[FusedRecord] = []
    for row in tqdm(tables[0][1], desc=f"fuse ({method})", unit="clip", disable=not progress,
                    delay=2):  # the bar shows only when fusing takes a while
        values = tuple(t[row.clip] for t in lookup)
        f = fuse_clip(values, method, weights)
        out.append(FusedRecord(row.clip, row.kind, f.seconds, method, values, f))
    return out


def expand_inputs(inputs: Sequence[str | os.PathLike], output: Path) -> tuple[list[Path], list[Path]]:
    """Resolve ``--inputs``: a folder means its ``*.csv`` sorted by name.  Returns (inputs, skipped):
    files in a folder named like the output are skipped; an explicit file that *is* the output is
    refused."""
    out_resolved = output.resolve()
    files: list[Path] = []
    skipped: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.glob("*.csv")):
                if f.name == output.name or f.resolve() == out_resolved:
                    skipped.append(f)
                else:
                    files.append(f)
        elif p.is_file():
            if p.resolve() == out_resolved:
                raise LabelError(f"{p}: is also the output file; fusing it would include an old result")
            files.append(p)
        else:
            raise LabelError(f"{p}: no such file or folder")
    seen: set[Path] = set()
    unique = []
    for f in files:  # the same file given twice would silently get two votes
        if f.resolve() in seen:
            raise LabelError(f"{f}: given more than once")
        seen.add(f.resolve())
        unique.append(f)
    return unique, skipped


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Fuse submission CSVs into one by a per-clip K-means consensus (or median/mean).",
        add_help=add_help)
    p.add_argument("--inputs", nargs="+", default=None, metavar="DIR_OR_FILE",
                   help="submission CSVs, or folders meaning every *.csv in them (sorted); "
                        f"default: {DEFAULT_DIR.name}/ next to this script, i.e. fuse/{DEFAULT_DIR.name}/")
    p.add_argument("--output", default=None,
                   help="fused submission to write; default: submission.csv in the default folder "
                        "(with --inputs given, the default is submission.csv in the first input's folder)")
    p.add_argument("--method", choices=METHODS, default="kmeans",
                   help="kmeans: mean of the larger of two clusters (outlier-rejecting, default); "
                        "median or mean of all inputs")
    p.add_argument("--weight", action="append", default=[], metavar="STEM=W",
                   help="weight of the input whose file name (without .csv) is STEM, e.g. dense=5: it "
                        "counts as W agreeing inputs in kmeans/mean (default 1 each; repeatable)")
    p.add_argument("--trust", default=None, metavar="STEM=CONFIDENCE_CSV",
                   help="where the input STEM is confident (its confidence sidecar, e.g. the dense kind's "
                        "submission_confidence.csv, says >= --trust_min), its answer is taken as it is; "
                        "the other clips are fused as usual")
    p.add_argument("--trust_min", type=float, default=TRUST_MIN, metavar="P",
                   help="confidence from which --trust takes that input's answer (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    s = p.add_argument_group("season mode (fuse/season.py)")
    s.add_argument("--season", metavar="SIDECAR_CSV", default=None,
                   help="season sidecar from fuse/season.py: per clip, the decision rule "
                        "(fuse.season_rule.decide) weighs the theme-song match against the models and "
                        "picks one; writes <output stem>_sources.csv saying per clip which source "
                        "decided and why")
    s.add_argument("--posterior", metavar="NPZ", default=None,
                   help="the --trust input's per-second boundary posterior (the dense kind's --testB writes "
                        "submission_posterior.npz): the rule then weighs a match by the model's own "
                        "probability of the matched time")
    s.add_argument("--season_rule", metavar="OFFSETS_JSON", default=None,
                   help="the rule fitted on training labels (fuse/season.py --fit_labels --save_offsets "
                        "writes it beside the offsets); default: the documented built-in parameters")
    return p


def read_confidence(path: str | os.PathLike) -> dict[str, float]:
    """A confidence sidecar (``clip,confidence`` rows, as the dense kind's --testB writes)."""
    import csv
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: confidence sidecar not found")
    out = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"clip", "confidence"} <= set(reader.fieldnames):
            raise LabelError(f"{path}: not a confidence sidecar (need columns clip, confidence)")
        for ln, row in enumerate(reader, 2):
            try:
                c = float(row["confidence"])
            except (TypeError, ValueError):
                c = float("nan")
            if not 0.0 <= c <= 1.0:
                raise LabelError(f"{path}:{ln}: confidence {row['confidence']!r} is not in [0, 1]")
            out[Path(row["clip"]).name] = c
    return out


def read_posterior(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A posterior file (``np.savez``: clip file name -> per-second probabilities, as the dense kind's
    --testB writes)."""
    path = Path(path)
    try:
        with np.load(path) as z:
            return {Path(k).name: np.asarray(z[k], dtype=np.float64) for k in z.files}
    except (OSError, ValueError) as exc:
        raise LabelError(f"{path}: not a posterior file ({exc})") from None


def apply_trust(records: Sequence[FusedRecord], files: Sequence[Path], spec: str,
                minimum: float) -> list[FusedRecord]:
    """``--trust STEM=CSV``: the input STEM's own answer where its confidence is >= ``minimum``
    (source "trusted"); the fused answer elsewhere."""
    from dataclasses import replace

    stem, sep, csv_path = spec.partition("=")
    stems = [f.stem for f in files]
    if not sep or stem not in stems:
        raise ValueError(
            f"--trust {spec!r}: expected STEM=CONFIDENCE_CSV with STEM one of {', '.join(stems)}"
        )
    conf = read_confidence(csv_path)
    i = stems.index(stem)
    out = []
    for r in records:
        c = conf.get(Path(r.clip).name)
        if c is None:
            raise LabelError(f"{csv_path}: no confidence for clip {r.clip}")
        out.append(replace(r, seconds=r.inputs[i], source="trusted") if c >= minimum else r)
    return out


def input_weights(files: Sequence[Path], specs: Sequence[str]) -> list[float] | None:
    """``--weight STEM=W`` options -> one weight per input file (None when none is given)."""
    if not specs:
        return None
    stems = [f.stem for f in files]
    weights = [1.0] * len(files)
    for spec in specs:
        stem, sep, value = spec.rpartition("=")
        try:
            w = float(value)
        except ValueError:
            w = float("nan")
        if not sep or not stem or not w > 0 or not np.isfinite(w):
            raise ValueError(f"--weight {spec!r}: expected STEM=W with a positive number W")
        if stem not in stems:
            raise ValueError(f"--weight {spec!r}: no input named {stem}.csv (inputs: {', '.join(stems)})")
        weights[stems.index(stem)] = w
    return weights


def resolve_paths(args: argparse.Namespace) -> tuple[list[str | os.PathLike], Path]:
    """Default inputs/output.  The default folder is fixed relative to this script, so the
    published `python fuse/fuse.py` from the repository root and a run from elsewhere agree."""
    inputs = args.inputs if args.inputs else [DEFAULT_DIR]
    if args.output:
        output = Path(args.output)
    else:
        first = Path(inputs[0])
        output = (first if first.is_dir() else first.parent) / DEFAULT_OUTPUT_NAME
    return inputs, output


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    inputs, output = resolve_paths(args)
    try:
        files, skipped = expand_inputs(inputs, output)
        if not files:
            raise LabelError(f"{', '.join(map(str, inputs))}: no submission CSVs to fuse")
        tables = [(str(f), read_submission(f)) for f in files]
        weights = input_weights(files, args.weight)
        records = fuse_tables(tables, args.method, progress=not args.quiet, weights=weights)
        confidence = None
        if args.trust:
            records = apply_trust(records, files, args.trust, args.trust_min)
            confidence = read_confidence(args.trust.partition("=")[2])
        if args.season:  # season mode: the rule picks the match or the models per clip (fuse/season.py)
            from fuse.season import apply_season, load_rule, read_sidecar, write_sources

            season = read_sidecar(args.season)
            posterior = read_posterior(args.posterior) if args.posterior else None
            records, decisions = apply_season(records, season, load_rule(args.season_rule), confidence,
                                              weights, posterior)
            write_sources(output.with_name(output.stem + "_sources.csv"), records, season, decisions)
        write_submission(output, [(r.clip, r.seconds) for r in records])
    except (LabelError, ValueError) as exc:
        print(f"fuse: error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        if args.method == "kmeans" and len(files) < 3:
            print(f"fuse: warning: K-means over {len(files)} input(s) cannot outvote anything; "
                  "a 1-1 split takes the earlier time (consider --method mean)", file=sys.stderr)
        for f in skipped:
            print(f"fuse: skipped {f} (named like the output)", file=sys.stderr)
        n_out = sum(r.fusion.outlier for r in records)
        print(f"fused {len(records)} clips from {len(files)} inputs with {args.method}: "
              f"{n_out} clips had an outlier (> {TOLERANCE_S:g} s off) rejected -> {output}")
        for f in files:
            print(f"  input: {f}")
        if args.trust:
            n_trust = sum(r.source == "trusted" for r in records)
            print(f"  trusted: {n_trust}/{len(records)} clips took {args.trust.partition('=')[0]}'s answer "
                  f"(confidence >= {args.trust_min:g})")
        if args.season:
            n_season = sum(r.source == "season" for r in records)
            print(f"  season: {n_season}/{len(records)} clips decided by sibling matches "
                  f"({args.season}); sources in {output.stem}_sources.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
