"""The one training / validation / test engine behind avt_main.py, avt_normal_main.py and
avt_yolt_main.py (SPEC.md section 4).

    python avt_main.py --data_root data --save_prefix work_dir/avt            # train (full preset)
    python avt_main.py --data_root data --preset tiny --clip_seconds 20 --max_epoch 4 --device cpu
    python avt_main.py --data_root data --testB --weights work_dir/avt/avnet_bestmodel.pth
    torchrun --nproc_per_node=2 avt_main.py --data_root data ...               # DDP, one per GPU/CPU

Run folder (--save_prefix): config.json, log.txt, metrics.csv, checkpoint_last.pth (resume),
avnet_epoch{N}.pth (epochs after 60 %), avnet_bestmodel.pth, val_predictions.csv, error.txt, and
for --test/--testB submission.csv.  Resume with ``--resume auto`` (the folder's
checkpoint_last.pth) or ``--resume PATH``; a folder that already holds a run is never overwritten
silently.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import logging
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from datatools.dataset import (
    TEST_DIRS,
    ClipRecord,
    FeatureDataset,
    check_meta,
    find_test_clips,
    labelled_clips,
    split_train_val,
)
from datatools.fileio import atomic_write_json, atomic_write_text
from datatools.labels import write_submission
from datatools.metric import summary as metric_summary
from models.checkpoint import (
    check_compatible,
    load_weights,
    read_checkpoint,
    save_checkpoint,
    segment_head_trained,
    unwrap,
)
from models.config import PRESETS, ModelConfig, get_config
from models.distributed import (
    DistInfo,
    autocast_context,
    barrier,
    cleanup,
    init_distributed,
    make_scaler,
    parse_gpus,
)
from models.frame_trunk import load_imagenet_weights
from models.heads import to_seconds
from models.kinds import (
    MODEL_KINDS,
    TrainingClips,
    build_model,
    compute_loss,
    get_kind,
    loss_terms,
    model_inputs,
)

LOG = logging.getLogger("avtnet")
LAST_CKPT = "checkpoint_last.pth"
BEST_CKPT = "avnet_bestmodel.pth"
ERROR_THRESHOLD_S = 10.0
CONFIDENCE_SUFFIX = "_confidence.csv"   # dense kind: submission.csv -> submission_confidence.csv
POSTERIOR_FILE = (
    "submission_posterior.npz"  # dense kind: clip file name -> per-second boundary posterior (S,)
)


def str2bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    if text.lower() in ("1", "true", "yes", "y", "on"):
        return True
    if text.lower() in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _flag(group, name: str, help: str, default: bool = False) -> None:
    # Both `--use_amp` and the published scripts' `--use_amp True` spellings work.
    group.add_argument(name, type=str2bool, nargs="?", const=True, default=default, metavar="BOOL",
                       help=help + f" (default: {default})")


def get_args_parser(
    add_help: bool = True, kind: str = "avt", if_normal: bool = False
) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=f"Train or test the AVTNet family (model: {kind}).",
                                add_help=add_help)
    d = p.add_argument_group("data")
    d.add_argument("--data_root", default="data", metavar="DIR",
                   help="published layout: data_A/train/labels.txt, data_B/labels.txt, data_A/test/, "
                        "data_C/ (default: %(default)s)")
    d.add_argument("--feat_root", default=None, metavar="DIR",
                   help="processed-feature folder written by the preprocessing scripts "
                        "(default: <data_root>/processed)")
    d.add_argument("--label_files", nargs="+", default=None, metavar="FILE",
                   help="label files to train on (default: every one of data_A/train/labels.txt, "
                        "data_B/labels.txt that exists)")
    d.add_argument("--clip_seconds", type=int, default=200, metavar="S",
                   help="clip length S; must match the processed folder's meta.json (default: %(default)s)")
    d.add_argument("--data_seed", type=int, default=0, metavar="K",
                   help="validation split: every 7th clip after rotating the list left by K (default: 0)")
    d.add_argument("--shift_aug", type=int, default=0, metavar="SEC",
                   help="temporal-shift augmentation: shift content and label together by up to SEC "
                        "seconds (0 = off, default)")
    _flag(d, "--beyond_windows", "dense kind: also train on the start clips that a spans.json lists "
          "unlabelled because the opening ends after them (late opening, or none), as windows without "
          "a boundary, so the model can say 'no OP end here'; every 7th of them validates, and the best "
          "checkpoint is chosen by the score over the labelled clips and these windows together "
          "(answering inside one costs the distance to the real OP end) (default: on)", True)
    d.add_argument("--cache", choices=("auto", "ram", "disk"), default="auto",
                   help="hold all features in RAM, memory-map them per item, or pick RAM when they "
                        "need under a quarter of it (default: auto)")
    _flag(d, "--test", "predict the test folder data_A/test/ (needs --weights) and write submission.csv")
    _flag(d, "--testB", "predict test B, data_C/ (needs --weights) and write submission.csv")
    d.add_argument("--test_dir", default=None, metavar="DIR",
                   help="with --test/--testB: predict this folder instead; a relative path is relative "
                        "to --data_root, an absolute one must lie inside it")
    _flag(d, "--if_normal", "ImageNet mean/std frame normalisation instead of [0, 1]", if_normal)

    m = p.add_argument_group("model")
    m.add_argument("--model", choices=MODEL_KINDS, default=kind,
                   help="network: avt, avt_normal (two-layer backend) or yolt (default: %(default)s)")
    m.add_argument("--preset", choices=PRESETS, default="full",
                   help="full = SPEC.md sizes; tiny = same structure, narrow widths for CPUs (default: full)")
    m.add_argument("--pretrained", default=None, metavar="PATH",
                   help="local torchvision ResNet-18 ImageNet state dict for the frame trunk (full preset)")
    m.add_argument("--weights", default=None, metavar="PATH",
                   help="checkpoint to test (--test/--testB) or to initialise training from")

    o = p.add_argument_group("optimisation")
    o.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate (default: %(default)s)")
    o.add_argument("--batch_size", type=int, default=16,
                   help="clips per step per process (default: %(default)s)")
    o.add_argument("--max_epoch", type=int, default=64, help="training epochs (default: %(default)s)")
    o.add_argument("--warmup_epochs", type=int, default=5,
                   help="linear warm-up from lr/10 to lr, then cosine (default: %(default)s)")
    o.add_argument("--accumulation_step", type=int, default=1, metavar="N",
                   help="accumulate gradients over N batches per optimiser step (default: 1)")
    _flag(o, "--use_amp", "mixed precision: fp16 + GradScaler on GPU, bf16 autocast on CPU")
    o.add_argument("--seed", type=int, default=10, help="random seed (default: %(default)s)")

    r = p.add_argument_group("run")
    r.add_argument("--save_prefix", default=None, metavar="DIR",
                   help="run folder for logs, checkpoints and predictions (default: work_dir/<model>)")
    r.add_argument("--resume", default=None, metavar="PATH|auto",
                   help="continue training from a checkpoint; 'auto' = <save_prefix>/checkpoint_last.pth "
                        "if present")
    r.add_argument("--stop_after", type=int, default=None, metavar="EPOCH",
                   help="end this invocation once EPOCH epochs are done, keeping the lr schedule of "
                        "--max_epoch (for time-limited job slots; continue with --resume auto)")
    r.add_argument("--device", default="auto",
                   help="auto (GPU if available), cpu, cuda or cuda:N (default: auto)")
    r.add_argument("--gpus", default=None, metavar="IDS",
                   help="comma-separated GPU ids; more than one uses DataParallel, e.g. --gpus 0,1 "
                        "(under torchrun each process uses its LOCAL_RANK GPU instead)")
    r.add_argument("--num_workers", type=int, default=4,
                   help="data-loading worker processes per training process (default: %(default)s)")
    r.add_argument("--show_freq", type=int, default=50, metavar="N",
                   help="log a progress line every N steps (default: %(default)s)")
    return p


# ----------------------------------------------------------------------------------------- helpers
def setup_logging(run_dir: Path, info: DistInfo) -> None:
    LOG.handlers.clear()
    LOG.propagate = False
    if not info.is_main:
        LOG.addHandler(logging.NullHandler())
        return
    LOG.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    for h in (logging.StreamHandler(sys.stderr), logging.FileHandler(run_dir / "log.txt")):
        h.setFormatter(fmt)
        LOG.addHandler(h)


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def lr_factor(epoch: int, max_epoch: int, warmup: int) -> float:
    """Multiplier of the base lr during (0-based) ``epoch``: linear lr/10 -> lr over the warm-up
    epochs, then cosine annealing to 0 over the rest."""
    if epoch < warmup:
        return 0.1 + 0.9 * epoch / warmup
    rest = max(max_epoch - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / rest))


def make_loader(ds: FeatureDataset, batch_size: int, workers: int, shuffle: bool, seed: int,
                info: DistInfo, drop_last: bool = False) -> DataLoader:
    sampler = None
    gen = torch.Generator().manual_seed(seed)
    if shuffle and info.distributed:
        sampler = DistributedSampler(ds, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                     seed=seed, drop_last=drop_last)
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                      num_workers=workers, generator=gen, drop_last=drop_last and sampler is None,
                      pin_memory=info.device.type == "cuda", persistent_workers=False)


def _normalization(args: argparse.Namespace) -> str:
    return "imagenet" if args.if_normal else "unit"


# ------------------------------------------------------------------------------- train / evaluate
def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, args: argparse.Namespace, cfg: ModelConfig,
                    info: DistInfo, epoch: int) -> dict[str, float]:
    """One pass over ``loader``; returns the mean of each loss term plus data-wait share and clips/s."""
    from tqdm import tqdm

    model.train()
    terms = loss_terms(args.model)
    sums = dict.fromkeys(terms, 0.0)
    n_batches, clips, data_time, start = 0, 0, 0.0, time.perf_counter()
    accum = max(1, args.accumulation_step)
    total = len(loader)
    optimizer.zero_grad(set_to_none=True)
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{args.max_epoch}", disable=not info.is_main,
               leave=False, dynamic_ncols=True)
    t0 = time.perf_counter()
    for i, batch in enumerate(bar):
        data_time += time.perf_counter() - t0
        inputs = model_inputs(batch, args.model, _normalization(args), info.device)
        target = batch["target"].to(info.device)
        step_now = (i + 1) % accum == 0 or i + 1 == total
        # Skip the DDP all-reduce on batches that only accumulate gradients.
        sync = model.no_sync() if info.distributed and not step_now else contextlib.nullcontext()
        with sync:
            with autocast_context(info.device, args.use_amp):
                out = model(*inputs)
            segments = batch["segments"].to(info.device) if "segments" in batch else None
            losses = compute_loss(args.model, out, target, args.clip_seconds, cfg, segments)
            scaler.scale(losses["loss"] / accum).backward()
        if step_now:
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
        for k in terms:
            sums[k] += float(losses[k].detach())
        n_batches += 1
        clips += len(target)
        if info.is_main and args.show_freq and (i + 1) % args.show_freq == 0:
            el = time.perf_counter() - start
            LOG.info("epoch %d step %d/%d loss %.4f lr %.2e data %.1f%% of %.2fs/step ETA %.0fs",
                     epoch + 1, i + 1, total, sums["loss"] / n_batches,
                     optimizer.param_groups[0]["lr"], 100 * data_time / el, el / (i + 1),
                     el / (i + 1) * (total - i - 1))
        bar.set_postfix(loss=f"{sums['loss'] / n_batches:.3f}")
        t0 = time.perf_counter()
    elapsed = time.perf_counter() - start
    res = {k: v / max(n_batches, 1) for k, v in sums.items()}
    res.update(
        data_share=data_time / max(elapsed, 1e-9), clips_per_s=clips * info.world_size / max(elapsed, 1e-9)
    )
    return res


@torch.no_grad()
def predict(model: nn.Module, loader: DataLoader, args: argparse.Namespace, normalization: str,
            device: torch.device, with_confidence: bool = False, with_posterior: bool = False,
            recover: bool = False):
    """Predicted seconds for every clip of ``loader`` in dataset order (and, with
    ``with_confidence``, the model's confidence per clip, or None for kinds without one; with
    ``with_posterior`` also the per-second boundary posterior (N, S) of kinds that give one, else None).
    ``recover``: a dense model whose segment head learned takes back the boundaries its state head
    missed (models.dense.recover_missed), as predict.py does."""
    from models.dense import recover_missed

    model.eval()
    out_s, conf, post = [], [], []
    for batch in loader:
        with autocast_context(device, args.use_amp):
            out = model(*model_inputs(batch, args.model, normalization, device))
        out_s.append(to_seconds(out["pred"], args.clip_seconds).cpu().numpy())
        if "confidence" in out:
            conf.append(out["confidence"].float().cpu().numpy())
            post.append(out["per_second"].float().cpu().numpy())
            if recover and "segments" in out:
                recover_missed({"seconds": out_s[-1], "confidence": conf[-1], "per_second": post[-1],
                                "segments": torch.softmax(out["segments"].float(), 1).cpu().numpy()},
                               ["end" if e >= 0.5 else "start" for e in batch["is_end"].tolist()])
    pred = np.concatenate(out_s) if out_s else np.zeros(0)
    if not with_confidence:
        return pred
    if with_posterior:
        return pred, (np.concatenate(conf) if conf else None), (np.concatenate(post) if post else None)
    return pred, (np.concatenate(conf) if conf else None)


def evaluate(model: nn.Module, loader: DataLoader, records: Sequence[ClipRecord],
             args: argparse.Namespace, device: torch.device
             ) -> tuple[dict[str, float], np.ndarray, np.ndarray | None]:
    """Validation metrics (datatools.metric.summary), the predicted seconds per clip and, for kinds
    with a confidence, the confidence per clip (None otherwise)."""
    pred, conf = predict(model, loader, args, _normalization(args), device, with_confidence=True)
    truth = np.array([r.seconds for r in records], dtype=np.float64)
    return metric_summary(pred, truth), pred, conf


def window_costs(pred: np.ndarray, conf: np.ndarray, windows: Sequence, clip_seconds: int) -> np.ndarray:
    """Seconds lost on each start window without an OP end (datatools.segments.BeyondClip): none
    where the model's confidence stays below CLAIM_CONFIDENCE (predict.py then scans later
    windows), else the distance from its answer to where the opening really ends (S where the
    episode has none)."""
    from datatools.segments import CLAIM_CONFIDENCE

    cost = np.array([float(clip_seconds) if w.op_end is None else abs(float(p) - float(w.op_end))
                     for p, w in zip(pred, windows)])
    return np.where(np.asarray(conf) >= CLAIM_CONFIDENCE, cost, 0.0)


def selection_summary(val: dict[str, float], pred: np.ndarray, records: Sequence[ClipRecord],
                      costs: np.ndarray | None) -> dict[str, float]:
    """The validation figures plus ``select``, the score the best checkpoint is chosen by: the
    published score itself, or, with validation windows without an OP end (``costs``,
    window_costs), the score over the labelled clips' errors and those windows' costs together, so
    that an epoch which answers inside windows that hold no OP end is not taken as the best; and
    ``windows`` / ``windows_claimed`` (how many such windows, and the share answered)."""
    if costs is None or not len(costs):
        return {**val, "select": val["score"]}
    err = np.abs(pred - np.array([r.seconds for r in records], dtype=np.float64))
    both = np.concatenate([err, costs])
    return {**val, "select": metric_summary(both, np.zeros_like(both))["score"],
            "windows": float(len(costs)), "windows_claimed": float(np.mean(costs > 0))}


def validation_record(val: dict[str, float], pred: np.ndarray, conf: np.ndarray | None,
                      records: Sequence[ClipRecord]) -> dict[str, Any]:
    """What a checkpoint keeps of its epoch's validation: the within-2-s share and clip count
    (predict.py's model trust) and, for kinds with a confidence, its calibration map
    (models/calibration.py, fitted on these validation clips)."""
    from models.calibration import fit_calibration

    out: dict[str, Any] = {"validation": {"within_2s": float(val["within_2s"]), "score": float(val["score"]),
                                          "n": len(records)}}
    if conf is not None and len(records):
        err = np.abs(pred - np.array([r.seconds for r in records], dtype=np.float64))
        out["calibration"] = fit_calibration(conf, err)
    return out


def write_val_outputs(run_dir: Path, records: Sequence[ClipRecord], pred: np.ndarray) -> None:
    write_submission(run_dir / "val_predictions.csv", [(r.name, float(p)) for r, p in zip(records, pred)])
    lines = [f"{r.rel} label {r.seconds:.3f} pred {p:.3f} error {abs(p - r.seconds):.3f}\n"
             for r, p in zip(records, pred) if abs(p - r.seconds) > ERROR_THRESHOLD_S]
    atomic_write_text(run_dir / "error.txt", "".join(lines))


def append_metrics(path: Path, row: dict[str, Any]) -> None:
    new = not path.is_file()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


# ------------------------------------------------------------------------------------------- main
def resolve_args(args: argparse.Namespace) -> argparse.Namespace:
    if args.feat_root is None:
        args.feat_root = str(Path(args.data_root) / "processed")
    if args.save_prefix is None:
        args.save_prefix = str(Path("work_dir") / args.model)
    if args.test and args.testB:
        raise SystemExit("choose one of --test and --testB per run")
    if (args.test or args.testB) and not args.weights:
        raise SystemExit("--test/--testB need --weights PATH (a checkpoint to predict with)")
    for name in ("batch_size", "max_epoch", "accumulation_step", "clip_seconds"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name} must be at least 1, got {getattr(args, name)}")
    parse_gpus(args.gpus)
    return args


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Train (default) or test (--test/--testB).  Returns a small result dict (used by tests)."""
    args = resolve_args(args)
    info = init_distributed(args.device, args.gpus)
    run_dir = Path(args.save_prefix)
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    barrier(info)
    setup_logging(run_dir, info)
    try:
        check_meta(args.feat_root, args.clip_seconds)
        if args.test or args.testB:
            return run_test(args, info, run_dir) if info.is_main else {}
        return run_train(args, info, run_dir)
    finally:
        cleanup(info)


def run_test(args: argparse.Namespace, info: DistInfo, run_dir: Path) -> dict[str, Any]:
    ckpt = read_checkpoint(args.weights)
    check_compatible(ckpt, args.weights, args.model, args.preset, args.clip_seconds)
    model = build_model(ckpt["kind"], ModelConfig.from_dict(ckpt["config"]), ckpt["clip_seconds"])
    load_weights(model, ckpt["model"], args.weights)
    model.to(info.device)
    folder = args.test_dir or TEST_DIRS["test" if args.test else "testB"]  # relative: under --data_root
    records = find_test_clips(args.data_root, folder, args.feat_root)
    ds = FeatureDataset(records, args.feat_root, args.clip_seconds, cache=args.cache)
    loader = make_loader(ds, args.batch_size, args.num_workers, False, args.seed, info)
    norm = ckpt.get("normalization") or _normalization(args)
    LOG.info("testing %s (%s, epoch %s) on %d clips of %s", args.weights, ckpt["kind"],
             ckpt.get("epoch"), len(records), folder)
    pred, conf, post = predict(
        model, loader, args, norm, info.device, with_confidence=True, with_posterior=True,
        recover=segment_head_trained(ckpt),
    )
    out = run_dir / "submission.csv"
    write_submission(out, [(r.name, float(p)) for r, p in zip(records, pred)])
    LOG.info("wrote %s (%d rows)", out, len(records))
    if conf is not None:   # the dense kind's confidence: posterior mass within 2 s of each answer,
        # mapped to P(within 2 s) by the calibration the checkpoint carries (models/calibration.py)
        from datatools.labels import write_confidence
        from models.calibration import apply_calibration

        conf = apply_calibration(conf, ckpt.get("calibration"))
        side = run_dir / ("submission" + CONFIDENCE_SUFFIX)
        write_confidence(side, [(r.name, c) for r, c in zip(records, conf)])
        LOG.info("wrote %s", side)
    if post is not None:   # the boundary posterior per second: the season rule weighs a match by it
        import io

        from datatools.fileio import atomic_write_bytes
        buf = io.BytesIO()
        np.savez_compressed(buf, **{r.name: p.astype(np.float16) for r, p in zip(records, post)})
        atomic_write_bytes(run_dir / POSTERIOR_FILE, buf.getvalue())
        LOG.info("wrote %s", run_dir / POSTERIOR_FILE)
    return {"submission": str(out), "n": len(records)}


def _write_config(args: argparse.Namespace, run_dir: Path, info: DistInfo, n_train: int, n_val: int) -> None:
    cfg = dict(vars(args), argv=sys.argv, git_commit=git_commit(), world_size=info.world_size,
               device=str(info.device), n_train=n_train, n_val=n_val,
               model_config=get_config(args.preset).to_dict())
    atomic_write_json(run_dir / "config.json", cfg, indent=2)


@dataclass(frozen=True)
class TrainingData:
    """What a training run learns and validates on: the clips (after the kind's
    extra_training_data hook, models/kinds.py) and the training and validation datasets."""
    clips: TrainingClips
    train_ds: FeatureDataset
    val_ds: FeatureDataset


@dataclass(frozen=True)
class TrainingObjects:
    """The network (``model``, and ``net``: it, or its DataParallel / DDP wrapper), optimiser, lr
    schedule, gradient scaler and loaders of a training run, and where it starts (resume)."""
    cfg: ModelConfig
    model: nn.Module
    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    train_loader: DataLoader
    val_loader: DataLoader
    win_loader: DataLoader | None     # validation windows without an OP end (dense kind), if any
    start_epoch: int
    best: float


def build_training_data(args: argparse.Namespace) -> TrainingData:
    """The labelled clips split into training and validation (the published rule), plus whatever
    the kind's extra_training_data hook adds (the dense kind: segment truth and windows without an
    OP end), and their datasets (every feature file checked here, before any training)."""
    records = labelled_clips(args.data_root, args.label_files, args.clip_seconds)
    train_recs, val_recs = split_train_val(records, args.data_seed)
    clips = TrainingClips(train_recs, val_recs)
    hook = get_kind(args.model).extra_training_data
    if hook is not None:
        clips = hook(args, clips)
    train_ds = FeatureDataset(clips.train, args.feat_root, args.clip_seconds, args.shift_aug,
                              args.seed, args.cache, segments=clips.segments)
    val_ds = FeatureDataset(clips.val, args.feat_root, args.clip_seconds, cache=args.cache)
    return TrainingData(clips, train_ds, val_ds)


def build_training_objects(args: argparse.Namespace, info: DistInfo, data: TrainingData,
                           resume_path: Path | None) -> TrainingObjects:
    """The network (ImageNet trunk / --weights / resumed state loaded), Adam with its warm-up +
    cosine schedule, the AMP scaler, the DataParallel / DDP wrapper and the loaders."""
    cfg = get_config(args.preset)
    model = build_model(args.model, cfg, args.clip_seconds)
    if args.pretrained:
        load_imagenet_weights(model.video.frames, args.pretrained)
    if args.weights:
        init = read_checkpoint(args.weights)
        check_compatible(init, args.weights, args.model, args.preset, args.clip_seconds)
        load_weights(model, init["model"], args.weights)
    model.to(info.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: lr_factor(e, args.max_epoch, args.warmup_epochs))
    scaler = make_scaler(info.device, args.use_amp)
    start_epoch, best = 0, float("inf")
    if resume_path is not None:
        ckpt = read_checkpoint(resume_path)
        check_compatible(ckpt, resume_path, args.model, args.preset, args.clip_seconds)
        load_weights(model, ckpt["model"], resume_path)
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        start_epoch, best = int(ckpt["epoch"]), float(ckpt["best_score"])
        LOG.info("resumed from %s after epoch %d (best score %.4f)", resume_path, start_epoch, best)

    net: nn.Module = model
    gpu_ids = parse_gpus(args.gpus)
    if info.distributed:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[info.device.index] if info.device.type == "cuda" else None)
    elif len(gpu_ids) > 1:
        net = nn.DataParallel(model, device_ids=gpu_ids)

    train_loader = make_loader(data.train_ds, args.batch_size, args.num_workers, True, args.seed, info,
                               drop_last=len(data.train_ds) > args.batch_size)
    val_loader = make_loader(data.val_ds, args.batch_size, args.num_workers, False, args.seed, info)
    win_loader = None
    if data.clips.val_windows:
        win_ds = FeatureDataset([ClipRecord(c.rel, None, "spans.json") for c in data.clips.val_windows],
                                args.feat_root, args.clip_seconds, cache=args.cache)
        win_loader = make_loader(win_ds, args.batch_size, args.num_workers, False, args.seed, info)
    return TrainingObjects(cfg, model, net, optimizer, scheduler, scaler, train_loader, val_loader,
                           win_loader, start_epoch, best)


