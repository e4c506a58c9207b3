"""Whole-episode skip timestamps: the library behind predict.py.

    options = skips.PredictOptions(weights=("a.pth",), out="skips_out", formats=("json", "edl"))
    run = skips.predict_episodes(["season1/"], options)   # raises skips.PredictError if it cannot start
    skips.write_outputs(run, options)
    run = skips.predict_library(["Anime/"], options, db="skips.sqlite")   # incremental, per season


The modules, bottom to top: options (PredictOptions and the defaults), prepare (clip windows,
decoding and features, the worker pool), inference (checkpoints and running them), result
(Draft, EpisodeResult, PredictionRun), decide (fusion, confidence, spans, threshold, margin), scan (late
openings), season_mode (theme-song matching), library (the results database), pipeline (predict_episodes,
predict_library), plot and formats (write_outputs).
"""
from skips.formats import write_outputs
from skips.options import PredictOptions
from skips.pipeline import PredictError, predict_episodes, predict_library
from skips.result import PredictionRun

__all__ = ["PredictError", "PredictOptions", "PredictionRun", "predict_episodes", "predict_library",
           "write_outputs"]
