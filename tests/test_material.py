"""Tests of real material for the generator (datatools/synth/material.py, datatools/synth/material_media.py).

    .venv/bin/python -m pytest -q tests/test_material.py

A small material folder is made inside each test from numpy (tones as "music", noise pictures as
backgrounds, a disc with a transparent surround as a sprite): the index's hashes, kinds and
duplicates, the split by source, the refusal of reserved sources and of a folder with nothing
usable, and the generator drawing only from the split it is given, with theme songs identical
across the episodes of a series.
"""
from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from datatools.synth.material import (
    MATERIAL_FILE,
    MaterialError,
    forbidden,
    index_folder,
    load_pool,
    main,
    read_index,
    render_speech_bank,
)

SR = 22050


def _music(path, seconds, freq, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    y = 0.3 * np.sin(2 * np.pi * freq * t) * (
        1 + 0.5 * np.sin(2 * np.pi * 2 * t)
    ) + 0.02 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), SR)


def _background(path, w, h, seed):
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


def _sprite(path, size, seed):
    rng = np.random.default_rng(seed)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, 3)
    yy, xx = np.mgrid[:size, :size]
    rgba[..., 3] = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 2.5) ** 2) * 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(path)


def make_material(root, sources=("alpha", "beta", "gamma")):
    """Three sources, each with two 40-s tracks, two backgrounds and two sprites."""
    for i, name in enumerate(sources):
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "LICENSE").write_text("CC0-1.0\n")
        for k in range(2):
            _music(root / name / "music" / f"t{k}.wav", 40.0, 220 * (i + 1) + 55 * k, seed=10 * i + k)
            _background(root / name / "bg" / f"b{k}.png", 320, 200, 100 * i + k)
            _sprite(root / name / "sp" / f"s{k}.png", 96, 200 * i + k)
    return root


def test_index_measures_hashes_and_keeps_one_copy(tmp_path):
    root = make_material(tmp_path / "mat")
    shutil.copyfile(root / "alpha" / "music" / "t0.wav", root / "beta" / "music" / "copy.wav")  # a duplicate
    _music(root / "alpha" / "sfx.wav", 3.0, 880)  # a sound effect
    _background(root / "alpha" / "icon.png", 32, 32, 5)                                          # an icon
    index = index_folder(root, {"alpha": "train", "beta": "train", "gamma": "test"}, progress=False)
    assert (root / MATERIAL_FILE).is_file() and read_index(root)["content_hash"] == index["content_hash"]
    by_path = {f["path"]: f for f in index["files"]}
    e = by_path["alpha/music/t0.wav"]
    assert e["sha1"] == hashlib.sha1((root / "alpha/music/t0.wav").read_bytes()).hexdigest()
    assert e["kind"] == "music" and abs(e["duration"] - 40.0) < 0.01 and -30 < e["rms_db"] < -5
    assert "beta/music/copy.wav" not in by_path and index["skipped"]["duplicate content"] == 1
    assert "alpha/sfx.wav" not in by_path and "alpha/icon.png" not in by_path
    assert by_path["alpha/bg/b0.png"]["kind"] == "background"
    assert by_path["alpha/sp/s0.png"]["kind"] == "sprite" and 0.3 < by_path["alpha/sp/s0.png"]["clear"] < 0.8
    assert index["sources"]["alpha"]["licence"] == "CC0-1.0"
    assert index["sources"]["gamma"]["split"] == "test" and index["sources"]["beta"]["music"] == 2


def test_pool_holds_only_its_split(tmp_path):
    root = make_material(tmp_path / "mat")
    index_folder(root, {"alpha": "train", "beta": "calib", "gamma": "test"}, progress=False)
    load_pool.cache_clear()
    for split, source in (("train", "alpha"), ("calib", "beta"), ("test", "gamma")):
        pool = load_pool(str(root), split)
        got = {f["source"] for f in pool.music + pool.backgrounds + pool.sprites}
        assert got == {source}
    assert len(load_pool(str(root), "all").music) == 6
    with pytest.raises(MaterialError, match="split 'nope'"):
        load_pool(str(root), "nope")


