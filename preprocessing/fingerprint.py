"""Chromaprint fingerprints, a span matcher and sibling discovery for season mode (pure functions).

A theme song repeats sample-identically across the episodes of a series, so two episodes that share
an OP (or ED) share a long run of near-identical Chromaprint points.  This module
  * computes the real Chromaprint fingerprint with the ffmpeg binary of ``imageio-ffmpeg``
    (its ``chromaprint`` muxer, raw little-endian uint32 points, one every 1365/11025 s),
  * matches two fingerprints: offset voting through an inverted index of point values, then the
    longest run of points that differ in at most 6 of 32 bits, bridging gaps up to 3.5 s and at
    least 15 s long, reported as the shared span in both recordings (seconds),
  * finds, in a set of clips without any metadata, which clips share such a span ("siblings"),
    through one inverted index over all clips (near-linear, never all pairs), and
  * turns the siblings of each clip into robust boundary estimates (median over siblings).

No CLI here: ``fuse/season.py`` (submission for a clip set), ``utils/extract_fingerprint.py``
(preprocessing) and ``predict.py --season`` call these functions.

    from preprocessing.fingerprint import fingerprint, match_fingerprints, discover_siblings
    a = fingerprint("ep1_start.mp4"); b = fingerprint("ep2_start.mp4")
    span = match_fingerprints(a, b)      # Span(a_start=…, a_end=…, b_start=…, b_end=…) or None
"""
from __future__ import annotations

import math
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Chromaprint (default algorithm) resamples to 11025 Hz and hops 4096 - 2731 = 1365 samples per
# point; a 200 s signal gives 1594 points, which pins the hop to 1365 rather than 4096/3.
CHROMA_RATE = 11025
CHROMA_HOP = 1365
POINT_SECONDS = CHROMA_HOP / CHROMA_RATE          # 0.12381 s
# A point summarises about 2.7 s of audio starting at its own time (a 4096-sample frame, then a
# 5-frame chroma filter and classifiers up to 16 frames wide); the last point of a recording
# therefore covers audio up to its time plus this context.
POINT_CONTEXT_S = (4096 + (5 - 1 + 16 - 1) * CHROMA_HOP) / CHROMA_RATE  # 2.72 s
# Where shared audio begins or ends inside both recordings, points whose context straddles the
# boundary still match when most of it is shared: on synthetic songs pasted sample-exactly into
# other audio (bench/season_bench.py, 70 spans) matching began 0.7 s (median) before the shared
# audio and its last point began 1.3 s before the shared audio ended.  These are properties of
# the fingerprint, measured where the truth is exact, not fitted to any labels.
START_SHIFT_S = 0.7
END_SHIFT_S = 1.3


class FingerprintError(RuntimeError):
    """ffmpeg could not fingerprint a file; the message names the file and ffmpeg's reason."""


