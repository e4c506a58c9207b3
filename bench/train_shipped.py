"""Rebuild the model that ships in models/shipped/ (predict.py's default), stage by stage, resumable.

    make material                          # once: the free Debian music and art, indexed (work_dir/material)
    python -m bench.train_shipped          # every stage below; rerun to resume after an interruption
    python -m bench.train_shipped --members 5 --epochs 60 --out work_dir/shipped_big   # bigger, e.g. on a GPU

Stages (each skipped when its output is complete):
1. data:       realistic episodes at S = 200 with every realistic knob at its default, late openings
               (``--late_op_prob 0.25``) and cour changes: ``data_A/train`` from the *train* split of
               the material (datatools/synth/material.py), ``data_B`` with the generator's own synthetic
               sounds and pictures (so the model also knows them);
2. preprocess: ``utils.preprocess`` (MFCC, frames, OCR boxes, text ROI);
3. train:      ``avt_dense_main.py`` once per member seed (side by side, one thread each), the dense
               per-second kind with its segment head and windows without a boundary;
4. calibrate:  episodes of *other series* made from the *calib* split (sources neither trained on nor
               tested on): the members as one ensemble (models.dense.DenseEnsemble) on their clips,
               and the map raw confidence -> P(within 2 s) fitted there (CALIBRATION: a Platt
               logistic curve; grouped by series: no series of these is a training series);
5. export:     ``models/shipped/avt_dense_general.pth``: the ensemble's weights, the calibration, the
               recipe, the commit and the material's content hash (no optimiser state);
6. evaluate:   zero-shot on episodes made from the *test* split (unseen sources and series): score,
               MAE, median, within 1/2/5 s per clip type and hard case, the reliability table and the
               share of answers at confidence >= 0.9 that are within 2 s;
7. card:       ``models/shipped/MODEL_CARD.md`` from the result files in ``models/shipped/results/``.

Wall times go to ``<out>/timings.json`` and into the card.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from datatools.fileio import atomic_write_json, atomic_write_text, read_metrics
from workflow.stages import banner
from workflow.stages import run as run_step  # one runner for every pipeline script

ROOT = Path(__file__).resolve().parent.parent

SHIPPED = ROOT / "models" / "shipped"
WEIGHTS = SHIPPED / "avt_dense_general.pth"
RESULTS = SHIPPED / "results"
CARD = SHIPPED / "MODEL_CARD.md"
SEASON_RULE = SHIPPED / "season_rule.json"   # predict.py --season's rule with the shipped model
MAX_BYTES = 5 * 1024 * 1024
BINS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0001)   # reliability table: confidence bins
CALIBRATION = "platt"   # models.calibration's map on the ~120 calibration clips (see fit_calibration)


@dataclass(frozen=True)
class Recipe:
    clip_seconds: int = 200
    material_series: int = 300      # data_A/train: series of 2 episodes from the train split
    material_episodes: int = 2
    synth_series: int = 25          # data_B: the generator's own sounds and pictures
    synth_episodes: int = 2
    late_op_prob: float = 0.25
    eyecatch_prob: float = 0.0      # layouts real anime has (issue 43): 0 keeps the shipped build's data
    black_break_prob: float = 0.0
    calib_style: int = 0            # 1: the calibration series in CALIB_STYLE (0: as the training series)
    seed: int = 102
    calib_series: int = 30
    calib_episodes: int = 2
    calib_seed: int = 301
    test_series: int = 12
    test_episodes: int = 3
    test_lone: int = 6
    test_seed: int = 401
    render_fps: float = 5.0
    preset: str = "full"
    members: int = 4
    epochs: int = 24
    batch_size: int = 8
    lr: float = 2e-3
    shift_aug: int = 66


# The calibration series' style when ``calib_style`` is 1 (issue 43: calibrate the confidence on series
# that differ from the training series in style, not only in material).  Every phenomenon that moves or
# hides a boundary is drawn at a rate between the generator's default (the training series) and the
# shift family's (bench/season_episodes_bench.SHIFT_KNOBS, which stays unseen: it is judged, never
# fitted on), at frame sizes that neither uses.  Fixed 2026-12-07 before any figure of it existed.
CALIB_STYLE = dict(
    recap_prob=0.3, op_lead_prob=0.4, op_narration_prob=0.25, op_ring_prob=0.35, ed_lead_prob=0.45,
    ed_fade_in_prob=0.25, ed_dialogue_over_prob=0.3, long_tail_prob=0.5, action_scene_prob=0.25,
    montage_scene_prob=0.12, loud_bgm_prob=0.45, reprise_prob=0.35, body_insert_song_prob=0.3,
    body_text_prob=0.45, burned_subs_prob=0.4, lyrics_prob=0.45, eyecatch_prob=0.4, black_break_prob=0.4,
)
CALIB_STYLE_SIZES = "352x198,256x192"


def style_args(knobs: dict, sizes: str) -> list:
    """The generator's flags for a style: each knob, and the frame sizes."""
    return [x for k, v in knobs.items() for x in (f"--{k}", v)] + ["--resolutions", sizes]


