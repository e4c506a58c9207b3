"""The models of a run: which checkpoints (given, the shipped model, or none), loading them on a
device with one clip length S, and running them on prepared windows (clip-time answers, per-second
scores and, for the dense kind, confidences and segment probabilities).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skips.prepare import WINDOWS, Prepared


@dataclass
class LoadedModel:
    path: str
    model: Any
    meta: dict[str, Any]


SHIPPED_DIR = Path(__file__).resolve().parent.parent / "models" / "shipped"   # the model in the box


def resolve_weights(given: Sequence[str] | None) -> list[str]:
    """The checkpoints to run: as given; ``None`` (no --weights) the shipped model's (every ``*.pth``
    of SHIPPED_DIR, an ensemble when several); ``["none"]`` none at all (season mode alone).
    FileNotFoundError when the shipped model is missing."""
    if given is not None:
        return [] if [g.lower() for g in given] == ["none"] else list(given)
    found = sorted(str(p) for p in SHIPPED_DIR.glob("*.pth"))
    if not found:
        raise FileNotFoundError(
            f"{SHIPPED_DIR}: no shipped model (*.pth); rebuild it with "
            "`python -m bench.train_shipped`, or give --weights CKPT (or --weights none --season)"
        )
    return found


def model_dir(given: Sequence[str] | None) -> Path | None:
    """The model folder these --weights are, or None: none given means the shipped model's
    (SHIPPED_DIR); otherwise the one folder whose ``*.pth`` are exactly the given checkpoints, by any
    path (a folder ``python -m bench.train_shipped --ship_to DIR`` wrote, the shipped one included)."""
    if given is None:
        return SHIPPED_DIR
    paths = {Path(g).resolve() for g in given}      # ["none"] names no checkpoint of any folder
    folders = {p.parent for p in paths}
    if len(folders) != 1:
        return None
    folder = folders.pop()
    return folder if {p.resolve() for p in folder.glob("*.pth")} == paths else None


def model_season_rule(given: Sequence[str] | None) -> Path | None:
    """The season rule fitted with these weights on their held-out series (``season_rule.json`` in
    their model folder), or None: a rule is fitted against one model's confidence and goes with it."""
    folder = model_dir(given)
    rule = folder / "season_rule.json" if folder is not None else None
    return rule if rule is not None and rule.is_file() else None


def model_notes(models: Sequence[LoadedModel]) -> list[str]:
    """What a user should know about the checkpoints before trusting the answers."""
    from models.checkpoint import segment_head_trained
    from models.kinds import offers

    if not models:
        return ["no model (--weights none): season mode alone; a boundary is answered only where a sibling "
                "episode's theme-song match decides it, and the JSON says so per boundary"]
    notes = []
    for m in models:
        if offers(m.meta.get("kind"), "segment_head") and not segment_head_trained(m.meta):
            notes.append(
                f"{m.path}: its segment head was never trained (no spans.json beside its label files, or "
                "a checkpoint from before this was recorded): it neither caps confidences nor measures "
                "OP start / ED end / preview (assumed lengths are used)"
            )
    return notes


def load_models(weights: Sequence[str], device: Any) -> tuple[list[LoadedModel], int]:
    """Load every checkpoint; all must share one clip length S (returned).  Raises
    models.checkpoint.CheckpointError / ValueError with the files named."""
    from models.checkpoint import load_checkpoint_model

    loaded = []
    for w in weights:
        model, meta = load_checkpoint_model(w, device)
        loaded.append(LoadedModel(str(w), model, meta))
    lengths = {m.path: int(m.meta["clip_seconds"]) for m in loaded}
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{p} (S={s})" for p, s in lengths.items())
        raise ValueError(f"the checkpoints disagree on the clip length S: {listing}; "
                         f"give checkpoints trained with one --clip_seconds")
    return loaded, next(iter(lengths.values()))


def run_batch(models: Sequence[LoadedModel], features: Sequence[dict[str, np.ndarray]],
              kinds: Sequence[str], clip_seconds: int, device: Any) -> list[dict[str, Any]]:
    """Each model on a batch of clips (``features[i]`` of clip type ``kinds[i]``, "start"/"end").
    Per model: ``seconds``, ``per_second`` (and ``confidence``, ``present``, ``posterior``, the
    boundary's (S,), and ``segments``, the per-second segment probabilities (K, S), for kinds that
    give them), each a list in batch order."""
    from models.checkpoint import segment_head_trained
    from models.dense import recover_missed
    from models.inputs import predict_seconds

    batch = {k: np.stack([f[k] for f in features]) for k in ("mfcc", "frames", "roi")}
    batch["is_end"] = np.array([c == "end" for c in kinds], np.float32)
    out = []
    for m in models:
        norm = m.meta.get("normalization") or "unit"
        r = predict_seconds(m.model, batch, norm, clip_seconds, device)
        out.append({"seconds": [float(x) for x in r["seconds"]], "per_second": list(r["per_second"])})
        for key in ("confidence", "present"):
            if key in r:
                out[-1][key] = [float(x) for x in r[key]]
        if "posterior" in r:
            out[-1]["posterior"] = list(r["posterior"])
        if "segments" in r and segment_head_trained(m.meta):   # an untrained head says nothing
            out[-1]["segments"] = list(r["segments"])
            recover_missed(out[-1], kinds)   # models.dense: a boundary the state head missed
    return out


def run_models(models: Sequence[LoadedModel], prepared: Prepared, clip_seconds: int,
               device: Any) -> list[dict[str, Any]]:
    """Each model on the episode's two clips (one batch of 2).  Per model: clip-time seconds
    and per-second scores for "start" and "end"."""
    raw = run_batch(models, [prepared.features[c] for c in WINDOWS], WINDOWS, clip_seconds, device)
    return [{k: dict(zip(WINDOWS, v)) for k, v in r.items()} for r in raw]

