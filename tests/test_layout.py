"""Datasets laid out the way users lay them out: links into the folder where the videos live, label
files from Windows editors, test folders named relative to the data root.

The end-to-end test runs the real command lines (preprocess -> one tiny training epoch -> test B ->
season mode) on a published layout made only of symbolic links, from a working directory that also
holds a decoy ``data_C`` folder, so every stage has to agree on where each clip is.

    .venv/bin/python -m pytest -q tests/test_layout.py
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datatools.dataset import DatasetError, find_test_clips, labelled_clips
from datatools.labels import LabelError, read_labels, read_submission
from datatools.spec import MFCC_SUFFIX, clip_path, rel_to_root
from preprocessing.jobs import discover_clips

ROOT = Path(__file__).resolve().parent.parent
S = 20


def _ffmpeg() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def _clip(path: Path, seconds: int = S, freq: int = 440) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_ffmpeg(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size=160x90:rate=10:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency={freq}:sample_rate=22050:duration={seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                    str(path)], check=True)
    return path


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)


# ------------------------------------------------------------------------------ label files

def test_label_file_with_bom_crlf_tabs_and_trailing_blanks(tmp_path):
    f = tmp_path / "labels.txt"
    f.write_bytes("\ufeffX_start 12.5\r\nY_end\t40 \r\n\r\n  Z_start   3.25\t\r\n".encode("utf-8"))
    rows = read_labels(f)
    assert [(r.stem, r.seconds) for r in rows] == [("X_start", 12.5), ("Y_end", 40.0), ("Z_start", 3.25)]
    assert rows[0].video == tmp_path / "X_start.mp4"


def test_label_file_errors_stay_clear(tmp_path):
    f = tmp_path / "labels.txt"
    f.write_bytes("\ufeffX_start 12.5\r\nX_start 13\r\n".encode("utf-8"))
    with pytest.raises(LabelError, match=r"labels.txt:2: clip X_start already labelled on line 1"):
        read_labels(f)
    f.write_bytes("\ufeffX_start 12.5 7\r\n".encode("utf-8"))
    with pytest.raises(LabelError, match=r"labels.txt:1: expected '<clip_stem> <seconds>'"):
        read_labels(f)


def test_submission_with_bom(tmp_path):
    f = tmp_path / "sub.csv"
    f.write_bytes("\ufeffX_start.mp4,s,12.500\r\n".encode("utf-8"))
    assert read_submission(f)[0].clip == "X_start.mp4"


# ------------------------------------------------------------------------------ the path rule

def test_paths_keep_links(tmp_path):
    real = _touch(tmp_path / "elsewhere" / "X_start.mp4")
    root = tmp_path / "data"
    _link(real, root / "data_A" / "train" / "X_start.mp4")
    assert clip_path(root / "data_A" / "train" / ".." / "train" / "X_start.mp4") == \
        root / "data_A" / "train" / "X_start.mp4"
    assert rel_to_root(root / "data_A/train/X_start.mp4", root) == Path("data_A/train/X_start.mp4")
    # the data root given through a link to the real folder, the clip by its real path
    _link(root, tmp_path / "data_link")
    assert rel_to_root(root / "data_A/train/X_start.mp4", tmp_path / "data_link") == \
        Path("data_A/train/X_start.mp4")
    with pytest.raises(ValueError):
        rel_to_root(real, root)


def _touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"")
    return p


def test_linked_clips_and_folders_are_found_where_written(tmp_path):
    real = tmp_path / "elsewhere"
    for n in ("A_start", "A_end", "T_start"):
        _touch(real / f"{n}.mp4")
    root = tmp_path / "data"
    _link(real / "A_start.mp4", root / "data_A/train/A_start.mp4")
    _link(real / "A_end.mp4", root / "data_A/train/A_end.mp4")
    (real / "test").mkdir()
    os.replace(real / "T_start.mp4", real / "test" / "T_start.mp4")
    _link(real / "test", root / "data_C")                      # a linked folder
    _link(root, root / "data_A" / "loop")                       # a link back up: walked once
    (root / "data_A/train/labels.txt").write_text("A_start 10\nA_end 20\n")
    rels = sorted(str(c.rel) for c in discover_clips([root]))
    assert rels == ["data_A/train/A_end.mp4", "data_A/train/A_start.mp4", "data_C/T_start.mp4"]
    recs = labelled_clips(root, None, clip_seconds=S)
    assert [str(r.rel) for r in recs] == ["data_A/train/A_start.mp4", "data_A/train/A_end.mp4"]


def test_test_dir_is_relative_to_the_data_root(tmp_path, monkeypatch):
    root = tmp_path / "data"
    _touch(root / "data_C" / "T_start.mp4")
    _touch(root / "data_A" / "test" / "U_end.mp4")
    decoy = tmp_path / "cwd"
    _touch(decoy / "data_C" / "Decoy_start.mp4")                # same relative name in the cwd
    monkeypatch.chdir(decoy)
    feat = root / "processed"
    assert [r.name for r in find_test_clips(root, "data_C", feat)] == ["T_start.mp4"]
    assert [str(r.rel) for r in find_test_clips(root, "data_A/test", feat)] == ["data_A/test/U_end.mp4"]
    assert [str(r.rel) for r in find_test_clips(root, root / "data_C", feat)] == ["data_C/T_start.mp4"]
    with pytest.raises(DatasetError, match="not under --data_root"):
        find_test_clips(root, decoy / "data_C", feat)


# ------------------------------------------------------------------------------ end to end

def _run(cmd: list, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, *map(str, cmd)], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


def test_symlinked_layout_through_the_real_command_lines(tmp_path):
    real = tmp_path / "elsewhere" / "clips"
    work = tmp_path / "work"
    data = work / "data"
    labels = {"data_A/train": ["a1_start 4.0", "a1_end 12.0", "a2_start 6.0", "a2_end 9.0"],
              "data_B": ["b1_start 5.0", "b1_end 11.0"]}
    for i, (folder, rows) in enumerate(labels.items()):
        for j, row in enumerate(rows):
            stem = row.split()[0]
            _link(_clip(real / f"{stem}.mp4", freq=300 + 40 * (i * 4 + j)), data / folder / f"{stem}.mp4")
        # the label file itself saved by a Windows editor (BOM, CRLF) and kept with the videos
        (real / f"{folder.replace('/', '_')}_labels.txt").write_bytes(
            ("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8"))
        _link(real / f"{folder.replace('/', '_')}_labels.txt", data / folder / "labels.txt")
    test_real = tmp_path / "elsewhere" / "testB"
    for stem in ("c1_start", "c1_end"):
        _clip(test_real / f"{stem}.mp4", freq=700)
    _link(test_real, data / "data_C")                         # test B: a linked folder
    _touch(work / "data_C" / "decoy_start.mp4")               # a data_C in the cwd, not the data root

    _run(["-m", "utils.preprocess", "--data_root", "data", "--save_root", "data/processed",
          "--clip_seconds", S, "--workers", "1", "--with_fingerprint"], work)
    for rel in ("data_A/train/a1_start", "data_B/b1_end", "data_C/c1_start"):
        assert (data / "processed" / f"{rel}{MFCC_SUFFIX}").is_file()
    common = ["--data_root", "data", "--preset", "tiny", "--clip_seconds", S, "--device", "cpu",
              "--num_workers", "0", "--show_freq", "0", "--batch_size", "2"]
    _run([ROOT / "avt_main.py", *common, "--max_epoch", "1", "--save_prefix", "run"], work)
    ckpt = work / "run" / "avnet_bestmodel.pth"
    assert ckpt.is_file()
    _run([ROOT / "avt_main.py", *common, "--testB", "--weights", ckpt, "--save_prefix", "test"], work)
    assert [r.clip for r in read_submission(work / "test" / "submission.csv")] == \
        ["c1_end.mp4", "c1_start.mp4"]
    _run([ROOT / "avt_main.py", *common, "--testB", "--test_dir", "data_C", "--weights", ckpt,
          "--save_prefix", "test2"], work)
    assert (work / "test2" / "submission.csv").read_text() == (work / "test" / "submission.csv").read_text()
    _run([ROOT / "fuse" / "season.py", "--data_root", "data/data_C", "--feat_root", "data/processed/data_C",
          "--clip_seconds", S, "--output", "season.csv", "--quiet"], work)
    assert sorted(r.clip for r in read_submission(work / "season.csv")) == ["c1_end.mp4", "c1_start.mp4"]