def run_train(args: argparse.Namespace, info: DistInfo, run_dir: Path) -> dict[str, Any]:
    seed_everything(args.seed)
    resume_path = _resume_path(args, run_dir)
    data = build_training_data(args)
    if info.is_main:
        _write_config(args, run_dir, info, len(data.clips.train), len(data.clips.val))
    LOG.info("%s/%s: %d training and %d validation clips, %d process(es) on %s", args.model,
             args.preset, len(data.clips.train), len(data.clips.val), info.world_size, info.device)
    objects = build_training_objects(args, info, data, resume_path)
    return train_epochs(args, info, run_dir, data, objects)


def train_epochs(args: argparse.Namespace, info: DistInfo, run_dir: Path, data: TrainingData,
                 objects: TrainingObjects) -> dict[str, Any]:
    """The epochs from ``objects.start_epoch``: train, validate, checkpoint (last, per epoch after
    60 % of --max_epoch, best), log and append metrics.csv.  Returns the best score and last row."""
    o, val_recs, val_windows = objects, data.clips.val, data.clips.val_windows
    best = o.best
    save_from = int(0.6 * args.max_epoch)   # save avnet_epoch{N} for every N > 60 % of max_epoch
    result: dict[str, Any] = {"best_score": best}
    end_epoch = min(args.max_epoch, args.stop_after or args.max_epoch)
    for epoch in range(o.start_epoch, end_epoch):
        # Everything random in an epoch derives from (seed, epoch): a resumed run repeats exactly.
        seed_everything(args.seed * 1000 + epoch)
        data.train_ds.set_epoch(epoch)
        if isinstance(o.train_loader.sampler, DistributedSampler):
            o.train_loader.sampler.set_epoch(epoch)
        o.train_loader.generator.manual_seed(args.seed * 1000 + epoch)
        t0 = time.perf_counter()
        lr = o.optimizer.param_groups[0]["lr"]
        tr = train_one_epoch(o.net, o.train_loader, o.optimizer, o.scaler, args, o.cfg, info, epoch)
        o.scheduler.step()
        if info.is_main:
            val, pred, conf = evaluate(o.model, o.val_loader, val_recs, args, info.device)
            costs = None
            if o.win_loader is not None:
                wp, wc = predict(
                    o.model, o.win_loader, args, _normalization(args), info.device, with_confidence=True
                )
                costs = window_costs(wp, wc, val_windows, args.clip_seconds)
            val = selection_summary(val, pred, val_recs, costs)
            improved = val["select"] < best
            best = min(best, val["select"])
            state = {
                "model": unwrap(o.model).state_dict(),
                "optimizer": o.optimizer.state_dict(),
                "scheduler": o.scheduler.state_dict(),
                "scaler": o.scaler.state_dict(),
                "epoch": epoch + 1,
                "best_score": best,
                "kind": args.model,
                "preset": args.preset,
                "config": o.cfg.to_dict(),
                "clip_seconds": args.clip_seconds,
                "normalization": _normalization(args),
                "args": {k: v for k, v in vars(args).items()},
                **data.clips.checkpoint_extra,   # the kind's own records (dense: segment_clips)
                **validation_record(val, pred, conf, val_recs),
            }
            save_checkpoint(run_dir / LAST_CKPT, state)
            if epoch + 1 > save_from:
                save_checkpoint(run_dir / f"avnet_epoch{epoch + 1}.pth", state)
            if improved:
                save_checkpoint(run_dir / BEST_CKPT, state)
                write_val_outputs(run_dir, val_recs, pred)
            row = {"epoch": epoch + 1, "lr": lr, **{f"train_{k}": v for k, v in tr.items()},
                   **{f"val_{k}": v for k, v in val.items()}, "best_score": best,
                   "time_s": time.perf_counter() - t0}
            append_metrics(run_dir / "metrics.csv", row)
            windows = "" if costs is None else \
                f" | {val['windows_claimed']:.0%} of {len(costs)} windows without an OP end answered, " \
                f"selection score {val['select']:.3f}"
            LOG.info("epoch %d/%d lr %.2e train loss %.4f | val score %.3f MAE %.3f median %.3f "
                     "within 1/2/5 s %.0f/%.0f/%.0f%%%s | best %.3f%s | %.0fs, %.1f clips/s, data %.0f%%",
                     epoch + 1, args.max_epoch, lr, tr["loss"], val["score"], val["mae"],
                     val["median"], 100 * val["within_1s"], 100 * val["within_2s"],
                     100 * val["within_5s"], windows, best, " (new best)" if improved else "",
                     row["time_s"], tr["clips_per_s"], 100 * tr["data_share"])
            result = {"best_score": best, "last": row}
        barrier(info)
    return result


def _resume_path(args: argparse.Namespace, run_dir: Path) -> Path | None:
    last = run_dir / LAST_CKPT
    if args.resume == "auto":
        return last if last.is_file() else None
    if args.resume:
        if not Path(args.resume).is_file():
            raise SystemExit(f"--resume {args.resume}: checkpoint not found")
        return Path(args.resume)
    if last.is_file():
        raise SystemExit(f"{run_dir} already holds a run ({LAST_CKPT}); pass --resume auto to "
                         f"continue it or choose another --save_prefix")
    return None


def cli(kind: str, if_normal: bool = False, argv: Sequence[str] | None = None) -> None:
    """Entry point of the three scripts: parse flags with the script's defaults, run, and turn
    known bad-input errors into a one-line message and exit status 1."""
    from datatools.dataset import DatasetError
    from datatools.labels import LabelError
    from models.checkpoint import CheckpointError

    args = get_args_parser(kind=kind, if_normal=if_normal).parse_args(argv)
    try:
        main(args)
    except (DatasetError, LabelError, CheckpointError, FileNotFoundError, ValueError) as exc:
        sys.exit(f"error: {exc}")
