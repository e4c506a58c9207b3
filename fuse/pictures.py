"""Picture evidence for season mode: where two episodes show the same pictures at the same point of a
theme song they share.

A theme song heard identically in two episodes says where the *song* is; its sequence (the opening's
or ending's animation) is usually drawn once and shown identically too, and it says where the
*pictures* are.  The two differ where the song leads in under the last scene of a cold open, or where
a narration over the first seconds makes the audio of two episodes differ while the pictures agree.
The skip range's outer edge belongs where the pictures begin.

The head of each episode keeps one small grey thumbnail per second (``thumbnails``: the 1-fps
letterboxed frames the models read, averaged into GRID x GRID blocks, 121 bytes a second), as far as
it was decoded (the first window, and the late-opening scan's windows where it ran).  Two episodes whose audio
match aligned their song (``delta``: the sibling's clip time minus this episode's) are compared second
by second; a second is *shared* when its thumbnail lies within ``MAX_DIFF`` (mean absolute difference,
share of full scale) of the sibling's at the aligned time or the second after (the two episodes sample
their seconds at different points of the song), and is not a blank or nearly uniform picture (a black
gap looks alike in every episode).  ``shared_start`` walks back from inside the song to where the
shared pictures begin.

The thresholds were read on the calibration-side seasons only (seeds 4242 and 4343:
``bench/picture_study.py``, bench/results/picture_study.json, docs/decisions.md).  There, aligned seconds
of the same opening differ by less than 0.05 in 75-79 % of cases, the two cold opens' seconds at the
same point before the song in 0-2 %, a cold open's second against the sibling's opening in 0-2 %; and
a stretch of 3 shared seconds in 5 finds the opening's start within 2 s in 89-91 % of the episodes (4
in 5: 74-83 %; fast openings cut between the seconds sampled), none more than 1.7 s early.  At 0.08
(the first try) the cold opens of one show, two scenes on the same background, passed as shared for 4 s
and the range began 4 s into the story.
"""
from __future__ import annotations

import math

import numpy as np

GRID = 11                 # thumbnail blocks per side
MAX_DIFF = 0.05           # mean absolute grey difference (share of 255) of two seconds that are alike
# the same, for seconds inside the matched song once a stretch is found: looser finds more of a fast
# opening's first seconds, but also a lead-in's (bench/picture_study.py: at 0.10, 5 of 23 starts on the
# seed-4343 seasons came more than 0.5 s early, one 4.9 s); kept at MAX_DIFF
SONG_DIFF = 0.05
MIN_STD = 8.0             # grey-level spread (0-255) below which a picture is blank, not evidence
RUN = 5                   # a shared stretch: at least RUN_SHARED of RUN consecutive seconds
RUN_SHARED = 3
ANCHOR_S = 30.0           # the shared stretch must begin within this much of the matched song's start
# and may begin at most this much before it: none.  Before the song, two episodes' cold opens can end
# on shots alike enough (ep_test with --season: a start 2 s into the story); a narration that hides the
# song's first seconds keeps the range at the song's start
OUTWARD_S = 0.0


