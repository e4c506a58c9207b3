"""Per-second segment truth (datatools/segments.py), the dense kind's segment head and its span
decoding (models/dense.py decode_spans): hand-made spans and probabilities, the dataset's shift,
and a tiny training through the real engine whose head must learn the segments.

    .venv/bin/python -m pytest -q tests/test_segments.py -s
"""
from __future__ import annotations

import csv
import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from datatools.dataset import (
    ClipRecord,
    FeatureDataset,
    labelled_clips,
    split_train_val,
    write_synthetic_processed,
)
from datatools.segments import (
    ENDING,
    OPENING,
    OTHER,
    PREVIEW,
    STORY,
    beyond_window_clips,
    clip_segments,
    segment_truth,
)
from models.checkpoint import load_checkpoint_model
from models.config import ModelConfig
from models.dense import balanced_weights, decode_spans, dense_loss, window_presence
from models.engine import get_args_parser, main
from models.inputs import to_model_inputs

S = 20


def _episode(D=1000.0, end_offset=800.0):
    return {
        "duration": D,
        "op_start": 30.0,
        "op_end": 120.0,
        "ed_start": 850.0,
        "ed_end": 940.0,
        "preview": [960.0, 990.0],
        "gaps": [[940.0, 942.0]],
        "title_card": [120.0, 124.0],
        "end_card": [990.0, 1000.0],
        "clips": {
            "start": {"file": "x_start.mp4", "offset": 0},
            "end": {"file": "x_end.mp4", "offset": end_offset},
        },
    }


def test_clip_segments_from_spans():
    ep = _episode()
    a = clip_segments(ep, "start", 200)
    assert a.dtype == np.int64 and a.shape == (200,)
    assert (a[:30] == STORY).all() and (a[30:120] == OPENING).all() and (a[120:124] == OTHER).all()
    assert (a[124:] == STORY).all()
    e = clip_segments(ep, "end", 200)             # episode 800..1000
    assert (e[:50] == STORY).all() and (e[50:140] == ENDING).all() and (e[140:142] == OTHER).all()
    assert (e[142:160] == STORY).all() and (e[160:190] == PREVIEW).all() and (e[190:] == OTHER).all()


def test_segment_truth_beside_the_label_file(tmp_path):
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "spans.json").write_text(json.dumps({"clip_seconds": 200, "episodes": {"x": _episode()}}))
    (root / "b" / "spans.json").write_text(json.dumps({"clip_seconds": 100, "episodes": {"x": _episode()}}))

    class R:
        def __init__(self, rel):
            self.rel = Path(rel)
    got = segment_truth([R("a/x_start.mp4"), R("a/x_end.mp4"), R("a/y_start.mp4"), R("b/x_start.mp4"),
                         R("c/x_start.mp4")], root, 200)
    assert got[0][40] == OPENING and got[1][60] == ENDING
    assert got[2] is None            # not in the spans file
    assert got[3] is None            # spans made for another clip length
    assert got[4] is None            # no spans file


def test_dataset_shifts_segments_with_the_content(tmp_path):
    root = tmp_path / "data"
    labels = write_synthetic_processed(root, n_train=4, n_test=0, clip_seconds=S, seed=3)
    recs = labelled_clips(root, None, S)
    seg = [np.arange(S) % 5 for _ in recs]
    plain = FeatureDataset(recs, root / "processed", S, segments=seg)
    assert (plain[0]["segments"] == seg[0]).all()
    shifted = FeatureDataset(recs, root / "processed", S, shift_aug=4, seed=1, segments=seg)
    for epoch in range(6):
        shifted.set_epoch(epoch)
        for i in range(len(recs)):
            it = shifted[i]
            k = round(float(it["target"]) * S - labels[i][1])
            want = np.full(S, -1)
            if k >= 0:
                want[k:] = seg[i][:S - k]
            else:
                want[:S + k] = seg[i][-k:]
            assert (it["segments"] == want).all()
    none = FeatureDataset(recs, root / "processed", S, segments=[None] * len(recs))
    assert (none[0]["segments"] == -1).all()
    assert "segments" not in FeatureDataset(recs, root / "processed", S)[0]


def _probs(spans, s=200, high=0.9):
    p = np.full((5, s), (1 - high) / 4)
    p[STORY] = high
    for c, a, b in spans:
        p[:, a:b] = (1 - high) / 4
        p[c, a:b] = high
    return p


def test_decode_spans_on_hand_made_probabilities():
    # at 0.9 a second costs 2.2 nats to move across: 5 s of doubt inside OP_START_DOUBT_NATS (12),
    # 10 s inside ED_END_DOUBT_NATS (24), 2 s inside 5 nats
    assert decode_spans(_probs([(OPENING, 30, 120)]), "start", 120.0) == {"op_start": 30.0,
                                                                        "op_start_latest": 35.0}
    assert decode_spans(_probs([(OPENING, 30, 120)]), "start", 120.0, doubt_nats=5.0) == {
        "op_start": 30.0, "op_start_latest": 32.0}
    assert decode_spans(_probs([(OPENING, 0, 95)]), "start", 95.0) == {"op_start": 0.0,
                                                                      "op_start_latest": 5.0}
    got = decode_spans(_probs([(ENDING, 50, 140), (PREVIEW, 160, 190), (OTHER, 190, 200)]), "end", 50.0)
    assert got == {"ed_end": 140.0, "ed_end_earliest": 130.0, "preview": [160.0, 190.0],
                   "preview_share": pytest.approx(0.9)}
    got = decode_spans(_probs([(ENDING, 50, 200)]), "end", 50.0, doubt_nats=5.0)
    assert got == {"ed_end": 200.0, "ed_end_earliest": 198.0, "preview": None, "preview_share": None}
    # a head that does not see an opening there reports none (the caller falls back)
    assert decode_spans(_probs([]), "start", 120.0) == {"op_start": None, "op_start_latest": None}
    assert decode_spans(_probs([]), "end", 50.0) == {"ed_end": None, "ed_end_earliest": None, "preview": None,
                                                    "preview_share": None}