def run(cmd: list, out: Path | None = None) -> None:
    """workflow.stages.run, and the command kept in ``<out>/commands.json`` (the model card lists them)."""
    run_step(cmd)
    out = out or RUN_OUT[0]
    log = out / "commands.json"
    done = json.loads(log.read_text(encoding="utf-8")) if log.is_file() else []
    text = " ".join(_shown(c) for c in cmd)
    if text not in done:
        atomic_write_json(log, done + [text], indent=1)


RUN_OUT: list[Path] = [ROOT / "work_dir" / "shipped"]   # set by main


def _shown(c) -> str:
    """A command word as a reader can rerun it: the interpreter as ``python``, paths relative to the
    repository where they lie inside it."""
    t = str(c)
    if t == sys.executable:
        return "python"
    try:
        return str(Path(t).resolve().relative_to(ROOT)) if Path(t).is_absolute() else t
    except ValueError:
        return t


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def synth(out: Path, material: Path | None, split: str | None, series: int, episodes: int, seed: int,
          r: Recipe, lone: int = 0, style: list | None = None) -> None:
    if (out / "spans.json").is_file() and (out / ".complete").is_file():
        print(f"{out}: generated earlier, skipping")
        return
    cmd = [sys.executable, "-m", "datatools.synth", "--out", out, "--series", series, "--episodes", episodes,
           "--lone_episodes", lone, "--clip_seconds", r.clip_seconds, "--seed", seed, "--render_fps",
           r.render_fps, "--late_op_prob", r.late_op_prob]
    for knob in ("eyecatch_prob", "black_break_prob"):   # only where set: the commands stay as they were
        if getattr(r, knob):
            cmd += [f"--{knob}", getattr(r, knob)]
    if material is not None:
        cmd += ["--material", material, "--material_split", split]
    run(cmd + list(style or []))   # a style's flags come last: they override the recipe's knobs
    atomic_write_text(out / ".complete", "ok\n")


def preprocess(data: Path, r: Recipe, fingerprint: bool = False) -> None:
    run([sys.executable, "-m", "utils.preprocess", "--data_root", data, "--save_root", data / "processed",
         "--clip_seconds", r.clip_seconds, *(["--with_fingerprint"] if fingerprint else [])])


def member_dirs(out: Path, r: Recipe) -> list[Path]:
    return [out / "runs" / f"dense_seed{10 + i}" for i in range(r.members)]


def member_memory(out: Path) -> int:
    """Bytes one training process is expected to hold at its peak: the features it caches in RAM
    (datatools.dataset picks RAM when they need under a quarter of the memory) with room for the
    batch copies and the model (measured: 5.4 GiB of features, 6.5-8.1 GiB resident)."""
    feats = sum(f.stat().st_size for f in (out / "data" / "processed").rglob("*") if f.is_file())
    return int(feats * 1.5) + (512 << 20)


