"""Text-ROI maps (27 x 36 per second) from the stored ``<stem>_ocr.json`` - no video decoding.

Each box (a quad in source pixels, possibly rotated or partly outside the frame) is mapped through
the same letterbox transform as the 66 x 88 frames (datatools.spec.letterbox_geometry) onto the grid,
its axis-aligned bounding rectangle is filled with 1 (every cell it touches), degenerate boxes are
dropped and coordinates are sorted and clipped to the grid.

    python -m utils.extract_textROI --data_root data/data_A/train --save_root work_dir/processed
    python utils/extract_textROI.py --data_root clips/ --save_root out/ --clip_seconds 200

Reads ``<save_root>/<rel>/<stem>_ocr.json`` (written by utils/text_extract.py or
utils/preprocess.py) and writes ``<stem>_roi.npy``, uint8 (S, 27, 36).
"""
from __future__ import annotations

import sys

from preprocessing.cli import run_cli


def main(argv: list[str] | None = None) -> int:
    return run_cli(["roi"], "Text-ROI maps (<stem>_roi.npy) from stored <stem>_ocr.json files.",
                   argv)


if __name__ == "__main__":
    sys.exit(main())
