"""Calibrated confidence: a model's raw confidence mapped to the chance that its answer is within
``TOLERANCE_S`` (2 s) of the truth, fitted on the validation split and stored with the checkpoint.

The map is an isotonic (non-decreasing) regression of "answer within 2 s" on the raw confidence
(scikit-learn), kept as breakpoints so that applying it needs only ``numpy.interp``, and blended
with the raw confidence as a prior worth PRIOR_WEIGHT clips:

    cal = fit_calibration(raw_val_conf, abs_val_error)   # {"x": [...], "y": [...], "n": N}
    p = apply_calibration(raw_conf, cal)                  # same shape as raw_conf, in [0, 1]

With no fitted map (an older checkpoint, or no validation clips) the raw confidence is returned.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

TOLERANCE_S = 2.0
PRIOR_WEIGHT = 10.0   # the raw confidence counts as this many validation clips (apply_calibration)


def fit_calibration(raw: Sequence[float], abs_error: Sequence[float]) -> dict | None:
    """Breakpoints of the isotonic map raw confidence -> P(|error| <= TOLERANCE_S); None without data."""
    x = np.asarray(raw, dtype=np.float64).ravel()
    e = np.asarray(abs_error, dtype=np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(e)
    x, e = x[ok], e[ok]
    if x.size == 0:
        return None
    from sklearn.isotonic import IsotonicRegression

    hit = (e <= TOLERANCE_S).astype(np.float64)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(x, hit)
    xs = np.unique(np.concatenate([[0.0], iso.X_thresholds_, [1.0]]))
    return {"x": [round(float(v), 6) for v in xs], "y": [round(float(v), 6) for v in iso.predict(xs)],
            "n": int(x.size), "tolerance_s": TOLERANCE_S}


def apply_calibration(raw: float | np.ndarray, cal: Mapping | None) -> float | np.ndarray:
    """The calibrated confidence (the raw one when ``cal`` is None): the isotonic map blended with
    the raw confidence as a prior worth PRIOR_WEIGHT validation clips,
    ``(n * iso(raw) + PRIOR_WEIGHT * raw) / (n + PRIOR_WEIGHT)``.  A small validation split where
    every answer was right then lifts the confidence instead of flattening it to 1.0, and the
    ranking of the clips (what --min_confidence and the coverage curve rely on) is kept."""
    if not cal:
        return raw
    r = np.asarray(raw, dtype=np.float64)
    n = float(cal.get("n", 0))
    out = (n * np.interp(r, cal["x"], cal["y"]) + PRIOR_WEIGHT * r) / (n + PRIOR_WEIGHT)
    return float(out) if np.ndim(out) == 0 else out
