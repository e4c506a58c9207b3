"""The competition metric of SPEC.md section 1 as pure functions.

Per clip ``e = |pred - label|`` seconds; ``score = mean(max(e - tolerance, 0))`` with tolerance 1 s.
Lower is better.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOLERANCE_S = 1.0


def abs_errors(pred: Sequence[float], true: Sequence[float]) -> np.ndarray:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} != label shape {t.shape}")
    return np.abs(p - t)


def score(pred: Sequence[float], true: Sequence[float], tolerance: float = TOLERANCE_S) -> float:
    """Competition score: mean over clips of max(|pred - true| - tolerance, 0)."""
    e = abs_errors(pred, true)
    if e.size == 0:
        return float("nan")
    return float(np.mean(np.maximum(e - tolerance, 0.0)))


def summary(pred: Sequence[float], true: Sequence[float], tolerance: float = TOLERANCE_S) -> dict:
    """Score, MAE, median error and share of clips within 1, 2 and 5 s."""
    e = abs_errors(pred, true)
    if e.size == 0:
        return {"n": 0, "score": float("nan"), "mae": float("nan"), "median": float("nan"),
                "within_1s": float("nan"), "within_2s": float("nan"), "within_5s": float("nan")}
    return {
        "n": int(e.size),
        "score": score(pred, true, tolerance),
        "mae": float(e.mean()),
        "median": float(np.median(e)),
        "within_1s": float(np.mean(e <= 1.0)),
        "within_2s": float(np.mean(e <= 2.0)),
        "within_5s": float(np.mean(e <= 5.0)),
    }