def members_at_once(out: Path, r: Recipe, requested: int) -> int:
    """--parallel: the members trained side by side; 0 = as many as the memory holds (at least 1)."""
    if requested > 0:
        return min(requested, r.members)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 8 << 30
    return max(1, min(r.members, int(0.9 * total) // max(1, member_memory(out))))


def exit_reason(code: int) -> str:
    if code >= 0:
        return f"exit status {code}"
    if code == -9:
        return ("killed by SIGKILL, most often the kernel's out-of-memory killer "
                "(train fewer members at once: --parallel 1)")
    return f"killed by signal {-code}"


def stage_train(out: Path, r: Recipe, threads: int, parallel: int = 0) -> None:
    """The members side by side, one process each, at most ``members_at_once`` running (resumable:
    --resume auto; a member whose last epoch is saved is skipped)."""
    todo = []
    for i, d in enumerate(member_dirs(out, r)):
        if (d / f"avnet_epoch{r.epochs}.pth").is_file():
            print(f"{d}: trained earlier, skipping")
            continue
        todo.append((i, d))
    at_once = members_at_once(out, r, parallel)
    if todo:
        print(f"training {len(todo)} member(s), {at_once} at once "
              f"(~{member_memory(out) / 2 ** 30:.1f} GiB each; --parallel to change)", flush=True)
    running, failed = [], []
    while todo or running:
        while todo and len(running) < at_once:
            running.append(start_member(out, r, threads, *todo.pop(0)))
        time.sleep(2)
        for job in [j for j in running if j[0].poll() is not None]:
            p, log, d = job
            log.close()
            running.remove(job)
            if p.returncode != 0:
                failed.append(f"{d}: {exit_reason(p.returncode)} (see {d / 'console.log'})")
                print(f"train_shipped: {failed[-1]}", file=sys.stderr, flush=True)
    if failed:
        raise SystemExit("train_shipped: training failed: " + "; ".join(failed))


def member_train_time(run: Path) -> dict:
    """A member's epochs and the sum of their times (training + validation) from its metrics.csv, which
    carries over a stop and resume, where a stage's wall time counts only the run that completed it."""
    rows = read_metrics(run / "metrics.csv")
    if not rows:
        return {}
    return {"epochs_run": len(rows), "train_s": round(sum(float(x["time_s"]) for x in rows), 1)}


def start_member(out: Path, r: Recipe, threads: int, i: int, d: Path):
    d.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "avt_dense_main.py",
        "--data_root",
        out / "data",
        "--preset",
        r.preset,
        "--clip_seconds",
        r.clip_seconds,
        "--max_epoch",
        r.epochs,
        "--warmup_epochs",
        max(1, r.epochs // 8),
        "--batch_size",
        r.batch_size,
        "--lr",
        r.lr,
        "--shift_aug",
        r.shift_aug,
        "--num_workers",
        0,
        "--device",
        "cpu",
        "--show_freq",
        1000,
        "--seed",
        10 + i,
        "--save_prefix",
        d,
        "--resume",
        "auto",
    ]
    print("$ " + " ".join(map(str, cmd)) + f"  > {d / 'console.log'}", flush=True)
    log_cmd = out / "commands.json"
    done = json.loads(log_cmd.read_text(encoding="utf-8")) if log_cmd.is_file() else []
    text = f"OMP_NUM_THREADS={threads} " + " ".join(_shown(c) for c in cmd)
    if text not in done:
        atomic_write_json(log_cmd, done + [text], indent=1)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    log = open(d / "console.log", "ab")
    proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log, d


def ensemble(out: Path, r: Recipe, which: str = "avnet_bestmodel.pth"):
    """(model, meta) of the members as one DenseEnsemble, in eval mode on the CPU."""
    import torch

    from models.checkpoint import read_checkpoint
    from models.config import ModelConfig
    from models.kinds import build_model

    ckpts = [read_checkpoint(d / which) for d in member_dirs(out, r)]
    cfg = replace(ModelConfig.from_dict(ckpts[0]["config"]), dense_members=len(ckpts))
    model = build_model("dense", cfg, r.clip_seconds)
    for m, c in zip(model.members, ckpts):
        m.load_state_dict(c["model"])
    meta = {
        "kind": "dense",
        "preset": ckpts[0]["preset"],
        "config": cfg.to_dict(),
        "clip_seconds": r.clip_seconds,
        "normalization": ckpts[0]["normalization"],
        "segment_clips": min(int(c.get("segment_clips") or 0) for c in ckpts),
        "members": [
            {"run": str(d.relative_to(out)), "epoch": int(c["epoch"]), "validation": c.get("validation"),
             **({"origin": c["origin"]} if c.get("origin") else {})}   # a member taken from an earlier build
            for d, c in zip(member_dirs(out, r), ckpts)
        ],
    }
    return model.eval().to(torch.device("cpu")), meta


def clip_answers(model, data: Path, S: int, keep_segments: bool = False) -> list[dict]:
    """The model on every clip a dataset's spans.json lists (labelled clips and start windows without
    an OP end): clip, series, flags, truth (None: no OP end in the window), answer, raw confidence and
    the segment head's support for the answer; for an end clip also the preview the segment head
    measures (``preview``, clip seconds, with its mean preview probability ``preview_share``; None
    when it sees none, as predict.py decodes it) and the true preview start (``preview_truth``, None:
    no preview in the clip).  ``keep_segments``: also the segment probabilities (``segments``, K x S),
    the boundary posterior (``posterior``, S) and the true outer edge in clip seconds (``outer_truth``:
    OP start / ED end, None when the episode has none)."""
    from models.dense import decode_spans, recover_missed, segment_support
    from models.inputs import predict_seconds

    spans = json.loads((data / "spans.json").read_text(encoding="utf-8"))
    feat = data / "processed"
    rows, batch_meta, batch = [], [], []

    def flush():
        if not batch:
            return
        arrays = {k: np.stack([b[k] for b in batch]) for k in ("mfcc", "frames", "roi")}
        arrays["is_end"] = np.array([m["kind"] == "end" for m in batch_meta], np.float32)
        res = predict_seconds(model, arrays, "unit", S)
        if "segments" in res:   # as predict.py answers (skips.inference.run_batch)
            recover_missed(res, [m["kind"] for m in batch_meta])
        for i, m in enumerate(batch_meta):
            sup = (
                segment_support(res["segments"][i], m["kind"], float(res["seconds"][i]))
                if "segments" in res
                else 1.0
            )
            rows.append(
                {
                    **m,
                    "answer": round(float(res["seconds"][i]), 3),
                    "raw": round(float(res["confidence"][i]), 5),
                    "support": round(sup, 5),
                }
            )
            if m["kind"] == "end" and "segments" in res:
                got = decode_spans(res["segments"][i], "end", float(res["seconds"][i]))
                pv, share = got["preview"], got["preview_share"]
                rows[-1]["preview"] = None if pv is None else [round(float(x), 3) for x in pv]
                rows[-1]["preview_share"] = None if share is None else round(share, 5)
            if keep_segments and "segments" in res:
                rows[-1]["segments"] = np.asarray(res["segments"][i])
            if keep_segments and "posterior" in res:
                rows[-1]["posterior"] = np.asarray(res["posterior"][i])
        batch.clear()
        batch_meta.clear()

    for ep in spans["episodes"].values():
        for kind in ("start", "end"):
            c = ep["clips"][kind]
            stem = Path(c["file"]).stem
            if c["label"] is None and not (kind == "start" and ep.get("late_op")):
                continue      # a premiere without an opening: no truth to score either way
            batch.append({k: np.load(feat / f"{stem}_{k}.npy") for k in ("mfcc", "frames", "roi")})
            batch_meta.append({"clip": stem, "kind": kind, "series": ep["series"], "truth": c["label"],
                               "flags": c.get("flags", [])})
            if keep_segments:
                edge = ep.get("op_start" if kind == "start" else "ed_end")
                batch_meta[-1]["outer_truth"] = None if edge is None else round(edge - c["offset"], 3)
            if kind == "end":
                pv = (ep.get("preview") or [None])[0]
                inside = pv is not None and 0.0 <= pv - c["offset"] < S
                batch_meta[-1]["preview_truth"] = round(pv - c["offset"], 3) if inside else None
            if len(batch) == 16:
                flush()
    flush()
    return rows


def errors(rows: list[dict], S: int) -> np.ndarray:
    """|answer - truth|, and S for a window without an OP end (any answer there is wrong)."""
    return np.array([abs(r["answer"] - r["truth"]) if r["truth"] is not None else float(S) for r in rows])


def preview_errors(rows: list[dict], S: int) -> tuple[np.ndarray, np.ndarray]:
    """(preview_share, |measured - true preview start|) of the end clips where the segment head
    measured a preview; S where the clip has no preview (the measured one is wrong)."""
    got = [r for r in rows if r.get("preview")]
    share = np.array([r["preview_share"] for r in got], dtype=np.float64)
    err = np.array([abs(r["preview"][0] - r["preview_truth"]) if r["preview_truth"] is not None else float(S)
                    for r in got], dtype=np.float64)
    return share, err


def final_confidence(rows: list[dict], cal: dict | None) -> np.ndarray:
    """What predict.py reports: the calibrated confidence, vetoed where the segment head contradicts
    the answer (models.dense.supported_confidence)."""
    from models.calibration import apply_calibration
    from models.dense import supported_confidence
    conf = np.asarray(apply_calibration(np.array([r["raw"] for r in rows]), cal), dtype=np.float64)
    return np.array([supported_confidence(c, r["support"]) for c, r in zip(conf, rows)])


def reliability(conf: np.ndarray, err: np.ndarray) -> list[dict]:
    out = []
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        m = (conf >= lo) & (conf < hi)
        out.append({"bin": [lo, min(hi, 1.0)], "n": int(m.sum()),
                    "mean_confidence": round(float(conf[m].mean()), 4) if m.any() else None,
                    "within_2s": round(float((err[m] <= 2.0).mean()), 4) if m.any() else None})
    return out


def stage_calibrate(out: Path, r: Recipe) -> dict:
    model, meta = ensemble(out, r)
    res = fit_confidence(model, out / "calib", r.clip_seconds)
    atomic_write_json(out / "calibration.json", res, indent=1)
    # the season rule (offsets, evidence-bin reliabilities, song-length bounds) on the same held-out series
    run(
        [
            sys.executable,
            "fuse/season.py",
            "--feat_root",
            out / "calib" / "processed",
            "--clip_seconds",
            r.clip_seconds,
            "--quiet",
            "--fit_labels",
            out / "calib" / "labels.txt",
            "--save_offsets",
            out / "season_rule.json",
        ]
    )
    return res


def fit_confidence(model, data: Path, S: int) -> dict:
    """The map raw confidence -> P(within 2 s) (CALIBRATION) of ``model`` on the clips of ``data`` (a
    preprocessed set of series it never trained on), and the preview's; with the reliability tables
    before and after and every clip's row."""
    from models.calibration import apply_calibration, fit_calibration

    rows = clip_answers(model, data, S)
    err = errors(rows, S)
    cal = fit_calibration([x["raw"] for x in rows], err, CALIBRATION)
    share, pv_err = preview_errors(rows, S)
    pv_cal = fit_calibration(share, pv_err, CALIBRATION)
    pv_conf = np.asarray(apply_calibration(share, pv_cal), np.float64)
    res = {"n_clips": len(rows), "n_series": len({x["series"] for x in rows}), "calibration": cal,
           "reliability_raw": reliability(np.array([x["raw"] for x in rows]), err),
           "reliability_calibrated": reliability(final_confidence(rows, cal), err),
           "preview_calibration": pv_cal,
           "preview_reliability": reliability(pv_conf, pv_err) if share.size else [],
           "rows": rows}
    return res


def stage_export(out: Path, r: Recipe, material: Path, timings: dict, dest: Path = SHIPPED) -> None:
    """The ensemble, its calibration and season rule and build.json into the model folder ``dest``
    (models/shipped by default; another folder holds a candidate to compare before shipping it)."""
    import torch

    from datatools.synth.material import read_index
    from models.checkpoint import save_checkpoint

    model, meta = ensemble(out, r)
    calib = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    state = {
        **meta,
        "model": model.state_dict(),
        "calibration": calib["calibration"],
        "preview_calibration": calib.get("preview_calibration"),
        "epoch": None,
        "best_score": None,
        "shipped": {
            "recipe": asdict(r),
            "commit": git_commit(),
            "material_content_hash": read_index(material).get("content_hash"),
            "built": time.strftime("%Y-%m-%d %H:%M:%S"),
            "calibrated_on": "calib split (other sources, other series)",
        },
    }
    weights = dest / WEIGHTS.name
    dest.mkdir(parents=True, exist_ok=True)
    save_checkpoint(weights, state)
    import shutil
    # a rule fitted on whole calibration seasons (bench/season_episodes_bench.py --stage fit: the head
    # windows predict.py --season matches) is kept; the clip set's fit only fills an empty folder
    rule = dest / SEASON_RULE.name
    if not (rule.is_file() and "fitted_on" in json.loads(rule.read_text(encoding="utf-8"))):
        shutil.copyfile(out / "season_rule.json", rule)
    size = weights.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{weights}: {size / 1e6:.1f} MB, over the 5 MB the repository ships")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {weights} ({size / 1e6:.2f} MB, {n_params} parameters)")
    index = read_index(material)
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                 f":!{SHIPPED.relative_to(ROOT)}"], cwd=ROOT,   # not what export writes
                                capture_output=True, text=True).stdout.strip())
    build = {
        "recipe": asdict(r),
        "commit": state["shipped"]["commit"],
        "dirty": dirty,
        "built": state["shipped"]["built"],
        "parameters": n_params,
        "bytes": size,
        "seeds": [10 + i for i in range(r.members)],
        "members": meta["members"],
        "material": {"content_hash": index.get("content_hash"), "sources": index["sources"]},
        "data": data_counts(out),
        "timings": timings,
        "commands": json.loads((out / "commands.json").read_text(encoding="utf-8"))
        if (out / "commands.json").is_file()
        else [],
    }
    results = dest / RESULTS.name
    results.mkdir(parents=True, exist_ok=True)
    atomic_write_json(results / "build.json", build, indent=1)
    del torch


