"""Training-throughput benchmark on the CPU (not a test): tiny-preset clips/s per model with the
real DataLoader and training step (models/engine.train_one_epoch), the share of step time spent
waiting for data (target < 10 %), and one forward+backward of the full preset at batch 2.

    .venv/bin/python bench/train_bench.py                       # defaults below, a few minutes
    .venv/bin/python bench/train_bench.py --skip_full --clips 24
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--kinds", nargs="+", default=["avt", "avt_normal", "yolt"],
                   help="models to time at the tiny preset")
    p.add_argument("--clip_seconds", type=int, default=20, help="S of the tiny-preset runs")
    p.add_argument("--clips", type=int, default=48, help="synthetic training clips")
    p.add_argument("--batch_size", type=int, default=8, help="clips per step (tiny runs)")
    p.add_argument("--num_workers", type=int, default=1, help="DataLoader worker processes")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: cores minus data workers, at least 1; more "
                        "threads than free cores slows training several-fold)")
    p.add_argument("--full_clip_seconds", type=int, default=200, help="S of the full-preset timing")
    p.add_argument("--full_batch", type=int, default=2, help="batch of the full-preset timing")
    p.add_argument("--skip_full", action="store_true", help="skip the full-preset timing")
    p.add_argument("--memory_format", choices=("channels_last", "contiguous"),
                   default="channels_last",
                   help="layout of the 2-D convolutions: build_model's channels-last, or the "
                        "ordinary layout (the baseline of that choice)")
    p.add_argument("--epochs", type=int, default=1,
                   help="tiny-preset epochs timed per model (the first includes warm-up)")
    p.add_argument("--out", default=None,
                   help="also write the figures as JSON with the command, commit, machine and date "
                        "(the table in docs/benchmarks.md reads bench/results/train_bench.json)")
    return p.parse_args(argv)


def bench_tiny(args: argparse.Namespace, data: Path) -> list[dict]:
    from datatools.dataset import FeatureDataset, labelled_clips
    from models.config import get_config
    from models.distributed import DistInfo, make_scaler
    from models.engine import get_args_parser, make_loader, train_one_epoch
    from models.kinds import build_model

    info = DistInfo(0, 1, 0, torch.device("cpu"))
    recs = labelled_clips(data, None, args.clip_seconds)
    ds = FeatureDataset(recs, data / "processed", args.clip_seconds, shift_aug=2)
    rows = []
    for kind in args.kinds:
        eargs = get_args_parser(kind=kind).parse_args(
            ["--preset", "tiny", "--clip_seconds", str(args.clip_seconds),
             "--max_epoch", str(args.epochs),
             "--show_freq", "0", "--if_normal", str(kind == "avt_normal")])
        cfg = get_config("tiny")
        torch.manual_seed(0)
        model = build_model(kind, cfg, args.clip_seconds)
        if args.memory_format == "contiguous":
            model = model.to(memory_format=torch.contiguous_format)
        opt = torch.optim.Adam(model.parameters(), lr=3e-4)
        loader = make_loader(ds, args.batch_size, args.num_workers, True, 0, info, drop_last=True)
        for epoch in range(args.epochs):
            res = train_one_epoch(model, loader, opt, make_scaler(info.device, False), eargs, cfg,
                                  info, epoch)
        print(f"tiny {kind:10s} S={args.clip_seconds} batch {args.batch_size} "
              f"{args.memory_format}: {res['clips_per_s']:.1f} clips/s (last of {args.epochs} "
              f"epoch(s)), data wait {100 * res['data_share']:.1f}% of step time")
        rows.append(
            {
                "kind": kind,
                "preset": "tiny",
                "clip_seconds": args.clip_seconds,
                "batch": args.batch_size,
                "memory_format": args.memory_format,
                "threads": args.threads,
                "data_workers": args.num_workers,
                "clips_per_s": round(res["clips_per_s"], 2),
                "data_wait_share": round(res["data_share"], 4),
            }
        )
    return rows


def bench_full(args: argparse.Namespace) -> list[dict]:
    from datatools.spec import FRAME_H, FRAME_W, ROI_H, ROI_W, mfcc_length
    from models.config import get_config
    from models.kinds import build_model, compute_loss

    s, b = args.full_clip_seconds, args.full_batch
    cfg = get_config("full")
    rows = []
    for kind in ("avt", "yolt"):
        torch.manual_seed(0)
        model = build_model(kind, cfg, s)
        x = (torch.randn(b, 20, mfcc_length(s)), torch.rand(b, s, 3, FRAME_H, FRAME_W),
             torch.rand(b, s, ROI_H, ROI_W))
        t0 = time.perf_counter()
        loss = compute_loss(kind, model(*x), torch.rand(b), s, cfg)["loss"]
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        n = sum(p.numel() for p in model.parameters())
        print(f"full {kind:10s} S={s} batch {b}: forward {t1 - t0:.1f} s, backward {t2 - t1:.1f} s "
              f"({n / 1e6:.1f} M parameters)")
        rows.append(
            {
                "kind": kind,
                "preset": "full",
                "clip_seconds": s,
                "batch": b,
                "threads": args.threads,
                "forward_s": round(t1 - t0, 2),
                "backward_s": round(t2 - t1, 2),
                "parameters_m": round(n / 1e6, 1),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads is None:
        args.threads = max(1, (os.cpu_count() or 1) - args.num_workers)
    torch.set_num_threads(args.threads)
    from datatools.dataset import write_synthetic_processed

    print(f"torch {torch.__version__}, {args.threads} CPU threads")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_synthetic_processed(data, args.clips, 0, args.clip_seconds, seed=0)
        tiny = bench_tiny(args, data)
    full = [] if args.skip_full else bench_full(args)
    if args.out:
        from datatools.fileio import atomic_write_json
        from workflow.provenance import provenance
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            Path(args.out),
            {
                **provenance(None if argv is None else ["bench/train_bench.py", *argv]),
                "clips": args.clips,
                "epochs": args.epochs,
                "tiny": tiny,
                "full": full,
            },
            indent=1,
        )
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
