"""A whole run, in its order (``predict_episodes``): find the episode files, start the worker pool,
load the models, prepare and decide every episode (the late-opening scan included), season mode
across them, then the confidence threshold and the skip margin; the result is a
``skips.result.PredictionRun`` that skips/formats.py writes out.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from datatools.spec import clip_path
from skips.decide import apply_skip_margin, decide_episode, resolve_min_confidence, withhold_unsure
from skips.inference import load_models, model_notes, resolve_weights, run_models, shipped_season_rule
from skips.options import Log, PredictOptions, to_stderr
from skips.prepare import iter_prepared, start_pool
from skips.result import EpisodeResult, PredictionRun
from skips.scan import scan_late_opening
from skips.season_mode import apply_season_mode
from utils.jobs import VIDEO_EXTS, Clip, discover_clips
from utils.ocr import BackendUnavailable, check_backend
from utils.preprocess import Options


class PredictError(RuntimeError):
    """A run that cannot start (no episodes, no usable models, a missing text detector); the message
    is one line.  Episodes that cannot be used do not raise: their results say why."""


def find_episodes(inputs: Sequence[str]) -> list[Clip]:
    """Episode files given directly, and every video file under given folders (recursive).
    ``Clip.rel`` (the path under its folder) names the per-episode outputs in --out."""
    found: dict[Path, Clip] = {}
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for c in discover_clips([p]):
                found.setdefault(c.video, c)
        elif p.exists() or p.suffix.lower() in VIDEO_EXTS:
            # a missing or broken file is reported per file later, not as a fatal error
            found.setdefault(clip_path(p), Clip(clip_path(p), Path(p.name)))
        else:
            raise FileNotFoundError(f"{item}: no such episode file or folder")
    return list(found.values())


def resolve_device(name: str) -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def predict_episodes(paths: Sequence[str], options: PredictOptions, log: Log = to_stderr) -> PredictionRun:
    """Every episode file among ``paths`` (files, or folders searched recursively), decided as
    ``options`` say; ``log`` gets the run's messages, a line each (a file that cannot be used is one
    of them, and a failed result).  Raises PredictError when the run cannot start."""
    try:
        episodes = find_episodes(paths)
        check_backend(options.ocr_backend)
    except (FileNotFoundError, BackendUnavailable) as exc:
        raise PredictError(str(exc)) from exc
    if not episodes:
        raise PredictError(f"no video files in {' '.join(map(str, paths))}")
    # worker processes first: their start-up (decoder, features, text detector) overlaps torch and
    # the checkpoints loading here
    workers = options.workers
    pool = start_pool(min(workers, 2 * len(episodes)), options.ocr_backend) if workers > 1 else None
    try:
        return _run(episodes, options, pool, log)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _run(episodes: Sequence[Clip], options: PredictOptions, pool: ProcessPoolExecutor | None,
         log: Log) -> PredictionRun:
    """predict_episodes once the episodes are found: models, windows, decisions, threshold, margin."""
    device = resolve_device(options.device)
    try:
        weights = resolve_weights(options.weights)
        if not weights and not options.season:
            raise ValueError(
                "--weights none leaves nothing to answer with; add --season (theme-song matching "
                "across the episodes given) or name checkpoints"
            )
        models, S = load_models(weights, device) if weights else ([], options.clip_seconds)
    except (ValueError, FileNotFoundError) as exc:  # CheckpointError is a ValueError and names the file
        raise PredictError(str(exc)) from exc
    for note in model_notes(models):
        log(f"[predict] {note}")
    rule = options.season_rule
    shipped_rule = shipped_season_rule()
    if options.season and rule is None and options.weights is None and shipped_rule.is_file():
        rule = str(shipped_rule)   # fitted with the shipped model, on its held-out series
        log(f"[predict] --season_rule {shipped_rule} (the shipped model's, fitted on held-out series)")
    opts = Options(clip_seconds=S, ocr_backend=options.ocr_backend, ocr_size=options.ocr_size,
                   reuse_diff=options.reuse_diff, threads=1 if options.workers > 1 else 0)
    rel = {str(c.video): c.rel.as_posix() for c in episodes}
    by_path: dict[str, EpisodeResult] = {}
    t_start = time.perf_counter()
    for path, prep, err in iter_prepared(list(rel), S, opts, options.workers, options.season,
                                         options.progress, pool):
        if prep is None:
            log(f"error: {path}: {err}")
            by_path[path] = EpisodeResult(path, rel[path], False, error=err)
            continue
        t0 = time.perf_counter()
        raw = run_models(models, prep, S, device)
        res = decide_episode(rel[path], prep, models, raw, S, options)
        scan_late_opening(res, models, S, opts, device, options, pool)
        res.seconds = prep.seconds + time.perf_counter() - t0
        by_path[path] = res
    results = [by_path[p] for p in rel]   # input order, not completion order
    if options.season:
        apply_season_mode(results, S, rule)
    min_confidence, why = resolve_min_confidence(options.min_confidence, models)
    log(f"[predict] --min_confidence {min_confidence:g} ({why})")
    withhold_unsure(results, min_confidence)
    apply_skip_margin(results, options.skip_margin)
    return PredictionRun(results, models, S, min_confidence, why, season_rule=rule, started=t_start,
                         seconds=time.perf_counter() - t_start)
