"""Shared machinery of every preprocessing script: find clips, split shards, run a process pool
with a progress bar, skip finished clips, and end with a summary and an honest exit status.

A script supplies ``outputs(clip) -> list[Path]`` (what a finished clip has on disk) and a worker
``work(clip) -> None`` that writes them atomically (``datatools.fileio``) or raises ``ClipError`` with a
one-line reason.  Everything else (flags, discovery, sharding, resume, summary) lives here once.

    parser = argparse.ArgumentParser(...); add_job_args(parser)
    args = parser.parse_args(); clips = clips_from_args(args)
    sys.exit(run_jobs(clips, work, outputs, workers=args.workers, desc="mfcc").exit_code)
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from datatools.fileio import atomic_write_json
from datatools.spec import clip_path, feature_path

VIDEO_EXTS = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".ts")
META_NAME = "meta.json"


class ClipError(RuntimeError):
    """A per-clip failure with a one-line reason (corrupt file, no video stream, ...)."""


@dataclass(frozen=True)
class Clip:
    video: Path      # absolute path of the clip
    rel: Path        # path relative to its data root, mirrored under save_root

    @property
    def stem(self) -> str:
        return self.video.stem

    def out(self, save_root: str | os.PathLike, suffix: str) -> Path:
        """Output path ``<save_root>/<rel dir>/<stem><suffix>``, e.g. suffix ``_mfcc.npy``."""
        return feature_path(save_root, self.rel, suffix)


@dataclass
class JobSummary:
    done: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # clip path -> reason

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def report(self, desc: str, stream=None) -> None:
        stream = stream or sys.stderr  # looked up now: a default bound at import goes stale
        print(f"[{desc}] done {self.done}, skipped {self.skipped} (already complete), "
              f"failed {len(self.failed)}", file=stream)
        for path, reason in sorted(self.failed.items()):
            print(f"[{desc}] FAILED {path}: {reason}", file=stream)


def add_job_args(parser: argparse.ArgumentParser, save_root_required: bool = True) -> None:
    """The flags shared by all preprocessing scripts."""
    g = parser.add_argument_group("clips and outputs")
    g.add_argument("--data_root", nargs="+", required=True, metavar="PATH",
                   help="raw clips: folders (searched recursively for videos) or label files "
                        "(clips named relative to the label file's folder)")
    g.add_argument("--save_root", required=save_root_required, metavar="DIR",
                   help="processed-data folder; outputs mirror each clip's path relative to its "
                        "data root")
    g.add_argument("--clip_seconds", type=int, default=200, metavar="S",
                   help="clip length S in seconds; shorter clips are padded, longer truncated "
                        "(default: 200)")
    r = parser.add_argument_group("running")
    r.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="processes in the pool (default: every core, here %(default)s)")
    r.add_argument("--shard", type=parse_shard, default=(0, 1), metavar="i/n",
                   help="process only the i-th of n interleaved parts of the sorted clip list, "
                        "so n machines can split one dataset (default: 0/1)")
    r.add_argument("--overwrite", action="store_true",
                   help="redo clips whose outputs already exist (default: skip them)")


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard {text!r} must look like i/n, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"shard {text!r}: need 0 <= i < n")
    return i, n


def discover_clips(data_roots: Sequence[str | os.PathLike],
                   exclude: Sequence[str | os.PathLike] = ()) -> list[Clip]:
    """Clips from folders (recursive, video extensions, hidden files ignored) or label files.

    Paths under any ``exclude`` folder (e.g. a save_root inside the data root) are left out.
    The result is sorted by path and free of duplicates."""
    from datatools.labels import read_labels

    excl = [Path(e).resolve() for e in exclude]
    found: dict[Path, Clip] = {}
    for root in data_roots:
        root = Path(root)
        if root.is_dir():
            # Paths as written, links kept (datatools.spec.clip_path): a clip that is a link, or a
            # folder that is a link, keeps its place under the root.  Linked folders are followed
            # once each (a link back up the tree is not walked again).
            base = clip_path(root)
            seen_dirs: set[str] = set()
            for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
                d = Path(dirpath)
                real = os.path.realpath(d)
                if real in seen_dirs:
                    dirnames[:] = []
                    continue
                seen_dirs.add(real)
                dirnames[:] = sorted(x for x in dirnames if not x.startswith(".")
                                     and (d / x).resolve() not in excl)
                for name in filenames:
                    if name.startswith(".") or not name.lower().endswith(VIDEO_EXTS):
                        continue
                    video = d / name
                    found.setdefault(video, Clip(video, video.relative_to(base)))
        elif root.is_file():
            for row in read_labels(root):
                found.setdefault(row.video, Clip(row.video, row.video.relative_to(row.label_file.parent)))
        else:
            raise FileNotFoundError(f"{root}: no such folder or label file")
    return [found[k] for k in sorted(found)]


def select_shard(clips: Sequence[Clip], shard: tuple[int, int]) -> list[Clip]:
    i, n = shard
    return list(clips[i::n])


def clips_from_args(args: argparse.Namespace) -> list[Clip]:
    clips = discover_clips(args.data_root, exclude=[args.save_root] if args.save_root else [])
    return select_shard(clips, args.shard)


def check_meta(save_root: str | os.PathLike, params: dict) -> None:
    """Record preprocessing parameters in ``<save_root>/meta.json``; refuse a folder made with
    different values for the same keys (e.g. another clip length), naming the key."""
    import json

    path = Path(save_root) / META_NAME
    meta: dict = {}
    if path.is_file():
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
        for k, v in params.items():
            if k in meta and meta[k] != v:
                raise SystemExit(f"{path}: {k} is {meta[k]!r} there but {v!r} now; "
                                 f"use another --save_root or the same parameters")
    if any(k not in meta for k in params):
        meta.update(params)
        atomic_write_json(path, meta, indent=2)


def _run_one(work: Callable[[Clip], None], clip: Clip) -> str | None:
    try:
        work(clip)
        return None
    except ClipError as exc:
        return str(exc)
    except Exception as exc:  # one bad clip never crashes the batch
        return f"{type(exc).__name__}: {exc}"


def run_jobs(clips: Iterable[Clip], work: Callable[[Clip], None],
             outputs: Callable[[Clip], list[Path]], workers: int = 1, desc: str = "clips",
             overwrite: bool = False, quiet: bool = False) -> JobSummary:
    """Run ``work`` on every clip whose ``outputs`` are not all present; ``work`` must be a
    picklable top-level callable (e.g. functools.partial of a module function)."""
    from tqdm import tqdm

    summary = JobSummary()
    todo: list[Clip] = []
    for clip in clips:
        if not overwrite and all(p.is_file() for p in outputs(clip)):
            summary.skipped += 1
        else:
            todo.append(clip)
    bar = tqdm(total=len(todo), desc=desc, unit="clip", disable=quiet or not todo,
               dynamic_ncols=True)
    if workers <= 1 or len(todo) <= 1:
        for clip in todo:
            err = _run_one(work, clip)
            _count(summary, clip, err)
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = {pool.submit(_run_one, work, clip): clip for clip in todo}
            for fut in as_completed(futs):
                try:
                    err = fut.result()
                except Exception as exc:  # a worker process died (e.g. killed by the OS)
                    err = f"worker crashed: {type(exc).__name__}: {exc}"
                _count(summary, futs[fut], err)
                bar.update(1)
    bar.close()
    if not quiet:
        summary.report(desc)
    return summary


def _count(summary: JobSummary, clip: Clip, err: str | None) -> None:
    if err is None:
        summary.done += 1
    else:
        summary.failed[str(clip.video)] = err

