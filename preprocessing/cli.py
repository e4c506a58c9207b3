"""The command line of preprocessing: decode each clip once and write every per-clip output.

``main`` is the one-pass driver (utils/preprocess.py); ``run_cli`` with a list of stage names is
each single-output script (utils/extract_audio.py, utils/extract_video.py, utils/text_extract.py,
utils/extract_textROI.py).  Flags: the clip set and jobs (preprocessing/jobs.py), the OCR ones
(preprocessing/ocr.py) where an OCR stage runs, ``--with_fingerprint`` for the driver.

    python -m utils.preprocess --data_root data/data_A/train data/data_B --save_root work_dir/processed
    python utils/preprocess.py --data_root clips/ --save_root out/ --workers 8 --shard 0/2
"""
from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence

from preprocessing.jobs import add_job_args, check_meta, clips_from_args, run_jobs
from preprocessing.media import DEFAULT_OCR_SIZE
from preprocessing.ocr import DEFAULT_REUSE_DIFF, BackendUnavailable, add_ocr_args, check_backend
from preprocessing.stages import OPTIONAL_STAGES, STAGES, Options, get_stages, process_clip


def build_parser(description: str, stage_names: Sequence[str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    add_job_args(p)
    if {"ocr", "roi"} & set(stage_names) and stage_names != ["roi"]:
        add_ocr_args(p)
    if "chroma" not in stage_names and len(stage_names) > 1:
        p.add_argument("--with_fingerprint", action="store_true",
                       help="also write <stem>_chroma.npy Chromaprint points (season mode)")
    return p


def options_from_args(args: argparse.Namespace) -> Options:
    return Options(clip_seconds=args.clip_seconds,
                   ocr_backend=getattr(args, "ocr_backend", "rapidocr"),
                   ocr_size=getattr(args, "ocr_size", DEFAULT_OCR_SIZE),
                   reuse_diff=getattr(args, "reuse_diff", DEFAULT_REUSE_DIFF),
                   # a process per core already uses every core: one thread each avoids thrashing
                   threads=1 if args.workers > 1 else 0)


def run_cli(stage_names: Sequence[str], description: str, argv: list[str] | None = None) -> int:
    """The whole CLI of the driver and of each single-output script; returns the exit status."""
    args = build_parser(description, stage_names).parse_args(argv)
    if args.clip_seconds < 1:
        raise SystemExit("--clip_seconds must be >= 1")
    opts = options_from_args(args)
    if getattr(args, "with_fingerprint", False):
        stage_names = [*stage_names, "chroma"]
    stages = get_stages(stage_names)
    if "ocr" in stage_names:
        try:  # fail once, clearly, rather than once per clip
            check_backend(opts.ocr_backend)
        except BackendUnavailable as exc:
            raise SystemExit(f"error: {exc}") from None
    try:
        clips = clips_from_args(args)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    meta: dict = {}
    for s in stages:
        meta.update(s.meta(opts))
    check_meta(args.save_root, meta)
    work = functools.partial(process_clip, save_root=str(args.save_root),
                             names=tuple(stage_names), opts=opts)
    outputs = lambda clip: [clip.out(args.save_root, s.suffix) for s in stages]  # noqa: E731
    summary = run_jobs(clips, work, outputs, workers=args.workers, desc="+".join(stage_names),
                       overwrite=args.overwrite)
    return summary.exit_code


def main(argv: list[str] | None = None) -> int:
    return run_cli([s.name for s in STAGES if s.name not in OPTIONAL_STAGES],
                   "Decode each clip once and write MFCC, 1-fps frames, OCR boxes and text-ROI "
                   "maps (plus any registered stage).", argv)
