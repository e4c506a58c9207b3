"""How a series writes its on-screen text: the script (Japanese, Chinese or Latin letters) and the font.

Real anime credits, titles, signs and eyecatch cards are Japanese kanji and kana, often with Chinese,
so a series generated with real material (``SynthConfig.material``) writes in Japanese, Chinese or Latin
letters (SCRIPT_SHARES) with a font of its material split: fonts, like every other source, are split
between train / calib / test by family (FONTS), so a test series' lettering was never seen in training.
Fonts come from Debian packages (fonts-noto-cjk, fonts-vlgothic, fonts-wqy-zenhei, fonts-ipafont-*,
fonts-takao-*, fonts-dejavu-core; `make material` installs them); one that is not installed is left
out, and a split without a CJK font writes Latin letters.  Without material every series keeps the
built-in Latin lettering (DejaVu Sans from matplotlib), as before.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datatools.synth.audio import tag


@dataclass(frozen=True)
class Font:
    path: str                       # a TrueType / OpenType file (or collection: face ``index``)
    scripts: tuple[str, ...]        # what it can write
    index: int = 0


_OT, _TT = "/usr/share/fonts/opentype", "/usr/share/fonts/truetype"
# Split by family (Takao is IPA's derivative, so both are test): the font of a test series is one that
# no training or calibration series used.
FONTS: dict[str, tuple[Font, ...]] = {
    "train": (
        Font(f"{_OT}/noto/NotoSansCJK-Regular.ttc", ("ja", "zh", "latin")),
        Font(f"{_OT}/noto/NotoSansCJK-Bold.ttc", ("ja", "zh", "latin")),
        Font(f"{_TT}/vlgothic/VL-Gothic-Regular.ttf", ("ja", "latin")),
        Font(f"{_TT}/vlgothic/VL-PGothic-Regular.ttf", ("ja", "latin")),
        Font(f"{_TT}/dejavu/DejaVuSans.ttf", ("latin",)),
        Font(f"{_TT}/dejavu/DejaVuSans-Bold.ttf", ("latin",)),
    ),
    "calib": (
        Font(f"{_TT}/wqy/wqy-zenhei.ttc", ("ja", "zh", "latin")),
        Font(f"{_TT}/dejavu/DejaVuSerif.ttf", ("latin",)),
    ),
    "test": (
        Font(f"{_OT}/ipafont-gothic/ipag.ttf", ("ja", "latin")),
        Font(f"{_OT}/ipafont-mincho/ipam.ttf", ("ja", "latin")),
        Font(f"{_TT}/takao-gothic/TakaoPGothic.ttf", ("ja", "latin")),
        Font(f"{_OT}/noto/NotoSerifCJK-Regular.ttc", ("ja", "zh", "latin")),
        Font(f"{_TT}/dejavu/DejaVuSansMono.ttf", ("latin",)),
    ),
}
# P(script) of a series made with real material: mostly Japanese, some Chinese, some Latin letters
SCRIPT_SHARES = (("ja", 0.6), ("zh", 0.15), ("latin", 0.25))


def installed(split: str) -> list[Font]:
    """The fonts of a material split (``all``: every split's) that are installed here."""
    fonts = [f for s, fs in FONTS.items() if split in (s, "all") for f in fs]
    return [f for f in fonts if Path(f.path).is_file()]


def choose_lettering(seed: int, index: int, split: str) -> dict:
    """A series' script and font (``{"script", "font", "font_index"}``; font None: the built-in DejaVu
    Sans), from a random stream of their own so that nothing else the series draws changes."""
    rng = np.random.default_rng(tag(seed, "lettering", index))
    names, shares = zip(*SCRIPT_SHARES)
    script = str(rng.choice(names, p=np.asarray(shares) / sum(shares)))
    fonts = [f for f in installed(split) if script in f.scripts]
    if not fonts:   # no font of this split writes it: Latin letters
        script = "latin"
        fonts = [f for f in installed(split) if "latin" in f.scripts]
    if not fonts:
        return {"script": "latin", "font": None, "font_index": 0}
    f = fonts[int(rng.integers(len(fonts)))]
    return {"script": script, "font": f.path, "font_index": f.index}


class Writer:
    """A series' lettering at work: its lexicon's words (datatools.synth.text.Lexicon) drawn as text
    sprites in its font."""

    def __init__(self, script: str = "latin", font: str | None = None, font_index: int = 0):
        from datatools.synth.text import Lexicon

        self.lexicon = Lexicon(script)
        self.font = (font, int(font_index)) if font else None

    @classmethod
    def of(cls, style: dict) -> Writer:
        """The writer of a series' style (its ``lettering``; none: the built-in Latin lettering)."""
        return cls(**style.get("lettering", {}))

    def __getattr__(self, name: str):   # word, person, sentence, roles, places, signs, episode, ...
        return getattr(self.lexicon, name)

    def sprite(self, lines: list[str], size: int, color: tuple[int, int, int], **kw):
        from datatools.synth.pictures import text_sprite

        return text_sprite(lines, size, color, font=self.font, **kw)
