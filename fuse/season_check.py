"""Does season mode ever hurt?  Scores of a submission with and without the season decision rule
per group of clips (issue 14): all clips, clips whose match found no, one or several siblings,
cour changes and OP/ED reprises (the generator's spans.json flags).  Used by
bench/accuracy_bench.py and the demo report.
"""
from __future__ import annotations

from pathlib import Path

SEASON_GROUPS = ("all", "no_sibling", "one_sibling", "several_siblings", "cour_change", "reprise")


def clip_flags(spans: dict) -> dict[str, list[str]]:
    """Clip stem -> its hard-case flags, from a generator's spans.json document."""
    return {
        f"{i}_{k}": list(c.get("flags", []))
        for i, e in spans["episodes"].items()
        for k, c in e["clips"].items()
    }


def sibling_groups(sidecar: Path) -> dict[str, list[str]]:
    """Clip stem -> its season-evidence group (no_sibling / one_sibling / several_siblings)."""
    from fuse.season import read_sidecar
    return {stem: ["no_sibling" if r.source != "season" else "one_sibling" if r.siblings == 1
                   else "several_siblings"] for stem, r in read_sidecar(sidecar).items()}


def season_check(preds: dict[str, dict[str, float]], truth: dict[str, float], flags: dict[str, list[str]],
                 models: str, combined: str) -> list[dict]:
    """Issue 14's test, per group: is ``combined`` (models + season rule) no worse than ``models``
    on all the group's clips, and no worse than season alone on the clips season answers?"""
    from datatools.metric import score
    out = []
    for g in SEASON_GROUPS:
        clips = [k for k in truth if g == "all" or g in flags.get(k, [])]
        if not clips:
            continue
        answered = [k for k in clips if k in preds["season"]]

        def sc(name, ks):
            return score([preds[name][k] for k in ks], [truth[k] for k in ks]) if ks else float("nan")
        row = {"group": g, "n": len(clips), "n_season": len(answered), "models": sc(models, clips),
               "combined": sc(combined, clips), "season": sc("season", answered),
               "combined_on_season_clips": sc(combined, answered)}
        eps = 1e-9
        row["ok"] = bool(row["combined"] <= row["models"] + eps and
                         (not answered or row["combined_on_season_clips"] <= row["season"] + eps))
        out.append(row)
    return out


def season_check_table(rows: list[dict], models: str, combined: str) -> str:
    f = lambda v: "-" if v != v else f"{v:.2f}"  # noqa: E731
    lines = [
        f"| clips | n | {models} | season (its clips) | {combined} | {combined} on season's clips | no "
        "worse than both |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['group']} | {r['n']} | {f(r['models'])} | {f(r['season'])} ({r['n_season']}) | "
            f"{f(r['combined'])} | {f(r['combined_on_season_clips'])} | {'yes' if r['ok'] else '**no**'} |"
        )
    return "\n".join(lines)