def test_a_doubtful_outer_edge_keeps_the_skip_range_out_of_the_story():
    """Ten seconds the head gives only 0.6 "opening" (a song lead, a title over the story): the best
    OP start is their first second, but their last is almost as likely (10 x 0.4 nats), so the skip
    range begins after them, not at the best start plus --edge_margin.  Likewise an ending that fades
    out over ten seconds.  A clear edge keeps the edge margin."""
    from skips.decide import apply_skip_margin, measure_spans
    from skips.options import PredictOptions
    from skips.result import Draft

    p = _probs([(OPENING, 40, 120)])
    p[OPENING, 30:40], p[STORY, 30:40] = 0.6, 0.4 - 0.1 * 3 / 4
    assert decode_spans(p, "start", 120.0, doubt_nats=5.0) == {"op_start": 30.0, "op_start_latest": 40.0}
    assert decode_spans(p, "start", 120.0) == {"op_start": 30.0, "op_start_latest": 43.0}   # 12 nats
    q = _probs([(ENDING, 50, 130)])
    q[ENDING, 130:140], q[STORY, 130:140] = 0.6, 0.4 - 0.1 * 3 / 4
    assert decode_spans(q, "end", 50.0)["ed_end"] == 140.0
    assert decode_spans(q, "end", 50.0, doubt_nats=5.0)["ed_end_earliest"] == 130.0
    assert decode_spans(q, "end", 50.0)["ed_end_earliest"] == 121.0                           # 24 nats
    # the episode: 1000 s, start clip at 0, end clip at 800
    r = Draft("a.mp4", "a.mp4", True, duration=1000.0, op_end=120.0, ed_start=850.0)
    r.confidence = {"op_end": 0.99, "ed_start": 0.99}
    raw = [{"segments": {"start": p, "end": q}}]
    measure_spans(r, raw, 200, PredictOptions())
    assert r.op == (30.0, 120.0) and r.ed == (850.0, 940.0)            # the measured spans stand
    assert r.safe_edges == {"op_start": 43.0, "ed_end": 921.0}
    apply_skip_margin([r], 1.0, 3.0)
    assert r.op == (44.0, 119.0) and r.ed == (851.0, 920.0)            # not (33, 119) and (851, 937)
    assert r.measured["opening"] == (30.0, 120.0)
    assert r.to_dict()["safe_edges"] == {"op_start": 43.0, "ed_end": 921.0}
    # sharp edges (0.999 a second): the OP start's edge margin is the wider one; the ED end's doubt
    # (3 s at 24 nats) still a little wider than its 3-s margin
    c = Draft("b.mp4", "b.mp4", True, duration=1000.0, op_end=120.0, ed_start=850.0)
    c.confidence = {"op_end": 0.99, "ed_start": 0.99}
    measure_spans(c, [{"segments": {"start": _probs([(OPENING, 30, 120)], high=0.999),
                                    "end": _probs([(ENDING, 50, 140)], high=0.999)}}], 200, PredictOptions())
    apply_skip_margin([c], 1.0, 3.0)
    assert c.op == (33.0, 119.0) and c.ed == (851.0, 936.0)
    # no margins: the measured spans as they are
    z = Draft("a.mp4", "a.mp4", True, duration=1000.0, op_end=120.0, ed_start=850.0)
    z.confidence = {"op_end": 0.99, "ed_start": 0.99}
    measure_spans(z, raw, 200, PredictOptions())
    apply_skip_margin([z], 0.0, 0.0)
    assert z.op == (30.0, 120.0) and z.ed == (850.0, 940.0)


def test_segment_loss_only_where_truth_is_known():
    torch.manual_seed(0)
    out = {"heat": torch.randn(2, S), "state": torch.randn(2, S), "segments": torch.randn(2, 5, S)}
    t = torch.tensor([0.3, 0.6])
    base = dense_loss(out, t)
    assert float(base["segment"]) == 0.0
    unknown = dense_loss(out, t, torch.full((2, S), -1))
    assert float(unknown["loss"]) == pytest.approx(float(base["loss"]))
    seg = torch.randint(0, 5, (2, S))
    known = dense_loss(out, t, seg)
    assert float(known["segment"]) > 0 and float(known["loss"]) > float(base["loss"])


def test_old_dense_configs_build_without_a_segment_head():
    old = {k: v for k, v in ModelConfig().to_dict().items() if k != "dense_segments"}
    assert ModelConfig.from_dict(old).dense_segments == 0
    assert ModelConfig.from_dict(ModelConfig().to_dict()).dense_segments == 5


