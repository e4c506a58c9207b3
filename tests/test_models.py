"""Shape, loss, decoding and checkpoint contracts of the three networks (tiny preset, S = 20).

    .venv/bin/python -m pytest -q tests/test_models.py
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from datatools.spec import FRAME_H, FRAME_W, ROI_H, ROI_W, mfcc_length
from models.checkpoint import CheckpointError, load_checkpoint_model, save_checkpoint
from models.config import ModelConfig, get_config
from models.heads import coarse_cell, to_seconds, yolt_position
from models.inputs import predict_seconds, to_model_inputs
from models.kinds import PUBLISHED_KINDS, build_model, compute_loss
from models.resnet import like_weight_layout

S = 20


def _inputs(b: int, s: int = S):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(b, 20, mfcc_length(s), generator=g),
            torch.rand(b, s, 3, FRAME_H, FRAME_W, generator=g),
            (torch.rand(b, s, ROI_H, ROI_W, generator=g) > 0.9).float())


@pytest.mark.parametrize("kind", PUBLISHED_KINDS)
def test_tiny_forward_backward_shapes(kind):
    torch.manual_seed(0)
    cfg = get_config("tiny")
    model = build_model(kind, cfg, S)
    out = model(*_inputs(3))
    assert out["pred"].shape == (3,) and out["per_second"].shape == (3, S)
    assert out["pred"].unique().numel() == 3          # three different clips, three different answers
    if kind == "yolt":
        assert out["cell"].dtype == torch.long and out["cell"].shape == (3,)
        assert torch.allclose(out["pred"], (out["cell"].float() + out["fine"]) / cfg.yolt_grid)
    else:                                              # the answer is read from the per-second scores
        assert torch.allclose(out["pred"], model.head.regress(out["per_second"]).squeeze(1))
    losses = compute_loss(kind, out, torch.tensor([0.1, 0.5, 0.9]), S, cfg)
    losses["loss"].backward()
    grads = [p.grad for n, p in model.named_parameters() if not n.startswith("fine.")]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # Both streams receive gradient: the fusion really uses audio and video.
    assert model.audio.trunk.stem[0].weight.grad.abs().sum() > 0
    assert model.video.roi.net[0].weight.grad.abs().sum() > 0


def test_channels_last_layout_gives_the_same_numbers():
    """build_model stores 2-D conv weights channels-last (a CPU speed choice); the arithmetic must
    be that of the ordinary layout, forward and backward."""
    torch.manual_seed(0)
    fast = build_model("avt", get_config("tiny"), S).eval()
    assert fast.video.frames.net[0].stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    plain = build_model("avt", get_config("tiny"), S).to(memory_format=torch.contiguous_format)
    plain.load_state_dict(fast.state_dict())
    plain.eval()
    assert plain.video.frames.net[0].stem[0].weight.is_contiguous()
    # the forward passes follow the weights: channels-last inputs only in the fast model
    fr = torch.rand(4, 3, FRAME_H, FRAME_W)
    for ref in (fast.video.roi.net[4].weight, fast.video.frames.first_conv.weight):
        x = like_weight_layout(fr, ref)
        assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    for ref in (plain.video.roi.net[4].weight, plain.video.frames.first_conv.weight):
        assert like_weight_layout(fr, ref).is_contiguous()
    x = _inputs(2)
    a, b = fast(*x), plain(*x)
    assert torch.allclose(a["per_second"], b["per_second"], atol=1e-5)
    a["pred"].sum().backward()
    b["pred"].sum().backward()
    ga = fast.video.frames.net[0].stem[0].weight.grad
    gb = plain.video.frames.net[0].stem[0].weight.grad
    assert torch.allclose(ga, gb, rtol=1e-4, atol=1e-6)


def test_full_preset_layer_sizes_and_forward():
    """SPEC.md section 3 sizes; one forward at S = 20, batch 1 (a few seconds on a CPU)."""
    torch.manual_seed(0)
    cfg = get_config("full")
    model = build_model("yolt", cfg, S).eval()
    assert model.video.frames.out_dim == 512 and model.video.roi.out_dim == 128
    assert model.video.temporal.gru.hidden_size == 1024 and model.video.temporal.gru.num_layers == 2
    assert model.video.temporal.gru.input_size == 640
    assert model.audio.trunk.stem[0].in_channels == 20 and model.audio.trunk.stem[0].stride == (2,)
    assert model.audio.trunk.out_channels == 512
    assert model.fusion.se.fc[0].in_features == 4096 and model.fusion.se.fc[0].out_features == 1024
    assert model.head.backend[0].in_channels == 4096 and model.head.backend[0].out_channels == 1
    assert model.head.regress[0].in_features == S and model.head.regress[0].out_features == 64
    normal = build_model("avt_normal", cfg, S)
    assert [m.out_channels for m in normal.head.backend if isinstance(m, torch.nn.Conv1d)] == [1024, 1]
    with torch.no_grad():
        out = model(*_inputs(1))
    assert out["pred"].shape == (1,) and out["per_second"].shape == (1, S)


def test_yolt_needs_grid_multiple():
    with pytest.raises(ValueError, match="multiple"):
        build_model("yolt", get_config("tiny"), 30)


def test_decoding_is_pure_and_exact():
    assert to_seconds(torch.tensor([0.0, 0.25, 1.0]), 200).tolist() == [0.0, 50.0, 200.0]
    cell = coarse_cell(torch.tensor([0.0, 0.049, 0.05, 0.999, 1.0]), 20)
    assert cell.tolist() == [0, 0, 1, 19, 19]
    pos = yolt_position(torch.tensor([3]), torch.tensor([0.5]), 20)
    assert pos.item() == pytest.approx(3.5 / 20)


def test_yolt_loss_fine_term_only_on_hit():
    cfg = get_config("tiny")
    target = torch.tensor([0.52, 0.52])              # true cell 10 of 20 (S = 20: 1 s per cell)
    out = {"coarse": torch.tensor([0.51, 0.80]), "fine": torch.tensor([0.2, 0.9]),
           "cell": torch.tensor([10, 16]), "pred": torch.zeros(2)}
    losses = compute_loss("yolt", out, target, 20, cfg)
    assert losses["coarse"].item() == pytest.approx((0.2 + 5.6) / 2, abs=1e-4)
    # only sample 0 counts: true offset 0.4 of a 1-s cell vs predicted 0.2
    assert losses["fine"].item() == pytest.approx(0.2, abs=1e-4)
    assert losses["hit_rate"].item() == 0.5


def test_avt_loss_is_smooth_l1_in_seconds():
    out = {"pred": torch.tensor([0.5, 0.5])}
    losses = compute_loss("avt", out, torch.tensor([0.5 + 0.25 / S, 0.5 + 3 / S]), S, get_config("tiny"))
    assert losses["loss"].item() == pytest.approx((0.5 * 0.25 ** 2 + (3 - 0.5)) / 2, rel=1e-4)


def test_inputs_normalisation_and_prediction_function():
    rng = np.random.default_rng(0)
    batch = {"mfcc": rng.normal(size=(2, 20, mfcc_length(S))).astype(np.float32),
             "frames": rng.integers(0, 256, (2, S, FRAME_H, FRAME_W, 3), dtype=np.uint8),
             "roi": rng.integers(0, 2, (2, S, ROI_H, ROI_W), dtype=np.uint8)}
    _, unit, roi = to_model_inputs(batch, "unit")
    _, imnet, _ = to_model_inputs(batch, "imagenet")
    assert unit.shape == (2, S, 3, FRAME_H, FRAME_W) and unit.min() >= 0 and unit.max() <= 1
    assert unit[0, 0, 1, 2, 3].item() == pytest.approx(batch["frames"][0, 0, 2, 3, 1] / 255)
    assert imnet[0, 0, 0, 2, 3].item() == pytest.approx(
        (unit[0, 0, 0, 2, 3].item() - 0.485) / 0.229, rel=1e-5
    )
    assert roi.dtype == torch.float32
    model = build_model("avt", get_config("tiny"), S)
    res = predict_seconds(model, batch, "unit", S)
    assert res["seconds"].shape == (2,) and np.all((res["seconds"] >= 0) & (res["seconds"] <= S))
    assert res["per_second"].shape == (2, S)


def test_checkpoint_roundtrip_and_mismatch(tmp_path):
    torch.manual_seed(0)
    cfg = get_config("tiny")
    model = build_model("avt_normal", cfg, S).eval()
    wrapped = torch.nn.DataParallel(model)            # saved keys get stripped of "module."
    path = tmp_path / "ck.pth"
    save_checkpoint(path, {"model": wrapped.state_dict(), "kind": "avt_normal", "preset": "tiny",
                           "config": cfg.to_dict(), "clip_seconds": S, "normalization": "imagenet",
                           "epoch": 3, "best_score": 1.5})
    loaded, meta = load_checkpoint_model(path, "cpu")
    assert meta["kind"] == "avt_normal" and meta["normalization"] == "imagenet" and meta["epoch"] == 3
    assert ModelConfig.from_dict(meta["config"]) == cfg
    x = _inputs(2)
    with torch.no_grad():
        assert torch.equal(model(*x)["pred"], loaded(*x)["pred"])
    with pytest.raises(CheckpointError, match="kind='avt_normal'.*kind='yolt'"):
        load_checkpoint_model(path, "cpu", kind="yolt")
    with pytest.raises(CheckpointError, match="preset='tiny'.*preset='full'"):
        load_checkpoint_model(path, "cpu", preset="full")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth"):
        load_checkpoint_model(tmp_path / "junk.pth")


def test_pretrained_loading(tmp_path):
    import torchvision

    from models.frame_trunk import FrameTrunk, load_imagenet_weights

    ref = torchvision.models.resnet18(weights=None)
    torch.save(ref.state_dict(), tmp_path / "r18.pth")
    trunk = FrameTrunk(0)
    load_imagenet_weights(trunk, tmp_path / "r18.pth")
    assert torch.equal(trunk.net.conv1.weight, ref.conv1.weight)
    with pytest.raises(ValueError, match="tiny"):
        load_imagenet_weights(FrameTrunk(8), tmp_path / "r18.pth")


def test_heads_stay_float32_under_autocast():
    """Under bf16 autocast the trunk runs in bf16 but positions keep float32 resolution."""
    torch.manual_seed(0)
    model = build_model("yolt", get_config("tiny"), S).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(*_inputs(2))
    assert out["pred"].dtype == torch.float32 and out["per_second"].dtype == torch.float32
