"""Text-ROI maps from OCR boxes: each box (a quad in source pixels, possibly rotated or partly
outside the frame) is mapped through the same letterbox transform as the 66 x 88 frames
(datatools.spec.letterbox_geometry) onto the 27 x 36 grid and its axis-aligned bounding rectangle is
filled with 1 (every cell it touches); degenerate boxes are dropped, coordinates clipped to the grid.

The pure functions behind ``utils/extract_textROI.py`` (the published stage script) and the
preprocessing stages (``preprocessing/stages.py``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from datatools.spec import ROI_H, ROI_W, letterbox_geometry


def roi_from_boxes(seconds: Sequence[Sequence], frame_size: tuple[int, int], clip_seconds: int,
                   grid_h: int = ROI_H, grid_w: int = ROI_W) -> np.ndarray:
    """uint8 (S, grid_h, grid_w): 1 inside each box's bounding rectangle on the letterboxed grid.

    ``seconds[k]`` lists the boxes of second k, each an iterable of (x, y) points in source pixels
    of a ``frame_size = (w, h)`` video.  Seconds beyond ``len(seconds)`` stay 0; extra ones are
    dropped."""
    src_w, src_h = frame_size
    geo = letterbox_geometry(src_w, src_h, grid_w, grid_h)
    roi = np.zeros((clip_seconds, grid_h, grid_w), np.uint8)
    for k, boxes in enumerate(seconds[:clip_seconds]):
        for box in boxes:
            pts = np.asarray(box, np.float64).reshape(-1, 2) if len(box) else np.zeros((0, 2))
            if len(pts) < 2 or not np.all(np.isfinite(pts)):
                continue
            xs = pts[:, 0] * geo.sx + geo.ox
            ys = pts[:, 1] * geo.sy + geo.oy
            x0, x1 = float(xs.min()), float(xs.max())
            y0, y1 = float(ys.min()), float(ys.max())
            if x1 - x0 <= 1e-6 or y1 - y0 <= 1e-6:   # a line or a point: no area
                continue
            # every cell the rectangle touches, clipped to the picture area of the grid
            c0 = max(geo.ox, math.floor(x0))
            c1 = min(geo.ox + geo.new_w, math.ceil(x1))
            r0 = max(geo.oy, math.floor(y0))
            r1 = min(geo.oy + geo.new_h, math.ceil(y1))
            if c1 > c0 and r1 > r0:
                roi[k, r0:r1, c0:c1] = 1
    return roi


def roi_from_record(rec: dict, clip_seconds: int) -> np.ndarray:
    """ROI maps from a loaded ``_ocr.json`` record (preprocessing.ocr.read_ocr)."""
    return roi_from_boxes(rec["seconds"], tuple(rec["frame_size"]), clip_seconds)
