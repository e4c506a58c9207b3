"""Preprocessing: the Chromaprint fingerprint of every clip, for season mode (fuse/season.py).

For each clip under ``--data_root`` writes ``<save_root>/<rel dir>/<stem>_chroma.npy``: uint32 raw
Chromaprint points of the first S seconds of audio (one point every 1365/11025 s, 1594 points for
S = 200), computed by the ``chromaprint`` muxer of the imageio-ffmpeg binary.  A clip without an
audio track gets an empty array and a warning (it can then have no sibling), not a failure.
Finished clips are skipped on a rerun; shards split the clip list across machines.

    .venv/bin/python utils/extract_fingerprint.py --data_root data/data_A/train --save_root data/processed
    .venv/bin/python utils/extract_fingerprint.py --data_root data/data_C --save_root data/processed \
        --shard 0/2
"""
from __future__ import annotations

import argparse
import functools
import sys
import warnings
from pathlib import Path

import numpy as np

from datatools.fileio import atomic_save_npy
from datatools.spec import CHROMA_SUFFIX
from preprocessing.fingerprint import FingerprintError, NoAudioError, fingerprint
from preprocessing.jobs import Clip, ClipError, add_job_args, check_meta, clips_from_args, run_jobs


def outputs(clip: Clip, save_root: str) -> list[Path]:
    return [clip.out(save_root, CHROMA_SUFFIX)]


def fingerprint_clip(clip: Clip, save_root: str, clip_seconds: int) -> None:
    """Fingerprint one clip's first ``clip_seconds`` seconds and save it atomically."""
    try:
        points = fingerprint(clip.video, duration=clip_seconds)
    except NoAudioError:
        warnings.warn(f"{clip.video}: no audio track, storing an empty fingerprint", stacklevel=2)
        points = np.zeros(0, dtype=np.uint32)
    except FingerprintError as exc:
        raise ClipError(str(exc)) from None
    atomic_save_npy(clip.out(save_root, CHROMA_SUFFIX), points.astype(np.uint32))


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Chromaprint fingerprints of clips (season mode).",
                                 add_help=add_help)
    add_job_args(ap)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    clips = clips_from_args(args)
    if not clips:
        print(f"no clips found under {' '.join(args.data_root)}", file=sys.stderr)
        return 1
    check_meta(args.save_root, {"clip_seconds": args.clip_seconds})
    work = functools.partial(fingerprint_clip, save_root=args.save_root,
                             clip_seconds=args.clip_seconds)
    out = functools.partial(outputs, save_root=args.save_root)
    return run_jobs(clips, work, out, workers=args.workers, desc="chroma",
                    overwrite=args.overwrite).exit_code


if __name__ == "__main__":
    sys.exit(main())