def data_counts(out: Path) -> dict:
    """Clips and series of the training, calibration and test sets (from their spans.json)."""
    def spans(folder):
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("spans.json"))
                if "processed" not in p.parts]
    res = {}
    for name, folder in (("train", out / "data"), ("calib", out / "calib"), ("test", out / "test")):
        eps = [(i, e) for i, doc in enumerate(spans(folder)) for e in doc["episodes"].values()]
        labelled = sum(c["label"] is not None for _, e in eps for c in e["clips"].values())
        windows = sum(1 for _, e in eps if e["clips"]["start"]["label"] is None and e.get("late_op"))
        res[f"{name}_clips"] = labelled + (windows if name == "train" else 0)
        res[f"{name}_labelled"] = labelled
        res[f"{name}_windows"] = windows
        res[f"{name}_series"] = len({(i, e["series"]) for i, e in eps})
    return res


def zero_shot_summary(rows: list[dict], meta: dict, S: int) -> dict:
    """Scores of ``clip_answers`` rows (all, per clip type and per phenomenon flag), the reliability of
    the confidence predict.py reports (calibrated with ``meta``'s calibration, vetoed by the segment
    head), what confidence >= 0.9 keeps, the windows without an OP end it claims, and every row."""
    from datatools.metric import summary

    err = errors(rows, S)
    conf = final_confidence(rows, meta.get("calibration"))
    labelled = [i for i, x in enumerate(rows) if x["truth"] is not None]
    groups: dict[str, list[int]] = {"all": labelled, "s": [i for i in labelled if rows[i]["kind"] == "start"],
                                    "e": [i for i in labelled if rows[i]["kind"] == "end"]}
    for i in labelled:
        for f in rows[i]["flags"]:
            groups.setdefault(f, []).append(i)
    scores = {g: summary([rows[i]["answer"] for i in idx], [rows[i]["truth"] for i in idx])
              for g, idx in groups.items() if idx}
    windows = [i for i, x in enumerate(rows) if x["truth"] is None]
    sure = conf >= 0.9
    return {"n_clips": len(labelled), "n_series": len({rows[i]["series"] for i in labelled}),
            "scores": scores, "reliability": reliability(conf[labelled], err[labelled]),
            "at_0.9": {"answered": round(float(sure[labelled].mean()), 4),
                       "within_2s": round(float((err[labelled][sure[labelled]] <= 2.0).mean()), 4)
                       if sure[labelled].any() else None},
            "windows_without_op_end": {"n": len(windows), "claimed_at_0.9": int(sure[windows].sum()),
                                       "claimed_at_0.5": int((conf[windows] >= 0.5).sum())},
            "rows": [{**x, "confidence": round(float(c), 4)} for x, c in zip(rows, conf)]}


