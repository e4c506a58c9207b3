"""Feature dataset: published split, test-clip discovery, shift augmentation, and clear errors for
bad processed data or labels.

    .venv/bin/python -m pytest -q tests/test_dataset.py
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datatools.dataset import (
    ClipRecord,
    DatasetError,
    FeatureDataset,
    check_meta,
    find_test_clips,
    labelled_clips,
    shift_time,
    split_train_val,
    write_synthetic_processed,
)
from datatools.labels import LabelError
from datatools.spec import FRAMES_SUFFIX, HOP_LENGTH, SAMPLE_RATE, feature_path

S = 20


@pytest.fixture()
def data(tmp_path) -> Path:
    write_synthetic_processed(tmp_path / "data", n_train=9, n_test=3, clip_seconds=S, seed=3)
    return tmp_path / "data"


def test_split_every_seventh_after_rotation():
    recs = [ClipRecord(Path(f"c{i}_start.mp4"), float(i)) for i in range(15)]
    train, val = split_train_val(recs, data_seed=0)
    assert [r.seconds for r in val] == [0, 7, 14]
    train2, val2 = split_train_val(recs, data_seed=2)
    assert [r.seconds for r in val2] == [2, 9, 1]          # rotated list: 2..14, 0, 1
    assert sorted(r.seconds for r in train2 + val2) == list(range(15))
    assert len(train) == 12


def test_labelled_clips_and_items(data):
    recs = labelled_clips(data, None, S)
    assert len(recs) == 9 and recs[0].rel == Path("data_A/train/clip0000_start.mp4")
    ds = FeatureDataset(recs, data / "processed", S, cache="disk")
    item = ds[1]
    assert item["frames"].shape == (S, 66, 88, 3) and item["frames"].dtype == np.uint8
    assert item["mfcc"].dtype == np.float32 and item["roi"].shape == (S, 27, 36)
    assert item["target"] == pytest.approx(recs[1].seconds / S)
    ram = FeatureDataset(recs, data / "processed", S, cache="ram")
    assert np.array_equal(ram[1]["frames"], item["frames"])


def test_test_clips_from_features_or_videos(data):
    recs = find_test_clips(data, "data_C", data / "processed")
    assert [r.name for r in recs] == ["test0000_start.mp4", "test0001_end.mp4", "test0002_start.mp4"]
    (data / "data_C").mkdir()
    (data / "data_C" / "test0001_end.mp4").write_bytes(b"")  # raw videos present: they decide
    assert [r.name for r in find_test_clips(data, data / "data_C", data / "processed")] == [
        "test0001_end.mp4"
    ]
    with pytest.raises(DatasetError, match="no .*clips"):
        find_test_clips(data, "data_A/test", data / "processed")


def test_shift_moves_content_and_label_together(data):
    recs = labelled_clips(data, None, S)
    plain = FeatureDataset(recs, data / "processed", S)
    aug = FeatureDataset(recs, data / "processed", S, shift_aug=4, seed=1)
    moved = 0
    for epoch in range(3):
        aug.set_epoch(epoch)
        for i in range(len(recs)):
            a, p = aug[i], plain[i]
            k = round((a["target"] - p["target"]) * S)
            assert abs(k) <= 4 and 0 <= a["target"] <= 1
            assert np.array_equal(a["frames"], shift_time(p["frames"], k, 0))
            assert np.array_equal(a["mfcc"], shift_time(p["mfcc"], round(k * SAMPLE_RATE / HOP_LENGTH), 1))
            moved += k != 0
    assert moved > 0
    aug.set_epoch(1)
    again = FeatureDataset(recs, data / "processed", S, shift_aug=4, seed=1)
    again.set_epoch(1)
    assert all(aug[i]["target"] == again[i]["target"] for i in range(len(recs)))  # repeatable


def test_shift_time_pads_with_zeros():
    a = np.arange(1, 6)
    assert shift_time(a, 2, 0).tolist() == [0, 0, 1, 2, 3]
    assert shift_time(a, -1, 0).tolist() == [2, 3, 4, 5, 0]


def test_missing_processed_file_is_named(data):
    recs = labelled_clips(data, None, S)
    victim = feature_path(data / "processed", recs[4].rel, FRAMES_SUFFIX)
    victim.unlink()
    with pytest.raises(DatasetError, match=rf"{victim.name}.*missing.*labels.txt:5"):
        FeatureDataset(recs, data / "processed", S)


def test_wrong_shape_is_named(data):
    recs = labelled_clips(data, None, S)
    path = feature_path(data / "processed", recs[0].rel, FRAMES_SUFFIX)
    np.save(path, np.zeros((S - 1, 66, 88, 3), np.uint8))
    with pytest.raises(DatasetError, match=rf"{path.name}: expected uint8 \(20, 66, 88, 3\)"):
        FeatureDataset(recs, data / "processed", S)


def test_label_for_clip_without_features(data):
    lf = data / "data_A/train/labels.txt"
    lf.write_text(lf.read_text() + "ghost_start 5.0\n")
    recs = labelled_clips(data, None, S)
    with pytest.raises(DatasetError, match="ghost_start.*labels.txt:10"):
        FeatureDataset(recs, data / "processed", S)


@pytest.mark.parametrize("value,match", [("nan", "not a finite"), ("25.0", "beyond the clip length")])
def test_bad_label_values(data, value, match):
    lf = data / "data_A/train/labels.txt"
    lf.write_text(lf.read_text() + f"clip0099_end {value}\n")
    with pytest.raises(LabelError, match=match):
        labelled_clips(data, None, S)


def test_meta_mismatch_and_absence(data, tmp_path):
    assert check_meta(data / "processed", S)["clip_seconds"] == S
    with pytest.raises(DatasetError, match="clip_seconds=20 but --clip_seconds is 200"):
        check_meta(data / "processed", 200)
    with pytest.raises(DatasetError, match="meta.json: not found"):
        check_meta(tmp_path, S)
    (tmp_path / "meta.json").write_text(json.dumps({"fps": 1}))
    with pytest.raises(DatasetError, match="no 'clip_seconds'"):
        check_meta(tmp_path, S)


def test_no_label_file(tmp_path):
    with pytest.raises(DatasetError, match="no label file found"):
        labelled_clips(tmp_path, None, S)
