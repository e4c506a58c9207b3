"""Preprocessing benchmark (not a test): our one-pass driver vs the published approach.

On synthetic 200 s clips at 640x360, 25 fps (datatools.synth, with true text boxes) it reports
  * seconds of video processed per wall-clock second by utils/preprocess.py on all cores;
  * the share of time per stage (decode, MFCC, OCR, ROI, writing) measured on one clip;
  * the published approach on the same clips in the same run (every frame decoded to RGB, audio
    through a temporary wav, EasyOCR/CRAFT at full resolution on every second), single process
    using every core via torch threads, and the speed ratio;
  * ROI agreement: mean IoU per second (seconds where either map has text) of ours vs baseline,
    and of each vs the generator's true text boxes;
  * with --compare_backends, OCR-only speed and ROI IoU vs truth of each backend at --ocr_size.

    .venv/bin/python bench/preprocess_bench.py --clips 4 --baseline_clips 1
    .venv/bin/python bench/preprocess_bench.py --clips 2 --baseline_clips 0 --compare_backends
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from datatools import spec
from preprocessing.text_roi import roi_from_boxes


def make_data(root: Path, clips: int, S: int, seed: int) -> list[Path]:
    from datatools.synth import generate_dataset

    have = sorted(root.glob("*.mp4"))
    if len(have) < clips:
        generate_dataset(root, series=1, episodes=math.ceil(clips / 2), clip_seconds=S, seed=seed,
                         text_truth=True, workers=os.cpu_count() or 1,
                         resolutions=((640, 360),), fps_choices=("25",), difficulty="easy")
        have = sorted(root.glob("*.mp4"))
    return have[:clips]


def truth_roi(video: Path, S: int) -> np.ndarray:
    t = json.loads(video.with_name(video.stem + "_text.json").read_text())
    secs = [[[[x0, y0], [x1, y1]] for x0, y0, x1, y1 in b] for b in t["boxes"]]
    return roi_from_boxes(secs, (t["width"], t["height"]), S)


def mean_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Mean per-second IoU over seconds where either map has text (nan if none)."""
    vals = []
    for x, y in zip(a.astype(bool), b.astype(bool)):
        u = np.logical_or(x, y).sum()
        if u:
            vals.append(np.logical_and(x, y).sum() / u)
    return float(np.mean(vals)) if vals else float("nan")


def run_ours(videos: list[Path], out: Path, S: int, workers: int, backend: str, ocr_size: int) -> float:
    data = out / "data"
    data.mkdir(parents=True)
    for v in videos:
        os.symlink(v.resolve(), data / v.name)  # absolute: a relative target would dangle
    cmd = [sys.executable, "-m", "utils.preprocess", "--data_root", str(data), "--save_root",
           str(out / "proc"), "--clip_seconds", str(S), "--workers", str(workers),
           "--ocr_backend", backend, "--ocr_size", str(ocr_size)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parent.parent)
    return time.perf_counter() - t


def stage_shares(video: Path, S: int, backend: str, ocr_size: int, threads: int) -> dict[str, float]:
    """Seconds per stage on one clip, one process (the detector is loaded beforehand)."""
    from datatools.fileio import atomic_save_npy, atomic_write_json
    from preprocessing.media import decode_clip, mfcc_from_audio
    from preprocessing.ocr import detect_seconds, get_detector

    det = get_detector(backend, threads)
    tm: dict[str, float] = {}
    t = time.perf_counter()
    d = decode_clip(video, S, ocr_size=ocr_size, threads=threads)
    tm["decode"] = time.perf_counter() - t
    t = time.perf_counter()
    m = mfcc_from_audio(d.audio, S)
    tm["mfcc"] = time.perf_counter() - t
    t = time.perf_counter()
    size = (d.info["width"], d.info["height"])
    secs, calls = detect_seconds(det, d.ocr_frames, size)
    tm["ocr"] = time.perf_counter() - t
    t = time.perf_counter()
    r = roi_from_boxes(secs, size, S)
    tm["roi"] = time.perf_counter() - t
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as td:
        atomic_save_npy(Path(td) / "m.npy", m)
        atomic_save_npy(Path(td) / "f.npy", d.frames)
        atomic_save_npy(Path(td) / "r.npy", r)
        atomic_write_json(Path(td) / "o.json", {"seconds": secs})
    tm["write"] = time.perf_counter() - t
    tm["detector_calls"] = calls
    return tm


def baseline_clip(video: Path, S: int) -> tuple[np.ndarray, float]:
    """The published approach: decode and convert every frame at full size, keep one per second,
    audio via ffmpeg to a temp wav + librosa.load, EasyOCR CRAFT at full resolution each second."""
    import av
    import imageio_ffmpeg
    import librosa

    from preprocessing.ocr import get_detector

    det = get_detector("easyocr")  # loaded before timing (as a long batch job would)
    t = time.perf_counter()
    per_sec: list = [None] * S
    with av.open(str(video)) as c:
        for fr in c.decode(video=0):
            img = fr.to_ndarray(format="rgb24")     # every frame converted, as a 1-fps re-encode does
            k = int(round(fr.time * 25))
            if k % 25 == 0 and k // 25 < S:
                per_sec[k // 25] = img
    with tempfile.TemporaryDirectory() as td:
        wav = Path(td) / "a.wav"
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(video),
                        "-vn", "-ac", "1", "-ar", "22050", str(wav)], check=True)
        y, _ = librosa.load(wav, sr=22050)
        librosa.feature.mfcc(y=y, sr=22050, n_mfcc=20, n_fft=2048, hop_length=512)
    secs = []
    for img in per_sec:
        secs.append([] if img is None else [q.tolist() for q in det.detect_batch([img])[0]])
    wall = time.perf_counter() - t
    h, w = next(i for i in per_sec if i is not None).shape[:2]
    return roi_from_boxes(secs, (w, h), S), wall