def stage_evaluate(out: Path, r: Recipe, dest: Path = SHIPPED) -> dict:
    """Zero-shot on the test split, through the exported file in ``dest`` (what predict.py loads);
    for a candidate folder, printed beside the shipped model's committed figures."""
    from models.checkpoint import load_checkpoint_model

    model, meta = load_checkpoint_model(dest / WEIGHTS.name, "cpu")
    rows = clip_answers(model, out / "test", r.clip_seconds)
    res = {"commit": git_commit(), **zero_shot_summary(rows, meta, r.clip_seconds)}
    results = dest / RESULTS.name
    results.mkdir(parents=True, exist_ok=True)
    atomic_write_json(results / "zero_shot_test.json", res, indent=1)
    cal = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    atomic_write_json(results / "calibration.json", {k: v for k, v in cal.items() if k != "rows"}, indent=1)
    print(zero_shot_line(str(dest), res))
    shipped = RESULTS / "zero_shot_test.json"
    if dest.resolve() != SHIPPED.resolve() and shipped.is_file():
        print(zero_shot_line("shipped", json.loads(shipped.read_text(encoding="utf-8"))))
    return res


def zero_shot_line(name: str, res: dict) -> str:
    """One line of a zero-shot result: score, median, within 2 s, and what confidence >= 0.9 keeps."""
    a, sure = res["scores"]["all"], res["at_0.9"]
    kept = "-" if sure["within_2s"] is None else f"{sure['within_2s']:.0%}"
    return (f"{name}: {res['n_clips']} clips of {res['n_series']} unseen series: score {a['score']:.2f} s, "
            f"median {a['median']:.2f} s, within 2 s {a['within_2s']:.0%}; at confidence >= 0.9 "
            f"{sure['answered']:.0%} answered, {kept} of them within 2 s")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--material", default=str(ROOT / "work_dir" / "material"), help="material folder (make material)"
    )
    p.add_argument("--out", default=str(ROOT / "work_dir" / "shipped"), help="working folder (resumable)")
    p.add_argument("--stages", default="data,preprocess,train,calibrate,export,evaluate,card",
                   help="comma-separated stages to run, in order")
    p.add_argument("--threads", type=int, default=1, help="torch threads per training process")
    p.add_argument("--parallel", type=int, default=0,
                   help="members trained at once (0: as many as the memory holds, each caching its "
                        "features in RAM)")
    p.add_argument("--ship_to", default=str(SHIPPED),
                   help="model folder the export and evaluate stages write (weights, season rule, results); "
                        "another folder keeps a candidate beside the shipped model to compare first "
                        f"(predict.py --weights DIR/{WEIGHTS.name} uses its season rule too)")
    g = p.add_argument_group("recipe (the shipped model's values by default)")
    for f in fields(Recipe):
        g.add_argument(f"--{f.name}", type=type(f.default), default=f.default)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    r = Recipe(**{f.name: getattr(args, f.name) for f in fields(Recipe)})
    out, material = Path(args.out).resolve(), Path(args.material).resolve()
    ship_to = Path(args.ship_to).resolve()
    out.mkdir(parents=True, exist_ok=True)
    RUN_OUT[0] = out
    rec = out / "recipe.json"
    if rec.is_file() and json.loads(rec.read_text(encoding="utf-8")) != asdict(r):
        raise SystemExit(f"{out} was built with another recipe ({rec}); pass another --out")
    atomic_write_json(rec, asdict(r), indent=1)
    tfile = out / "timings.json"
    timings = json.loads(tfile.read_text(encoding="utf-8")) if tfile.is_file() else {}
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    for stage in stages:
        banner(stage)
        t0 = time.perf_counter()
        if stage == "data":
            synth(
                out / "data" / "data_A" / "train",
                material,
                "train",
                r.material_series,
                r.material_episodes,
                r.seed,
                r,
            )
            synth(out / "data" / "data_B", None, None, r.synth_series, r.synth_episodes, r.seed + 1, r)
            synth(out / "calib", material, "calib", r.calib_series, r.calib_episodes, r.calib_seed, r,
                  style=style_args(CALIB_STYLE, CALIB_STYLE_SIZES) if r.calib_style else None)
            synth(out / "test", material, "test", r.test_series, r.test_episodes, r.test_seed, r, r.test_lone)
        elif stage == "preprocess":
            preprocess(out / "data", r)
            for d in (out / "calib", out / "test"):   # + Chromaprint: the season rule is fitted on calib
                preprocess(d, r, fingerprint=True)
        elif stage == "train":
            stage_train(out, r, args.threads, args.parallel)
        elif stage == "calibrate":
            stage_calibrate(out, r)
        elif stage == "export":
            stage_export(out, r, material, timings, ship_to)
        elif stage == "evaluate":
            stage_evaluate(out, r, ship_to)
        elif stage == "card":
            if ship_to != SHIPPED.resolve():
                raise SystemExit("the card stage writes models/shipped/MODEL_CARD.md; drop --ship_to to ship")
            from bench.shipped_card import write_card
            build = json.loads((RESULTS / "build.json").read_text(encoding="utf-8"))
            build["timings"] = {k: v for k, v in timings.items() if not k.endswith("_last")}
            for m in build["members"]:
                m.update(member_train_time(out / m["run"]))
            atomic_write_json(RESULTS / "build.json", build, indent=1)
            write_card(out)
        else:
            raise SystemExit(f"unknown stage {stage!r}")
        took = round(time.perf_counter() - t0, 1)
        timings.setdefault(stage, took)          # the first (real) run of a stage; a skipped rerun takes ~0
        timings[f"{stage}_last"] = took
        atomic_write_json(tfile, timings, indent=1)
        print(f"[{stage}] {took:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
