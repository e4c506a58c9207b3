"""Decode a clip once with PyAV: 1-fps frames (letterboxed 66x88 and a reduced copy for OCR) and
mono 22 050 Hz audio, all in memory (no temp wav, no intermediate video).

The frame kept for second k is the one *shown* at t = start_s + k: the last frame whose
presentation time is <= that instant.  Seconds past the end of the video are black.  Also holds
the MFCC; the letterbox geometry is the frame rule of datatools/spec.py (letterbox_geometry).

    from preprocessing.media import decode_clip, mfcc_from_audio
    clip = decode_clip("ep01_start.mp4", clip_seconds=200)          # whole clip
    tail = decode_clip("episode.mkv", 200, start_s=duration - 200)   # last 200 s of an episode
    mfcc = mfcc_from_audio(clip.audio, 200)                          # float32 (20, 8616)

No command of its own; used by preprocessing/stages.py (the utils/ scripts) and predict.py.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datatools.spec import (
    FRAME_H,
    FRAME_W,
    HOP_LENGTH,
    N_FFT,
    N_MFCC,
    SAMPLE_RATE,
    Letterbox,
    letterbox_geometry,
    mfcc_length,
)

# A frame whose timestamp lies this little after t = k still counts as shown at k: container time
# bases (e.g. 1/1000 s in Matroska) round presentation times by up to half a tick.
PTS_EPS = 5e-4
DEFAULT_OCR_SIZE = 480  # long side of the frames handed to the text detector


class ClipDecodeError(RuntimeError):
    """The file cannot be used: unreadable, no video stream, no decodable frame."""


def paste_letterbox(resized: np.ndarray, geo: Letterbox, dst_h: int, dst_w: int) -> np.ndarray:
    """Place an already resized (geo.new_h, geo.new_w, 3) picture on a black (dst_h, dst_w, 3)."""
    out = np.zeros((dst_h, dst_w, 3), np.uint8)
    out[geo.oy:geo.oy + geo.new_h, geo.ox:geo.ox + geo.new_w] = resized
    return out


def reduced_size(src_w: int, src_h: int, long_side: int) -> tuple[int, int]:
    """(w, h) with the long side at most ``long_side`` (never upscaled), even numbers for swscale."""
    scale = min(1.0, long_side / max(src_w, src_h))
    return max(2, round(src_w * scale / 2) * 2), max(2, round(src_h * scale / 2) * 2)


@dataclass
class DecodedClip:
    frames: np.ndarray            # uint8 (S, 66, 88, 3) letterboxed, black past the end
    ocr_frames: list              # S entries: uint8 (h, w, 3) reduced RGB frame, or None (no video)
    audio: np.ndarray             # float32 mono at 22 050 Hz, at most S seconds (may be empty)
    info: dict = field(default_factory=dict)  # width, height, fps, seconds_with_video, has_audio, ...


def _open(path: str | os.PathLike):
    import av

    p = Path(path)
    if not p.is_file():
        raise ClipDecodeError("no such file")
    if p.stat().st_size == 0:
        raise ClipDecodeError("empty file (0 bytes)")
    try:
        return av.open(str(p))
    except av.error.FFmpegError as exc:
        raise ClipDecodeError(f"not a readable media file ({exc.__class__.__name__}: "
                              f"{getattr(exc, 'strerror', None) or exc})") from None


def decode_clip(path: str | os.PathLike, clip_seconds: int, start_s: float = 0.0,
                want_frames: bool = True, want_ocr: bool = True, want_audio: bool = True,
                ocr_size: int = DEFAULT_OCR_SIZE, threads: int = 0) -> DecodedClip:
    """Decode ``clip_seconds`` seconds from ``start_s`` in one pass over the container.

    ``threads``: decoder threads per clip (0 = FFmpeg's choice; use 1 inside a process pool).
    Raises ClipDecodeError (one-line reason) when the file is unusable; a missing audio track
    gives empty audio and ``info["has_audio"] = False``; a missing video track is an error when
    frames or OCR frames are wanted."""
    import av

    S = int(clip_seconds)
    need_video = want_frames or want_ocr
    container = _open(path)
    try:
        vstream = container.streams.video[0] if container.streams.video else None
        astream = container.streams.audio[0] if container.streams.audio else None
        if need_video and vstream is None:
            raise ClipDecodeError("no video stream")
        info: dict = {"has_audio": astream is not None, "has_video": vstream is not None,
                      "start_s": float(start_s), "clip_seconds": S}
        streams = []
        if need_video:
            vstream.thread_type = "AUTO" if threads != 1 else "SLICE"
            vstream.codec_context.thread_count = threads
            streams.append(vstream)
            cc = vstream.codec_context
            info.update(width=cc.width, height=cc.height,
                        fps=float(vstream.average_rate or vstream.guessed_rate or 0))
        if want_audio and astream is not None:
            streams.append(astream)
        if not streams:
            return DecodedClip(np.zeros((S, FRAME_H, FRAME_W, 3), np.uint8), [None] * S,
                               np.zeros(0, np.float32), info)

        # Time origin: the stream's own start (containers may not start at 0).
        ref = vstream if vstream is not None else astream
        origin = float(ref.start_time * ref.time_base) if ref.start_time is not None else 0.0
        t0 = origin + float(start_s)
        if start_s > 0:
            # Seek to the keyframe before t0; frames before t0 are decoded and dropped below.
            # av.time_base is AV_TIME_BASE, the integer 1 000 000 (ticks per second)
            container.seek(int(round(t0 * av.time_base)), backward=True, any_frame=False)

        vsel = _FramePicker(S, t0, want_frames, want_ocr, ocr_size) if need_video else None
        aacc = _AudioCollector(t0, S) if (want_audio and astream is not None) else None
        n_errors = 0
        for packet in container.demux(streams):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                n_errors += 1  # one damaged packet must not end the clip
                continue
            for fr in frames:
                if vsel is not None and packet.stream is vstream:
                    vsel.push(fr)
                elif aacc is not None and packet.stream is astream:
                    aacc.push(fr)
            if (vsel is None or vsel.done) and (aacc is None or aacc.done):
                break
        if vsel is not None:
            vsel.finish()
            if vsel.n_seen == 0:
                raise ClipDecodeError("no decodable video frame" +
                                      (f" ({n_errors} damaged packets)" if n_errors else ""))
            info["seconds_with_video"] = vsel.seconds_with_video
            info["frames_decoded"] = vsel.n_seen   # from the keyframe the seek landed on
            if vsel.size is not None:
                info["width"], info["height"] = vsel.size
        audio = aacc.finish() if aacc is not None else np.zeros(0, np.float32)
        info["audio_seconds"] = len(audio) / SAMPLE_RATE
        info["damaged_packets"] = n_errors
        frames = vsel.frames if (vsel is not None and want_frames) else \
            np.zeros((S, FRAME_H, FRAME_W, 3), np.uint8)
        ocr = vsel.ocr if (vsel is not None and want_ocr) else [None] * S
        return DecodedClip(frames, ocr, audio, info)
    finally:
        container.close()


class _FramePicker:
    """Keeps, for each second k, the last frame with time <= t0 + k (frames arrive in pts order
    after decoding; a frame is only known to be 'the last' once the next one passes t0 + k)."""

    def __init__(self, S: int, t0: float, want_frames: bool, want_ocr: bool, ocr_size: int):
        self.S, self.t0 = S, t0
        self.want_frames, self.want_ocr, self.ocr_size = want_frames, want_ocr, ocr_size
        self.frames = np.zeros((S, FRAME_H, FRAME_W, 3), np.uint8)
        self.ocr: list = [None] * S
        self.k = 0                  # next second to fill
        self.prev = None            # last frame seen (not yet converted)
        self.prev_t = None
        self.frame_dur = None
        self.n_seen = 0
        self.seconds_with_video = 0
        self.size = None
        self._geo = None

    @property
    def done(self) -> bool:
        return self.k >= self.S

    def push(self, fr) -> None:
        t = fr.time
        if t is None:  # no timestamp: assume constant rate after the previous frame
            t = (self.prev_t + (self.frame_dur or 0.04)) if self.prev_t is not None else self.t0
        self.n_seen += 1
        if self.prev_t is not None and t > self.prev_t:
            self.frame_dur = t - self.prev_t
        while self.k < self.S and t > self.t0 + self.k + PTS_EPS:
            if self.prev is not None:
                self._emit(self.k, self.prev)
            elif t - (self.t0 + self.k) < 0.5:
                # The stream's first frame comes a moment after t = k: players show it then.
                self._emit(self.k, fr)
            self.k += 1
        self.prev, self.prev_t = fr, t

    def finish(self) -> None:
        # The last frame stays on screen for one frame duration; later seconds stay black.
        if self.prev is None:
            return
        end = self.prev_t + (self.frame_dur or 1e-3)
        while self.k < self.S and self.t0 + self.k < end - PTS_EPS:
            self._emit(self.k, self.prev)
            self.k += 1

    def _emit(self, k: int, fr) -> None:
        if self._geo is None:
            self.size = (fr.width, fr.height)
            self._geo = letterbox_geometry(fr.width, fr.height, FRAME_W, FRAME_H)
            self._ocr_wh = reduced_size(fr.width, fr.height, self.ocr_size)
        if self.want_frames:
            small = fr.reformat(width=self._geo.new_w, height=self._geo.new_h, format="rgb24",
                                interpolation="AREA").to_ndarray()
            self.frames[k] = paste_letterbox(small, self._geo, FRAME_H, FRAME_W)
        if self.want_ocr:
            w, h = self._ocr_wh
            self.ocr[k] = fr.reformat(width=w, height=h, format="rgb24",
                                      interpolation="AREA").to_ndarray()
        self.seconds_with_video += 1


class _AudioCollector:
    """Resamples to mono 22 050 Hz float32 and keeps [t0, t0 + S)."""

    def __init__(self, t0: float, S: int):
        import av

        self.t0, self.S = t0, S
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        self.chunks: list[np.ndarray] = []
        self.first_t = None
        self.n = 0
        self.need = S * SAMPLE_RATE

    @property
    def done(self) -> bool:
        return self.first_t is not None and self.n - self._lead() >= self.need

    def _lead(self) -> int:
        # samples decoded before t0 (negative: audio starts after t0 and gets zeros in front)
        return round((self.t0 - self.first_t) * SAMPLE_RATE)

    def push(self, fr) -> None:
        if self.first_t is None:
            self.first_t = fr.time if fr.time is not None else self.t0
        for out in self.resampler.resample(fr):
            self._add(out)

    def _add(self, out) -> None:
        a = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        self.chunks.append(a)
        self.n += len(a)

    def finish(self) -> np.ndarray:
        for out in self.resampler.resample(None):
            self._add(out)
        if not self.chunks:
            return np.zeros(0, np.float32)
        a = np.concatenate(self.chunks)
        lead = self._lead()
        a = a[lead:] if lead >= 0 else np.concatenate([np.zeros(-lead, np.float32), a])
        return np.ascontiguousarray(a[:self.need])


def mfcc_from_audio(audio: np.ndarray, clip_seconds: int) -> np.ndarray:
    """float32 (20, L) MFCC (librosa, hop 512, n_fft 2048), zero-padded/truncated to
    L = mfcc_length(S); all zeros when there is no audio."""
    L = mfcc_length(clip_seconds)
    out = np.zeros((N_MFCC, L), np.float32)
    if audio.size == 0:
        return out
    import librosa

    m = librosa.feature.mfcc(y=np.asarray(audio, np.float32), sr=SAMPLE_RATE, n_mfcc=N_MFCC,
                             n_fft=N_FFT, hop_length=HOP_LENGTH)
    n = min(L, m.shape[1])
    out[:, :n] = m[:, :n]
    return out


def warn(path: str | os.PathLike, message: str) -> None:
    """One-line per-clip warning on stderr (works from pool workers too)."""
    print(f"warning: {path}: {message}", file=sys.stderr, flush=True)
