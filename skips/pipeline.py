"""A whole run, in its order (``predict_episodes``): find the episode files, start the worker pool,
load the models, prepare and decide every episode (the late-opening scan included), season mode
across them, then the confidence threshold and the skip margin; the result is a
``skips.result.PredictionRun`` that skips/formats.py writes out.  ``predict_library`` is the same run
over a library with a results database (skips/library.py): only new or changed files are decoded and
season mode matches within each season folder.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from datatools.spec import clip_path
from preprocessing.jobs import VIDEO_EXTS, Clip, discover_clips
from preprocessing.ocr import BackendUnavailable, check_backend
from preprocessing.stages import Options
from skips.decide import (
    apply_skip_margin,
    decide_episode,
    resolve_min_confidence,
    resolve_scan_below,
    resolve_sure_confidence,
    withhold_unsure,
)
from skips.inference import (
    LoadedModel,
    load_models,
    model_notes,
    model_season_rule,
    resolve_weights,
    run_models,
)
from skips.library import Library, LibraryError, content_key, iter_groups, model_set_key, season_group
from skips.options import Log, PredictOptions, to_stderr
from skips.prepare import iter_prepared, start_pool
from skips.result import Draft, PredictionRun
from skips.scan import scan_late_opening
from skips.season_mode import apply_season_mode


class PredictError(RuntimeError):
    """A run that cannot start (no episodes, no usable models, a missing text detector, a results
    database that cannot be used); the message is one line.  Episodes that cannot be used do not
    raise: their results say why."""


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


def _episodes(paths: Sequence[str], options: PredictOptions) -> list[Clip]:
    try:
        episodes = find_episodes(paths)
        check_backend(options.ocr_backend)
    except (FileNotFoundError, BackendUnavailable) as exc:
        raise PredictError(str(exc)) from exc
    if not episodes:
        raise PredictError(f"no video files in {' '.join(map(str, paths))}")
    return episodes


@contextmanager
def _pool(options: PredictOptions, n_episodes: int) -> Iterator[ProcessPoolExecutor | None]:
    # worker processes first: their start-up (decoder, features, text detector) overlaps torch and
    # the checkpoints loading
    workers = options.workers
    pool = None
    if workers > 1 and n_episodes:
        pool = start_pool(min(workers, 2 * n_episodes), options.ocr_backend)
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def predict_episodes(paths: Sequence[str], options: PredictOptions, log: Log = to_stderr) -> PredictionRun:
    """Every episode file among ``paths`` (files, or folders searched recursively), decided as
    ``options`` say; ``log`` gets the run's messages, a line each (a file that cannot be used is one
    of them, and a failed result).  Raises PredictError when the run cannot start."""
    episodes = _episodes(paths, options)
    with _pool(options, len(episodes)) as pool:
        weights = _weights(options, options.season)
        models, S, device = _load(weights, options, log)
        rule = _season_rule(options, options.season, log)
        opts = _preprocessing(options, S)
        rel = {str(c.video): c.rel.as_posix() for c in episodes}
        by_path: dict[str, Draft] = {}
        t_start = time.perf_counter()
        for res in _decide(rel, models, S, device, opts, options, options.season, pool, log):
            by_path[res.file] = res
    results = [by_path[p] for p in rel]   # input order, not completion order
    if options.season:
        apply_season_mode(results, S, rule)
    min_confidence, why, sure, sure_why = _threshold(results, models, options, log)
    return PredictionRun([r.freeze() for r in results], models, S, min_confidence, why, sure, sure_why,
                         season_rule=rule, started=t_start, seconds=time.perf_counter() - t_start)


def _weights(options: PredictOptions, season: bool) -> list[str]:
    try:
        weights = resolve_weights(options.weights)
    except FileNotFoundError as exc:
        raise PredictError(str(exc)) from exc
    if not weights and not season:
        raise PredictError(
            "--weights none leaves nothing to answer with; add --season (theme-song matching "
            "across the episodes given) or name checkpoints"
        )
    return weights


def _load(weights: Sequence[str], options: PredictOptions, log: Log) -> tuple[list[LoadedModel], int, Any]:
    """The checkpoints on their device, their clip length S, and what a user should know of them."""
    device = resolve_device(options.device)
    try:
        models, S = load_models(weights, device) if weights else ([], options.clip_seconds)
    except (ValueError, FileNotFoundError) as exc:  # CheckpointError is a ValueError and names the file
        raise PredictError(str(exc)) from exc
    for note in model_notes(models):
        log(f"[predict] {note}")
    return models, S, device


def _season_rule(options: PredictOptions, season: bool, log: Log) -> str | None:
    rule = options.season_rule
    fitted = model_season_rule(options.weights) if season and rule is None else None
    if fitted is not None:
        rule = str(fitted)   # fitted with these weights, on their held-out series
        log(f"[predict] --season_rule {fitted} (fitted with these weights, on held-out series)")
    return rule


def _preprocessing(options: PredictOptions, S: int) -> Options:
    return Options(clip_seconds=S, ocr_backend=options.ocr_backend, ocr_size=options.ocr_size,
                   reuse_diff=options.reuse_diff, threads=1 if options.workers > 1 else 0)


def _decide(rel: dict[str, str], models: Sequence[LoadedModel], S: int, device: Any, opts: Options,
            options: PredictOptions, season: bool, pool: ProcessPoolExecutor | None,
            log: Log) -> Iterator[Draft]:
    """Each episode decided by the models (late-opening scan included, season mode not yet), as the
    episodes finish; a file that cannot be used gives a failed result and a line in ``log``."""
    scan_below, why = resolve_scan_below(options.scan_below, options.sure_confidence, models)
    if models and options.scan_limit > 0:
        log(f"[predict] --scan_below {scan_below:g} ({why})")
    scan_options = replace(options, scan_below=scan_below)
    for path, prep, err in iter_prepared(list(rel), S, opts, options.workers, season,
                                         options.progress, pool, options.scan_limit):
        if prep is None:
            log(f"error: {path}: {err}")
            yield Draft(path, rel[path], False, error=err)
            continue
        t0 = time.perf_counter()
        raw = run_models(models, prep, S, device)
        res = decide_episode(rel[path], prep, models, raw, S, options)
        scan_late_opening(res, models, S, opts, device, scan_options, pool)
        res.seconds = prep.seconds + time.perf_counter() - t0
        yield res


def _threshold(results: Sequence[Draft], models: Sequence[LoadedModel], options: PredictOptions,
               log: Log) -> tuple[float, str, float, str]:
    """The confidence thresholds (withheld below --min_confidence, hedged below --sure_confidence)
    and the skip margin, applied to every result."""
    min_confidence, why = resolve_min_confidence(options.min_confidence, models)
    sure, sure_why = resolve_sure_confidence(options.sure_confidence, models)
    log(f"[predict] --min_confidence {min_confidence:g} ({why}), --sure_confidence {sure:g} ({sure_why})")
    withhold_unsure(results, min_confidence, sure)
    apply_skip_margin(results, options.skip_margin, options.edge_margin)
    return min_confidence, why, sure, sure_why


# ----------------------------------------------------------------------------------------------
# Library mode


def _under(path: str, roots: Sequence[Path]) -> bool:
    return any(path == str(r) or path.startswith(str(r) + os.sep) for r in roots)


def predict_library(paths: Sequence[str], options: PredictOptions, db: str | os.PathLike,
                    force: Sequence[str] = (), group_by: str = "folder",
                    log: Log = to_stderr) -> PredictionRun:
    """``predict_episodes`` over a library with a results database ``db`` (skips/library.py): files
    that are new, changed (size, modification time, then content) or decided by other checkpoints or
    options are decoded and stored one by one; the others come from the database without decoding.
    Season mode matches the episodes of each season (``group_by``: skips.library.season_group) from
    their stored fingerprints, every run, so the answers equal those of a clean run; ``force`` (files
    or folders) are decoded again whatever the database holds.  Episodes under a folder given that
    are no longer on disk are forgotten."""
    season = group_by != "none"
    episodes = _episodes(paths, options)
    weights = _weights(options, season)
    key = model_set_key(weights, options)
    forced = [Path(f).resolve() for f in force]
    roots = [Path(p).resolve() for p in paths if Path(p).is_dir()]
    rel = {str(Path(c.video).resolve()): c.rel.as_posix() for c in episodes}
    groups = {p: season_group(p, group_by) for p in rel}
    try:
        with Library(db) as lib:
            return _library_run(lib, rel, groups, weights, key, forced, roots, options, season, log)
    except LibraryError as exc:
        raise PredictError(str(exc)) from None


def _library_run(lib: Library, rel: dict[str, str], groups: dict[str, str | None], weights: list[str],
                 key: str, forced: list[Path], roots: list[Path], options: PredictOptions, season: bool,
                 log: Log) -> PredictionRun:
    t_start = time.perf_counter()
    if lib.migrated:
        why = "its stored decisions were code, dropped unread" if lib.migrated_from == "1" else \
            "picture thumbnails added for season mode"
        log(f"[library] {lib.path}: migrated from schema {lib.migrated_from} ({why}): its {lib.migrated} "
            "episodes are decided again")
    stored = lib.stored(rel)
    todo: dict[str, tuple[int, int, str]] = {}
    failed: dict[str, Draft] = {}
    for p in rel:
        s = stored.get(p)
        try:
            st = os.stat(p)
            if _under(p, forced):
                todo[p] = (st.st_size, st.st_mtime_ns, "")
                continue
            if s and s.model_set == key and s.size == st.st_size and s.mtime_ns == st.st_mtime_ns:
                why = lib.unreadable(p)
                if why is None:
                    continue   # unchanged: nothing to read
                log(f"[library] {p}: {why}; deciding it again")
                todo[p] = (st.st_size, st.st_mtime_ns, "")
                continue
            ck = content_key(p, st.st_size)
        except OSError as exc:
            failed[p] = Draft(p, rel[p], False, error=f"cannot read the file ({exc.strerror})")
            log(f"error: {p}: {failed[p].error}")
            continue
        src = lib.find_content(ck, key)
        if src is not None and lib.unreadable(src) is not None:
            src = None   # a stored decision that does not parse is decided again, never used
        if src is not None and (src == p or not os.path.exists(src) or src in rel):
            lib.copy(src, p, st.st_size, st.st_mtime_ns, groups[p])   # touched, moved or copied
        else:
            todo[p] = (st.st_size, st.st_mtime_ns, ck)
    log(f"[library] {lib.path}: {len(rel)} episodes, {len(todo)} to decode, "
        f"{len(rel) - len(todo) - len(failed)} from the database")
    meta_key = f"models:{key}"
    if todo or lib.get_meta(meta_key) is None:
        with _pool(options, len(todo)) as pool:
            models, S, device = _load(weights, options, log)
            lib.set_meta(meta_key, {"clip_seconds": S, "notes": model_notes(models), "models": [
                {"path": m.path, "meta": {k: m.meta.get(k) for k in ("kind", "preset", "epoch")}}
                for m in models]})
            opts = _preprocessing(options, S)
            todo_rel = {p: rel[p] for p in todo}
            # fingerprints are always stored, so that a later run with season mode has them whatever
            # this one's --group_by
            for res in _decide(todo_rel, models, S, device, opts, replace(options, season=True), True, pool,
                               log):
                size, mtime_ns, ck = todo[res.file]
                lib.put(res, size, mtime_ns, ck or content_key(res.file, size), key, groups[res.file])
    else:
        info = lib.get_meta(meta_key)
        S = info["clip_seconds"]
        models = [LoadedModel(m["path"], None, m["meta"]) for m in info["models"]]
        # what the checkpoints' notes said when they were loaded (the stored meta is only a part of theirs)
        for note in info["notes"] if "notes" in info else model_notes(models):
            log(f"[predict] {note}")
    rule = _season_rule(options, season, log)
    # every answer is built from its stored form, decoded this run or not: a clean run and an
    # incremental one then decide from the same data
    results = []
    for p in rel:
        if p in failed:
            results.append(failed[p])
            continue
        r = lib.load(p, rel[p])
        if not r.ok and p not in todo:
            log(f"error: {p}: {r.error} (stored; --force to try again)")
        results.append(r)
    decoded = set(todo)
    lib.set_groups({p: groups[p] for p in rel if p not in failed and p not in todo})
    season_of: dict[str, list[Draft]] = {}
    if season:
        for members in iter_groups(results, groups):
            apply_season_mode(members, S, rule)
            season_of.update((m.file, members) for m in members)
    for r in results:
        if r.ok:
            members = season_of.get(r.file, [r] if season else [])
            r.library = {"season_group": groups[r.file], "group_size": len(members),
                         "decoded_this_run": r.file in decoded,
                         "siblings_from_database": sum(m is not r and m.file not in decoded for m in members)}
        r.plot.pop("chroma", None)
        r.plot.pop("pictures", None)
    min_confidence, why, sure, sure_why = _threshold(results, models, options, log)
    answers = [r.freeze() for r in results]
    lib.save_answers(answers)
    gone = lib.forget_missing(roots, set(rel))
    if gone:
        log(f"[library] forgot {len(gone)} episode(s) no longer on disk under the folders given")
    return PredictionRun(answers, models, S, min_confidence, why, sure, sure_why, season_rule=rule,
                         started=t_start, seconds=time.perf_counter() - t_start)
