"""The dense per-second kind (models/dense.py, avt_dense_main.py): decoding on hand-made heatmaps,
the targets derived from a scalar label, learnability on tiny synthetic features, a checkpoint
round trip, and a test-B submission with its confidence sidecar.

    .venv/bin/python -m pytest -q tests/test_dense.py -s
"""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from datatools.dataset import labelled_clips, split_train_val, write_synthetic_processed
from datatools.labels import read_submission
from datatools.metric import score
from models.checkpoint import load_checkpoint_model
from models.config import get_config
from models.dense import changepoint_loglik, decode_dense, dense_loss, dense_targets
from models.engine import get_args_parser, main
from models.kinds import build_model

ROOT = Path(__file__).resolve().parent.parent
S = 20
NEG = -30.0


def _heat(s, peaks):
    h = torch.full((s,), NEG)
    for k, v in peaks.items():
        h[k] = v
    return h


def test_decode_single_peak_is_the_bin_centre_with_full_confidence():
    sec, conf = decode_dense(_heat(S, {7: 10.0}))
    assert float(sec) == pytest.approx(7.5, abs=1e-4) and float(conf) == pytest.approx(1.0, abs=1e-4)


def test_decode_plateau_and_sub_second_refinement():
    # two equal neighbouring bins: the answer lies between them; a 3:1 pair leans to the stronger
    sec, conf = decode_dense(_heat(S, {7: 5.0, 8: 5.0}))
    assert float(sec) == pytest.approx(8.0, abs=1e-4) and float(conf) > 0.99
    sec, _ = decode_dense(_heat(S, {7: float(np.log(3.0)), 8: 0.0}))
    assert float(sec) == pytest.approx(0.75 * 7.5 + 0.25 * 8.5, abs=1e-3)


def test_decode_two_far_peaks_takes_the_stronger_and_says_it_is_unsure():
    sec, conf = decode_dense(_heat(S, {3: 2.0, 15: 2.2}))
    assert float(sec) == pytest.approx(15.5, abs=0.01)
    assert 0.4 < float(conf) < 0.6          # the mass near the other peak is not counted
    sure_sec, sure = decode_dense(_heat(S, {15: 2.2}))
    assert float(sure) > float(conf)


def test_decode_at_the_edges_of_the_clip():
    assert float(decode_dense(_heat(S, {0: 9.0}))[0]) == pytest.approx(0.5, abs=1e-4)
    assert float(decode_dense(_heat(S, {S - 1: 9.0}))[0]) == pytest.approx(S - 0.5, abs=1e-4)


def test_state_and_prior_move_the_answer():
    flat = torch.zeros(1, S)
    state = torch.full((1, S), -8.0)
    state[0, 12:] = 8.0                                   # "after" from bin 12 on
    ll = changepoint_loglik(state)
    assert int(ll.argmax()) in (11, 12)
    sec, conf = decode_dense(flat, state)
    assert 11.0 <= float(sec) <= 13.0 and float(conf) > 0.9
    prior = torch.full((1, S), -50.0)
    prior[0, 4] = 0.0
    sec, _ = decode_dense(flat, log_prior=prior)
    assert float(sec) == pytest.approx(4.5, abs=1e-3)


def test_targets_from_a_scalar_label():
    g, after = dense_targets(torch.tensor([0.5, 0.05]), S)
    assert g.shape == (2, S) and torch.allclose(g.sum(1), torch.ones(2))
    assert int(g[0].argmax()) in (9, 10) and float(g[0, 9]) == pytest.approx(float(g[0, 10]), abs=1e-6)
    assert after[0, :10].sum() == 0 and after[0, 10:].sum() == S - 10      # label 10.0 s: bins 10.. after
    assert int(g[1].argmax()) == 0 and after[1, 0] == 0 and after[1, 1] == 1
    # the loss is smallest for a heatmap that puts its mass at the label
    good = {"heat": torch.log(g + 1e-9), "state": (after * 2 - 1) * 10}
    bad = {"heat": torch.log(g.flip(1) + 1e-9), "state": -(after * 2 - 1) * 10}
    t = torch.tensor([0.5, 0.05])
    assert dense_loss(good, t)["loss"] < dense_loss(bad, t)["loss"]


def test_forward_shapes_and_clip_type_heads():
    torch.manual_seed(0)   # random weights and inputs: fixed, so the check does not depend on test order
    cfg = get_config("tiny")
    net = build_model("dense", cfg, S).eval()
    b = 3
    mfcc, frames, roi = (
        torch.randn(b, 20, 900),
        torch.rand(b, S, 3, 66, 88),
        (torch.rand(b, S, 27, 36) > 0.9).float(),
    )
    with torch.no_grad():
        a = net(mfcc, frames, roi, torch.zeros(b))
        e = net(mfcc, frames, roi, torch.ones(b))
    assert a["heat"].shape == (b, S) and a["pred"].shape == (b,) and a["confidence"].shape == (b,)
    # the answer and its confidence are the pure decoder's reading of the two heads, times the presence
    seconds, conf = decode_dense(a["heat"], a["state"])
    assert torch.allclose(a["pred"], seconds / S) and torch.allclose(a["confidence"], conf * a["present"])
    assert not torch.allclose(a["heat"], e["heat"])          # _start and _end clips use their own heads
    # translation-equivariant: a shifted clip shifts the heatmap (away from the zero-padded edges)
    k = 3
    with torch.no_grad():
        sh = net(torch.roll(mfcc, round(k * 22050 / 512), 2), torch.roll(frames, k, 1), torch.roll(roi, k, 1),
                 torch.zeros(b))
    # correlation over all three clips and eight positions, each clip's row centred (a single clip's
    # four positions was too few: it fell below 0.5 for some random weights); 0.72-0.94 over 12 seeds
    x = sh["heat"][:, 6:14] - sh["heat"][:, 6:14].mean(1, keepdim=True)
    y = a["heat"][:, 6 - k:14 - k] - a["heat"][:, 6 - k:14 - k].mean(1, keepdim=True)
    assert float((x * y).sum() / (x.norm() * y.norm())) > 0.5