def _spans_for(root: Path, labels) -> None:
    """Truth for write_synthetic_processed's clips: its bright 'before' part is the opening of a
    _start clip; the dark 'after' part is the ending of an _end clip (each clip its own episode)."""
    eps = {}
    for stem, t in labels:
        if stem.endswith("_start"):
            eps[stem] = {
                "duration": S,
                "op_start": 0.0,
                "op_end": t,
                "clips": {"start": {"file": stem + ".mp4", "offset": 0}},
            }
        else:
            eps[stem] = {
                "duration": S,
                "ed_start": t,
                "ed_end": float(S),
                "clips": {"end": {"file": stem + ".mp4", "offset": 0}},
            }
    (root / "data_A/train/spans.json").write_text(json.dumps({"clip_seconds": S, "episodes": eps}))


def test_segment_head_learns_through_the_engine(tmp_path):
    root = tmp_path / "data"
    labels = write_synthetic_processed(root, n_train=56, n_test=0, clip_seconds=S, seed=11)
    _spans_for(root, labels)
    run = tmp_path / "run"
    argv = ["--data_root", str(root), "--save_prefix", str(run), "--preset", "tiny", "--clip_seconds", str(S),
            "--device", "cpu", "--num_workers", "0", "--show_freq", "0", "--max_epoch", "8",
            "--warmup_epochs", "0", "--lr", "3e-3", "--batch_size", "6", "--shift_aug", "5"]
    main(get_args_parser(kind="dense").parse_args(argv))
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    seg = [float(r["train_segment"]) for r in rows]
    assert seg[0] > 0 and seg[-1] < 0.5 * seg[0]
    model, _ = load_checkpoint_model(run / "avnet_bestmodel.pth", "cpu")
    model.eval()
    recs = labelled_clips(root, None, S)
    _, val = split_train_val(recs, 0)
    truth = segment_truth(val, root, S)
    ds = FeatureDataset(val, root / "processed", S)
    right = total = 0
    op_err = []
    for i, rec in enumerate(val):
        it = ds[i]
        batch = {
            k: torch.as_tensor(np.asarray(v))[None] for k, v in it.items() if k in ("mfcc", "frames", "roi")
        }
        with torch.no_grad():
            out = model(*to_model_inputs(batch, "unit", torch.device("cpu")), torch.tensor([it["is_end"]]))
        probs = torch.softmax(out["segments"][0], 0).numpy()
        right += int((probs.argmax(0) == truth[i]).sum())
        total += S
        if rec.rel.stem.endswith("_start"):
            got = decode_spans(probs, "start", rec.seconds)["op_start"]
            op_err.append(99.0 if got is None else abs(got - 0.0))     # the opening starts at 0 here
    print(f"\n[segment head] per-second accuracy {right / total:.3f} on {len(val)} validation clips; "
          f"OP start errors {op_err}")
    assert right / total > 0.9
    assert max(op_err) <= 1.0


def test_predict_measures_spans_and_writes_part_b_and_preview():
    """skips.decide.measure_spans: OP start, ED end and the preview from the segment probabilities
    (episode time), the assumed lengths where no model has a segment head; chapters follow."""
    import argparse

    from skips.decide import measure_spans
    from skips.formats import chapter_list, jellyfin_document
    from skips.result import Draft, preview_range

    args = argparse.Namespace(op_length=90.0, ed_length=90.0)
    D = 1000.0                                   # end clip = episode 800..1000
    raw = [{"segments": {"start": _probs([(OPENING, 40, 110)]),
                         "end": _probs([(ENDING, 50, 130), (PREVIEW, 160, 190), (OTHER, 190, 200)])}}]
    r = Draft("x.mkv", "x.mkv", True, duration=D, op_end=110.0, ed_start=850.0)
    measure_spans(r, raw, 200, args)
    assert r.op == (40.0, 110.0) and r.ed == (850.0, 930.0) and preview_range(r) == (960.0, 990.0)
    assert r.span_source == {"op_start": "segments", "ed_end": "segments", "preview": "segments"}
    names = [(t, a, b) for t, a, b in chapter_list(r)]
    assert names == [("Prologue", 0.0, 40.0), ("Opening", 40.0, 110.0), ("Part A", 110.0, 850.0),
                     ("Ending", 850.0, 930.0), ("Part B", 930.0, 960.0), ("Preview", 960.0, D)]
    assert jellyfin_document(r)["intro_skipper_timestamps"]["Preview"] == {"Start": 960.0, "End": D}
    # no segment head: the assumed lengths, and everything after the ending is the preview
    r2 = Draft("x.mkv", "x.mkv", True, duration=D, op_end=110.0, ed_start=850.0)
    measure_spans(r2, [{}], 200, args)
    assert r2.op == (20.0, 110.0) and r2.ed == (850.0, 940.0) and preview_range(r2) == (940.0, D)
    assert r2.span_source["op_start"] == "assumed 90 s"
    # a head that sees no preview: none is reported, the C-part after the ending is Part B
    raw3 = [{"segments": {"start": _probs([(OPENING, 40, 110)]), "end": _probs([(ENDING, 50, 130)])}}]
    r3 = Draft("x.mkv", "x.mkv", True, duration=D, op_end=110.0, ed_start=850.0)
    measure_spans(r3, raw3, 200, args)
    assert preview_range(r3) is None and chapter_list(r3)[-1] == ("Part B", 930.0, D)
    assert "preview" not in r3.confidence


