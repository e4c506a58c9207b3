"""MFCC of each clip's audio track, decoded straight from the video (no temporary wav).

Mono, resampled to 22 050 Hz, 20 MFCC (librosa, n_fft 2048, hop 512), zero-padded/truncated to
L = datatools.spec.mfcc_length(S) (8616 for S = 200); a clip without audio gets zeros and a
warning.  Same flags as the driver utils/preprocess.py, restricted to this one output.

    python -m utils.extract_audio --data_root data/data_A/train --save_root work_dir/processed
    python utils/extract_audio.py --data_root clips/ --save_root out/ --clip_seconds 200

Writes ``<save_root>/<rel dir>/<stem>_mfcc.npy``, float32 (20, L).
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from preprocessing.cli import run_cli

    return run_cli(["mfcc"], "MFCC (<stem>_mfcc.npy) of each clip's audio track.", argv)


if __name__ == "__main__":
    sys.exit(main())