@pytest.fixture(scope="module")
def learn_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("learn") / "data"
    write_synthetic_processed(root, n_train=56, n_test=4, clip_seconds=S, seed=7)
    return root


def _args(data: Path, run: Path, *extra: str):
    argv = ["--data_root", str(data), "--save_prefix", str(run), "--preset", "tiny", "--clip_seconds", str(S),
            "--device", "cpu", "--num_workers", "0", "--show_freq", "0", *extra]
    return get_args_parser(kind="dense").parse_args(argv)


def test_dense_learns_far_below_baseline_and_round_trips(learn_data, tmp_path):
    recs = labelled_clips(learn_data, None, S)
    train, val = split_train_val(recs, 0)
    truth = [r.seconds for r in val]
    baseline = score([float(np.median([r.seconds for r in train]))] * len(val), truth)
    run = tmp_path / "run"
    res = main(_args(learn_data, run, "--max_epoch", "8", "--warmup_epochs", "0", "--lr", "3e-3",
                     "--batch_size", "6", "--shift_aug", "5"))
    print(f"\n[learnability dense] validation score {res['best_score']:.3f} s vs baseline {baseline:.3f} s")
    assert baseline > 1.5 and res["best_score"] < 0.25 * baseline
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert {"train_heat", "train_state"} <= set(rows[0])
    model, meta = load_checkpoint_model(run / "avnet_bestmodel.pth", "cpu")
    assert meta["kind"] == "dense" and type(model).__name__ == "DenseNet"
    # the checkpoint keeps its epoch's validation figure and a calibration map fitted on those clips
    best = min(rows, key=lambda r: float(r["val_score"]))
    assert meta["validation"]["n"] == len(val)
    assert meta["validation"]["within_2s"] == pytest.approx(float(best["val_within_2s"]))
    cal = meta["calibration"]
    assert cal["n"] == len(val) and cal["x"][0] == 0.0 and cal["x"][-1] == 1.0
    assert all(a <= b for a, b in zip(cal["y"], cal["y"][1:]))
    again = build_model("dense", get_config("tiny"), S)
    again.load_state_dict(model.state_dict())
    x = (
        torch.randn(2, 20, 900),
        torch.rand(2, S, 3, 66, 88),
        torch.zeros(2, S, 27, 36),
        torch.tensor([0.0, 1.0]),
    )
    model.eval(), again.eval()
    with torch.no_grad():
        assert torch.allclose(model(*x)["heat"], again(*x)["heat"])


def test_testb_submission_and_confidence_sidecar(learn_data, tmp_path):
    run = tmp_path / "run"
    main(_args(learn_data, run, "--max_epoch", "2", "--warmup_epochs", "0"))
    test = tmp_path / "test"
    proc = subprocess.run(
        [sys.executable, "avt_dense_main.py", "--testB", "--weights", str(run / "avnet_bestmodel.pth"),
         "--data_root", str(learn_data), "--preset", "tiny", "--clip_seconds", str(S), "--device", "cpu",
         "--num_workers", "0", "--save_prefix", str(test)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    sub = read_submission(test / "submission.csv")
    conf = list(csv.DictReader(open(test / "submission_confidence.csv")))
    assert [r.clip for r in sub] == [c["clip"] for c in conf] and len(sub) == 4
    # each confidence is the checkpoint's calibration applied to the model's own raw confidence on
    # that clip, recomputed here in-process from the same features
    from datatools.dataset import TEST_DIRS, FeatureDataset, find_test_clips
    from models.calibration import apply_calibration
    from models.inputs import predict_seconds
    model, meta = load_checkpoint_model(run / "avnet_bestmodel.pth", "cpu")
    ds = FeatureDataset(
        find_test_clips(learn_data, TEST_DIRS["testB"], learn_data / "processed"), learn_data / "processed", S
    )
    items = [ds[i] for i in range(len(ds))]
    batch = {k: np.stack([it[k] for it in items]) for k in ("mfcc", "frames", "roi", "is_end")}
    raw = predict_seconds(model, batch, meta.get("normalization") or "unit", S, "cpu")["confidence"]
    want = np.asarray(apply_calibration(raw, meta.get("calibration")), np.float64)
    assert [Path(r.rel).name for r in ds.records] == [c["clip"] for c in conf]
    assert np.allclose([float(c["confidence"]) for c in conf], want, atol=6e-5), (conf, want)
