"""Library mode (predict.py --db, skips/library.py): a generated library of 4 shows x 2 seasons, one
season with a mid-season opening change, episodes added later (one into a season already decided, one
lone premiere of a new show), an interrupted run; then bad input and database misuse.

Season mode alone (--weights none) answers here, so every answer comes from the stored fingerprints
and the layout's season groups; S = 60 so that the theme songs are long enough to match."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

import predict
from datatools.synth import generate_dataset
from preprocessing.fingerprint import fingerprint_seconds
from skips import PredictError, PredictOptions, predict_library
from skips import library as library_mod
from skips import pipeline as pipeline_mod
from skips.prepare import head_seconds

S = 60
SYNTH_KW = dict(difficulty="easy", clip_seconds=S, full_episodes=True, min_minutes=2.1, max_minutes=2.3,
                resolutions=((160, 90),), fps_choices=("25",), workers=2, progress=False)
OPTIONS = PredictOptions(weights=("none",), clip_seconds=S, season=True, workers=1, progress=False,
                         device="cpu", formats=("json",))
# series -> (show, season folder); series 8 joins series 7's season: two openings in one season
SEASONS = {0: ("Show A", "Season 01"), 1: ("Show A", "Season 02"), 2: ("Show B", "S01"), 3: ("Show B", "S02"),
           4: ("Show C", "Season 1"), 5: ("Show C", "Season 2"), 6: ("Show D", "Season 01"),
           7: ("Show D", "Season 02"), 8: ("Show D", "Season 02"), 9: ("Show E", "Season 01")}
LATER = ("Show A/Season 01/Show A - S01E02.mp4", "Show E/Season 01/Show E - S01E01.mp4")


def _run(library: Path, db: Path, out: Path, **kw) -> tuple[dict, str]:
    log: list[str] = []
    run = predict_library([str(library)], replace(OPTIONS, out=str(out)), db, log=log.append, **kw)
    doc = {Path(r.file).relative_to(library).as_posix(): r.to_dict() for r in run.results}
    return doc, "\n".join(log)


def _answers(doc: dict) -> dict:
    """What a user gets: every field but the timings and the library bookkeeping."""
    return {k: {f: v for f, v in e.items() if f not in ("seconds", "library")} for k, e in doc.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    spans = generate_dataset(root / "gen", series=9, episodes=2, lone_episodes=1, seed=5,
                             **SYNTH_KW)["episodes"]
    files, truth = {}, {}
    count: dict[tuple[str, str], int] = {}
    for sp in sorted(spans.values(), key=lambda sp: (sp["series"], sp["episode"])):
        show, season = SEASONS[sp["series"]]
        n = count[(show, season)] = count.get((show, season), 0) + 1
        ss = int("".join(ch for ch in season if ch.isdigit()))
        rel = f"{show}/{season}/{show} - S{ss:02d}E{n:02d}.mp4"
        files[rel] = root / "gen" / sp["full_episode"]
        truth[rel] = sp
    assert len(files) == 19 and set(LATER) <= set(files)
    return root, files, truth


def _place(library: Path, files: dict, names) -> None:
    for rel in names:
        (library / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(files[rel], library / rel)


def test_incremental_interrupted_and_clean_runs_agree(world, monkeypatch):
    root, files, truth = world
    lib, db = root / "lib", root / "lib.sqlite"
    _place(lib, files, [r for r in files if r not in LATER])

    # 1. the first run is interrupted (Ctrl-C) after five episodes were stored: they stay stored
    real_put, puts = library_mod.Library.put, []

    def put_then_interrupt(self, res, *a, **kw):
        if len(puts) == 5:
            raise KeyboardInterrupt
        real_put(self, res, *a, **kw)
        puts.append(res.file)

    monkeypatch.setattr(library_mod.Library, "put", put_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(lib, db, root / "out")
    monkeypatch.setattr(library_mod.Library, "put", real_put)
    with contextlib.closing(sqlite3.connect(db)) as c:
        assert c.execute("SELECT count(*) FROM episodes").fetchone()[0] == 5
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # 2. resumed: only the twelve others are decoded
    _, log = _run(lib, db, root / "out")
    assert "17 episodes, 12 to decode, 5 from the database" in log

    # 3. two episodes added: a sibling of a decided season, and a lone premiere of a new show
    _place(lib, files, LATER)
    incremental, log = _run(lib, db, root / "out")
    assert "19 episodes, 2 to decode, 17 from the database" in log
    added = incremental[LATER[0]]
    assert added["library"]["decoded_this_run"] and added["library"]["siblings_from_database"] == 1
    for name, kind in (("op_end", "start"), ("ed_start", "end")):
        assert added["source"][name] == "season", added
        assert abs(added[name] - truth[LATER[0]][name]) < 2.0
        assert added["season"][kind]["siblings"] >= 1
    lone = incremental[LATER[1]]
    assert lone["ok"] and lone["library"]["group_size"] == 1 and lone["op_end"] is None  # nothing to match

    # 4. nothing changed: nothing is decoded, the answers are the same
    monkeypatch.setattr(pipeline_mod, "iter_prepared", lambda *a, **k: pytest.fail("decoded again"))
    again, log = _run(lib, db, root / "out")
    assert "19 episodes, 0 to decode, 19 from the database" in log
    assert _answers(again) == _answers(incremental)
    monkeypatch.undo()

    # 5. a clean run over the same files, with a fresh database, gives the same answers
    clean, _ = _run(lib, root / "clean.sqlite", root / "out_clean")
    assert _answers(clean) == _answers(incremental)
    assert all(e["library"]["decoded_this_run"] for e in clean.values() if e["ok"])
    # every stored head fingerprint reaches as far as --scan_limit allows (here the last window's start)
    with contextlib.closing(sqlite3.connect(root / "clean.sqlite")) as c:
        heads = c.execute("SELECT e.duration, f.points FROM episodes e JOIN fingerprints f "
                          "ON f.path = e.path WHERE f.window = 'start'").fetchall()
    covered = [fingerprint_seconds(library_mod.points_of(b)) - head_seconds(d, S, OPTIONS.scan_limit)
               for d, b in heads]
    assert len(covered) == sum(e["ok"] for e in clean.values()) and max(abs(x) for x in covered) < 1.0

    # the season with two openings: every episode is matched to the sibling that shares its theme,
    # exactly as if each opening's episodes had a season folder of their own (the files are moved
    # there: found again by content, not decoded again, and forgotten at their old paths)
    two = sorted(r for r in clean if r.startswith("Show D/Season 02/"))
    assert len(two) == 4 and {truth[r]["series"] for r in two} == {7, 8}
    moved = {}
    for rel in two:
        moved[rel] = f"Show D/Season 02{'ab'[truth[rel]['series'] - 7]}/{Path(rel).name}"
        (lib / moved[rel]).parent.mkdir(exist_ok=True)
        (lib / rel).rename(lib / moved[rel])
    apart, log = _run(lib, root / "clean.sqlite", root / "out_clean")
    assert "19 episodes, 0 to decode, 19 from the database" in log and "forgot 4 episode(s)" in log
    for rel in two:
        assert clean[rel]["library"]["group_size"] == 4 and apart[moved[rel]]["library"]["group_size"] == 2
        for name, kind in (("op_end", "start"), ("ed_start", "end")):
            assert clean[rel]["source"][name] == "season" and clean[rel]["season"][kind]["siblings"] == 1
            assert clean[rel][name] == apart[moved[rel]][name]
            assert abs(clean[rel][name] - truth[rel][name]) < 5.0
    # the season groups follow the folders: nothing is matched across shows or seasons
    for rel, e in clean.items():
        assert e["library"]["season_group"] == str((lib / rel).parent)


def test_changed_touched_deleted_and_forced_files(world, tmp_path, monkeypatch):
    root, files, _ = world
    lib, db = tmp_path / "lib", tmp_path / "lib.sqlite"
    names = sorted(r for r in files if r.startswith("Show A/"))
    _place(lib, files, names)
    first, _ = _run(lib, db, tmp_path / "out")
    a, c, b = (lib / n for n in names[:3:2] + names[3:])   # S01E01, S02E01, S02E02
    os.utime(a, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns + 10**9))   # touched: same content
    other = next(f for r, f in files.items() if r.startswith("Show B/"))
    shutil.copy2(other, b)                                                    # replaced by another episode
    c.unlink()                                                                # deleted
    second, log = _run(lib, db, tmp_path / "out")
    assert "3 episodes, 1 to decode, 2 from the database" in log          # only the replaced one
    assert "forgot 1 episode(s) no longer on disk" in log
    assert names[2] not in second
    assert _answers({k: second[k] for k in names[:2]}) == _answers({k: first[k] for k in names[:2]})
    assert not second[names[0]]["library"]["decoded_this_run"]
    assert second[names[3]]["library"]["decoded_this_run"]
    _, log = _run(lib, db, tmp_path / "out", force=[str(a)])
    assert "3 episodes, 1 to decode, 2 from the database" in log
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("SELECT count(*) FROM episodes").fetchone()[0] == 3
        assert con.execute("SELECT count(*) FROM fingerprints").fetchone()[0] == 6


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def test_bad_files_get_one_line_each_and_are_remembered(world, tmp_path):
    root, files, _ = world
    lib = tmp_path / "Show Z" / "Season 01"
    lib.mkdir(parents=True)
    good = next(iter(files.values()))
    (lib / "empty.mp4").write_bytes(b"")
    (lib / "garbage.mkv").write_bytes(b"not a video\n" * 100)
    shutil.copy(good, lib / "truncated.mp4")
    with open(lib / "truncated.mp4", "r+b") as fh:
        fh.truncate(good.stat().st_size // 3)
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-i", str(good), "-vn", "-c", "copy",
                    str(lib / "audio.mp4")], check=True)
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-i", str(good), "-t", "70", "-c", "copy",
                    str(lib / "short.mp4")], check=True)
    before = sorted(p.name for p in lib.iterdir())
    db, out = tmp_path / "db.sqlite", tmp_path / "elsewhere"
    argv = [str(tmp_path / "Show Z"), "--db", str(db), "--weights", "none", "--clip_seconds", str(S),
            "--out", str(out), "--no_progress", "--device", "cpu", "--workers", "1"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert predict.main(argv) == 1
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("error:")]
    assert sorted(Path(ln.split(": ", 2)[1]).name for ln in lines) == sorted(before)
    assert sorted(p.name for p in lib.iterdir()) == before        # nothing written into the library
    doc = json.loads((out / "predictions.json").read_text())
    assert len(doc["episodes"]) == 5 and not any(e["ok"] for e in doc["episodes"])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert predict.main(argv) == 1
    assert "0 to decode" in err.getvalue() and err.getvalue().count("(stored; --force to try again)") == 5


def test_database_misuse_is_refused_in_one_line(tmp_path, world):
    root, files, _ = world
    lib = tmp_path / "lib"
    _place(lib, files, [next(iter(files))])
    db = tmp_path / "db.sqlite"
    argv = [str(lib), "--db", str(db), "--weights", "none", "--clip_seconds", str(S), "--out",
            str(tmp_path / "out"), "--no_progress", "--device", "cpu", "--workers", "1"]

    def refused() -> str:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert predict.main(argv) == 2
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and str(db) in lines[0], lines
        return lines[0]

    # two runs at once: the second refuses and the database is untouched
    with library_mod.Library(db):
        assert "another run is using this database" in refused()
    # a database of another schema version
    with contextlib.closing(sqlite3.connect(db)) as c:
        c.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
        c.commit()
    assert "schema version 0" in refused() and "version 3" in refused()
    # not a database at all
    db.unlink()
    db.write_bytes(b"this is not sqlite" * 100)
    assert "not a usable results database" in refused()
    # --force without --db
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert predict.main([str(lib), "--force", str(lib), "--weights", "none", "--season"]) == 2
    assert "--force needs --db" in err.getvalue()


def test_a_full_disk_loses_nothing_already_stored(tmp_path, world, monkeypatch):
    """The database may grow no further (SQLite's page limit: the same SQLITE_FULL a full disk
    gives): the run stops with one line, and what was stored before is intact."""
    root, files, _ = world
    lib = tmp_path / "lib"
    _place(lib, files, [r for r in files if r.startswith("Show A/Season 01/")])
    db = tmp_path / "db.sqlite"
    with library_mod.Library(db) as lib_db:
        pages = lib_db.conn.execute("PRAGMA page_count").fetchone()[0]
    real_init = library_mod.Library.__init__

    def capped(self, *a, **kw):
        real_init(self, *a, **kw)
        self.conn.execute(f"PRAGMA max_page_count = {pages + 1}")

    monkeypatch.setattr(library_mod.Library, "__init__", capped)
    with pytest.raises(PredictError, match="disk is full"):
        _run(lib, db, tmp_path / "out")
    monkeypatch.undo()
    with contextlib.closing(sqlite3.connect(db)) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("SELECT count(*) FROM episodes").fetchone()[0] == 0
    _, log = _run(lib, db, tmp_path / "out")       # with room again, the run completes
    assert "2 to decode" in log


def test_fingerprints_are_stored_whatever_the_season_flag(world, tmp_path):
    """A library run decoded with the season flag off (predict.py --db --group_by none sets it so) still
    stores every episode's fingerprints: a later season run matches them without decoding again."""
    root, files, truth = world
    lib, db = tmp_path / "lib", tmp_path / "lib.sqlite"
    _place(lib, files, [r for r in files if r.startswith("Show A/Season 01/")])
    predict_library([str(lib)], replace(OPTIONS, season=False, out=str(tmp_path / "o")), db,
                    log=lambda line: None)
    doc, log = _run(lib, db, tmp_path / "o")
    assert "2 episodes, 0 to decode" in log
    assert [e["source"]["op_end"] for e in doc.values()] == ["season", "season"]