def test_refuses_reserved_sources_and_empty_folders(tmp_path):
    assert forbidden("wesnoth-music") and forbidden("wesnoth-1.16-data") and forbidden("warzone2100-music")
    assert forbidden("asc-music") and forbidden("colobot-common-sounds") and not forbidden("naev-data")
    root = make_material(tmp_path / "mat", ("alpha",))
    shutil.copytree(root / "alpha", root / "wesnoth-music")
    with pytest.raises(MaterialError, match="wesnoth-music.*reserved"):
        index_folder(root, progress=False)
    empty = tmp_path / "empty"
    (empty / "src").mkdir(parents=True)
    (empty / "src" / "readme.txt").write_text("nothing here\n")
    _music(empty / "src" / "beep.wav", 2.0, 440)
    with pytest.raises(MaterialError, match="no usable file"):
        index_folder(empty, progress=False)
    assert main(["index", str(empty), "--no_progress"]) == 2
    assert main(["index", str(tmp_path / "missing"), "--no_progress"]) == 2


def test_generator_draws_from_its_split_only(tmp_path):
    from datatools.synth import SynthConfig, build_episode, generate_dataset, plan_dataset
    from datatools.synth.material_media import song_excerpt
    root = make_material(tmp_path / "mat")
    index_folder(root, {"alpha": "train", "beta": "train", "gamma": "test"}, progress=False)
    load_pool.cache_clear()
    song_excerpt.cache_clear()
    spans = generate_dataset(tmp_path / "test", series=2, episodes=2, clip_seconds=20, seed=3, workers=1,
                             progress=False, render_fps=2, material=str(root), material_split="test")
    assert spans["material"]["split"] == "test"
    tracks = [t for e in spans["episodes"].values() for t in e["material_tracks"].values()]
    assert tracks and {t["source"] for t in tracks} == {"gamma"}
    # a series' theme songs are the same recording, at the same place, in every episode
    eps = list(spans["episodes"].values())
    by_theme = {}   # (series, ED theme): a cour change gives a series a new ED
    for e in eps:
        by_theme.setdefault((e["series"], e["ed_theme"]), []).append(e["material_tracks"]["ed"])
    assert any(len(v) > 1 for v in by_theme.values())
    assert all(t == v[0] for v in by_theme.values() for t in v)
    # ... and sample-identical in the rendered audio (the ED song heard in both episodes)
    plan = plan_dataset(SynthConfig(clip_seconds=20, seed=3, material=str(root), material_split="test"), 2, 2)
    a, b = [build_episode(p) for p in plan.episodes[:2]]
    assert a.plan.series.index == b.plan.series.index and a.plan.spans["ed_theme"] == b.plan.spans["ed_theme"]
    got = []
    for ep in (a, b):
        sp = ep.plan.spans
        lo, hi = sp["ed_song_span"]
        n = int(0.5 * SR)
        start = round((lo + hi) / 2 * SR)
        mix = ep.audio(start, n)
        got.append(mix)
    # the song dominates both mixes at the same song time: strongly correlated
    c = np.corrcoef(got[0], got[1])[0, 1]
    assert c > 0.9, c
    assert (tmp_path / "test" / "labels.txt").read_text().split()


def test_synth_cli_refuses_a_split_without_material(tmp_path, capsys):
    from datatools.synth import main as synth_main
    root = make_material(tmp_path / "mat", ("alpha",))
    index_folder(root, {"alpha": "train"}, progress=False)
    load_pool.cache_clear()
    rc = synth_main(["--out", str(tmp_path / "o"), "--series", "1", "--episodes", "1", "--clip_seconds", "20",
                     "--material", str(root), "--material_split", "test", "--no_progress"])
    assert rc == 2 and "split 'test' has 0 music" in capsys.readouterr().err


def test_speech_bank_renders_lines(tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip(
            "espeak-ng is not installed (.ci/run installs it from Debian); it renders the speech bank"
        )
    n = render_speech_bank(tmp_path, ["espeak-ng:en"], lines_per_voice=2)
    files = sorted((tmp_path / "speech-espeak-ng-en").glob("*.flac"))
    assert n == 2 and len(files) == 2
    y, sr = sf.read(files[0])
    assert sr == SR and 0.3 < len(y) / sr < 15 and 0.85 < np.abs(y).max() <= 0.91
