"""1-fps frames of each clip: the frame shown at t = 0, 1, ..., S-1 s, letterboxed to 66 x 88.

Decodes once with PyAV (no intermediate 1-fps video), resizes keeping the aspect ratio with black
bars, centred; seconds past the end of the video are black.  Same flags as the driver
utils/preprocess.py, restricted to this one output.

    python -m utils.extract_video --data_root data/data_A/train --save_root work_dir/processed
    python utils/extract_video.py --data_root clips/ --save_root out/ --clip_seconds 200

Writes ``<save_root>/<rel dir>/<stem>_frames.npy``, uint8 (S, 66, 88, 3) RGB.
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from preprocessing.cli import run_cli

    return run_cli(["frames"], "1-fps letterboxed frames (<stem>_frames.npy) of each clip.", argv)


if __name__ == "__main__":
    sys.exit(main())
