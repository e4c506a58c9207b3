"""Picture evidence for season mode (fuse/pictures.py): thumbnails, shared seconds, and where shared
pictures begin, on small hand-made arrays.

    .venv/bin/python -m pytest -q tests/test_pictures.py
"""
from __future__ import annotations

import numpy as np

from fuse.pictures import GRID, MAX_DIFF, differences, extend_head, shared_start, thumbnails

RNG = np.random.default_rng(5)


def _frames(n: int) -> np.ndarray:
    return RNG.integers(0, 256, (n, GRID, GRID), dtype=np.uint8)


def test_thumbnails_are_grey_block_means_of_the_frames():
    f = np.zeros((2, 66, 88, 3), np.uint8)
    f[1, :, :44] = 200                     # the left half of the second frame is light
    t = thumbnails(f)
    assert t.shape == (2, GRID, GRID) and t[0].max() == 0
    assert t[1, :, 0].min() == 200 and t[1, :, -1].max() == 0


def test_a_blank_second_is_never_shared():
    black = np.zeros((10, GRID, GRID), np.uint8)
    assert not (differences(black, black, 0.0, 0, 8) < MAX_DIFF).any()


def test_shared_seconds_follow_the_alignment():
    theme = _frames(40)
    mine = np.concatenate([_frames(10), theme])         # the theme from second 10
    theirs = np.concatenate([_frames(25), theme])       # from second 25: delta +15
    sh = differences(mine, theirs, 15.0, 0, 48) < MAX_DIFF
    assert not sh[:10].any() and sh[10:48].all()


def test_shared_pictures_begin_after_a_lead_in_and_before_a_late_heard_song():
    theme = _frames(60)
    mine = np.concatenate([_frames(30), theme])          # pictures from 30 s
    theirs = np.concatenate([_frames(12), theme])        # from 12 s: delta -18
    assert shared_start(mine, theirs, -18.0, 24.0, 90.0) == 30.0   # the song led in 6 s
    assert shared_start(mine, theirs, -18.0, 38.0, 90.0) == 38.0   # heard late: never before the song
    assert shared_start(mine, _frames(90), -18.0, 24.0, 90.0) is None   # drawn anew


def test_later_windows_extend_the_head_second_by_second():
    head = _frames(5)
    later = np.zeros((4, 66, 88, 3), np.uint8) + 90
    out = extend_head(head, [(3.0, later), (7.5, later)])
    assert out.shape == (7, GRID, GRID) and (out[:5] == head).all() and (out[5:] == 90).all()


def test_shared_pictures_end_before_a_ringing_song_and_never_after_the_song():
    from fuse.pictures import shared_end

    theme = _frames(60)
    mine = np.concatenate([_frames(30), theme, _frames(30)])     # pictures 30-90 s
    theirs = np.concatenate([_frames(12), theme, _frames(30)])   # 12-72 s: delta -18
    assert shared_end(mine, theirs, -18.0, 30.0, 96.0) == 90.0   # the song rang on 6 s
    assert shared_end(mine, theirs, -18.0, 30.0, 84.0) == 84.0   # heard ending early: never after it
    assert shared_end(mine, _frames(120), -18.0, 30.0, 96.0) is None   # drawn anew
