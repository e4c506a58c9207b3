"""The command line of predict.py, ``opedskip`` (the installed command) and ``python -m skips``: skip
timestamps for whole episode files, OP end / ED start in episode time, in player formats.

For every episode the first and the last S seconds (S from the checkpoints) are decoded in memory
(preprocessing.media.decode_clip, no intermediate files) and turned into features by the same code as the
preprocessing scripts (preprocessing.stages.features_from_decoded); every checkpoint is run on both
clips (kind, preset and normalisation come from the checkpoint; models.inputs.predict_seconds),
several checkpoints are fused per boundary with the K-means rule of fuse/fuse.py, and the clip
times are mapped back to episode time (start clip: t; end clip: duration - S + t).

Reported per episode: ``op_end``, ``ed_start``, skip ranges ``op = [max(0, op_end - op_length),
op_end]`` and ``ed = [ed_start, min(duration, ed_start + ed_length)]``, each model's raw
prediction and the spread (max - min) between models as a confidence signal, and per boundary a
confidence, P(within 2 s).  With a dense checkpoint (the shipped model), ``--min_confidence auto``
withholds answers below 0.7, and ``--sure_confidence auto`` hedges those below 0.9: their skip range
stops where every plausible reading of the boundary posterior is still theme
(skips.decide.resolve_min_confidence, resolve_sure_confidence).

    .venv/bin/python predict.py episodes/ --weights work_dir/avt/avnet_bestmodel.pth
    .venv/bin/python predict.py ep01.mkv ep02.mkv --weights a.pth b.pth c.pth --out skips \\
        --format json,csv,edl,chapters --plot skips/plots
    .venv/bin/python predict.py season1/ --weights a.pth b.pth --season --format json,csv,edl \\
        --next_to_video            # .edl sidecars beside the videos, where Kodi/MPlayer look

Outputs in ``--out`` (default ``predict_out``): ``predictions.json`` and ``predictions.csv`` for
the run, and per episode, as ``--format`` asks (``all`` = every one): ``<name>.edl`` (Kodi/MPlayer
``start end action``), ``<name>.chapters.txt`` (``;FFMETADATA1``), ``<name>.chapters.xml`` (Matroska
chapters), ``<name>.jellyfin.json`` (Intro Skipper timestamps and MediaSegments bodies),
``<name>.mpv.txt`` (``--script-opts`` for mpv's skip script) and ``<name>.aniskip.json``.  Chapters
are named Prologue / Opening / Part A / Ending / Preview, which Jellyfin's chapter providers, Intro
Skipper and mpv's chapterskip recognise; ``--apply_chapters`` writes them into the files
(mkvpropedit in place for Matroska, an ffmpeg remux to a new file otherwise).  A file that cannot
be used (unreadable, no audio, shorter than 2 S) gets a one-line message; the others are still
processed and the exit status is 1.  ``--season`` additionally matches the theme songs of the
episodes given together (Chromaprint, fuse/season.py) and the season decision rule
(fuse/season_rule.py) weighs each match against the models.

Library mode, ``--db FILE`` (skips/library.py): an SQLite results database remembers every episode
decided; a later run decodes only new or changed files, matches the episodes of each season folder
(``--group_by``) from their stored fingerprints, and writes every output again from the database.

    .venv/bin/python predict.py /media/Anime --db /media/Anime/.skips.sqlite --next_to_video --format edl
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from datatools.segments import CLAIM_CONFIDENCE
from datatools.spec import DEFAULT_CLIP_SECONDS
from preprocessing.ocr import add_ocr_args
from skips.formats import write_outputs
from skips.inference import SHIPPED_DIR
from skips.library import GROUPINGS
from skips.options import (
    DEFAULT_EDGE_MARGIN_S,
    DEFAULT_EDL_ACTION,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_SCAN_LIMIT_S,
    DEFAULT_SKIP_MARGIN_S,
    DEFAULT_SURE_CONFIDENCE,
    DEFAULT_THEME_LENGTH_S,
    FORMATS,
    PredictOptions,
)
from skips.pipeline import PredictError, predict_episodes, predict_library


def parse_formats(text: str) -> tuple[str, ...]:
    items = tuple(x.strip().lower() for x in text.split(",") if x.strip())
    if items == ("all",):
        return FORMATS
    bad = [x for x in items if x not in FORMATS]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"unknown format(s) {bad}; choose from all or {','.join(FORMATS)}")
    return items


def parse_confidence(text: str) -> float | None:
    """``--min_confidence`` / ``--sure_confidence`` / ``--scan_below``: a number in [0, 1] or ``auto``
    (None)."""
    if text.strip().lower() == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor auto") from None


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    from fuse.fuse import METHODS

    p = argparse.ArgumentParser(description="OP end / ED start and skip ranges for whole episode "
                                "files, for every player: JSON, CSV, Kodi EDL, FFmpeg and Matroska "
                                "chapters, Jellyfin, mpv and AniSkip.",
                                add_help=add_help, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("input / output")
    g.add_argument("inputs", nargs="+", metavar="EPISODE_OR_FOLDER",
                   help="episode video files, or folders searched recursively for video files")
    g.add_argument("--weights", nargs="+", default=None, metavar="CKPT",
                   help="checkpoints (any model kind; all trained with the same clip length S); default: the "
                        f"model shipped in {SHIPPED_DIR.relative_to(SHIPPED_DIR.parent.parent)}/ (see its "
                        "MODEL_CARD.md); 'none': no model at all (with --season: theme-song matching alone)")
    g.add_argument("--out", default="predict_out", help="folder for predictions.json/.csv and sidecars")
    g.add_argument("--format", type=parse_formats, default="json,csv",
                   help=f"comma-separated outputs from {','.join(FORMATS)}, or all")
    g.add_argument("--apply_chapters", action="store_true",
                   help="also write the chapters into each episode: Matroska files in place with "
                        "mkvpropedit (a clear message when it is not installed), other files through an "
                        "ffmpeg remux to a new <stem>.chapters<ext> beside them (the original is never "
                        "overwritten)")
    g.add_argument("--next_to_video", action="store_true",
                   help="write the per-episode files beside each video (where players look) "
                        "instead of in --out")
    g.add_argument("--plot", metavar="DIR", default=None,
                   help="write a timeline PNG per episode into DIR")
    g = p.add_argument_group("skip ranges")
    g.add_argument("--op_length", type=float, default=DEFAULT_THEME_LENGTH_S,
                   help="assumed opening length, seconds: op = [max(0, op_end - op_length), op_end]")
    g.add_argument("--ed_length", type=float, default=DEFAULT_THEME_LENGTH_S,
                   help="assumed ending length, seconds: ed = [ed_start, min(duration, ed_start + "
                        "ed_length)]")
    g.add_argument("--skip_margin", type=float, default=DEFAULT_SKIP_MARGIN_S, metavar="SECONDS",
                   help="narrow every skip range (opening, ending, preview) by this much at both ends, so "
                        "that a boundary off by up to that much skips theme music, not story; the JSON's "
                        "op_end, ed_start and spans stay as measured (0: skip the measured spans)")
    g.add_argument("--edge_margin", type=float, default=DEFAULT_EDGE_MARGIN_S, metavar="SECONDS",
                   help="narrow the outer edges of the skip ranges (OP start, ED end, both edges of the "
                        "preview) by this much instead: the segment head or an assumed length gives them, "
                        "less exactly than the models give the OP end and ED start; where the segment "
                        "head is unsure of an OP start or ED end, the range also stops at the innermost "
                        "one it finds plausible (narrowed by --skip_margin; withheld where less than a "
                        "second would be left)")
    g.add_argument("--edl_action", type=int, default=DEFAULT_EDL_ACTION,
                   help="EDL action code (Kodi: 0 cut, 1 mute, 2 scene marker, 3 commercial break)")
    g = p.add_argument_group("late openings (an OP that ends after the first S seconds)")
    g.add_argument("--scan_below", type=parse_confidence, default=None, metavar="P|auto",
                   help="when the first window's OP-end confidence is below P, also run the models on "
                        "later windows and answer from the most confident window (a later one where it "
                        f"beats the first and claims an OP end, confidence >= {CLAIM_CONFIDENCE:g}); auto: "
                        "--sure_confidence (an OP end that is not sure is looked for further), at least "
                        f"{CLAIM_CONFIDENCE:g}")
    g.add_argument("--scan_hop", type=float, default=None, metavar="SECONDS",
                   help="start of each later window: hop, 2 hop, ... (default: S / 2)")
    g.add_argument("--scan_limit", type=float, default=DEFAULT_SCAN_LIMIT_S, metavar="SECONDS",
                   help="scan no window that ends later than this into the episode (0: no scan)")
    g = p.add_argument_group("models")
    g.add_argument("--fusion", choices=METHODS, default="kmeans",
                   help="how several checkpoints are combined per boundary (fuse/fuse.py)")
    g.add_argument("--season", action="store_true",
                   help="also match theme songs across the given episodes (Chromaprint, "
                        "fuse/season.py); per boundary the decision rule (fuse.season_rule) weighs "
                        "the match against the models, and the JSON says what decided and why")
    g.add_argument(
        "--season_rule",
        metavar="OFFSETS_JSON",
        default=None,
        help="with --season: the rule fitted on training labels (fuse/season.py "
        "--fit_labels --save_offsets); default: the season_rule.json of the weights' own folder when "
        "the given checkpoints are exactly its *.pth (the shipped model's, models/shipped/season_rule.json, "
        "fitted on held-out calibration seasons by bench/season_episodes_bench.py --stage fit; or a "
        "candidate's from bench.train_shipped --ship_to), else the built-in parameters",
    )
    g.add_argument("--min_confidence", type=parse_confidence, default=None, metavar="P|auto",
                   help="withhold every boundary whose confidence (P(within 2 s): the dense kind's "
                        "calibrated confidence, else the models' agreement times their validation "
                        "accuracy, or the season rule's p_season) is below P: written as null with the "
                        "reason and left out of every skip file; 0 answers everything; auto (default): "
                        f"{DEFAULT_MIN_CONFIDENCE:g} with a dense checkpoint (chosen on the shipped model's "
                        "calibration series), else 0")
    g.add_argument("--sure_confidence", type=parse_confidence, default=None, metavar="P|auto",
                   help="an OP end or ED start kept below P is hedged: its skip range stops at the "
                        "innermost place its boundary posterior finds plausible (within 5 nats of the "
                        "peak), so that a wrong answer skips theme, not story; one with no posterior "
                        "to hedge by (no dense model answered it) and a preview are withheld below P "
                        f"instead; auto (default): {DEFAULT_SURE_CONFIDENCE:g} with a dense checkpoint, "
                        "else 0; set it to --min_confidence to hedge nothing")
    g.add_argument("--clip_seconds", type=int, default=DEFAULT_CLIP_SECONDS, metavar="S",
                   help="with --weights none: the window length S season mode matches (the checkpoints' S "
                        "otherwise)")
    g.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda, cuda:1 ...")
    g = p.add_argument_group("library mode (a results database; only new or changed files are decoded)")
    g.add_argument("--db", metavar="FILE", default=None,
                   help="SQLite results database (created if missing): episodes already decided there with "
                        "the same checkpoints and options, and unchanged on disk, are not decoded again; "
                        "season mode is on and matches the episodes of each season (--group_by) from their "
                        "stored fingerprints; outputs are written for every episode found")
    g.add_argument("--force", nargs="+", default=(), metavar="PATH",
                   help="with --db: decode these files (or every file under these folders) again")
    g.add_argument("--group_by", choices=GROUPINGS, default="folder",
                   help="with --db: which episodes form a season: folder (the folder they are in: "
                        "Show/Season 01/, Show/S01/ or a flat Show/), show (a show's season folders "
                        "together), all (every episode given), none (no season mode)")
    g = p.add_argument_group("run")
    g.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes preprocessing episodes in parallel")
    g.add_argument("--no_progress", action="store_true", help="no progress bar")
    add_ocr_args(p)
    return p


def options_from_args(args: argparse.Namespace) -> PredictOptions:
    """The library's settings from the parsed flags (ValueError for values out of range)."""
    return PredictOptions(
        weights=None if args.weights is None else tuple(args.weights),
        out=args.out,
        formats=tuple(args.format),
        apply_chapters=args.apply_chapters,
        next_to_video=args.next_to_video,
        plot=args.plot,
        op_length=args.op_length,
        ed_length=args.ed_length,
        skip_margin=args.skip_margin,
        edge_margin=args.edge_margin,
        edl_action=args.edl_action,
        scan_below=args.scan_below,
        scan_hop=args.scan_hop,
        scan_limit=args.scan_limit,
        fusion=args.fusion,
        season=args.season or (args.db is not None and args.group_by != "none"),
        season_rule=args.season_rule,
        min_confidence=args.min_confidence,
        sure_confidence=args.sure_confidence,
        clip_seconds=args.clip_seconds,
        device=args.device,
        workers=args.workers,
        progress=not args.no_progress,
        ocr_backend=args.ocr_backend,
        ocr_size=args.ocr_size,
        reuse_diff=args.reuse_diff,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        options = options_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.force and args.db is None:
        print("error: --force needs --db (without a database every file is decoded anyway)", file=sys.stderr)
        return 2
    try:
        if args.db is None:
            run = predict_episodes(args.inputs, options)
        else:
            run = predict_library(args.inputs, options, args.db, force=args.force, group_by=args.group_by)
    except PredictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        write_outputs(run, options)
    except OSError as exc:   # a read-only folder, a full disk: the database (with --db) keeps the answers
        print(f"error: cannot write the outputs: {exc.filename or options.out}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    for line in run.summary(options.out, time.perf_counter() - run.started):
        print(line, file=sys.stderr)
    return 1 if run.n_failed else 0