def test_the_segment_head_vetoes_a_boundary_it_contradicts():
    """An OP end with no opening before it (here the head sees the opening 40-110 s, the answer is
    170 s: the 30 s before it are story) cannot be right: its confidence falls to the support; one
    the head agrees with keeps its calibrated confidence, even above the support (the ED start: 0.95
    with support 0.9).  Only a support below 0.5 vetoes."""
    import argparse

    from models.dense import segment_support, supported_confidence
    from skips.decide import measure_spans
    from skips.result import Draft

    p = _probs([(OPENING, 40, 110)])
    assert segment_support(p, "start", 110.0) == pytest.approx(0.9)
    assert segment_support(p, "start", 170.0) == pytest.approx(0.025)
    assert segment_support(p, "start", 50.0) == pytest.approx(0.9 * 10 / 30 + 0.025 * 20 / 30)
    assert segment_support(p, "start", 0.0) == 0.0          # nothing seen before the window's start
    q = _probs([(ENDING, 50, 130)])
    assert segment_support(q, "end", 50.0) == pytest.approx(0.9) and segment_support(q, "end", 200.0) == 0.0
    args = argparse.Namespace(op_length=90.0, ed_length=90.0)
    raw = [{"segments": {"start": p, "end": q}}]
    for op_end, want in ((110.0, 0.8), (170.0, 0.025)):
        r = Draft("x.mkv", "x.mkv", True, duration=1000.0, op_end=op_end, ed_start=850.0,
                          confidence={"op_end": 0.8, "ed_start": 0.95})
        measure_spans(r, raw, 200, args)
        assert r.confidence["op_end"] == pytest.approx(want) and r.confidence["ed_start"] == pytest.approx(
            0.95
        )
        assert r.to_dict()["support"]["op_end"] == pytest.approx(0.9 if op_end == 110.0 else 0.025)
    assert supported_confidence(0.8, 0.6) == 0.8 and supported_confidence(0.8, 0.3) == pytest.approx(0.3)
    assert supported_confidence(0.2, 0.3) == pytest.approx(0.2)


def test_an_unsure_preview_is_withheld_alone():
    """The preview's own confidence (ED start's x the mean preview probability; with a model's
    preview map, that probability through the map): below --min_confidence it is left out, the
    ending stays; Part B then runs to the end."""
    import argparse

    from models.calibration import apply_calibration
    from skips.decide import measure_spans, preview_calibration, withhold_unsure
    from skips.formats import chapter_list
    from skips.result import Draft, preview_range

    args = argparse.Namespace(op_length=90.0, ed_length=90.0)
    end = _probs([(ENDING, 50, 130)], high=0.95)             # a sure ending, an unsure preview
    end[:, 160:190] = 0.1
    end[PREVIEW, 160:190] = 0.6
    raw = [{"segments": {"start": _probs([(OPENING, 40, 110)]), "end": end}}]
    r = Draft("x.mkv", "x.mkv", True, duration=1000.0, op_end=110.0, ed_start=850.0,
                      confidence={"op_end": 0.9, "ed_start": 0.9})
    measure_spans(r, raw, 200, args)
    assert preview_range(r) is not None and 0.4 < r.confidence["preview"] < 0.9 * 0.6 + 1e-6
    share = r.confidence["preview"] / 0.9
    withhold_unsure([r], 0.7)
    assert set(r.withheld) == {"preview"} and preview_range(r) is None
    assert chapter_list(r)[-2:] == [("Ending", 850.0, 930.0), ("Part B", 930.0, 1000.0)]
    # a preview map (here sigmoid(2 logit(share) + 1)) replaces the product, whatever the ED's confidence
    cal = {"method": "platt", "a": 2.0, "b": 1.0, "n": 30, "tolerance_s": 2.0}
    r2 = Draft("x.mkv", "x.mkv", True, duration=1000.0, op_end=110.0, ed_start=850.0,
                       confidence={"op_end": 0.9, "ed_start": 0.5})
    measure_spans(r2, raw, 200, args, cal)
    assert r2.confidence["preview"] == pytest.approx(apply_calibration(share, cal))
    assert r2.confidence["preview"] > 0.7
    one = types.SimpleNamespace(meta={"preview_calibration": cal})
    assert preview_calibration([one]) == cal and preview_calibration([one, one]) is None
    assert preview_calibration([types.SimpleNamespace(meta={})]) is None


def test_decode_spans_refines_edges_below_a_second():
    """The bins beside an edge carry a share of each side: an opening from 30.4 s makes bin 30
    about 0.6 opening, and the decoded start is 30.4, not the bin edge."""
    p = _probs([(OPENING, 31, 120)], high=0.98)
    p[:, 30] = 0.02 / 4 * np.ones(5)
    p[STORY, 30], p[OPENING, 30] = 0.4, 0.6 - 0.02 / 4 * 3
    got = decode_spans(p, "start", 120.0)["op_start"]
    assert got == pytest.approx(30.4, abs=0.05)
    q = _probs([(ENDING, 50, 140)], high=0.98)
    q[ENDING, 140], q[STORY, 140] = 0.3, 0.7
    assert decode_spans(q, "end", 50.0)["ed_end"] == pytest.approx(140.3, abs=0.05)


