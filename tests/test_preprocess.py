"""Preprocessing tests: frame timing and letterbox, MFCC, ROI mapping, OCR, resume, bad inputs.

    .venv/bin/python -m pytest -q tests/test_preprocess.py

Clips are made here with the ffmpeg binary from numpy frames (each frame's index stamped as a
4 x 4 grid of black/white cells) so the expected frame for every second is known exactly.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datatools import spec
from datatools.spec import letterbox_geometry
from preprocessing.media import decode_clip, mfcc_from_audio
from preprocessing.text_roi import roi_from_boxes

ROOT = Path(__file__).resolve().parent.parent
BITS = 4  # stamp grid is BITS x BITS cells -> frame indices up to 2**16 - 1


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def stamp(index: int, w: int, h: int) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    for b in range(BITS * BITS):
        if index >> b & 1:
            r, c = divmod(b, BITS)
            img[r * h // BITS:(r + 1) * h // BITS, c * w // BITS:(c + 1) * w // BITS] = 255
    return img


def read_stamp(frame66x88: np.ndarray, src_w: int, src_h: int) -> int:
    geo = letterbox_geometry(src_w, src_h, spec.FRAME_W, spec.FRAME_H)
    g = frame66x88.mean(axis=2)
    value = 0
    for b in range(BITS * BITS):
        r, c = divmod(b, BITS)
        y = int(geo.oy + (r + 0.5) * geo.new_h / BITS)
        x = int(geo.ox + (c + 0.5) * geo.new_w / BITS)
        value |= int(g[y, x] > 128) << b
    return value


def make_clip(path: Path, fps: str = "25", size: tuple[int, int] = (192, 108),
              seconds: float = 6, audio: bool = True, video: bool = True,
              frame_fn=None) -> Path:
    """Encode numpy frames (default: index stamps) + a 440 Hz sine with ffmpeg."""
    w, h = size
    num, _, den = fps.partition("/")
    rate = float(num) / float(den or 1)
    n = int(round(seconds * rate))
    cmd = [ffmpeg(), "-loglevel", "error", "-y"]
    if video:
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", fps, "-i", "-"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    if video:
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p",
                "-g", "30"]
    if audio:
        cmd += ["-c:a", "aac", "-ac", "2"]
    cmd += ["-t", str(seconds), str(path)]
    fn = frame_fn or (lambda i: stamp(i, w, h))
    data = b"".join(fn(i).tobytes() for i in range(n)) if video else None
    subprocess.run(cmd, input=data, check=True)
    return path


# --------------------------------------------------------------------------- letterbox / frames

def test_letterbox_geometry():
    g = letterbox_geometry(1920, 1080, 88, 66)        # 16:9 -> bars top and bottom
    assert (g.new_w, g.new_h, g.ox, g.oy) == (88, 50, 0, 8)
    g = letterbox_geometry(640, 480, 88, 66)          # 4:3 fills the 4:3 canvas
    assert (g.new_w, g.new_h, g.ox, g.oy) == (88, 66, 0, 0)
    g = letterbox_geometry(1080, 1920, 88, 66)        # portrait -> bars left and right
    assert g.new_h == 66 and g.new_w == 37 and g.ox == (88 - 37) // 2 and g.oy == 0
    with pytest.raises(ValueError):
        letterbox_geometry(0, 10, 88, 66)


@pytest.mark.parametrize("fps,num,den", [("25", 25, 1), ("30000/1001", 30000, 1001)])
def test_frame_shown_at_each_second(tmp_path, fps, num, den):
    path = make_clip(tmp_path / "c.mp4", fps=fps, size=(192, 108), seconds=7.5, audio=False)
    S = 10
    d = decode_clip(path, S, want_ocr=False, want_audio=False)
    assert d.frames.shape == (S, 66, 88, 3) and d.frames.dtype == np.uint8
    n_frames = int(round(7.5 * num / den))
    for k in range(S):
        expected = k * num // den            # last frame with pts <= k
        if expected < n_frames:
            assert read_stamp(d.frames[k], 192, 108) == expected, k
        else:
            assert d.frames[k].max() == 0, f"second {k} is past the end and must be black"
    # 16:9 in a 4:3 canvas: black bars of 8 rows top and bottom, picture in between
    shown = d.frames[1:8]  # indices >= 25 light up the lower rows of the stamp too
    assert d.frames[:, :7].max() <= 16 and d.frames[:, 59:].max() <= 16
    assert shown[:, 8:58].max() > 200
    assert d.info["seconds_with_video"] == 8


def test_seek_takes_the_right_seconds(tmp_path):
    path = make_clip(tmp_path / "c.mp4", fps="30000/1001", seconds=9, audio=True)
    d = decode_clip(path, 4, start_s=4.0, want_ocr=False)
    assert [read_stamp(f, 192, 108) for f in d.frames] == [(4 + k) * 30000 // 1001
                                                          for k in range(4)]
    assert abs(len(d.audio) - 4 * spec.SAMPLE_RATE) <= 1


def test_portrait_and_4_3(tmp_path):
    p = make_clip(tmp_path / "p.mp4", size=(108, 192), seconds=2, audio=False)
    d = decode_clip(p, 2, want_ocr=False, want_audio=False)
    geo = letterbox_geometry(108, 192, 88, 66)
    assert d.frames[:, :, :geo.ox - 1].max() <= 16 and d.frames[:, :, geo.ox + geo.new_w + 1:].max() <= 16
    assert read_stamp(d.frames[1], 108, 192) == 25
    q = make_clip(tmp_path / "q.mp4", size=(160, 120), seconds=2, audio=False)
    d = decode_clip(q, 2, want_ocr=False, want_audio=False)
    assert read_stamp(d.frames[1], 160, 120) == 25


# --------------------------------------------------------------------------- MFCC

def test_mfcc_matches_librosa_of_ffmpeg_decode(tmp_path):
    import librosa

    path = make_clip(tmp_path / "a.mp4", seconds=6, audio=True)
    S = 8
    d = decode_clip(path, S, want_frames=False, want_ocr=False)
    ours = mfcc_from_audio(d.audio, S)
    L = S * 22050 // 512 + 3
    assert ours.shape == (20, L) and ours.dtype == np.float32 and L == spec.mfcc_length(S)
    # independent decode: the ffmpeg CLI, mono 22050 Hz float
    raw = subprocess.run([ffmpeg(), "-loglevel", "error", "-i", str(path), "-ac", "1", "-ar",
                          "22050", "-f", "f32le", "-"], capture_output=True, check=True).stdout
    y = np.frombuffer(raw, np.float32)
    ref = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=20, n_fft=2048, hop_length=512)
    n = min(ref.shape[1], int(6 * 22050 / 512)) - 2   # compare where both have real audio
    assert abs(len(d.audio) - len(y)) < 1024
    err = np.abs(ours[:, 2:n] - ref[:, 2:n]).mean()
    assert err < 0.05 * np.abs(ref[:, 2:n]).mean(), err
    # the 2 s past the audio's end are zero padding
    assert np.all(ours[:, int(6 * 22050 / 512) + 3:] == 0)
    assert mfcc_from_audio(np.zeros(0, np.float32), 200).shape == (20, 8616)


def test_no_audio_gives_zero_mfcc():
    assert not mfcc_from_audio(np.zeros(0, np.float32), 5).any()


# --------------------------------------------------------------------------- ROI (pure)

def test_roi_maps_box_through_letterbox():
    # 1920x1080 -> grid 36 x 27: scale 36/1920 = 0.01875, picture rows 3.5.. -> oy = 3
    box = [[960, 540], [1280, 540], [1280, 720], [960, 720]]
    roi = roi_from_boxes([[box], []], (1920, 1080), 3)
    assert roi.shape == (3, 27, 36) and roi.dtype == np.uint8
    geo = letterbox_geometry(1920, 1080, 36, 27)
    ys, xs = np.nonzero(roi[0])
    assert xs.min() == 18 and xs.max() == 23                     # 18.0 .. 24.0 cells
    assert ys.min() == int(540 * geo.sy + geo.oy) and ys.max() == int(np.ceil(720 * geo.sy + geo.oy)) - 1
    assert not roi[1].any() and not roi[2].any()                 # no boxes / past the list


def test_roi_rotated_out_of_image_and_degenerate():
    rotated = [[100, 50], [150, 100], [100, 150], [50, 100]]      # diamond: bounding rect filled
    outside = [[-500, -500], [40, -500], [40, 40], [-500, 40]]    # mostly left/above the frame
    line = [[10, 10], [200, 10], [200, 10], [10, 10]]             # zero height: dropped
    bad = [[float("nan"), 1], [2, 3], [4, 5], [6, 7]]
    roi = roi_from_boxes([[rotated], [outside], [line, bad, []]], (360, 270), 3)
    g = letterbox_geometry(360, 270, 36, 27)
    assert roi[0, 5:15, 5:15].all() and roi[0].sum() == 100        # 50..150 px = cells 5..14
    assert roi[1, 0, 0] == 1 and roi[1].sum() == 16 and g.ox == 0  # clipped to cells 0..3
    assert not roi[2].any()


# --------------------------------------------------------------------------- OCR + ROI

def _text_frame(w: int, h: int, lines: list[tuple[str, int, int]]):
    import cv2

    img = np.zeros((h, w, 3), np.uint8)
    boxes = []
    for text, x, y in lines:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        boxes.append([[x, y - th], [x + tw, y - th], [x + tw, y + base], [x, y + base]])
    return img, boxes


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@pytest.mark.parametrize("backend", ["rapidocr", "easyocr"])
def test_ocr_roi_overlaps_true_text(backend):
    import cv2

    from preprocessing.media import reduced_size
    from preprocessing.ocr import detect_seconds, get_detector

    W, H = 640, 360
    credits, truth = _text_frame(W, H, [("Director  Kenji Sato", 120, 110),
                                        ("Music  Yuki Tanaka", 140, 220)])
    ow, oh = reduced_size(W, H, 480)
    small = cv2.resize(credits, (ow, oh), interpolation=cv2.INTER_AREA)
    blank = np.zeros_like(small)
    seconds, calls = detect_seconds(get_detector(backend, threads=1), [small, small, blank, None],
                                    (W, H))
    assert calls == 2          # the repeated frame reuses the first detection
    roi = roi_from_boxes(seconds, (W, H), 4)
    true_roi = roi_from_boxes([truth], (W, H), 1)[0]
    assert _iou(roi[0], true_roi) > 0.5, (seconds[0], backend)
    assert np.array_equal(roi[0], roi[1])
    assert not roi[2].any() and not roi[3].any()
    # boxes are in source pixels: the first box lies near the first true line
    xs = [p[0] for q in seconds[0] for p in q]
    assert min(xs) < 200 and max(xs) > 350


def test_rapidocr_drops_shape_blobs():
    """PP-OCR's DB detector takes a large hollow rectangle for text (CRAFT does not): the box is
    dropped, the text line beside it is kept."""
    import cv2

    from preprocessing.ocr import drop_blobs, get_detector

    img = np.full((270, 480, 3), (90, 180, 110), np.uint8)
    cv2.rectangle(img, (300, 20), (470, 180), (140, 80, 150), -1)
    cv2.rectangle(img, (370, 30), (450, 145), (120, 180, 130), -1)
    cv2.putText(img, "Music  Yuki Tanaka", (40, 230), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                (255, 255, 255), 2)
    quads = get_detector("rapidocr", threads=1).detect_batch([img])[0]
    assert len(quads) == 1 and quads[0][:, 0].max() < 290 and quads[0][:, 1].min() > 190, quads
    # the rule alone: tall and squarish goes; tall but long (a big title line) and small stay
    sq = lambda w, h: np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)  # noqa: E731
    kept = drop_blobs([sq(160, 150), sq(300, 60), sq(30, 30), sq(60, 46)], 270)
    assert [q[2].tolist() for q in kept] == [[300, 60], [30, 30]]


# --------------------------------------------------------------------------- driver, resume, bad inputs

def _run(argv, capfd):
    from utils.preprocess import main

    rc = main(argv)
    return rc, capfd.readouterr().err


def test_driver_bad_inputs_and_exit_status(tmp_path, capfd):
    data, out = tmp_path / "data", tmp_path / "out"
    (data / "sub").mkdir(parents=True)
    S = 4
    make_clip(data / "sub" / "ok_start.mp4", seconds=4)
    make_clip(data / "short.mp4", seconds=2)                         # padded
    make_clip(data / "long.mkv", seconds=6)                          # truncated
    make_clip(data / "noaudio.mp4", seconds=4, audio=False)          # zeros + warning
    make_clip(data / "odd.mp4", fps="7", size=(130, 98), seconds=4)  # odd fps and size
    make_clip(data / "portrait.mp4", size=(108, 192), seconds=4)
    make_clip(data / "audioonly.mp4", video=False, seconds=4)        # error: no video
    (data / "zero.mp4").write_bytes(b"")                               # error: empty
    (data / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(5000))  # error
    rc, err = _run(["--data_root", str(data), "--save_root", str(out), "--clip_seconds", str(S),
                    "--workers", "2"], capfd)
    assert rc == 1
    assert "done 6, skipped 0" in err and "failed 3" in err
    assert "zero.mp4: empty file" in err and "audioonly.mp4: no video stream" in err
    assert "corrupt.mp4: not a readable media file" in err
    assert "noaudio.mp4: no audio stream" in err
    for stem in ["sub/ok_start", "short", "long", "noaudio", "odd", "portrait"]:
        m = np.load(out / f"{stem}_mfcc.npy")
        f = np.load(out / f"{stem}_frames.npy")
        r = np.load(out / f"{stem}_roi.npy")
        o = json.loads((out / f"{stem}_ocr.json").read_text())
        assert m.shape == (20, spec.mfcc_length(S)) and m.dtype == np.float32
        assert f.shape == (S, 66, 88, 3) and f.dtype == np.uint8
        assert r.shape == (S, 27, 36) and r.dtype == np.uint8 and len(o["seconds"]) == S
    assert not np.load(out / "noaudio_mfcc.npy").any()
    assert np.load(out / "ok_start_mfcc.npy".replace("ok", "sub/ok")).any()
    assert np.load(out / "short_frames.npy")[2:].max() == 0          # 2 s of video, then black
    assert read_stamp(np.load(out / "long_frames.npy")[3], 192, 108) == 75
    assert read_stamp(np.load(out / "odd_frames.npy")[3], 130, 98) == 21
    assert json.loads((out / "odd_ocr.json").read_text())["frame_size"] == [130, 98]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["clip_seconds"] == S and meta["mfcc_length"] == spec.mfcc_length(S)
    assert not list(out.rglob(".*tmp*"))


def test_resume_and_interrupted_write(tmp_path, capfd, monkeypatch):
    import datatools.fileio

    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    for name in ("a", "b"):
        make_clip(data / f"{name}.mp4", seconds=3)
    args = ["--data_root", str(data), "--save_root", str(out), "--clip_seconds", "3",
            "--workers", "1"]
    rc, err = _run(args, capfd)
    assert rc == 0 and "done 2, skipped 0" in err
    rc, err = _run(args, capfd)
    assert rc == 0 and "done 0, skipped 2" in err
    before = (out / "b_mfcc.npy").stat().st_mtime_ns
    (out / "a_roi.npy").unlink()
    rc, err = _run(args, capfd)
    assert rc == 0 and "done 1, skipped 1" in err and (out / "a_roi.npy").is_file()
    assert (out / "b_mfcc.npy").stat().st_mtime_ns == before

    # an interrupted write (the rename never happens) leaves no final-named file and no temp
    (out / "b_frames.npy").unlink()
    real = datatools.fileio.os.replace

    def boom(src, dst):
        if str(dst).endswith("_frames.npy"):
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(datatools.fileio.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        _run(args, capfd)
    monkeypatch.setattr(datatools.fileio.os, "replace", real)
    assert not (out / "b_frames.npy").exists() and not list(out.glob(".*"))
    rc, err = _run(args, capfd)
    assert rc == 0 and "done 1, skipped 1" in err and (out / "b_frames.npy").is_file()
    # a different clip length in the same folder is refused
    with pytest.raises(SystemExit, match="clip_seconds"):
        _run(args[:-4] + ["--clip_seconds", "5"], capfd)


@pytest.mark.parametrize("script", ["utils/preprocess.py", "utils/extract_audio.py",
                                    "utils/extract_video.py", "utils/text_extract.py",
                                    "utils/extract_textROI.py"])
def test_scripts_run_as_file_and_module(script):
    for cmd in ([sys.executable, script, "--help"],
                [sys.executable, "-m", script[:-3].replace("/", "."), "--help"]):
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert "--data_root" in res.stdout and "--shard" in res.stdout


def test_single_stage_scripts(tmp_path):
    from utils.extract_audio import main as audio_main
    from utils.extract_textROI import main as roi_main
    from utils.extract_video import main as video_main
    from utils.text_extract import main as ocr_main

    data, out = tmp_path / "d", tmp_path / "o"
    data.mkdir()
    make_clip(data / "x.mp4", seconds=2)
    base = ["--data_root", str(data), "--save_root", str(out), "--clip_seconds", "2",
            "--workers", "1"]
    assert roi_main(base) == 1 and not (out / "x_roi.npy").exists()   # needs the OCR file first
    for fn, suffix in [(audio_main, "_mfcc.npy"), (video_main, "_frames.npy"),
                       (ocr_main, "_ocr.json"), (roi_main, "_roi.npy")]:
        assert fn(base) == 0 and (out / f"x{suffix}").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "x_frames.npy", "x_mfcc.npy",
                                                      "x_ocr.json", "x_roi.npy"]


# --------------------------------------------------------------------------- with datatools.synth

def _synth(tmp_path_factory, name: str, fps: str, size: tuple[int, int], **kw) -> list[Path]:
    synth = pytest.importorskip("datatools.synth", reason="datatools.synth not available")
    out = tmp_path_factory.mktemp(name)
    synth.generate_dataset(
        out,
        series=1,
        episodes=1,
        clip_seconds=10,
        seed=3,
        progress=False,
        difficulty="easy",
        resolutions=(size,),
        fps_choices=(fps,),
        **kw,
    )
    return sorted(out.glob("*.mp4"))


@pytest.mark.parametrize("fps,size", [("25", (320, 180)), ("29.97", (320, 240))])
def test_synth_stamped_frames(tmp_path_factory, fps, size):
    from datatools.synth import FPS_CHOICES, decode_stamp

    rate = FPS_CHOICES[fps][0]
    for video in _synth(tmp_path_factory, "stamp", fps, size, stamp_frames=True):
        d = decode_clip(video, 12, want_ocr=False, want_audio=False)
        got = [decode_stamp(f, size) for f in d.frames[:10]]
        assert got == [int(math.floor(k * rate + 1e-6)) for k in range(10)], video.name
        assert d.frames[10:].max() == 0            # S = 12 > 10 s of video: black padding
        if size == (320, 180):                     # 16:9 -> bars in the 4:3 canvas
            assert d.frames[:, :7].max() <= 16 and d.frames[:, 59:].max() <= 16


def test_synth_roi_vs_true_text(tmp_path_factory):
    from preprocessing.ocr import DEFAULT_BACKEND, detect_seconds, get_detector

    ious = []
    for video in _synth(tmp_path_factory, "text", "29.97", (320, 240), text_truth=True):
        t = json.loads(video.with_name(video.stem + "_text.json").read_text())
        true_roi = roi_from_boxes([[[[a, b], [c, e]] for a, b, c, e in bx] for bx in t["boxes"]],
                                  (t["width"], t["height"]), 10)
        d = decode_clip(video, 10, want_frames=False, want_audio=False)
        size = (d.info["width"], d.info["height"])
        secs, _ = detect_seconds(get_detector(DEFAULT_BACKEND, 1), d.ocr_frames, size)
        roi = roi_from_boxes(secs, size, 10)
        ious += [_iou(roi[k], true_roi[k]) for k in range(10) if true_roi[k].any()]
    assert len(ious) >= 3 and np.mean(ious) > 0.5 and min(ious) > 0.3, ious
