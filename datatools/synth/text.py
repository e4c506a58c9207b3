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


# ----------------------------------------------------------------------------------------------
# Lexicons: what a series writes its text in (datatools/synth/lettering.py picks the script)

# Katakana and hiragana syllables, common kanji and Japanese names; hanzi and Chinese names.  Made-up
# strings of real letters: only that real-looking CJK text is drawn matters, not what it says.
KATAKANA = tuple("カキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴダデドバビブベボパピプ")
HIRAGANA = tuple("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼ")
KANJI = tuple("日月火水木金土山川田中本人大小上下年時間生学校先前後東西南北町村花空海雨雪風光心手目口耳足力気天地"
              "神社寺駅道橋森林夜朝夢星声歌恋友家犬猫鳥魚春夏秋冬白黒赤青音楽戦物語少女世界約束記憶未来")
JA_FAMILY = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
             "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水", "森", "池田", "橋本", "石川")
JA_GIVEN = ("翔太", "美咲", "健", "陽菜", "蓮", "結衣", "大輝", "さくら", "悠人", "あかり", "拓海", "葵", "湊",
            "凛", "颯", "芽衣", "ゆうき", "ひなた", "蒼", "真央")
JA_ROLES = ("原作", "監督", "シリーズ構成", "脚本", "キャラクターデザイン", "美術監督", "色彩設計", "撮影監督",
            "編集", "音響監督", "音楽", "アニメーションプロデューサー", "絵コンテ", "原画", "主題歌", "プロデューサー",
            "総作画監督", "背景", "3DCG", "アニメーション制作")
JA_PLACES = ("駅", "学校", "港", "神社", "図書館", "病院", "公園", "橋", "喫茶店", "タワー", "市場", "庭園",
             "商店街", "城", "森")
JA_SIGNS = ("営業中", "出口", "立入禁止", "セール", "バス停", "関係者以外立入禁止", "準備中", "きっぷうりば")
HANZI = tuple("的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后"
              "小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知")
ZH_FAMILY = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何",
             "郭", "马", "罗")
ZH_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
            "秀英", "华", "平")
ZH_ROLES = ("原作", "导演", "系列构成", "编剧", "角色设计", "美术监督", "色彩设计", "摄影监督", "剪辑", "音响监督",
            "音乐", "动画制作人", "分镜", "原画", "主题曲", "制片人", "总作画监督", "背景美术", "三维动画", "制作")
ZH_PLACES = ("车站", "学校", "港口", "神社", "图书馆", "医院", "公园", "桥", "咖啡馆", "塔", "市场", "花园", "街道",
             "城堡", "森林")
ZH_SIGNS = ("营业中", "出口", "禁止入内", "特卖", "公交车站", "闲人免进", "暂停营业", "售票处")


def pick_letters(rng: np.random.Generator, items, lo: int, hi: int) -> str:
    """``lo``-``hi`` letters of ``items`` drawn at random, as one string."""
    return "".join(items[int(i)] for i in rng.integers(len(items), size=int(rng.integers(lo, hi + 1))))


class Lexicon:
    """The words, names, sentences and stock phrases of one script ("latin": the made-up romaji above,
    drawing from the random stream exactly as the module's functions do; "ja"; "zh")."""

    def __init__(self, script: str = "latin"):
        if script not in ("latin", "ja", "zh"):
            raise ValueError(f"unknown script {script!r}")
        self.script = script
        self.roles = {"latin": ROLES, "ja": JA_ROLES, "zh": ZH_ROLES}[script]
        self.places = {"latin": PLACES, "ja": JA_PLACES, "zh": ZH_PLACES}[script]
        self.signs = {"latin": SIGNS, "ja": JA_SIGNS, "zh": ZH_SIGNS}[script]

    def word(self, rng: np.random.Generator, lo: int = 2, hi: int = 4) -> str:
        if self.script == "ja":
            return pick_letters(rng, KATAKANA, lo, hi)
        if self.script == "zh":
            return pick_letters(rng, HANZI, 2, 3)
        return word(rng, lo, hi)

    def person(self, rng: np.random.Generator) -> str:
        if self.script == "latin":
            return person(rng)
        fam, given = (JA_FAMILY, JA_GIVEN) if self.script == "ja" else (ZH_FAMILY, ZH_GIVEN)
        return f"{fam[int(rng.integers(len(fam)))]} {given[int(rng.integers(len(given)))]}"

    def sentence(self, rng: np.random.Generator) -> str:
        if self.script == "ja":
            parts = [pick_letters(rng, KANJI, 1, 2) + pick_letters(rng, HIRAGANA, 1, 3) for _ in range(int(rng.integers(2, 5)))]
            return "".join(parts) + ("。" if rng.random() < 0.7 else "！")
        if self.script == "zh":
            return pick_letters(rng, HANZI, 6, 14) + "。"
        return sentence(rng)

    def title(self, rng: np.random.Generator) -> str:
        if self.script == "ja":
            return f"{pick_letters(rng, KANJI, 2, 3)}の{pick_letters(rng, KATAKANA, 2, 4)}"
        if self.script == "zh":
            return pick_letters(rng, HANZI, 2, 4)
        return f"{word(rng)} {word(rng)}".title()

    def place(self, rng: np.random.Generator) -> str:
        if self.script == "latin":
            return f"{word(rng).title()} {str(rng.choice(PLACES))}"
        return f"{self.word(rng)}{str(rng.choice(self.places))}"

    def episode(self, n: int) -> str:
        return {"latin": f"Episode {n}", "ja": f"第{n}話", "zh": f"第{n}集"}[self.script]

    def next_episode(self) -> str:
        return {"latin": "Next Episode", "ja": "次回予告", "zh": "下集预告"}[self.script]

    def previously(self, title: str) -> str:
        return {"latin": f"Previously on {title}", "ja": f"前回の「{title}」", "zh": f"{title} 前情提要"}[self.script]

    def sponsor(self) -> str:
        return {"latin": "This programme is brought to you by", "ja": "この番組はご覧のスポンサーの提供でお送りします",
                "zh": "本节目由以下赞助商赞助播出"}[self.script]
