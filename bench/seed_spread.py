"""Spread of the accuracy benchmark over several seeds: reads the ``accuracy.json`` of several
``bench/accuracy_bench.py --seed N --out DIR`` runs (each its own data, unseen test series and
trainings) and prints, per method, every seed's score and within-2-s share with their mean and
range, plus whether the season rule was no worse than both its inputs in every group of every seed.

    python bench/accuracy_bench.py --seed 1  --out work_dir/accuracy_bench
    python bench/accuracy_bench.py --seed 11 --out work_dir/accuracy_bench_seed11
    python bench/accuracy_bench.py --seed 21 --out work_dir/accuracy_bench_seed21
    python bench/seed_spread.py work_dir/accuracy_bench work_dir/accuracy_bench_seed11 \\
        work_dir/accuracy_bench_seed21 --out work_dir/accuracy_spread.md
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.accuracy_bench import METHODS
from datatools.fileio import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent


def load(folder: Path) -> dict:
    """A run's accuracy.json: the file itself, or the --out folder holding it (bench/results/ keeps
    copies of the runs the docs quote, so the figures outlive work_dir; those recorded before result
    files carried their provenance in bench/results/historical/)."""
    path = folder if folder.suffix == ".json" else folder / "accuracy.json"
    if not path.is_file():
        raise SystemExit(f"error: {path}: not found (run bench/accuracy_bench.py --out {folder} first)")
    return json.loads(path.read_text(encoding="utf-8"))


def spread_table(runs: list[dict], group: str = "all") -> str:
    seeds = [r["made_with"]["seed"] for r in runs]
    head = "| method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | range |"
    lines = [head, "|" + "---|" * (len(seeds) + 3)]
    for m in METHODS:
        cells = [r["scores"].get(m, {}).get(group) for r in runs]
        if not all(c and c.get("n") for c in cells):
            continue
        sc = [c["score"] for c in cells]
        w2 = [c["within_2s"] for c in cells]
        cov = [c.get("coverage", 1.0) for c in cells]
        txt = [
            f"{s:.2f} ({w:.0%}{'' if cv > 0.999 else f'; {cv:.0%} answered'})"
            for s, w, cv in zip(sc, w2, cov)
        ]
        lines.append(
            f"| {m} | " + " | ".join(txt) + f" | {sum(sc) / len(sc):.2f} | {min(sc):.2f}-{max(sc):.2f} |"
        )
    return "\n".join(lines)


def season_verdicts(runs: list[dict]) -> str:
    lines = []
    for r in runs:
        for combined, rows in r.get("season_check", {}).items():
            bad = [row["group"] for row in rows if not row["ok"]]
            lines.append(f"- seed {r['made_with']['seed']}, {combined}: "
                         + ("no worse than both inputs in every group ("
                            + ", ".join(f"{row['group']} {row['n']}" for row in rows) + " clips)"
                            if not bad else f"**worse** in {', '.join(bad)}"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Spread of bench/accuracy_bench.py over several seeds.")
    p.add_argument("folders", nargs="+", help="output folders of accuracy_bench runs (--out), or their "
                   "accuracy.json files (e.g. bench/results/historical/accuracy_seed21.json)")
    p.add_argument("--out", default=None, help="also write the tables to this Markdown file")
    args = p.parse_args(argv)
    runs = [load(Path(f)) for f in args.folders]
    sizes = {json.dumps(r["made_with"]["size"], sort_keys=True) for r in runs}
    if len(sizes) > 1:
        print("error: the runs were made with different sizes; compare runs of one size", file=sys.stderr)
        return 2
    text = (
        f"Score in s (within-2-s share) on the unseen test series of {len(runs)} seeds, each with its own "
        f"data and trainings ({', '.join(str(r['n_test_clips']) for r in runs)} labelled test clips):\n\n"
        + spread_table(runs)
        + "\n\nSeason rule, per seed:\n\n"
        + season_verdicts(runs)
        + "\n"
    )
    print(text)
    if args.out:
        atomic_write_text(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
