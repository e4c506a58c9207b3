"""Calibrated confidence: a model's raw confidence mapped to the chance that its answer is within
``TOLERANCE_S`` (2 s) of the truth, fitted on held-out clips and stored with the checkpoint.

Two maps, both non-decreasing (the ranking of the clips is kept):

- ``"isotonic"`` (training runs, on their validation split): an isotonic regression of "answer
  within 2 s" on the raw confidence (scikit-learn), kept as breakpoints so that applying it needs
  only ``numpy.interp``, and blended with the raw confidence as a prior worth PRIOR_WEIGHT clips;
- ``"platt"`` (the shipped model, on its ~120 calibration clips of held-out series): a logistic
  regression of "within 2 s" on logit(raw), ``sigmoid(a * logit(raw) + b)``.  Two parameters
  instead of a step function: on a set this small the isotonic steps follow single clips (one map
  jumped from 0.80 to 0.93 between two neighbouring raw values), a logistic curve does not.

    cal = fit_calibration(raw_conf, abs_error)               # {"x": [...], "y": [...], "n": N}
    cal = fit_calibration(raw_conf, abs_error, "platt")      # {"method": "platt", "a": ..., "b": ..., "n": N}
    p = apply_calibration(raw_conf, cal)                     # same shape as raw_conf, in [0, 1]

With no fitted map (an older checkpoint, or no held-out clips) the raw confidence is returned.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

TOLERANCE_S = 2.0
PRIOR_WEIGHT = 10.0   # the raw confidence counts as this many validation clips (apply_calibration)
METHODS = ("isotonic", "platt")
LOGIT_EPS = 1e-4      # raw confidences are clipped to [eps, 1 - eps] before the logit (platt)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.log(q / (1.0 - q))


def fit_calibration(raw: Sequence[float], abs_error: Sequence[float],
                    method: str = "isotonic") -> dict | None:
    """The map raw confidence -> P(|error| <= TOLERANCE_S) by ``method`` (see the module docstring);
    None without data.  A Platt fit on clips that were all right (or all wrong), or whose slope
    comes out <= 0 (a higher raw confidence would mean less), falls back to the isotonic map."""
    if method not in METHODS:
        raise ValueError(f"calibration method {method!r}: one of {', '.join(METHODS)}")
    x = np.asarray(raw, dtype=np.float64).ravel()
    e = np.asarray(abs_error, dtype=np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(e)
    x, e = x[ok], e[ok]
    if x.size == 0:
        return None
    hit = (e <= TOLERANCE_S).astype(np.float64)
    if method == "platt" and 0.0 < hit.mean() < 1.0:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1.0).fit(_logit(x)[:, None], hit)
        if lr.coef_[0, 0] > 0:
            a, b = round(float(lr.coef_[0, 0]), 6), round(float(lr.intercept_[0]), 6)
            return {"method": "platt", "a": a, "b": b, "n": int(x.size), "tolerance_s": TOLERANCE_S}
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(x, hit)
    xs = np.unique(np.concatenate([[0.0], iso.X_thresholds_, [1.0]]))
    return {"x": [round(float(v), 6) for v in xs], "y": [round(float(v), 6) for v in iso.predict(xs)],
            "n": int(x.size), "tolerance_s": TOLERANCE_S}


def apply_calibration(raw: float | np.ndarray, cal: Mapping | None) -> float | np.ndarray:
    """The calibrated confidence (the raw one when ``cal`` is None).  Platt: ``sigmoid(a *
    logit(raw) + b)``.  Isotonic: the map blended with the raw confidence as a prior worth
    PRIOR_WEIGHT validation clips, ``(n * iso(raw) + PRIOR_WEIGHT * raw) / (n + PRIOR_WEIGHT)``: a
    small validation split where every answer was right then lifts the confidence instead of
    flattening it to 1.0, and the ranking of the clips (what --min_confidence and the coverage curve
    rely on) is kept."""
    if not cal:
        return raw
    r = np.asarray(raw, dtype=np.float64)
    if cal.get("method") == "platt":
        out = 1.0 / (1.0 + np.exp(-(float(cal["a"]) * _logit(r) + float(cal["b"]))))
        return float(out) if np.ndim(out) == 0 else out
    n = float(cal.get("n", 0))
    out = (n * np.interp(r, cal["x"], cal["y"]) + PRIOR_WEIGHT * r) / (n + PRIOR_WEIGHT)
    return float(out) if np.ndim(out) == 0 else out
