"""Library mode (``predict.py LIBRARY --db FILE``): a whole media library, incrementally, in an
SQLite results database.

Per episode file the database holds its path, size, modification time and a content key, the model
set that decided it, its duration, the decided episode before season mode (every model answer,
confidence and measured span), the Chromaprint fingerprints of its head and last window, the picture
thumbnails of its head (fuse/pictures.py, season mode's evidence of where an opening begins), and the
answers of the latest run (per boundary: time, confidence, source, reason).  A later run decodes only
files that are new, changed, or decided by another model set; season mode then matches each season
(``season_group``) again from the stored fingerprints, which is cheap, so a newly added episode is
matched against siblings that are not decoded again, and every run gives the answers a clean run over
the same files would give.

Writes are transactions, one per episode as it is decided: an interrupted run loses at most the
episode in flight.  One run at a time per database (a lock file beside it; a second run refuses with a
one-line message).  The schema version is checked on opening: a database of schema 2 gains the picture
table and its episodes are decided again; one of schema 1 (which stored
each decided episode as a serialised Python object, code that runs when it is loaded) is migrated by
dropping those stored forms unread, so its episodes are decided again; any other version is
refused.  What is stored is data only: a decided episode is a versioned JSON record
(skips.result.to_record / from_record) and fingerprints are raw points; a record that does not parse
is decided again, never run.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skips.options import PredictOptions
from skips.result import Draft, EpisodeResult, RecordError, from_record, to_record

SCHEMA_VERSION = 3
# 1: its decided episodes are dropped unread and decided again; 2: the picture table is added (its
# episodes are decided again anyway: DECISION_VERSION 7 records their pictures)
MIGRATES_FROM = ("1", "2")
KEY_BYTES = 1 << 20        # the content key reads this much from each end of a file
GROUPINGS = ("folder", "show", "all", "none")
SEASON_DIR = re.compile(r"^(season|series|staffel|saison|temporada)[ ._-]*\d+$|^s\d{1,3}$|^specials?$",
                        re.IGNORECASE)

# Options that change what a decoded episode's answers are (before season mode, the threshold and the
# skip margin, which every run applies afresh): a stored episode decided with other values is redone.
DECIDING_OPTIONS = ("op_length", "ed_length", "scan_below", "scan_hop", "scan_limit", "fusion",
                    "clip_seconds", "ocr_backend", "ocr_size", "reuse_diff")

# What deciding an episode computes: raised when it records more or decides otherwise (2: the segment
# head's safe outer edges; 3: the head's fingerprint reaches --scan_limit; 4: the late-opening scan
# runs below --sure_confidence; 5: season mode marks a matched theme song, which bounds hedged
# ranges; 6: a boundary sure only by agreeing with a match stays hedged; 7: season mode keeps the
# head's picture thumbnails and starts an opening's range where its pictures are shared; 8: the last
# window's thumbnails too, and an ending's start where its pictures are shared), so that
# episodes decided by older code are decided again.
DECISION_VERSION = 8

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE episodes (
    path TEXT PRIMARY KEY,          -- absolute path of the video file
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_key TEXT NOT NULL,      -- sha1 of the size and the first and last MiB
    model_set TEXT NOT NULL,        -- the checkpoints and deciding options that made the answers
    ok INTEGER NOT NULL,
    error TEXT,
    duration REAL,
    season_group TEXT,
    decided TEXT,                   -- the episode before season mode: JSON (skips.result.to_record)
    op_end REAL,                    -- the latest run's answers (NULL: withheld or failed)
    ed_start REAL,
    answer TEXT,                    -- the latest run's JSON of the episode (predictions.json's entry)
    updated REAL NOT NULL
);
CREATE TABLE fingerprints (
    path TEXT NOT NULL REFERENCES episodes(path) ON DELETE CASCADE,
    window TEXT NOT NULL,           -- "start" / "end": the head (to --scan_limit) and the last S seconds
    points BLOB NOT NULL,           -- Chromaprint points, little-endian uint32
    PRIMARY KEY (path, window)
);
CREATE INDEX episodes_group ON episodes(season_group);
"""

