"""The model that ships in models/shipped/ (predict.py's default): it loads, its recorded
configuration is what the code builds, its card matches its result files, and it really finds the
opening's end and the ending's start on episodes generated inside the test.

    .venv/bin/python -m pytest -q tests/test_shipped.py
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "models" / "shipped" / "avt_dense_general.pth"


def test_shipped_weights_load_and_match_the_code():
    from dataclasses import asdict, fields

    from bench.train_shipped import Recipe
    from models.checkpoint import load_checkpoint_model, read_checkpoint, segment_head_trained
    from models.config import ModelConfig
    from models.dense import DenseEnsemble
    from models.kinds import build_model

    assert WEIGHTS.is_file(), (
        f"{WEIGHTS} is missing: the repository ships a model (python -m bench.train_shipped)"
    )
    assert WEIGHTS.stat().st_size <= 5 * 1024 * 1024
    ckpt = read_checkpoint(WEIGHTS)
    recipe = ckpt["shipped"]["recipe"]
    # the plain `python -m bench.train_shipped` rebuilds this model: a recipe field added after the build
    # is at the value that leaves its data as they were (0, a knob switched off)
    assert {**asdict(Recipe()), **recipe} == asdict(Recipe())
    assert all(asdict(Recipe())[k] == 0 for k in asdict(Recipe()).keys() - recipe.keys())
    assert ckpt["kind"] == "dense" and ckpt["clip_seconds"] == recipe["clip_seconds"] == 200
    assert set(ckpt["config"]) == {f.name for f in fields(ModelConfig)}      # every field this code knows
    cfg = ModelConfig.from_dict(ckpt["config"])
    assert cfg.dense_members == recipe["members"] and ckpt["preset"] == recipe["preset"]
    built = build_model("dense", cfg, 200).state_dict()
    assert {k: tuple(v.shape) for k, v in built.items()} == {
        k: tuple(v.shape) for k, v in ckpt["model"].items()
    }
    model, meta = load_checkpoint_model(WEIGHTS, "cpu")
    assert isinstance(model, DenseEnsemble) and segment_head_trained(meta)
    assert meta["calibration"]["n"] >= 50          # fitted on the held-out calibration series
    assert meta["preview_calibration"]["n"] >= 20  # the measured previews of those series
    assert "optimizer" not in ckpt                 # weights only


def test_model_card_matches_its_result_files():
    from bench.shipped_card import CARD, card_text
    assert CARD.is_file() and CARD.read_text(encoding="utf-8") == card_text(), (
        "models/shipped/MODEL_CARD.md differs from what `python -m bench.shipped_card` writes from its "
        "results"
    )
    build = json.loads((ROOT / "models" / "shipped" / "results" / "build.json").read_text())
    assert build["bytes"] == WEIGHTS.stat().st_size


def test_the_card_takes_the_further_episode_sets_from_their_files():
    """results/episode_test.json is episode_summary of the committed whole-episode runs: the test set's
    figures, and one line per further set (bench/results/episode_material_test2/3/4/5.json)."""
    from bench.shipped_card import RESULTS, episode_summary
    runs = [json.loads((ROOT / "bench" / "results" / f"episode_material_{x}.json").read_text())
            for x in ("test", "test2", "test3", "test4", "test5")]
    got = episode_summary(runs[0], "shipped", runs[1:])
    assert got == json.loads((RESULTS / "episode_test.json").read_text())
    assert [m["data"] for m in got["further"]] == [r["data"] for r in runs[1:]]
    for m, r in zip(got["further"], runs[1:]):
        assert m["story_safe_share"] == r["at_default"]["shipped"]["story_safe_share"]
        assert f"({m['answered']}/{m['n']})" in got["text"]


def test_shipped_model_finds_both_boundaries_on_generated_episodes(tmp_path):
    """Two realistic episodes (the generator's own sounds and pictures, seed fixed before the model
    was seen on them), S = 200: every labelled boundary within 5 s and at least three in four within
    2 s (the model's unseen-series rate is 90 % within 2 s, models/shipped/results/zero_shot_test.json;
    with this seed all four are within 0.6 s)."""
    from datatools.synth import generate_dataset
    from preprocessing.media import decode_clip
    from preprocessing.stages import Options, features_from_decoded
    from skips.inference import load_models, run_batch

    spans = generate_dataset(tmp_path, series=2, episodes=1, clip_seconds=200, seed=2026, workers=2,
                             progress=False, render_fps=5, min_minutes=7, max_minutes=8)["episodes"]
    models, S = load_models([str(WEIGHTS)], "cpu")
    feats, kinds, truth = [], [], []
    for ep in spans.values():
        for kind in ("start", "end"):
            clip = ep["clips"][kind]
            if clip["label"] is None:
                continue
            dec = decode_clip(tmp_path / clip["file"], S, threads=1)
            f = features_from_decoded(
                dec, S, Options(clip_seconds=S, threads=1), ("mfcc", "frames", "ocr", "roi")
            )
            feats.append(f)
            kinds.append(kind)
            truth.append(clip["label"])
    assert len(truth) >= 3
    out = run_batch(models, feats, kinds, S, "cpu")[0]
    got = np.array(out["seconds"])
    err = np.abs(got - np.array(truth))
    detail = list(zip(kinds, truth, got.round(2)))
    assert (err <= 5.0).all() and (err <= 2.0).sum() >= 0.75 * len(err), detail
    # a hedged skip would stop at the innermost plausible place: never beyond the answer, and here
    # never more than the 1-s skip margin into the story
    from models.dense import inner_edge
    for kind, post, g, t in zip(kinds, out["posterior"], got, truth):
        e = inner_edge(post, kind, float(g))
        assert (e <= g and e - 1.0 <= t + 1.0) if kind == "start" else (e >= g and e + 1.0 >= t - 1.0), \
            (kind, t, g, e)


def test_train_shipped_refuses_another_recipe_in_its_folder(tmp_path, capsys):
    """The rebuild is resumable only with the recipe that began it."""
    from bench.train_shipped import main
    assert main(["--out", str(tmp_path), "--stages", ""]) == 0
    with pytest.raises(SystemExit, match="another recipe"):
        main(["--out", str(tmp_path), "--stages", "", "--epochs", "3"])



def test_train_shipped_trains_no_more_members_at_once_than_the_memory_holds(tmp_path, monkeypatch):
    """Each member caches its features in RAM, so side by side they can exhaust the memory (four
    members on 5.4 GiB of features each were killed by the kernel's out-of-memory killer): the stage
    runs at most as many as fit, and a member killed by SIGKILL is named with the likely cause."""
    import subprocess
    import sys
    import time

    import bench.train_shipped as ts

    r = ts.Recipe(members=4)
    feats = tmp_path / "data" / "processed"
    feats.mkdir(parents=True)
    (feats / "x.npy").write_bytes(b"\0" * (1 << 20))
    total = 0.9 * 8 * 2 ** 30
    monkeypatch.setattr(ts.os, "sysconf", lambda k: {"SC_PAGE_SIZE": 4096}.get(k, int(8 * 2 ** 30 / 4096)))
    per = ts.member_memory(tmp_path)
    assert ts.members_at_once(tmp_path, r, 0) == 4            # small features: all four
    monkeypatch.setattr(ts, "member_memory", lambda out: int(total / 2.5))
    assert ts.members_at_once(tmp_path, r, 0) == 2
    monkeypatch.setattr(ts, "member_memory", lambda out: int(total * 3))
    assert ts.members_at_once(tmp_path, r, 0) == 1            # never none
    assert ts.members_at_once(tmp_path, r, 3) == 3            # --parallel wins
    assert per > 1 << 20

    live, peak, logs = [], [0], []

    def fake_start(out, rec, threads, i, d):
        d.mkdir(parents=True, exist_ok=True)
        code = "import os, time; time.sleep(0.3)" + ("; os.kill(os.getpid(), 9)" if i == 2 else "")
        p = subprocess.Popen([sys.executable, "-c", code])
        live.append(p)
        peak[0] = max(peak[0], sum(q.poll() is None for q in live))
        log = open(d / "console.log", "ab")
        logs.append(log)
        return p, log, d

    monkeypatch.setattr(ts, "start_member", fake_start)
    monkeypatch.setattr(ts, "member_memory", lambda out: int(total / 2.5))
    t0 = time.perf_counter()
    with pytest.raises(SystemExit, match=r"dense_seed12: killed by SIGKILL, most often the kernel's out-of"):
        ts.stage_train(tmp_path, r, 1)
    assert len(live) == 4 and peak[0] == 2, (len(live), peak)
    assert all(log.closed for log in logs)
    assert time.perf_counter() - t0 < 30
def test_a_season_rule_goes_with_the_weights_it_was_fitted_with_however_named(tmp_path):
    """--season uses the rule in the weights' model folder (season_rule.json beside them): the shipped
    model's when no weights are given or its checkpoint is named by any path, a candidate's that
    bench.train_shipped --ship_to wrote; never for a checkpoint without one, a mix of folders, or no
    model (a rule is fitted against one model's confidence)."""
    import os
    import shutil

    from skips.inference import SHIPPED_DIR, model_season_rule

    shipped_rule = (SHIPPED_DIR / "season_rule.json").resolve()
    rel = os.path.relpath(WEIGHTS)
    assert model_season_rule(None).resolve() == shipped_rule
    assert model_season_rule([str(WEIGHTS)]).resolve() == shipped_rule
    assert model_season_rule([rel]).resolve() == shipped_rule
    other = tmp_path / "other.pth"
    shutil.copyfile(WEIGHTS, other)
    assert model_season_rule([str(other)]) is None                  # no rule beside it
    assert model_season_rule([str(WEIGHTS), str(other)]) is None
    assert model_season_rule(["none"]) is None
    (tmp_path / "season_rule.json").write_text("{}", encoding="utf-8")
    assert model_season_rule([str(other)]) == tmp_path / "season_rule.json"
    shutil.copyfile(WEIGHTS, tmp_path / "second.pth")                # a folder of two: both, or none
    assert model_season_rule([str(other)]) is None
    assert model_season_rule([str(other), str(tmp_path / "second.pth")]) == tmp_path / "season_rule.json"


def test_a_candidate_exports_beside_the_shipped_model_without_touching_it(tmp_path):
    """--ship_to DIR: the export stage writes the ensemble, its calibration, season rule and build.json
    to DIR and leaves models/shipped alone; the card stage refuses a folder other than models/shipped.
    The members here are the shipped model's own, split apart, so the export must rebuild it; a
    member's recorded origin (one taken from an earlier build) goes into build.json."""
    import shutil

    import torch

    from bench.train_shipped import RESULTS, SEASON_RULE, main
    from datatools.synth.material import INDEX_VERSION, MATERIAL_FILE
    from models.checkpoint import read_checkpoint, save_checkpoint

    shipped = read_checkpoint(WEIGHTS)
    before = WEIGHTS.read_bytes()
    out, dest, mat = tmp_path / "build", tmp_path / "candidate", tmp_path / "material"
    for i in range(len(shipped["members"])):
        pre = f"members.{i}."
        member = {k[len(pre):]: v for k, v in shipped["model"].items() if k.startswith(pre)}
        d = out / "runs" / f"dense_seed{10 + i}"
        d.mkdir(parents=True)
        save_checkpoint(d / "avnet_bestmodel.pth", {
            "kind": "dense", "preset": shipped["preset"], "config": shipped["config"], "model": member,
            "clip_seconds": shipped["clip_seconds"], "normalization": shipped["normalization"],
            "segment_clips": shipped["segment_clips"], "epoch": 7 + i, "validation": None,
            **({"origin": "taken from an earlier build"} if i == 0 else {})})
    (out / "calibration.json").write_text(json.dumps({"calibration": shipped["calibration"]}),
                                          encoding="utf-8")
    shutil.copyfile(SEASON_RULE, out / "season_rule.json")
    mat.mkdir()
    index = {"version": INDEX_VERSION, "content_hash": "x", "sources": {}}
    (mat / MATERIAL_FILE).write_text(json.dumps(index), encoding="utf-8")
    args = ["--out", str(out), "--material", str(mat), "--ship_to", str(dest)]
    assert main([*args, "--stages", "export"]) == 0
    assert WEIGHTS.read_bytes() == before
    got = read_checkpoint(dest / WEIGHTS.name)
    assert got["model"].keys() == shipped["model"].keys()
    assert all(torch.equal(got["model"][k], shipped["model"][k]) for k in got["model"])
    n = len(shipped["members"])
    assert got["calibration"] == shipped["calibration"]
    assert [m["epoch"] for m in got["members"]] == [7 + i for i in range(n)]
    assert (dest / SEASON_RULE.name).read_bytes() == SEASON_RULE.read_bytes()
    build = json.loads((dest / RESULTS.name / "build.json").read_text(encoding="utf-8"))
    assert build["bytes"] > 0 and build["members"][0]["origin"] == "taken from an earlier build"
    assert "origin" not in build["members"][1]                        # said only where it is so
    with pytest.raises(SystemExit, match="card stage"):
        main([*args, "--stages", "card"])


def test_a_members_training_time_carries_over_a_stop_and_resume(tmp_path):
    """The train stage's wall time counts only the run that completed it; a member's metrics.csv keeps
    every epoch's time, the epochs before a stop included, and the card reports their sum."""
    from bench.train_shipped import member_train_time
    assert member_train_time(tmp_path) == {}
    (tmp_path / "metrics.csv").write_text("epoch,train_loss,time_s\n1,2.0,80.5\n2,1.5,91.25\n")
    assert member_train_time(tmp_path) == {"epochs_run": 2, "train_s": 171.8}


def test_a_lone_episodes_ending_range_stops_before_its_c_part(tmp_path):
    """predict.py with the shipped model and no flags, on one generated episode (the generator's own
    sounds and pictures, seed fixed before the model was run on it) whose ED is followed by a C-part:
    the ED is answered, and its skip range ends no later than the ED song does, so the C-part's story
    is never skipped."""
    import contextlib
    import io

    import predict
    from datatools.synth import generate_dataset

    spans = generate_dataset(tmp_path / "data", series=1, episodes=1, clip_seconds=200, seed=4301, workers=2,
                             progress=False, render_fps=5, min_minutes=7, max_minutes=8, full_episodes=True,
                             long_tail_prob=1.0, no_tail_prob=0.0)["episodes"]
    (ep,) = spans.values()
    c_part = next(a for kind, a, _ in ep["segments"] if kind == "c_part")
    song_end = min(ep["ed_song_span"][1], c_part)
    out = tmp_path / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = predict.main([str(tmp_path / "data" / ep["full_episode"]), "--out", str(out), "--no_progress",
                           "--device", "cpu", "--workers", "1"])
    assert rc == 0, err.getvalue()
    (got,) = json.loads((out / "predictions.json").read_text())["episodes"]
    assert got["ed"] is not None, got["withheld"]
    assert got["ed"][1] <= song_end, (got["ed"], ep["ed_end"], song_end, c_part)


def test_recalibrate_keeps_the_weights_and_writes_a_candidate_beside_them(tmp_path, monkeypatch, capsys):
    """bench/recalibrate.py: the candidate holds the given weights bit for bit, the calibration the fit
    returned, where it was fitted, and the season rule that lay beside the weights; the shipped folder
    is untouched, and writing into the weights' own folder is refused with one line."""
    import torch

    import bench.train_shipped as ts
    from bench import recalibrate
    from models.checkpoint import read_checkpoint

    data = tmp_path / "calib"
    (data / "processed").mkdir(parents=True)
    (data / "spans.json").write_text("{}", encoding="utf-8")
    fitted = {"method": "platt", "a": 1.5, "b": -0.25}
    seen = {}

    def fake_fit(model, folder, S):
        seen.update(folder=folder, S=S, members=len(model.members))
        rel = [{"bin": [0.9, 1.0], "n": 3, "mean_confidence": 0.95, "within_2s": 1.0}]
        return {"n_clips": 3, "n_series": 2, "calibration": fitted, "reliability_raw": rel,
                "reliability_calibrated": rel, "preview_calibration": None, "preview_reliability": [],
                "rows": []}

    monkeypatch.setattr(ts, "fit_confidence", fake_fit)
    before = WEIGHTS.read_bytes()
    out = tmp_path / "candidate"
    assert recalibrate.main(["--weights", str(WEIGHTS), "--data", str(data), "--out", str(out)]) == 0
    assert WEIGHTS.read_bytes() == before
    shipped, got = read_checkpoint(WEIGHTS), read_checkpoint(out / WEIGHTS.name)
    assert seen == {"folder": data, "S": 200, "members": len(shipped["members"])}
    assert all(torch.equal(got["model"][k], shipped["model"][k]) for k in shipped["model"])
    assert got["calibration"] == fitted and got["preview_calibration"] is None
    assert str(data) in got["shipped"]["calibrated_on"]
    assert (out / "season_rule.json").read_bytes() == (WEIGHTS.parent / "season_rule.json").read_bytes()
    res = json.loads((out / "results" / "calibration.json").read_text(encoding="utf-8"))
    assert res["calibration_before"] == shipped["calibration"] and res["calibration"] == fitted
    into_shipped = ["--weights", str(WEIGHTS), "--data", str(data), "--out", str(WEIGHTS.parent)]
    assert recalibrate.main(into_shipped) == 2
    assert "folder of --weights" in capsys.readouterr().err