def compare_backends(videos: list[Path], S: int, ocr_size: int, threads: int) -> dict:
    from preprocessing.media import decode_clip
    from preprocessing.ocr import detect_seconds, get_detector

    res: dict = {}
    decoded = [decode_clip(v, S, want_frames=False, want_audio=False, ocr_size=ocr_size)
               for v in videos]
    rois = {}
    for name in ("rapidocr", "easyocr"):
        det = get_detector(name, threads)
        t = time.perf_counter()
        rois[name] = []
        n = 0
        for _v, d in zip(videos, decoded):
            size = (d.info["width"], d.info["height"])
            secs, calls = detect_seconds(det, d.ocr_frames, size, reuse_diff=0)  # every second
            n += calls
            rois[name].append(roi_from_boxes(secs, size, S))
        wall = time.perf_counter() - t
        res[name] = {"frames_per_s": n / wall,
                     "iou_vs_truth": float(np.nanmean([mean_iou(r, truth_roi(v, S))
                                                       for r, v in zip(rois[name], videos)]))}
    res["iou_rapidocr_vs_easyocr"] = float(np.nanmean([mean_iou(a, b) for a, b in
                                                       zip(rois["rapidocr"], rois["easyocr"])]))
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=4, help="clips for our driver (default: 4)")
    p.add_argument("--baseline_clips", type=int, default=1,
                   help="of those, clips also run through the slow published approach (default: 1)")
    p.add_argument("--clip_seconds", type=int, default=200, help="clip length S (default: 200)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="driver processes (default: every core, here %(default)s)")
    p.add_argument("--ocr_backend", default="rapidocr", help="our backend (default: rapidocr)")
    p.add_argument("--ocr_size", type=int, default=480, help="our OCR long side (default: 480)")
    p.add_argument("--compare_backends", action="store_true",
                   help="also time rapidocr vs easyocr at --ocr_size (every second) and IoU vs truth")
    p.add_argument("--data", default="work_dir/bench_preprocess",
                   help="folder for the synthetic clips, reused between runs")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    p.add_argument("--out", default=None,
                   help="also write the report as JSON with the command, commit, machine and date "
                        "(the table in docs/benchmarks.md reads bench/results/preprocess_bench.json)")
    args = p.parse_args(argv)
    S = args.clip_seconds
    videos = make_data(Path(args.data), args.clips, S, args.seed)
    report: dict = {"clips": len(videos), "clip_seconds": S, "workers": args.workers,
                    "ocr_backend": args.ocr_backend, "ocr_size": args.ocr_size,
                    "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="ppbench_") as td:
        wall = run_ours(videos, Path(td), S, args.workers, args.ocr_backend, args.ocr_size)
        report["ours_wall_s"] = wall
        report["ours_video_s_per_s"] = len(videos) * S / wall
        ours = {v.stem: np.load(Path(td) / "proc" / f"{v.stem}{spec.ROI_SUFFIX}") for v in videos}
    report["ours_iou_vs_truth"] = float(np.nanmean([mean_iou(ours[v.stem], truth_roi(v, S))
                                                    for v in videos]))
    tm = stage_shares(videos[0], S, args.ocr_backend, args.ocr_size, threads=0)
    total = sum(v for k, v in tm.items() if k != "detector_calls")
    report["stage_seconds_one_clip"] = {k: round(v, 3) for k, v in tm.items()}
    report["stage_share"] = {k: round(v / total, 3) for k, v in tm.items() if k != "detector_calls"}
    if args.baseline_clips > 0:
        walls, ious, ious_t = [], [], []
        for v in videos[:args.baseline_clips]:
            roi, w = baseline_clip(v, S)
            walls.append(w)
            ious.append(mean_iou(ours[v.stem], roi))
            ious_t.append(mean_iou(roi, truth_roi(v, S)))
        report["baseline_video_s_per_s"] = len(walls) * S / sum(walls)
        report["speedup"] = report["ours_video_s_per_s"] / report["baseline_video_s_per_s"]
        report["roi_iou_ours_vs_baseline"] = float(np.nanmean(ious))
        report["baseline_iou_vs_truth"] = float(np.nanmean(ious_t))
    if args.compare_backends:
        report["backends"] = compare_backends(videos[:2], S, args.ocr_size, threads=0)
    print(json.dumps(report, indent=1))
    if args.out:
        from datatools.fileio import atomic_write_json
        from workflow.provenance import provenance
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            Path(args.out),
            {**provenance(None if argv is None else ["bench/preprocess_bench.py", *argv]), **report},
            indent=1,
        )
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
