"""The README's result tables, regenerated from the result files committed in the repository.

    python -m bench.tables              # print every table
    python -m bench.tables --write      # rewrite the tables in README.md
    python -m bench.tables --check      # exit 1 (naming the table) when README.md differs from the files

Every generated table sits in README.md between two markers::

    <!-- table NAME (python -m bench.tables; from FILE, ...) -->
    ...
    <!-- /table NAME -->

and the first line inside names the committed file(s) it comes from.  Editing a number by hand makes
``--check`` (and the test suite, tests/test_tables.py) fail.  A table whose files are not committed
yet is printed as a line saying so, never with figures.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
SHIPPED_RESULTS = ROOT / "models" / "shipped" / "results"
SYNTH_SEEDS = ("accuracy_seed1.json", "accuracy_seed11.json", "accuracy_seed21.json")
MARKER = re.compile(r"<!-- table (?P<name>[\w.-]+)[^>]*-->\n(?P<body>.*?)<!-- /table (?P=name) -->", re.S)


def _rel(p: Path) -> str:
    try:
        return p.relative_to(ROOT).as_posix()
    except ValueError:   # a file outside the repository (tests)
        return p.as_posix()


def _nan(obj):
    """JSON null (an empty group) back to NaN, as the table functions expect."""
    if isinstance(obj, dict):
        return {k: _nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan(v) for v in obj]
    return math.nan if obj is None else obj


def _load(path: Path) -> dict:
    return _nan(json.loads(path.read_text(encoding="utf-8")))


def _source_line(files: list[Path]) -> str:
    return "*From " + ", ".join(f"`{_rel(f)}`" for f in files) + " (`python -m bench.tables`).*"


def _missing(files: list[Path]) -> str | None:
    gone = [f for f in files if not f.is_file()]
    if gone:
        return "*Not measured yet: " + ", ".join(f"`{_rel(f)}`" for f in gone) + " is not committed.*"
    return None


# ----------------------------------------------------------------------------------------------
# Renderers: each returns the Markdown between its markers.


def accuracy_groups(files: list[Path]) -> str:
    """One accuracy_bench run: every method per clip group, and all clips in detail."""
    from bench.accuracy_bench import detail_table, table
    doc = _load(files[0])
    return "\n".join([_source_line(files), "", f"{doc['n_test_clips']} labelled test-B clips of "
                      f"{doc['n_test_series']} unseen series, seed {doc['made_with']['seed']}; score in s (season "
                      "mode alone on the clips it answers, that share in brackets):", "",
                      table(doc["scores"], doc["rows"]), "", "All clips:", "", detail_table(doc["scores"])])


def accuracy_season(files: list[Path]) -> str:
    """One accuracy_bench run: the season rule against its two inputs, per group."""
    from datatools.season_check import season_check_table
    doc = _load(files[0])
    parts = [_source_line(files)]
    for combined, rows in doc["season_check"].items():
        models = combined.rsplit("+season", 1)[0]
        parts += ["", season_check_table(rows, models, combined)]
    return "\n".join(parts)


def accuracy_coverage(files: list[Path]) -> str:
    from bench.accuracy_bench import coverage_table
    doc = _load(files[0])
    if not doc.get("coverage"):
        return _source_line(files) + "\n\n*This run has no confidence file (no dense kind).*"
    return _source_line(files) + "\n\n" + coverage_table(doc["coverage"])


def accuracy_spread(files: list[Path]) -> str:
    """Several seeds of one benchmark size: score (within 2 s) per seed, mean and range."""
    from bench.seed_spread import season_verdicts, spread_table
    runs = [_load(f) for f in files]
    return "\n".join([_source_line(files), "", spread_table(runs), "", "Season rule, per seed:", "",
                      season_verdicts(runs)])


def shipped_zero_shot(files: list[Path]) -> str:
    """The shipped model on its own unseen test series (bench/train_shipped.py's evaluate stage)."""
    from bench.shipped_card import reliability_table, score_table
    doc = _load(files[0])
    parts = [_source_line(files), "", f"{doc.get('n_clips', '?')} lone 200-s clips of "
             f"{doc.get('n_series', '?')} unseen series (material no training saw):", "", score_table(doc["scores"])]
    if doc.get("reliability"):
        parts += ["", "Reliability (confidence bins against the share within 2 s):", "",
                  reliability_table(doc["reliability"])]
    return "\n".join(parts)


def shipped_text(files: list[Path]) -> str:
    """A result file that carries its own sentence (``text``): whole episodes, predict.py's speed."""
    return _source_line(files) + "\n\n" + _load(files[0])["text"]


def _material_runs() -> list[Path]:
    return sorted(RESULTS.glob("accuracy_material_seed*.json"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))


# name -> (files, renderer); files as a callable when they are found by pattern
TABLES: dict[str, tuple[Callable[[], list[Path]], Callable[[list[Path]], str]]] = {
    "accuracy_seed1": (lambda: [RESULTS / "accuracy_seed1.json"], accuracy_groups),
    "accuracy_seed1_season": (lambda: [RESULTS / "accuracy_seed1.json"], accuracy_season),
    "accuracy_seed1_coverage": (lambda: [RESULTS / "accuracy_seed1.json"], accuracy_coverage),
    "accuracy_spread": (lambda: [RESULTS / f for f in SYNTH_SEEDS], accuracy_spread),
    "material_spread": (lambda: _material_runs() or [RESULTS / "accuracy_material_seed1.json"], accuracy_spread),
    "material_seed1": (lambda: [RESULTS / "accuracy_material_seed1.json"], accuracy_groups),
    "material_seed1_season": (lambda: [RESULTS / "accuracy_material_seed1.json"], accuracy_season),
    "shipped_zero_shot": (lambda: [SHIPPED_RESULTS / "zero_shot_test.json"], shipped_zero_shot),
    "shipped_episodes": (lambda: [SHIPPED_RESULTS / "episode_test.json"], shipped_text),
    "shipped_speed": (lambda: [SHIPPED_RESULTS / "predict_speed.json"], shipped_text),
}


def render(name: str) -> str:
    files_of, fn = TABLES[name]
    files = files_of()
    return _missing(files) or fn(files)


def blocks(text: str) -> dict[str, str]:
    """NAME -> the text between its markers, for every generated table in ``text``."""
    return {m["name"]: m["body"] for m in MARKER.finditer(text)}


def rewrite(text: str) -> str:
    """``text`` with every known table regenerated (unknown names are left alone; --check names them)."""
    def sub(m: re.Match) -> str:
        if m["name"] not in TABLES:
            return m.group(0)
        head = m.group(0).split("\n", 1)[0]
        return f"{head}\n{render(m['name'])}\n<!-- /table {m['name']} -->"
    return MARKER.sub(sub, text)


def check(readme: Path) -> list[str]:
    """Problems of ``readme``: tables that differ from what the committed files give, or unknown."""
    text = readme.read_text(encoding="utf-8")
    found = blocks(text)
    problems = [f"{readme}: table {n!r} is not one bench/tables.py knows" for n in found if n not in TABLES]
    for n, body in found.items():
        if n in TABLES and body != render(n) + "\n":
            problems.append(f"{readme}: table {n!r} differs from what its files give "
                            f"(rerun `python -m bench.tables --write`)")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Regenerate (or check) the README's result tables from the result "
                                "files committed in the repository.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="rewrite the tables in the README in place")
    g.add_argument("--check", action="store_true", help="exit 1 when a table in the README differs from its files")
    p.add_argument("--readme", default=str(README), help="the README to write or check")
    p.add_argument("names", nargs="*", help="print only these tables (default: all)")
    args = p.parse_args(argv)
    readme = Path(args.readme)
    if args.check:
        problems = check(readme)
        for line in problems:
            print(line, file=sys.stderr)
        if not problems:
            print(f"{readme}: {len(blocks(readme.read_text(encoding='utf-8')))} tables match their result files")
        return 1 if problems else 0
    if args.write:
        text = readme.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            readme.write_text(new, encoding="utf-8")
        print(f"{readme}: {len(blocks(new))} tables written")
        return 0
    for n in args.names or TABLES:
        if n not in TABLES:
            print(f"error: unknown table {n!r}; known: {', '.join(TABLES)}", file=sys.stderr)
            return 2
        print(f"## {n}\n\n{render(n)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