# ----------------------------------------------------------------------------------------------
# Windows without a boundary: the OP ends after the start clip (late opening) or there is none


def test_window_presence_from_the_state():
    flip = torch.cat([torch.full((1, 80), -6.0), torch.full((1, 120), 6.0)], 1)    # before | after
    before = torch.full((1, 200), -6.0)
    after = torch.full((1, 200), 6.0)
    start, end = torch.zeros(1), torch.ones(1)
    assert float(window_presence(flip, start)) > 0.99 and float(window_presence(flip, end)) > 0.99
    assert float(window_presence(before, start)) < 0.02      # start clip: the OP ends after it
    assert float(window_presence(after, end)) < 0.02         # end clip: the ED began before it
    assert float(window_presence(after, start)) > 0.98       # the OP ended in the first second


def test_dense_loss_on_a_window_without_the_boundary():
    torch.manual_seed(0)
    heat = torch.randn(2, S, requires_grad=True)
    state = torch.zeros(2, S, requires_grad=True)
    out = {"heat": heat, "state": state}
    got = dense_loss(out, torch.tensor([0.5, float("nan")]))
    assert torch.isfinite(got["loss"])
    got["loss"].backward()
    assert float(heat.grad[1].abs().sum()) == 0.0            # no heatmap term without a boundary
    assert (state.grad[1] > 0).all()                          # pushed towards "before" everywhere
    one = dense_loss({"heat": heat[:1], "state": state[:1]}, torch.tensor([0.5]))
    assert float(got["heat"]) == pytest.approx(float(one["heat"]))


def test_beyond_window_clips_lists_late_and_missing_openings(tmp_path):
    folder = tmp_path / "data" / "data_A" / "train"
    folder.mkdir(parents=True)
    late = dict(_episode(D=1400.0, end_offset=1200.0), op_start=250.0, op_end=340.0)
    late["clips"]["start"].update(file="late_start.mp4", no_label="late opening")
    none = dict(_episode(), op_start=None, op_end=None)
    none["clips"] = {"start": {"file": "none_start.mp4", "offset": 0, "no_label": "no opening"}}
    short = dict(_episode(), op_start=None, op_end=None)     # unlabelled, but for another reason
    short["clips"] = {"start": {"file": "odd_start.mp4", "offset": 0, "no_label": "odd"}}
    short["op_end"] = 120.0
    doc = {"clip_seconds": 200, "episodes": {"late": late, "none": none, "odd": short, "x": _episode()}}
    (folder / "spans.json").write_text(json.dumps(doc))
    got = beyond_window_clips(tmp_path / "data", [folder / "labels.txt"], 200)
    assert [str(c.rel) for c in got] == ["data_A/train/late_start.mp4", "data_A/train/none_start.mp4"]
    assert not (got[0].segments == OPENING).any() and not (got[1].segments == OPENING).any()
    assert got[0].op_end == pytest.approx(340.0) and got[1].op_end is None
    assert beyond_window_clips(tmp_path / "data", [folder / "labels.txt"], 100) == []   # other S


def _write_beyond(root: Path, n: int, seed: int) -> list[str]:
    """Start clips in the style of write_synthetic_processed whose boundary never comes: bright
    frames, a text line and loud MFCC throughout, listed unlabelled in spans.json."""
    from datatools.fileio import atomic_save_npy
    from datatools.spec import (
        FRAME_H,
        FRAME_W,
        FRAMES_SUFFIX,
        MFCC_SUFFIX,
        N_MFCC,
        ROI_H,
        ROI_SUFFIX,
        ROI_W,
        feature_path,
        mfcc_length,
    )

    rng = np.random.default_rng(seed)
    doc = json.loads((root / "data_A/train/spans.json").read_text())
    stems = []
    for i in range(n):
        stem = f"late{i:03d}_start"
        rel = Path("data_A/train") / (stem + ".mp4")
        frames = (rng.integers(0, 60, (S, FRAME_H, FRAME_W, 3)) + 150).astype(np.uint8)
        roi = (rng.random((S, ROI_H, ROI_W)) < 0.05).astype(np.uint8)
        roi[:, 5:10, 4:30] = 1
        mf = rng.normal(0, 1, (N_MFCC, mfcc_length(S))).astype(np.float32)
        mf[0] += 4.0
        feat = root / "processed"
        for suffix, arr in ((FRAMES_SUFFIX, frames), (ROI_SUFFIX, roi), (MFCC_SUFFIX, mf)):
            atomic_save_npy(feature_path(feat, rel, suffix), arr)
        doc["episodes"][stem] = {"duration": 3 * S, "op_start": 0.0, "op_end": 2.0 * S,
                                 "clips": {"start": {"file": stem + ".mp4", "offset": 0, "no_label": "late"}}}
        stems.append(stem)
    (root / "data_A/train/spans.json").write_text(json.dumps(doc))
    return stems