def test_season_groups_from_the_layout():
    g = library_mod.season_group
    assert g("/m/Show/Season 01/e1.mkv", "folder") == "/m/Show/Season 01"
    assert g("/m/Show/S02/e1.mkv", "show") == "/m/Show"
    assert g("/m/Show/Season 2/e1.mkv", "show") == "/m/Show"
    assert g("/m/Show/e1.mkv", "show") == "/m/Show"            # a flat show folder
    assert g("/m/Show/Extras/e1.mkv", "show") == "/m/Show/Extras"
    assert g("/m/a/e1.mkv", "all") == "all" and g("/m/a/e1.mkv", "none") is None
    with pytest.raises(ValueError):
        g("/m/a/e1.mkv", "series")


def test_outputs_that_cannot_be_written_are_one_line_and_the_answers_stay(tmp_path, world, monkeypatch):
    """A full disk (or a read-only folder) while the outputs are written: one line naming the file,
    exit status 1, and the database keeps the run's answers for the next run."""
    import errno

    from skips import formats

    root, files, _ = world
    lib = tmp_path / "lib"
    _place(lib, files, [r for r in files if r.startswith("Show B/S01/")])
    db, out = tmp_path / "db.sqlite", tmp_path / "out"

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(formats, "atomic_write_json", full)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = predict.main([str(lib), "--db", str(db), "--weights", "none", "--clip_seconds", str(S), "--out",
                           str(out), "--no_progress", "--device", "cpu", "--workers", "1"])
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("error:")]
    assert rc == 1 and len(lines) == 1
    assert str(out / "predictions.json") in lines[0] and "No space left on device" in lines[0]
    with contextlib.closing(sqlite3.connect(db)) as c:
        assert c.execute("SELECT count(*) FROM episodes WHERE answer IS NOT NULL").fetchone()[0] == 2


