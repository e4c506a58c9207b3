"""Made-up words, names and sentences for on-screen text (credits, titles, subtitles, signs).

Syllable-built romaji, so the text looks like credits of a Japanese production and an OCR
detector finds it; the strings themselves never matter, only that text is drawn.
"""
from __future__ import annotations

import string

import numpy as np

ROLES = ("Original Story", "Director", "Series Composition", "Script", "Character Design",
         "Art Director", "Color Design", "Director of Photography", "Editing", "Sound Director",
         "Music", "Animation Producer", "Storyboard", "Key Animation", "Theme Song", "Producer",
         "Chief Animation Director", "Background Art", "3DCG", "Production")
SYL = ("ka", "ki", "ku", "ke", "ko", "sa", "shi", "su", "ta", "to", "na", "ni", "no", "ha", "hi",
       "mi", "mo", "ya", "yu", "ri", "ro", "wa", "ga", "da", "be", "ma", "se", "tsu", "chi", "o", "a")
ID_CHARS = string.ascii_letters + string.digits
PLACES = ("Station", "School", "Harbour", "Shrine", "Library", "Hospital", "Park", "Bridge",
          "Cafe", "Tower", "Market", "Garden", "Street", "Castle", "Forest")
SIGNS = ("OPEN", "EXIT", "NO ENTRY", "SALE", "BUS STOP", "KEEP OUT", "CLOSED", "TICKETS")


def word(rng: np.random.Generator, lo: int = 2, hi: int = 4) -> str:
    return "".join(SYL[int(i)] for i in rng.integers(len(SYL), size=int(rng.integers(lo, hi + 1))))


def person(rng: np.random.Generator) -> str:
    return f"{word(rng).capitalize()} {word(rng).capitalize()}"


def sentence(rng: np.random.Generator) -> str:
    return " ".join(word(rng, 1, 3) for _ in range(int(rng.integers(2, 6)))).capitalize()
