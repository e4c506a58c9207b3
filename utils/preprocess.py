"""One-pass preprocessing driver: decode each clip once and write every per-clip output.

Outputs (SPEC.md section 2), mirrored from ``--data_root`` under ``--save_root``:
``<stem>_mfcc.npy`` float32 (20, L), ``<stem>_frames.npy`` uint8 (S, 66, 88, 3),
``<stem>_ocr.json`` (boxes per second in source pixels + frame size), ``<stem>_roi.npy`` uint8
(S, 27, 36); ``--with_fingerprint`` adds ``<stem>_chroma.npy``.  The single-output scripts
(utils/extract_audio.py, utils/extract_video.py, utils/text_extract.py, utils/extract_textROI.py)
are this driver restricted to one stage; the stages live in preprocessing/stages.py, the command
line in preprocessing/cli.py.

    python -m utils.preprocess --data_root data/data_A/train data/data_B --save_root work_dir/processed
    python utils/preprocess.py --data_root clips/ --save_root out/ --workers 8 --shard 0/2
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from preprocessing.cli import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
