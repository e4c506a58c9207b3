"""The shared training engine end to end on tiny synthetic processed data (CPU): learnability
against the trivial baseline, exact resume, torchrun DDP (gloo), --testB submissions, run-folder
contents and clear errors for bad inputs.

    .venv/bin/python -m pytest -q tests/test_engine.py -s     # -s shows the learnability numbers
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from datatools.dataset import labelled_clips, split_train_val, write_synthetic_processed
from datatools.labels import read_submission
from datatools.metric import score
from models.engine import cli, get_args_parser, lr_factor, main

ROOT = Path(__file__).resolve().parent.parent
S = 20


def _args(data: Path, run: Path, *extra: str, kind: str = "avt"):
    argv = ["--data_root", str(data), "--save_prefix", str(run), "--preset", "tiny",
            "--clip_seconds", str(S), "--device", "cpu", "--num_workers", "0", "--show_freq", "0",
            *extra]
    return get_args_parser(kind=kind, if_normal=kind == "avt_normal").parse_args(argv)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small") / "data"
    write_synthetic_processed(root, n_train=14, n_test=3, clip_seconds=S, seed=5)
    return root


@pytest.fixture(scope="module")
def learn_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("learn") / "data"
    write_synthetic_processed(root, n_train=56, n_test=0, clip_seconds=S, seed=7)
    return root


def test_lr_schedule_warmup_then_cosine():
    assert lr_factor(0, 64, 5) == pytest.approx(0.1)
    assert lr_factor(4, 64, 5) == pytest.approx(0.1 + 0.9 * 4 / 5)
    assert lr_factor(5, 64, 5) == pytest.approx(1.0)
    assert lr_factor(63, 64, 5) < 0.01


@pytest.mark.parametrize("kind", ["avt", "avt_normal", "yolt"])
def test_tiny_model_learns_far_below_baseline(learn_data, tmp_path, kind):
    """A few CPU epochs on clips whose features switch at the label: validation score must be
    under half of the trivial baseline (predict the training median for every clip)."""
    recs = labelled_clips(learn_data, None, S)
    train, val = split_train_val(recs, 0)
    truth = [r.seconds for r in val]
    baseline = score([float(np.median([r.seconds for r in train]))] * len(val), truth)
    res = main(_args(learn_data, tmp_path / "run", "--max_epoch", "8", "--warmup_epochs", "0",
                     "--lr", "3e-3", "--batch_size", "6", kind=kind))
    print(f"\n[learnability {kind}] validation score {res['best_score']:.3f} s vs "
          f"training-median baseline {baseline:.3f} s ({len(val)} val clips)")
    assert baseline > 1.5
    assert res["best_score"] < 0.5 * baseline
    run = tmp_path / "run"
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert len(rows) == 8 and {"train_loss", "val_score", "lr", "time_s"} <= set(rows[0])
    # epochs after 60 % of 8 (5, 6, 7, 8) get their own checkpoint
    assert sorted(p.name for p in run.glob("avnet_epoch*.pth")) == [
        f"avnet_epoch{n}.pth" for n in (5, 6, 7, 8)
    ]
    assert (run / "avnet_bestmodel.pth").is_file() and (run / "log.txt").stat().st_size > 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"] == kind and cfg["max_epoch"] == 8 and "argv" in cfg and "git_commit" in cfg
    preds = read_submission(run / "val_predictions.csv")
    assert [p.clip for p in preds] == [r.name for r in val]
    assert (run / "error.txt").is_file()


def _weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def test_resume_equals_straight_run(small, tmp_path):
    common = ("--max_epoch", "4", "--warmup_epochs", "1", "--batch_size", "4", "--shift_aug", "3",
              "--accumulation_step", "2")
    main(_args(small, tmp_path / "straight", *common, kind="yolt"))
    main(_args(small, tmp_path / "split", *common, "--stop_after", "2", kind="yolt"))
    assert not (tmp_path / "split" / "avnet_epoch3.pth").exists()
    main(_args(small, tmp_path / "split", *common, "--resume", "auto", kind="yolt"))
    a = _weights(tmp_path / "straight" / "checkpoint_last.pth")
    b = _weights(tmp_path / "split" / "checkpoint_last.pth")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ra = list(csv.DictReader(open(tmp_path / "straight" / "metrics.csv")))
    rb = list(csv.DictReader(open(tmp_path / "split" / "metrics.csv")))
    assert [r["train_loss"] for r in ra] == [r["train_loss"] for r in rb]
    # Starting again in a folder that holds a run, without --resume, is refused.
    with pytest.raises(SystemExit, match="already holds a run"):
        main(_args(small, tmp_path / "split", *common, kind="yolt"))


def test_testB_submission_and_checkpoint_mismatch(small, tmp_path):
    run = tmp_path / "run"
    main(_args(small, run, "--max_epoch", "1", "--batch_size", "4", kind="avt_normal"))
    ckpt = run / "avnet_bestmodel.pth"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, str(ROOT / "avt_normal_main.py"), "--testB", "--weights",
                          str(ckpt), "--data_root", str(small), "--save_prefix", str(run),
                          "--preset", "tiny", "--clip_seconds", str(S), "--device", "cpu",
                          "--num_workers", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = read_submission(run / "submission.csv")
    assert [r.clip for r in rows] == ["test0000_start.mp4", "test0001_end.mp4", "test0002_start.mp4"]
    assert [r.kind for r in rows] == ["s", "e", "s"]
    # each value is the checkpoint's own answer on that clip, recomputed here in-process
    from datatools.dataset import TEST_DIRS, FeatureDataset, find_test_clips
    from models.checkpoint import load_checkpoint_model
    from models.inputs import predict_seconds
    model, meta = load_checkpoint_model(ckpt, "cpu")
    ds = FeatureDataset(
        find_test_clips(small, TEST_DIRS["testB"], small / "processed"), small / "processed", S
    )
    batch = {k: np.stack([ds[i][k] for i in range(len(ds))]) for k in ("mfcc", "frames", "roi")}
    with torch.no_grad():
        want = predict_seconds(model, batch, meta.get("normalization") or "unit", S, "cpu")["seconds"]
    assert [Path(r.rel).name for r in ds.records] == [r.clip for r in rows]
    assert np.allclose([r.seconds for r in rows], want, atol=6e-4), ([r.seconds for r in rows], want)
    lines = (run / "submission.csv").read_text().splitlines()
    assert all(len(line.split(",")[2].split(".")[1]) == 3 for line in lines)
    base = ["--testB", "--weights", str(ckpt), "--data_root", str(small), "--save_prefix",
            str(tmp_path / "t"), "--clip_seconds", str(S), "--device", "cpu", "--num_workers", "0"]
    with pytest.raises(SystemExit, match="kind='avt_normal' but this run uses kind='yolt'"):
        cli("yolt", argv=base + ["--preset", "tiny"])
    with pytest.raises(SystemExit, match="preset='tiny' but this run uses preset='full'"):
        cli("avt_normal", argv=base + ["--preset", "full"])
    with pytest.raises(SystemExit, match="clip_seconds=20 but --clip_seconds is 40"):
        cli("avt_normal", argv=base[:-6] + ["--clip_seconds", "40", "--device", "cpu", "--preset", "tiny"])
    with pytest.raises(SystemExit, match="need --weights"):
        cli("avt", argv=["--testB", "--data_root", str(small)])


def test_cli_names_missing_processed_file(tmp_path):
    data = tmp_path / "data"
    write_synthetic_processed(data, n_train=8, n_test=0, clip_seconds=S, seed=1)
    (data / "processed/data_A/train/clip0003_end_roi.npy").unlink()
    with pytest.raises(SystemExit, match="clip0003_end_roi.npy: processed file missing"):
        cli("avt", argv=["--data_root", str(data), "--clip_seconds", str(S), "--preset", "tiny",
                         "--device", "cpu", "--save_prefix", str(tmp_path / "r")])


def test_torchrun_ddp_two_cpu_processes(small, tmp_path):
    run = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "avt_main.py"), "--data_root", str(small), "--save_prefix", str(run),
           "--preset", "tiny", "--clip_seconds", str(S), "--device", "cpu", "--num_workers", "0",
           "--max_epoch", "1", "--batch_size", "3"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (run / "avnet_epoch1.pth").is_file() and (run / "avnet_bestmodel.pth").is_file()
    log = (run / "log.txt").read_text()
    assert "2 process(es)" in log and log.count("epoch 1/1") == 1     # rank 0 alone logs
    assert len(list(csv.DictReader(open(run / "metrics.csv")))) == 1
