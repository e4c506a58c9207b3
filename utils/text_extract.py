"""Text boxes per second (<stem>_ocr.json) with an OCR detector: the published script name for the
preprocessing driver's ``ocr`` stage (the detectors live in preprocessing/ocr.py).

    python -m utils.text_extract --data_root data/data_A/train --save_root work_dir/processed
    python utils/text_extract.py --data_root clips/ --save_root out/ --ocr_backend easyocr

Flags as for every preprocessing script (utils/preprocess.py), plus the OCR ones (--ocr_backend,
--ocr_size, --reuse_diff).
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from preprocessing.cli import run_cli

    return run_cli(["ocr"], "Text boxes per second (<stem>_ocr.json) with an OCR detector.", argv)


if __name__ == "__main__":
    sys.exit(main())