def thumbnails(frames: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) uint8 frames -> (n, GRID, GRID) uint8 grey block means."""
    f = np.asarray(frames)
    n, h, w = f.shape[:3]
    if n == 0:
        return np.zeros((0, GRID, GRID), np.uint8)
    grey = f.astype(np.float32).mean(axis=3) if f.ndim == 4 else f.astype(np.float32)
    hh, ww = h - h % GRID, w - w % GRID
    if hh == 0 or ww == 0:
        raise ValueError(f"frames of {h}x{w} are smaller than the {GRID}x{GRID} grid")
    # crop evenly to a multiple of the grid, then average blocks
    top, left = (h - hh) // 2, (w - ww) // 2
    g = grey[:, top:top + hh, left:left + ww].reshape(n, GRID, hh // GRID, GRID, ww // GRID)
    return np.clip(np.rint(g.mean(axis=(2, 4))), 0, 255).astype(np.uint8)


def differences(mine: np.ndarray, theirs: np.ndarray, delta: float, lo: int, hi: int) -> np.ndarray:
    """For each whole second s in [lo, hi) of ``mine``: the mean grey difference (share of 255) of its
    picture to ``theirs`` at s + delta (the second before or after that point, whichever is closer in
    picture); infinite for seconds outside either window or blank in either."""
    out = np.full(max(0, hi - lo), np.inf)
    a = np.asarray(mine, np.float32)
    b = np.asarray(theirs, np.float32)
    for j, s in enumerate(range(lo, hi)):
        u = s + delta
        i = int(math.floor(u))
        if s < 0 or s >= len(a) or i < 0 or i + 1 >= len(b):
            continue
        if a[s].std() < MIN_STD or min(b[i].std(), b[i + 1].std()) < MIN_STD:
            continue
        out[j] = min(np.abs(a[s] - b[i]).mean(), np.abs(a[s] - b[i + 1]).mean()) / 255.0
    return out


def _stretches(sh: np.ndarray) -> np.ndarray:
    """Per index j: whether the RUN seconds from j hold at least RUN_SHARED shared ones."""
    return np.array([sh[j:j + RUN].sum() >= RUN_SHARED for j in range(len(sh) - RUN + 1)], bool)


def shared_start(mine: np.ndarray, theirs: np.ndarray, delta: float, song_start: float,
                 song_end: float) -> float | None:
    """The first second (this episode's clip time) of the pictures shared with a sibling whose song is
    aligned by ``delta``, in a song matched over [song_start, song_end).  A stretch of shared seconds
    (RUN_SHARED of every RUN, below MAX_DIFF) must begin within ANCHOR_S of the song's start; from there
    the start runs back while the stretches hold: inside the song at SONG_DIFF, before it at MAX_DIFF
    and at most OUTWARD_S (0: never before the song).  None where no such stretch
    is seen (the pictures are not in this window, or not drawn the same)."""
    lo = max(0, int(math.ceil(song_start - OUTWARD_S)))
    hi = min(len(mine), int(math.ceil(min(song_end, song_start + ANCHOR_S))) + RUN)
    if hi - lo < RUN:
        return None
    d = differences(mine, theirs, delta, lo, hi)
    strict, loose = d < MAX_DIFF, d < SONG_DIFF
    ok, ok_loose = _stretches(strict), _stretches(loose)
    first_song = max(0, int(math.ceil(song_start)) - lo)
    anchors = np.flatnonzero(ok[first_song:])
    if anchors.size == 0 or lo + first_song + anchors[0] > song_start + ANCHOR_S:
        return None
    j = first_song + int(anchors[0])
    while j > 0 and (ok[j - 1] or (j - 1 >= first_song and ok_loose[j - 1])):
        j -= 1
    shared = np.where(np.arange(len(d)) >= first_song, loose, strict)
    while not shared[j]:          # the stretch's first shared second itself
        j += 1
    return float(lo + j)


def shared_end(mine: np.ndarray, theirs: np.ndarray, delta: float, song_start: float,
               song_end: float) -> float | None:
    """The mirror of ``shared_start``: where the pictures shared with a sibling end (this episode's
    clip time, the end of the last shared second), in a song matched over [song_start, song_end); the
    stretch must end within ANCHOR_S of the song's end and never after it.  Computed as shared_start on
    both windows reversed in time."""
    n_a, n_b = len(mine), len(theirs)
    first = shared_start(np.asarray(mine)[::-1], np.asarray(theirs)[::-1], n_b - n_a - delta,
                         n_a - song_end, n_a - song_start)
    return None if first is None else float(n_a - first)


def extend_head(head: np.ndarray, windows: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """The head's thumbnails (from second 0) extended by later windows' 1-fps frames, each given as
    (start second, frames); seconds no window covers stay blank.  Windows that do not start on a whole
    second are left out (their seconds would not line up)."""
    spans = [(int(round(t)), fr) for t, fr in windows if abs(t - round(t)) < 1e-9 and len(fr)]
    n = max([len(head)] + [t + len(fr) for t, fr in spans])
    out = np.zeros((n, GRID, GRID), np.uint8)
    out[:len(head)] = head
    filled = np.zeros(n, bool)
    filled[:len(head)] = True
    for t, fr in spans:
        th = thumbnails(fr)
        new = ~filled[t:t + len(th)]
        out[t:t + len(th)][new] = th[new]
        filled[t:t + len(th)] = True
    return out