# schema 3: one grey thumbnail per second of the head and of the last window (fuse.pictures), for
# season mode
_PICTURES = """
CREATE TABLE IF NOT EXISTS pictures (
    path TEXT NOT NULL REFERENCES episodes(path) ON DELETE CASCADE,
    window TEXT NOT NULL,           -- "start": the head, as far as it was decoded; "end": the last S s
    thumbs BLOB NOT NULL,           -- uint8, GRID x GRID bytes per second
    PRIMARY KEY (path, window)
)
"""


class LibraryError(RuntimeError):
    """A database that cannot be used (another version, another run holding it, not a database, a full
    disk); the message is one line naming the file."""


# ----------------------------------------------------------------------------------------------
# Keys


def content_key(path: str | os.PathLike, size: int | None = None) -> str:
    """sha1 of the size and the first and last KEY_BYTES of a file: cheap, and it tells a replaced
    file from a touched one."""
    h = hashlib.sha1()
    size = os.path.getsize(path) if size is None else size
    h.update(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(KEY_BYTES))
        if size > KEY_BYTES:
            fh.seek(max(KEY_BYTES, size - KEY_BYTES))
            h.update(fh.read(KEY_BYTES))
    return h.hexdigest()


def model_set_key(weights: Sequence[str], options: PredictOptions) -> str:
    """What decided an episode: the checkpoints' contents, the deciding options and DECISION_VERSION."""
    h = hashlib.sha1(f"decision {DECISION_VERSION}".encode())
    for w in weights:
        with open(w, "rb") as fh:
            h.update(hashlib.file_digest(fh, "sha1").digest())
    h.update(json.dumps({k: getattr(options, k) for k in DECIDING_OPTIONS}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def season_group(path: str | os.PathLike, grouping: str) -> str | None:
    """The season an episode belongs to, from the library's layout: ``folder`` the folder it is in
    (``Show/Season 01/``, ``Show/S01/`` or a flat ``Show/``); ``show`` the show's folder (the parent
    of a season folder, else the folder); ``all`` every episode together; ``none`` no season mode."""
    if grouping not in GROUPINGS:
        raise ValueError(f"--group_by {grouping!r}: expected one of {', '.join(GROUPINGS)}")
    folder = Path(path).resolve().parent
    if grouping == "folder":
        return str(folder)
    if grouping == "show":
        return str(folder.parent if SEASON_DIR.match(folder.name) else folder)
    return "all" if grouping == "all" else None


# ----------------------------------------------------------------------------------------------
# The database


def points_bytes(a: np.ndarray) -> bytes:
    """Chromaprint points as stored: little-endian uint32, nothing else."""
    return np.asarray(a, dtype="<u4").tobytes()


def thumbs_of(b: bytes) -> np.ndarray:
    """Picture thumbnails (fuse.pictures) from their stored bytes."""
    from fuse.pictures import GRID

    return np.frombuffer(b, np.uint8).reshape(-1, GRID, GRID).copy()


def points_of(b: bytes) -> np.ndarray:
    if len(b) % 4:
        raise ValueError(f"{len(b)} bytes are not whole uint32 points")
    return np.frombuffer(b, dtype="<u4").astype(np.uint32)


@dataclass
class Stored:
    """A row of ``episodes`` (without the blobs)."""
    path: str
    size: int
    mtime_ns: int
    model_set: str


class Library:
    """An open results database, held by this process (``with Library(path) as lib``)."""

    def __init__(self, path: str | os.PathLike, timeout: float = 30.0):
        self.path = Path(path)
        self._lock_fh = None
        self.conn: sqlite3.Connection | None = None
        self.migrated = 0          # episodes of an older schema's database, each decided again
        self.migrated_from: str | None = None
        self._parsed: dict[str, Draft] = {}   # records ``unreadable`` parsed, for ``load``
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.conn.execute("PRAGMA foreign_keys = ON")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise LibraryError(f"{self.path}: cannot use write-ahead logging here (journal mode {mode})")
            self.conn.execute("PRAGMA synchronous = FULL")   # a committed episode survives power loss
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise LibraryError(f"{self.path}: not a usable results database ({exc})") from None
        except BaseException:
            self.close()
            raise

    # -- opening and closing

    def _lock(self) -> None:
        import fcntl

        lock = self.path.with_name(self.path.name + ".lock")
        fh = open(lock, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise LibraryError(f"{self.path}: another run is using this database (it holds {lock}); "
                                   "wait for it to finish") from None
            raise
        self._lock_fh = fh

    def _check_schema(self) -> None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            with self.transaction() as c:
                for stmt in _SCHEMA.split(";") + [_PICTURES]:
                    if stmt.strip():
                        c.execute(stmt)
                self.conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
            if "meta" in tables else None
        version = row[0] if row else None
        if version in MIGRATES_FROM:
            self._migrate(version)
            return
        if version != str(SCHEMA_VERSION):
            raise LibraryError(f"{self.path}: a results database of schema version {version}, this "
                               f"predict.py reads version {SCHEMA_VERSION}; pass another --db (or move "
                               "this one away to start afresh)")

    def _migrate(self, version: str) -> None:
        """Schema 1 stored each decided episode as a serialised Python object: loading one runs whatever
        it says.  They are dropped unread (the rows stay, with a model set no run has, so each is decided
        again), and so are the fingerprints of that schema (npy files).  Schema 2 lacks the picture table;
        it is added, empty, and its episodes are decided again (their pictures were never kept).  Then the
        schema is 3."""
        with self.transaction() as c:
            self.migrated = c.execute("SELECT count(*) FROM episodes").fetchone()[0]
            self.migrated_from = version
            if version == "1":
                c.execute("UPDATE episodes SET decided = NULL, model_set = 'schema 1', answer = NULL")
                c.execute("DELETE FROM fingerprints")
            else:   # a model set no run has: decided again, with pictures
                c.execute("UPDATE episodes SET model_set = 'schema ' || ?", (version,))
            c.execute(_PICTURES)
            c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any failure; a full disk or another failed write
        becomes a one-line LibraryError (what was committed before stays)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
                raise LibraryError(f"{self.path}: the disk is full; nothing of this step was written "
                                   "(the database holds everything before it)") from None
            if isinstance(exc, sqlite3.Error):
                raise LibraryError(f"{self.path}: cannot write ({exc})") from None
            raise

    # -- meta

    def get_meta(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    # -- episodes

    def stored(self, paths: Iterable[str]) -> dict[str, Stored]:
        out = {}
        for p in paths:
            row = self.conn.execute("SELECT path, size, mtime_ns, model_set FROM episodes "
                                    "WHERE path = ?", (p,)).fetchone()
            if row:
                out[p] = Stored(*row)
        return out

    def find_content(self, key: str, model_set: str) -> str | None:
        """A stored episode with this content, decided by this model set (a moved or touched file)."""
        row = self.conn.execute("SELECT path FROM episodes WHERE content_key = ? AND model_set = ? LIMIT 1",
                                (key, model_set)).fetchone()
        return row[0] if row else None

    def put(self, res: Draft, size: int, mtime_ns: int, key: str, model_set: str,
            group: str | None) -> None:
        """Store one decided episode (before season mode) and its fingerprints, in one transaction."""
        chroma = res.plot.get("chroma") or {}
        pictures = res.plot.get("pictures") or {}
        blob = json.dumps(to_record(res))
        self._parsed.pop(res.file, None)
        with self.transaction() as c:
            c.execute("DELETE FROM episodes WHERE path = ?", (res.file,))
            c.execute("INSERT INTO episodes (path, size, mtime_ns, content_key, model_set, ok, error, "
                      "duration, season_group, decided, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (res.file, size, mtime_ns, key, model_set, int(res.ok), res.error or None,
                       res.duration if res.ok else None, group, blob, time.time()))
            c.executemany("INSERT INTO fingerprints VALUES (?, ?, ?)",
                          [(res.file, w, points_bytes(points)) for w, points in chroma.items()])
            c.executemany("INSERT INTO pictures VALUES (?, ?, ?)",
                          [(res.file, w, np.ascontiguousarray(t, np.uint8).tobytes())
                           for w, t in pictures.items()])

    def copy(self, src: str, dst: str, size: int, mtime_ns: int, group: str | None) -> None:
        """A moved or touched file: the stored decision of ``src`` (same content) under ``dst``."""
        self._parsed.pop(dst, None)
        with self.transaction() as c:
            if src != dst:
                c.execute("DELETE FROM episodes WHERE path = ?", (dst,))
                c.execute("INSERT INTO episodes (path, size, mtime_ns, content_key, model_set, ok, error, "
                          "duration, season_group, decided, updated) SELECT ?, ?, ?, content_key, model_set, "
                          "ok, error, duration, ?, decided, ? FROM episodes WHERE path = ?",
                          (dst, size, mtime_ns, group, time.time(), src))
                c.execute("INSERT INTO fingerprints SELECT ?, window, points FROM fingerprints "
                          "WHERE path = ?", (dst, src))
                c.execute("INSERT INTO pictures SELECT ?, window, thumbs FROM pictures WHERE path = ?",
                          (dst, src))
            else:
                c.execute("UPDATE episodes SET size = ?, mtime_ns = ?, season_group = ?, updated = ? "
                          "WHERE path = ?", (size, mtime_ns, group, time.time(), dst))

    def set_groups(self, groups: dict[str, str | None]) -> None:
        """The season group of each stored episode as this run's layout says (one transaction)."""
        with self.transaction() as c:
            c.executemany("UPDATE episodes SET season_group = ? WHERE path = ?",
                          [(g, p) for p, g in groups.items()])

    def unreadable(self, path: str) -> str | None:
        """Why the stored decided episode of ``path`` cannot be used (not a record of this version, not
        JSON), or None when it can; nothing stored is ever run."""
        row = self.conn.execute("SELECT decided FROM episodes WHERE path = ?", (path,)).fetchone()
        try:
            self._parsed[path] = from_record(json.loads(row[0]) if row and isinstance(row[0], str) else None)
        except (RecordError, ValueError) as exc:
            return f"its stored decision is not a record this version reads ({exc})"
        return None

    def load(self, path: str, rel: str) -> Draft:
        """The stored decided episode (before season mode), fingerprints back in ``plot["chroma"]``;
        RecordError for a stored form that is not a record (see ``unreadable``)."""
        res = self._parsed.pop(path, None)   # parsed already by ``unreadable`` this run
        if res is None:
            row = self.conn.execute("SELECT decided FROM episodes WHERE path = ?", (path,)).fetchone()
            if row is None:
                raise KeyError(path)
            try:
                res = from_record(json.loads(row[0]) if isinstance(row[0], str) else None)
            except ValueError as exc:   # RecordError and JSON errors alike
                raise RecordError(f"{path}: {exc}") from None
        fps = {w: points_of(b) for w, b in
               self.conn.execute("SELECT window, points FROM fingerprints WHERE path = ?", (path,))}
        if fps:
            res.plot["chroma"] = fps
        pics = {w: thumbs_of(b) for w, b in
                self.conn.execute("SELECT window, thumbs FROM pictures WHERE path = ?", (path,))}
        if pics:
            res.plot["pictures"] = pics
        res.file, res.rel = path, rel     # a moved file's decision was stored under its old path
        return res

    def save_answers(self, results: Sequence[EpisodeResult]) -> None:
        """The latest run's answers, in one transaction."""
        rows = []
        for r in results:
            d = r.to_dict()
            rows.append((d.get("op_end"), d.get("ed_start"), json.dumps(d, sort_keys=True), r.file))
        with self.transaction() as c:
            c.executemany("UPDATE episodes SET op_end = ?, ed_start = ?, answer = ? WHERE path = ?", rows)

    def forget_missing(self, roots: Sequence[Path], present: set[str]) -> list[str]:
        """Drop the episodes under ``roots`` (folders given to this run) that are no longer there."""
        gone = []
        for root in roots:
            prefix = str(root.resolve()) + os.sep
            for (p,) in self.conn.execute("SELECT path FROM episodes WHERE substr(path, 1, ?) = ?",
                                          (len(prefix), prefix)).fetchall():
                if p not in present and not os.path.exists(p):
                    gone.append(p)
        if gone:
            with self.transaction() as c:
                c.executemany("DELETE FROM episodes WHERE path = ?", [(p,) for p in gone])
        return gone


def iter_groups(results: Sequence[Draft],
                groups: dict[str, str | None]) -> Iterator[list[Draft]]:
    """The results of each season group, members sorted by path (the order a clean run would use)."""
    by: dict[str, list[Draft]] = {}
    for r in results:
        g = groups.get(r.file)
        if g is not None and r.ok:
            by.setdefault(g, []).append(r)
    for g in sorted(by):
        yield sorted(by[g], key=lambda r: r.file)