def test_dense_learns_to_say_no_opening_here(tmp_path):
    """Through the engine: with the unlabelled late-opening windows the dense kind's confidence on
    them falls far below its confidence on labelled start clips; without them (--beyond_windows
    off) it stays higher (here, where the toy clips' "before" look is plain, only about twice)."""
    root = tmp_path / "data"
    labels = write_synthetic_processed(root, n_train=48, n_test=0, clip_seconds=S, seed=5)
    _spans_for(root, labels)
    late = _write_beyond(root, 12, seed=6)
    conf = {}
    for flag in ("on", "off"):
        run = tmp_path / f"run_{flag}"
        argv = [
            "--data_root",
            str(root),
            "--save_prefix",
            str(run),
            "--preset",
            "tiny",
            "--clip_seconds",
            str(S),
            "--device",
            "cpu",
            "--num_workers",
            "0",
            "--show_freq",
            "0",
            "--max_epoch",
            "8",
            "--warmup_epochs",
            "0",
            "--lr",
            "3e-3",
            "--batch_size",
            "6",
            "--seed",
            "3",
            "--beyond_windows",
            "true" if flag == "on" else "false",
        ]
        main(get_args_parser(kind="dense").parse_args(argv))
        with open(run / "metrics.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if flag == "on":   # 2 of the 12 windows validate (every 7th); the best epoch is chosen on both
            assert all(float(r["val_windows"]) == 2 and "val_select" in r for r in rows)
            assert float(rows[-1]["best_score"]) == min(float(r["val_select"]) for r in rows)
        else:
            assert "val_windows" not in rows[0] and rows[-1]["val_select"] == rows[-1]["val_score"]
        model, _ = load_checkpoint_model(run / "avnet_epoch8.pth", "cpu")   # the last epoch's weights
        model.eval()
        recs = [ClipRecord(Path("data_A/train") / (s + ".mp4"), None) for s in late]
        starts = [r for r in labelled_clips(root, None, S) if r.rel.stem.endswith("_start")][:12]
        got = {}
        for name, rr in (("late", recs), ("labelled", starts)):
            ds = FeatureDataset(rr, root / "processed", S)
            vals = []
            for i in range(len(rr)):
                it = ds[i]
                batch = {k: torch.as_tensor(np.asarray(it[k]))[None] for k in ("mfcc", "frames", "roi")}
                with torch.no_grad():
                    out = model(*to_model_inputs(batch, "unit", torch.device("cpu")), torch.zeros(1))
                vals.append(float(out["confidence"][0]))
            got[name] = float(np.median(vals))
        conf[flag] = got
    print(f"\n[no opening here] median confidence, late windows vs labelled start clips: {conf}")
    assert conf["on"]["late"] < 0.1 and conf["on"]["labelled"] > 0.5
    assert conf["off"]["late"] > 1.5 * conf["on"]["late"]


def test_window_costs_and_the_selection_score():
    """A validation window without an OP end costs nothing while the model stays unsure there, and
    the distance to the real OP end (S without an opening) once it answers; the best checkpoint is
    chosen by the score over the labelled errors and these costs together."""
    from datatools.segments import CLAIM_CONFIDENCE, BeyondClip
    from models.engine import selection_summary, window_costs

    wins = [
        BeyondClip(Path("a"), np.zeros(S, np.int64), 340.0),
        BeyondClip(Path("b"), np.zeros(S, np.int64), None),
        BeyondClip(Path("c"), np.zeros(S, np.int64), 250.0),
    ]
    costs = window_costs(np.array([150.0, 90.0, 199.0]), np.array([0.9, CLAIM_CONFIDENCE, 0.2]), wins, S)
    assert costs.tolist() == pytest.approx([190.0, float(S), 0.0])
    recs = [ClipRecord(Path("x"), 10.0), ClipRecord(Path("y"), 20.0)]
    val = {"score": 0.0, "mae": 0.0}
    plain = selection_summary(val, np.array([10.0, 20.0]), recs, None)
    assert plain["select"] == 0.0 and "windows" not in plain
    got = selection_summary(val, np.array([10.0, 20.0]), recs, costs)
    assert got["score"] == 0.0 and got["windows"] == 3 and got["windows_claimed"] == pytest.approx(2 / 3)
    assert got["select"] == pytest.approx((189.0 + S - 1.0) / 5)  # score: errors past the 1-s tolerance, mean
    quiet = selection_summary(val, np.array([10.0, 20.0]), recs, np.zeros(3))
    assert quiet["select"] == 0.0 and quiet["windows_claimed"] == 0.0


def test_rare_segments_weigh_more():
    labels = torch.tensor([[0] * 16 + [3] * 4, [0] * 10 + [-1] * 10])     # 26 story, 4 preview, 10 unknown
    w = balanced_weights(labels, 5)
    assert w[1] == 0 and w[2] == 0 and w[4] == 0                           # absent classes
    assert float(w[3] / w[0]) == pytest.approx((26 / 4) ** 0.5)
    assert float(w[[0, 3]].mean()) == pytest.approx(1.0)
    # a missed preview second now costs more than a missed story second
    logits = torch.zeros(1, 5, 4)
    logits[0, 0, :] = 3.0                                                 # says "story" throughout
    seg = torch.tensor([[0, 0, 0, 3]])
    out = {"heat": torch.zeros(1, 4), "state": torch.zeros(1, 4), "segments": logits}
    both = float(dense_loss(out, torch.tensor([0.5]), seg)["segment"])
    plain = float(torch.nn.functional.cross_entropy(logits, seg))
    assert both > plain


def test_the_segment_head_arbitrates_between_the_decoded_answer_and_the_heatmap():
    """models.dense.recover_boundary: a 53-s opening from the window's first second that the state
    head placed outside the window (answer 199.5 s): the heatmap's peak at 52-53 s, which the segment
    head supports (opening before it) while it does not support 199.5 s, is the answer, with mass x
    support as its raw confidence.  The decoded answer stays where the segment head supports it (the
    opening runs on to the window's end), where it does not support the heatmap's answer either, and
    where the two answers lie within 2 s."""
    from datatools.segments import ENDING, OPENING
    from models.dense import recover_boundary

    S, K = 200, 5
    probs = np.full((K, S), 0.02)
    probs[OPENING, :53] = 0.97
    heat = np.full(S, 0.02 / S)
    heat[52], heat[53] = 0.6, 0.38
    heat /= heat.sum()
    got = recover_boundary(heat, probs, "start", 199.5)
    assert got is not None and 52.0 <= got[0] <= 54.0 and 0.8 < got[1] < 1.0
    no_theme = probs.copy()
    no_theme[OPENING] = 0.02
    assert recover_boundary(heat, no_theme, "start", 199.5) is None
    runs_on = probs.copy()
    runs_on[OPENING, :] = 0.97                      # theme up to 199.5 s too: the answer is supported
    assert recover_boundary(heat, runs_on, "start", 199.5) is None
    assert recover_boundary(heat, probs, "start", 51.5) is None       # the same place
    ed = np.full((K, S), 0.02)
    ed[ENDING, 120:] = 0.97                         # an ED start: ending after it
    heat_e = np.full(S, 0.02 / S)
    heat_e[120] = 0.98
    heat_e /= heat_e.sum()
    got = recover_boundary(heat_e, ed, "end", 60.0)
    assert got is not None and abs(got[0] - 120.5) < 1.0


def test_the_edge_doubt_bench_counts_edges_in_story():
    """bench/edge_doubt.py on two hand-made clips: an OP start the head places 10 s early (a stretch it
    gives 0.6 "opening" before the true start at 40 s) is in story with fixed margins and not once
    the range stops at the innermost plausible start; a clear ED end is never in story."""
    from bench.edge_doubt import evaluate

    p = _probs([(OPENING, 40, 120)])
    p[OPENING, 30:40], p[STORY, 30:40] = 0.6, 0.4 - 0.1 * 3 / 4
    rows = [{"kind": "start", "answer": 120.0, "outer_truth": 40.0, "segments": p},
            {"kind": "end", "answer": 50.0, "outer_truth": 140.0, "segments": _probs([(ENDING, 50, 140)])}]
    res = {(r["kind"], r["doubt_nats"], r["edge_margin"]): r for r in evaluate(rows, 200)}
    assert res[("start", None, 3.0)]["in_story"] == 1 and res[("start", None, 3.0)]["story_max_s"] == 7.0
    assert res[("start", 5.0, 1.0)]["in_story"] == 0 and res[("start", 5.0, 1.0)]["theme_lost_mean_s"] == 1.0
    assert all(r["in_story"] == 0 and r["n"] == 1 for k, r in res.items() if k[0] == "end")
    assert res[("end", None, 1.0)]["theme_lost_mean_s"] == 1.0
    assert res[("end", 5.0, 1.0)]["theme_lost_mean_s"] == 3.0      # 2 s of doubt at 0.9, + 1 s


def test_inner_edge_is_the_innermost_plausible_bin_and_never_beyond_the_answer():
    from models.dense import inner_edge

    post = np.full(200, 1e-9)
    post[100], post[92] = 0.8, 0.8 * np.exp(-4.0)      # a second mode 4 nats below the peak, 8 s earlier
    post /= post.sum()
    assert inner_edge(post, "start", 100.5) == 92.0      # OP end: the start of the earliest plausible bin
    assert inner_edge(post, "start", 100.5, doubt_nats=3.0) == 100.0
    assert inner_edge(post, "start", 91.0) == 91.0       # never later than the answer itself
    post2 = post[::-1].copy()                            # ED start: the end of the latest plausible bin
    assert inner_edge(post2, "end", 99.5) == 108.0
    assert inner_edge(post2, "end", 120.0) == 120.0


def test_an_answer_below_sure_confidence_is_hedged_or_withheld():
    """An OP end kept between --min_confidence and --sure_confidence skips only up to its innermost
    plausible place; one with nothing to hedge by, and a preview, are withheld instead; a hedge that
    leaves less than a second withholds the answer after all."""
    from skips.decide import apply_skip_margin, skip_ranges_from_spans, withhold_unsure
    from skips.result import Draft

    r = Draft("a.mp4", "a.mp4", True, duration=1000.0, op_end=120.0, ed_start=850.0,
                      op=(30.0, 120.0), ed=(850.0, 940.0))
    r.confidence = {"op_end": 0.8, "ed_start": 0.8, "preview": 0.8}
    r.safe_edges = {"op_end": 110.0}
    r.preview = (945.0, 960.0)
    withhold_unsure([r], 0.7, 0.9)
    assert r.hedged == ("op_end",)
    assert "no boundary posterior" in r.withheld["ed_start"] and "preview" in r.withheld
    apply_skip_margin([r], 1.0, 1.0)
    assert r.op == (31.0, 109.0) and r.to_dict()["hedged"] == ["op_end"]
    # at or above --sure_confidence nothing is hedged; below --min_confidence withheld as before
    s = Draft("b.mp4", "b.mp4", True, duration=1000.0, op_end=120.0, ed_start=850.0,
                      op=(30.0, 120.0), ed=(850.0, 940.0))
    s.confidence, s.safe_edges = {"op_end": 0.95, "ed_start": 0.6}, {"op_end": 110.0, "ed_start": 860.0}
    withhold_unsure([s], 0.7, 0.9)
    assert s.hedged == () and list(s.withheld) == ["ed_start"]
    apply_skip_margin([s], 1.0, 1.0)
    assert s.op == (31.0, 119.0)
    # the hedge would leave under a second: no skip is safe
    op, ed, _ = skip_ranges_from_spans((30.0, 120.0), (850.0, 940.0), None, 1.0, 1.0, 1000.0,
                                       {"op_end": 31.5, "ed_start": 900.0}, ("op_end", "ed_start"))
    assert op is None and ed == (901.0, 939.0)
    t = Draft("c.mp4", "c.mp4", True, duration=1000.0, op_end=120.0, ed_start=850.0,
                      op=(30.0, 120.0), ed=(850.0, 940.0))
    t.confidence, t.safe_edges = {"op_end": 0.8, "ed_start": 0.95}, {"op_end": 31.5}
    withhold_unsure([t], 0.7, 0.9)
    apply_skip_margin([t], 1.0, 1.0)
    assert "less than a second" in t.withheld["op_end"] and t.hedged == () and t.to_dict()["op"] is None


def test_predict_bench_scores_hedged_answers_as_the_skip_files_hold_them():
    from bench.predict_bench import answers_at

    e = {"duration": 1000.0, "op_end": 120.0, "ed_start": 850.0, "op": [31.0, 109.0], "ed": [851.0, 939.0],
         "preview": None, "confidence": {"op_end": 0.8, "ed_start": 0.95},
         "spans": {"opening": [30.0, 120.0], "ending": [850.0, 940.0], "preview": None},
         "safe_edges": {"op_end": 110.0}, "hedged": ["op_end"], "withheld": {}}
    got, ranges = answers_at(e, 0.7, 1.0, 1.0)
    assert got["op_end"] == 120.0 and ranges == [(31.0, 109.0), (851.0, 939.0)]
    got, ranges = answers_at(e, 0.7, 1.0, 1.0, safe_edges=False)   # fixed margins alone: no hedge either
    assert got["op_end"] == 120.0 and ranges == [(31.0, 119.0), (851.0, 939.0)]
    got, ranges = answers_at(e, 0.9, 1.0, 1.0)      # above the hedged answer's confidence: withheld
    assert got["op_end"] is None and ranges == [(851.0, 939.0)]
    e["safe_edges"]["op_end"] = 31.0                # at these margins the hedge leaves nothing
    got, ranges = answers_at(e, 0.7, 1.0, 1.0)
    assert got["op_end"] is None and got["op_start"] is None and ranges == [(851.0, 939.0)]


def test_the_doubt_floor_applies_at_the_files_own_edges_and_withholds_what_it_leaves_too_short():
    """A best OP start at the file's first second may follow a cold open: the latest plausible start
    still bounds the skip range (likewise an ED end at the file's end), and where that leaves less than
    a second the boundary is withheld instead of skipped unnarrowed."""
    from skips.decide import apply_skip_margin, narrow_span, skip_ranges_from_spans
    from skips.result import Draft

    assert narrow_span((0.0, 90.0), 1.0, 1.0, 1400.0) == (0.0, 89.0)           # no doubt: from the start
    assert narrow_span((0.0, 90.0), 1.0, 1.0, 1400.0, start_floor=6.0) == (6.0, 89.0)
    assert narrow_span((1310.0, 1400.0), 1.0, 1.0, 1400.0, end_ceiling=1390.0) == (1311.0, 1390.0)
    assert narrow_span((0.0, 90.0), 1.0, 1.0, 1400.0, start_floor=88.5) is None
    op, ed, _ = skip_ranges_from_spans((0.0, 90.0), (1310.0, 1400.0), None, 1.0, 1.0, 1400.0,
                                       {"op_start": 5.0, "ed_end": 1395.0})
    assert op == (6.0, 89.0) and ed == (1311.0, 1394.0)
    r = Draft("a.mp4", "a.mp4", True, duration=1400.0, op_end=90.0, ed_start=1310.0,
                      op=(0.0, 90.0), ed=(1310.0, 1400.0))
    r.confidence = {"op_end": 0.99, "ed_start": 0.99}
    r.safe_edges = {"op_start": 88.5}
    apply_skip_margin([r], 1.0, 1.0)
    assert "OP start is doubtful" in r.withheld["op_end"] and r.to_dict()["op"] is None
    assert r.ed == (1311.0, 1400.0) and "ed_start" not in r.withheld
    # a boundary withheld already keeps the reason it was withheld for
    w = Draft("b.mp4", "b.mp4", True, duration=1400.0, op_end=90.0, ed_start=1310.0,
                      op=(0.0, 90.0), ed=(1310.0, 1400.0))
    w.safe_edges, w.withheld = {"op_start": 88.5}, {"op_end": "confidence 0.50 < --min_confidence 0.7"}
    apply_skip_margin([w], 1.0, 1.0)
    assert w.withheld["op_end"].startswith("confidence 0.50")