class NoAudioError(FingerprintError):
    """The file has no audio stream (a caller may store an empty fingerprint and warn)."""


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def fingerprint(path: str | Path, start: float | None = None, duration: float | None = None,
                ffmpeg: str | None = None) -> np.ndarray:
    """Raw Chromaprint points (uint32) of the audio of ``path``, optionally of the window
    ``[start, start + duration)`` seconds (e.g. the first/last S seconds of a whole episode;
    a negative ``start`` counts from the end of the file).

    Point ``i`` begins at ``i * POINT_SECONDS`` from the window start.  Raises ``NoAudioError``
    for a file without audio and ``FingerprintError`` for anything else ffmpeg refuses."""
    path = Path(path)
    if not path.is_file():
        raise FingerprintError(f"{path}: no such file")
    cmd = [ffmpeg or ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error"]
    if start is not None:
        # -sseof seeks relative to the end, so a whole episode's last S seconds need no probing
        cmd += ["-sseof" if start < 0 else "-ss", f"{start:.3f}"]
    cmd += ["-i", str(path)]
    if duration is not None:
        cmd += ["-t", f"{duration:.3f}"]
    cmd += ["-vn", "-ac", "2", "-f", "chromaprint", "-fp_format", "raw", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        if "does not contain any stream" in err or "matches no streams" in err:
            raise NoAudioError(f"{path}: no audio stream")
        last = err.splitlines()[-1] if err else f"ffmpeg exit status {proc.returncode}"
        raise FingerprintError(f"{path}: ffmpeg could not fingerprint it: {last}")
    if len(proc.stdout) % 4:
        raise FingerprintError(f"{path}: ffmpeg returned {len(proc.stdout)} bytes, not whole points")
    return np.frombuffer(proc.stdout, dtype="<u4").astype(np.uint32)


def fingerprint_samples(samples: np.ndarray, sample_rate: int, ffmpeg: str | None = None,
                        ) -> np.ndarray:
    """Chromaprint points of a mono float signal in [-1, 1] (piped to ffmpeg, no file written);
    used to fingerprint synthesised audio in tests and the benchmark."""
    pcm = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0).tobytes()
    cmd = [ffmpeg or ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
           "-f", "f32le", "-ar", str(int(sample_rate)), "-ac", "1", "-i", "-",
           "-ac", "2", "-f", "chromaprint", "-fp_format", "raw", "-"]
    proc = subprocess.run(cmd, input=pcm, capture_output=True)
    if proc.returncode != 0:
        raise FingerprintError(f"<samples>: ffmpeg could not fingerprint them: "
                               f"{proc.stderr.decode('utf-8', 'replace').strip()[-200:]}")
    return np.frombuffer(proc.stdout, dtype="<u4").astype(np.uint32)


# ----------------------------------------------------------------------------------------------
# Matching two fingerprints


@dataclass(frozen=True)
class MatchParams:
    """Parameters of the matcher (defaults follow the media-server practice of Intro Skipper)."""
    max_bit_errors: int = 6        # a point pair matches when at most this many of 32 bits differ
    max_gap_s: float = 3.5         # a run of matches may bridge gaps of unmatched points this long
    min_span_s: float = 15.0       # a shared span must be at least this long
    max_offsets: int = 4           # candidate alignments (vote peaks) checked per pair
    min_votes: int = 4             # an alignment needs at least this many index hits to be checked
    start_shift_s: float = START_SHIFT_S  # added to a run's first point time (span start)
    end_shift_s: float = END_SHIFT_S      # added to a run's last point time (span end)

    @property
    def max_gap_points(self) -> int:
        return int(round(self.max_gap_s / POINT_SECONDS))

    @property
    def min_span_points(self) -> int:
        return int(math.ceil(self.min_span_s / POINT_SECONDS))


@dataclass(frozen=True)
class Span:
    """A shared span: ``[a_start, a_end)`` seconds in recording a equals ``[b_start, b_end)`` in b."""
    a_start: float
    a_end: float
    b_start: float
    b_end: float
    offset: int            # alignment in points: index in a minus index in b
    matched: float         # share of the points in the run that matched (0..1)

    @property
    def seconds(self) -> float:
        return self.a_end - self.a_start

    def swapped(self) -> Span:
        return Span(self.b_start, self.b_end, self.a_start, self.a_end, -self.offset, self.matched)


def informative(fp: np.ndarray) -> np.ndarray:
    """Mask of points that carry information: a point equal to its predecessor comes from
    silence or a stationary sound (digital silence is one constant value), which would make any
    two quiet stretches look 'shared'."""
    fp = np.asarray(fp, dtype=np.uint32)
    keep = np.ones(fp.shape, dtype=bool)
    if fp.size > 1:
        same = fp[1:] == fp[:-1]
        keep[1:] &= ~same
        keep[:-1] &= ~same
    return keep


def index_keys(fp: np.ndarray, halves: bool = True) -> list[np.ndarray]:
    """Lookup keys of every point for the inverted index: the exact value, and each 16-bit half
    tagged by which half it is.  Re-encoded audio that lands a fraction of a hop apart keeps
    most points within a few bits but only ~10 % exactly equal; a clean half survives far more
    often, so the halves give several times more true votes (measured on the peer pair)."""
    fp = np.asarray(fp, dtype=np.uint64)
    keys = [fp | np.uint64(1 << 34)]
    if halves:
        keys += [(fp >> np.uint64(16)) | np.uint64(2 << 34), (fp & np.uint64(0xFFFF)) | np.uint64(3 << 34)]
    return keys


def _expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo_k, hi_k): (owner k of each element, element index), vectorised."""
    counts = hi - lo
    owner = np.repeat(np.arange(lo.size), counts)
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return owner, starts + np.arange(owner.size)


def vote_offsets(a: np.ndarray, b: np.ndarray, params: MatchParams = MatchParams()) -> list[int]:
    """Candidate alignments (index in a minus index in b), best first: every index key of a is
    looked up in an inverted index of b's keys and the hit's offset gets a vote; votes are
    summed over a 3-point window because a re-encoding drifts by a fraction of a hop."""
    ka, kb = index_keys(a), index_keys(b)
    ia_all, ib_all = [], []
    ok_a, ok_b = informative(a), informative(b)
    for xa, xb in zip(ka, kb):
        pos_b = np.flatnonzero(ok_b)
        order = np.argsort(xb[pos_b], kind="stable")
        sorted_b = xb[pos_b][order]
        pos_a = np.flatnonzero(ok_a)
        lo = np.searchsorted(sorted_b, xa[pos_a], "left")
        hi = np.searchsorted(sorted_b, xa[pos_a], "right")
        owner, idx = _expand_ranges(lo, hi)
        ia_all.append(pos_a[owner])
        ib_all.append(pos_b[order[idx]])
    ia = np.concatenate(ia_all)
    ib = np.concatenate(ib_all)
    if ia.size == 0:
        return []
    off = ia - ib + len(b)                     # shift to non-negative bins
    hist = np.bincount(off, minlength=len(a) + len(b) + 1).astype(np.int64)
    smooth = hist.copy()
    smooth[1:] += hist[:-1]
    smooth[:-1] += hist[1:]
    found: list[int] = []
    for k in np.argsort(-smooth, kind="stable"):
        if smooth[k] < params.min_votes or len(found) >= params.max_offsets:
            break
        if all(abs(int(k) - len(b) - f) > 2 for f in found):   # skip a peak's shoulders
            found.append(int(k) - len(b))
    return found


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


def match_mask(a: np.ndarray, b: np.ndarray, offset: int, max_bit_errors: int = 6,
               ) -> tuple[int, np.ndarray]:
    """Matches at alignment ``offset`` (a[i] against b[i - offset]) and its two neighbours,
    since the true alignment usually falls between two whole points.  Returns (first index in a,
    boolean mask over the overlap)."""
    a = np.asarray(a, dtype=np.uint32)
    b = np.asarray(b, dtype=np.uint32)
    a0 = max(offset, 0)
    a1 = min(len(a), len(b) + offset)
    if a1 <= a0:
        return a0, np.zeros(0, dtype=bool)
    ia = np.arange(a0, a1)
    ok = informative(a)[ia]
    mask = np.zeros(ia.size, dtype=bool)
    ok_b = informative(b)
    for d in (-1, 0, 1):
        ib = ia - offset + d
        valid = (ib >= 0) & (ib < len(b))
        errs = np.full(ia.size, 33)
        errs[valid] = _popcount(a[ia[valid]] ^ b[ib[valid]])
        good = np.zeros(ia.size, dtype=bool)
        good[valid] = ok_b[ib[valid]]
        mask |= (errs <= max_bit_errors) & good
    return a0, mask & ok


def longest_run(mask: np.ndarray, max_gap: int) -> tuple[int, int, int] | None:
    """Longest stretch (first, last, number matched) of True values in which no gap of False
    values is longer than ``max_gap``; None when the mask has no True."""
    hits = np.flatnonzero(mask)
    if hits.size == 0:
        return None
    breaks = np.flatnonzero(np.diff(hits) > max_gap + 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [hits.size - 1]))
    lengths = hits[ends] - hits[starts]
    k = int(np.argmax(lengths))
    return int(hits[starts[k]]), int(hits[ends[k]]), int(ends[k] - starts[k] + 1)


def span_at(a: np.ndarray, b: np.ndarray, offset: int, params: MatchParams = MatchParams(),
            ) -> Span | None:
    """The longest shared span at one alignment, or None if shorter than ``min_span_s``."""
    a0, mask = match_mask(a, b, offset, params.max_bit_errors)
    run = longest_run(mask, params.max_gap_points)
    if run is None:
        return None
    first, last, n = run
    if last - first + 1 < params.min_span_points:
        return None
    i0, i1 = a0 + first, a0 + last
    j0, j1 = i0 - offset, i1 - offset
    # A run cut by a recording's edge says nothing about where the shared audio begins/ends:
    # there the span reaches the edge (point 0, or the last point plus its whole context).
    at_start = i0 == 0 or j0 == 0
    at_end = i1 == len(a) - 1 or j1 == len(b) - 1
    lead = 0.0 if at_start else params.start_shift_s
    tail = POINT_CONTEXT_S if at_end else params.end_shift_s
    return Span(i0 * POINT_SECONDS + lead, min(i1 * POINT_SECONDS + tail, fingerprint_seconds(a)),
                j0 * POINT_SECONDS + lead, min(j1 * POINT_SECONDS + tail, fingerprint_seconds(b)),
                int(offset), n / (last - first + 1))


def fingerprint_seconds(fp: np.ndarray) -> float:
    """The length of audio a fingerprint covers, in seconds (its last point's context included)."""
    n = int(np.asarray(fp).size)
    return 0.0 if n == 0 else (n - 1) * POINT_SECONDS + POINT_CONTEXT_S


def match_fingerprints(a: np.ndarray, b: np.ndarray, params: MatchParams = MatchParams(),
                       offsets: Sequence[int] | None = None) -> Span | None:
    """The longest span shared by fingerprints ``a`` and ``b`` (seconds in each), or None.

    Candidate alignments come from ``offsets`` when given (e.g. from sibling discovery's index)
    and otherwise from ``vote_offsets``; each is checked point by point."""
    a = np.asarray(a, dtype=np.uint32)
    b = np.asarray(b, dtype=np.uint32)
    if a.size == 0 or b.size == 0:
        return None
    cands = list(offsets) if offsets is not None else vote_offsets(a, b, params)
    best: Span | None = None
    for off in cands:
        span = span_at(a, b, int(off), params)
        if span is not None and (best is None or span.seconds > best.seconds):
            best = span
    return best


# ----------------------------------------------------------------------------------------------
# Sibling discovery over a clip set


@dataclass(frozen=True)
class DiscoveryParams:
    match: MatchParams = MatchParams()
    max_bucket: int = 64           # keys found in more clips than this are too common to vote
    offset_bin: int = 8            # alignment votes are pooled in bins of this many points (~1 s)
    min_votes: int = 12            # a clip pair needs this many pooled votes to be verified
    max_candidates: int = 30       # verify at most this many best-voted partners per clip
    # The global index uses exact 32-bit values only: random collisions are then negligible and
    # the cost stays near-linear in the number of clips.  16-bit halves (as the pairwise matcher
    # uses) would put ~N/40 clips of N in every bucket by chance, i.e. quadratic work.
    halves: bool = False


@dataclass
class Siblings:
    """What discovery found: per clip its siblings with the span (in the clip's own seconds first),
    the connected groups, and how many pairs were verified."""
    names: list[str]
    spans: dict[str, dict[str, Span]] = field(default_factory=dict)
    groups: list[list[str]] = field(default_factory=list)
    candidates: int = 0

    def count(self, name: str) -> int:
        return len(self.spans.get(name, {}))


def _candidate_pairs(fps: Sequence[np.ndarray], kinds: Sequence[str] | None,
                     params: DiscoveryParams) -> dict[tuple[int, int], list[int]]:
    """Clip pairs (i < j) with enough index hits at a consistent alignment, and their best
    alignments (points, index in i minus index in j).  One sorted index over every point of every
    clip: only points sharing a key meet, so the cost grows with the number of points plus the
    number of true hits, not with the number of clip pairs."""
    keys, clip, pos = [], [], []
    for c, fp in enumerate(fps):
        fp = np.asarray(fp, dtype=np.uint32)
        p = np.flatnonzero(informative(fp))
        for k in index_keys(fp[p], params.halves):
            keys.append(k)
            clip.append(np.full(p.size, c, dtype=np.int64))
            pos.append(p.astype(np.int64))
    if not keys:
        return {}
    key = np.concatenate(keys)
    clip_a = np.concatenate(clip)
    pos_a = np.concatenate(pos)
    order = np.argsort(key, kind="stable")
    key, clip_a, pos_a = key[order], clip_a[order], pos_a[order]
    bounds = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate(([0], bounds))
    sizes = np.diff(np.concatenate((starts, [key.size])))
    kind_code = None
    if kinds is not None:
        lookup = {k: i for i, k in enumerate(sorted(set(kinds)))}
        kind_code = np.array([lookup[k] for k in kinds], dtype=np.int64)

    n = len(fps)
    nbins = (2 * max((len(f) for f in fps), default=1)) // params.offset_bin + 4
    pair_keys = []
    for g in range(2, params.max_bucket + 1):
        sel = starts[sizes == g]
        if sel.size == 0:
            continue
        iu, ju = np.triu_indices(g, 1)
        ia = (sel[:, None] + iu[None, :]).ravel()
        ja = (sel[:, None] + ju[None, :]).ravel()
        ci, cj = clip_a[ia], clip_a[ja]
        pi, pj = pos_a[ia], pos_a[ja]
        swap = ci > cj
        ci, cj = np.where(swap, cj, ci), np.where(swap, ci, cj)
        pi, pj = np.where(swap, pj, pi), np.where(swap, pi, pj)
        keep = ci != cj
        if kind_code is not None:
            keep &= kind_code[ci] == kind_code[cj]
        ci, cj, off = ci[keep], cj[keep], (pi - pj)[keep]
        # two bin grids half a bin apart, so a peak on a bin edge is never split in two
        for shift in (0, params.offset_bin // 2):
            b = (off + shift) // params.offset_bin + nbins // 2
            pair_keys.append(((ci * n + cj) * nbins + b) * 2 + (1 if shift else 0))
    if not pair_keys:
        return {}
    allk = np.concatenate(pair_keys)
    uniq, votes = np.unique(allk, return_counts=True)
    strong = votes >= params.min_votes
    uniq, votes = uniq[strong], votes[strong]
    grid = uniq % 2
    b = (uniq // 2) % nbins
    pair = uniq // 2 // nbins
    found: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for pr, bb, gg, v in zip(pair.tolist(), b.tolist(), grid.tolist(), votes.tolist()):
        i, j = divmod(pr, n)
        shift = params.offset_bin // 2 if gg else 0
        centre = (bb - nbins // 2) * params.offset_bin - shift + params.offset_bin // 2
        found.setdefault((i, j), []).append((v, centre))
    # keep each clip's best-voted partners only, so a very common sound cannot flood verification
    best_per_clip: dict[int, list[tuple[int, tuple[int, int]]]] = {}
    for pr, lst in found.items():
        top = max(v for v, _ in lst)
        for c in pr:
            best_per_clip.setdefault(c, []).append((top, pr))
    allowed = set()
    for lst in best_per_clip.values():
        lst.sort(reverse=True)
        allowed.update(pr for _, pr in lst[: params.max_candidates])
    out: dict[tuple[int, int], list[int]] = {}
    for pr in sorted(allowed):
        lst = sorted(found[pr], reverse=True)[:3]
        out[pr] = [centre for _, centre in lst]
    return out


def discover_siblings(fps: Mapping[str, np.ndarray], kinds: Mapping[str, str] | None = None,
                      params: DiscoveryParams = DiscoveryParams(), progress: bool = False,
                      ) -> Siblings:
    """Find, for every clip, the clips that share a span of at least ``min_span_s`` with it.

    ``fps`` maps clip name -> fingerprint.  With ``kinds`` (name -> e.g. 's' / 'e'), only clips of
    the same kind are compared (an OP is looked for among _start clips, an ED among _end clips);
    names are never parsed for a series.  Candidates come from one inverted index over all clips
    and are verified with the matcher; groups are the connected components of verified pairs."""
    names = list(fps)
    arrays = [np.asarray(fps[k], dtype=np.uint32) for k in names]
    kind_list = [kinds[k] for k in names] if kinds is not None else None
    cands = _candidate_pairs(arrays, kind_list, params)
    result = Siblings(names=names, candidates=len(cands))
    parent = list(range(len(names)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    items = sorted(cands.items())
    if progress:
        from tqdm import tqdm
        items = tqdm(items, desc="verify pairs", unit="pair", dynamic_ncols=True)
    for (i, j), _ in items:
        # the index only nominates pairs; the pair's own vote gives exact alignments to check
        span = match_fingerprints(arrays[i], arrays[j], params.match)
        if span is None:
            continue
        result.spans.setdefault(names[i], {})[names[j]] = span
        result.spans.setdefault(names[j], {})[names[i]] = span.swapped()
        parent[root(i)] = root(j)
    comps: dict[int, list[str]] = {}
    for k, name in enumerate(names):
        if name in result.spans:
            comps.setdefault(root(k), []).append(name)
    result.groups = sorted(comps.values(), key=lambda g: (-len(g), g[0]))
    return result


@dataclass(frozen=True)
class Estimate:
    """Boundary estimate of one clip from its siblings (seconds in the clip)."""
    start: float           # median start of the shared span (e.g. OP start / ED start)
    end: float             # median end of the shared span (e.g. OP end / ED end)
    siblings: int          # how many siblings voted
    spread: float          # median absolute deviation of the voted boundary of interest


def estimate_spans(siblings: Siblings) -> dict[str, Estimate]:
    """Per clip with at least one sibling: the median span start/end over its siblings.  The
    median makes one odd sibling (a longer shared cold open, an early cut) harmless."""
    out: dict[str, Estimate] = {}
    for name, sib in siblings.spans.items():
        starts = np.array([s.a_start for s in sib.values()])
        ends = np.array([s.a_end for s in sib.values()])
        ms, me = float(np.median(starts)), float(np.median(ends))
        mad = float(max(np.median(np.abs(starts - ms)), np.median(np.abs(ends - me))))
        out[name] = Estimate(ms, me, len(sib), mad)
    return out
