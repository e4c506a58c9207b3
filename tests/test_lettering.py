"""Training material closer to real anime (issue 43): Japanese and Chinese lettering in fonts split by
family between train / calib / test (datatools/synth/lettering.py, datatools/synth/text.py), and
Japanese and Chinese speech in the speech bank, split by voice (datatools/synth/material.py).

    .venv/bin/python -m pytest -q tests/test_lettering.py
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from datatools.synth import lettering
from datatools.synth.lettering import FONTS, Writer, choose_lettering
from datatools.synth.material import SPEECH_VOICES, render_speech_bank
from datatools.synth.text import HIRAGANA, KATAKANA, Lexicon


def _cjk_font():
    fonts = [f for f in lettering.installed("all") if "ja" in f.scripts]
    if not fonts:
        pytest.skip("no CJK font is installed (.ci/run installs fonts-vlgothic from Debian)")
    return fonts[0]


def test_cjk_lettering_is_drawn_and_found_by_the_text_detector():
    from preprocessing.ocr import get_detector

    f = _cjk_font()
    w = Writer("ja", f.path, f.index)
    rng = np.random.default_rng(0)
    credit = w.sprite([str(rng.choice(w.roles)), w.person(rng)], 30, (255, 255, 255))
    frame = np.full((360, 640, 3), (40, 60, 90), np.uint8)
    y0, x0 = 200, (640 - credit.w) // 2
    a = credit.alpha.astype(np.float32) / 256
    region = frame[y0:y0 + credit.h, x0:x0 + credit.w].astype(np.float32)
    frame[y0:y0 + credit.h, x0:x0 + credit.w] = (a * credit.rgb + (1 - a) * region).astype(np.uint8)
    quads = get_detector("rapidocr", threads=1).detect_batch([frame])[0]
    inside = [q for q in quads if q[:, 1].min() >= y0 - 4 and q[:, 1].max() <= y0 + credit.h + 4]
    assert len(inside) >= 1


def test_cjk_glyphs_are_real_letters_not_missing_glyph_boxes():
    # DejaVu Sans has no kana: every character draws the same missing-glyph box
    f = _cjk_font()
    word = "".join(KATAKANA[:6])
    with_font = Writer("ja", f.path, f.index).sprite([word], 40, (255, 255, 255))
    boxes = [Writer("ja").sprite([ch], 40, (255, 255, 255)).alpha for ch in word[:3]]
    glyphs = [Writer("ja", f.path, f.index).sprite([ch], 40, (255, 255, 255)).alpha for ch in word[:3]]
    assert with_font.boxes and all(np.array_equal(boxes[0], b) for b in boxes[1:])
    assert not all(np.array_equal(glyphs[0], g) for g in glyphs[1:])


def test_fonts_are_split_by_family():
    by_split = {s: {Path(f.path).name for f in fs} for s, fs in FONTS.items()}
    assert not (by_split["train"] & by_split["calib"] or by_split["train"] & by_split["test"]
                or by_split["calib"] & by_split["test"])
    # Takao is IPA's derivative: both only where no training series looks
    ipa_like = {n for names in by_split.values() for n in names if n.lower().startswith(("ipa", "takao"))}
    assert ipa_like and ipa_like <= by_split["test"]


def test_series_with_real_material_mostly_write_japanese():
    scripts = [choose_lettering(7, i, "train")["script"] for i in range(200)]
    if not any(f for f in lettering.installed("train") if "ja" in f.scripts):
        pytest.skip("no CJK font of the train split is installed (make material installs them)")
    assert 0.45 < scripts.count("ja") / len(scripts) < 0.75 and "zh" in scripts and "latin" in scripts


def test_a_series_without_material_keeps_its_latin_lettering():
    from datatools.synth.plan import SynthConfig
    from datatools.synth.realistic import plan_series_realistic

    sp = plan_series_realistic(SynthConfig(seed=3, clip_seconds=60, difficulty="realistic"), 0, 2)
    assert "lettering" not in sp.style and sp.title.isascii()


def test_the_latin_lexicon_draws_as_the_module_functions_do():
    from datatools.synth.text import person, sentence

    a, b = np.random.default_rng(11), np.random.default_rng(11)
    lex = Lexicon("latin")
    assert [lex.person(a), lex.sentence(a)] == [person(b), sentence(b)]


def test_japanese_speech_is_in_the_training_split_and_no_voice_crosses_splits():
    ja = {s: [v for v in vs if v.split(":", 1)[1].split("+")[0] == "ja"] for s, vs in SPEECH_VOICES.items()}
    assert len(ja["train"]) >= 2 and ja["calib"] and ja["test"]
    everything = [v for vs in SPEECH_VOICES.values() for v in vs]
    assert len(everything) == len(set(everything))
    assert {"espeak-ng:cmn", "espeak-ng:yue"} <= set(SPEECH_VOICES["train"])


def test_a_japanese_training_voice_speaks_kana(tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (.ci/run installs it from Debian): it renders speech")
    import soundfile as sf

    voice = next(v for v in SPEECH_VOICES["train"] if v.startswith("espeak-ng:ja"))
    assert render_speech_bank(tmp_path, [voice], lines_per_voice=2) == 2
    y, sr = sf.read(sorted((tmp_path / f"speech-espeak-ng-{voice.split(':')[1]}").glob("*.flac"))[0])
    assert 0.5 < len(y) / sr < 20 and np.abs(y).max() > 0.5


def test_japanese_lines_are_kana_and_chinese_lines_hanzi():
    from datatools.synth.material import speech_line

    rng = np.random.default_rng(2)
    ja = speech_line(rng, "ja+m1")
    assert all(ch in HIRAGANA or ch in "、。" for ch in ja)
    zh = speech_line(rng, "cmn")
    assert zh.endswith("。") and not zh.isascii()