def test_episodes_decided_by_older_code_are_decided_again(tmp_path, monkeypatch):
    """The model-set key covers the checkpoints' contents, the deciding options and what a stored
    decision records (DECISION_VERSION): raising it retires every stored decision."""
    ckpt = tmp_path / "m.pth"
    ckpt.write_bytes(b"weights")
    opts = PredictOptions(weights=(str(ckpt),))
    key = library_mod.model_set_key([str(ckpt)], opts)
    assert library_mod.model_set_key([str(ckpt)], opts) == key
    assert library_mod.model_set_key([str(ckpt)], replace(opts, op_length=80.0)) != key
    monkeypatch.setattr(library_mod, "DECISION_VERSION", library_mod.DECISION_VERSION + 1)
    assert library_mod.model_set_key([str(ckpt)], opts) != key


# ----------------------------------------------------------------------------------------------
# What is stored is data: a JSON record, never code


class _Payload:
    """What an attacker would store: unpickling it runs a command (here: touch a file)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _season_A(tmp_path, world):
    root, files, _ = world
    lib, db = tmp_path / "lib", tmp_path / "lib.sqlite"
    _place(lib, files, [r for r in files if r.startswith("Show A/Season 01/")])
    first, _ = _run(lib, db, tmp_path / "o")
    return lib, db, first


def test_a_stored_record_round_trips_to_the_same_episode(tmp_path, world):
    from skips.result import from_record, to_record

    lib, db, _ = _season_A(tmp_path, world)
    with library_mod.Library(db) as L:
        path = L.conn.execute("SELECT path FROM episodes LIMIT 1").fetchone()[0]
        r = L.load(path, "x.mp4")
    again = from_record(json.loads(json.dumps(to_record(r))))
    # (NaN, the boundaries of season mode alone before it decides, compare equal as JSON text)
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(r.to_dict(), sort_keys=True)
    assert json.dumps(to_record(again), sort_keys=True) == json.dumps(to_record(r), sort_keys=True)


def test_a_run_answers_with_immutable_episodes_built_from_their_draft(tmp_path, world):
    """A run's results are frozen records: no field, mapping or list of theirs can be changed; their JSON
    and their stored form are those of the Draft they were frozen from."""
    import dataclasses

    from skips.result import EpisodeResult, to_record

    lib, db, _ = _season_A(tmp_path, world)
    with library_mod.Library(db) as L:
        path = L.conn.execute("SELECT path FROM episodes LIMIT 1").fetchone()[0]
        draft = L.load(path, "x.mp4")
    draft.plot.pop("chroma", None)
    r = draft.freeze()
    assert isinstance(r, EpisodeResult) and r.ok
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.op_end = 1.0
    with pytest.raises(TypeError):
        r.confidence["op_end"] = 0.0
    with pytest.raises((TypeError, AttributeError)):
        r.models.append({})
    draft.confidence["op_end"] = -1.0          # the draft changing later does not reach the record
    assert r.confidence["op_end"] != -1.0
    draft.confidence["op_end"] = r.confidence["op_end"]
    assert json.dumps(r.to_dict(), sort_keys=True) == json.dumps(draft.to_dict(), sort_keys=True)
    assert json.dumps(to_record(r), sort_keys=True) == json.dumps(to_record(draft), sort_keys=True)
    run = predict_library([str(lib)], replace(OPTIONS, out=str(tmp_path / "o")), db, log=lambda _: None)
    assert run.results and all(isinstance(x, EpisodeResult) for x in run.results)


def test_a_crafted_row_is_refused_in_one_line_and_nothing_runs(tmp_path, world):
    import pickle

    lib, db, first = _season_A(tmp_path, world)
    marker = tmp_path / "ran"
    with contextlib.closing(sqlite3.connect(db)) as c:
        victim = c.execute("SELECT path FROM episodes ORDER BY path LIMIT 1").fetchone()[0]
        c.execute("UPDATE episodes SET decided = ? WHERE path = ?", (pickle.dumps(_Payload(marker)), victim))
        c.commit()
    doc, log = _run(lib, db, tmp_path / "o")
    lines = [line for line in log.splitlines() if victim in line]
    assert len(lines) == 1 and "not a record this version reads" in lines[0] and "1 to decode" in log
    assert not marker.exists()
    assert _answers(doc) == _answers(first)


def test_a_schema_1_database_is_migrated_unread(tmp_path, world):
    import pickle

    lib, db, first = _season_A(tmp_path, world)
    marker = tmp_path / "ran"
    with contextlib.closing(sqlite3.connect(db)) as c:
        c.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        c.execute("UPDATE episodes SET decided = ?", (pickle.dumps(_Payload(marker)),))
        c.commit()
    doc, log = _run(lib, db, tmp_path / "o")
    assert "migrated from schema 1" in log and "2 episodes, 2 to decode" in log
    assert not marker.exists()
    assert _answers(doc) == _answers(first)
    with contextlib.closing(sqlite3.connect(db)) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"


def test_a_schema_2_database_gains_the_picture_table_and_decides_again(tmp_path, world):
    lib, db, first = _season_A(tmp_path, world)
    with contextlib.closing(sqlite3.connect(db)) as c:
        c.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        c.execute("DROP TABLE pictures")
        c.commit()
    doc, log = _run(lib, db, tmp_path / "o")
    assert "migrated from schema 2" in log and "2 episodes, 2 to decode" in log
    assert _answers(doc) == _answers(first)
    with contextlib.closing(sqlite3.connect(db)) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"
        assert c.execute("SELECT count(*) FROM pictures").fetchone()[0] == 4   # head and last window each
