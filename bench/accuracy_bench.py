"""Accuracy on unseen series: the whole published workflow on realistic episodes, scored per clip
type and per hard case, with the training-median baseline beside every method.

    python bench/accuracy_bench.py                      # default size (S = 200), see --help
    python bench/accuracy_bench.py --quick              # a few minutes: the test suite's size
    python bench/accuracy_bench.py --data DIR --truth LABELS --out work_dir/acc_mine
                                                        # the same stages on your own clips

Stages (the repository's own command lines, as in demo.py; each resumes where it stopped):
1. data: ``python -m datatools.synth --difficulty realistic`` writes data_A/train, data_B (training
   series) and data_C (test B: other, unseen series, plus lone-episode series; the seed is
   advanced until the test split holds a cour change, so season mode cannot answer every clip);
   test-B truth goes to ``truth/``.  Skipped with ``--data``.
2. preprocess (``utils.preprocess --with_fingerprint``), 3. train the three published kinds side by
   side (tiny preset, the CPU recipe), 4. the five test-B submissions, 5. season mode
   (``fuse/season.py``), 6. K-means fusion and fusion + season (``fuse/fuse.py``);
7. score: every submission, season mode alone (on the clips it answers) and the baseline, overall,
   per clip type and per hard-case flag (spans.json ``clips.*.flags``): ``accuracy.json``,
   ``accuracy.png`` and the table on the console.

``bench.json`` in the output folder records what the data was made with; a rerun with other
settings refuses to reuse the folder (use another ``--out``).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from datatools.fileio import atomic_write_json, atomic_write_text, no_nan
from datatools.labels import read_labels, read_submission
from datatools.metric import summary
from fuse.season_check import clip_flags as flags_of
from fuse.season_check import season_check, season_check_table, sibling_groups
from workflow import stages  # the workflow's stages: one implementation for the demo and the benches

ROOT = Path(__file__).resolve().parent.parent

# Hard cases reported as rows (the spans.json flags of a clip); every other flag is in the JSON.
KEY_FLAGS = ("cour_change", "reprise", "long_cold_open", "long_tail", "song_lead", "ring", "lone_episode",
             "loud_bgm", "action_scene", "op_fade", "ed_fade_in", "no_cold_open")
METHODS = ("baseline", "avt_best", "avt_normal_best", "avt_normal_last", "yolt_best", "yolt_last", "fusion",
           "season", "fusion+season", "dense", "fusion+dense", "fusion+dense+season", "shipped",
           "dense+season", "shipped+season")
SHIPPED_WEIGHTS = ROOT / "models" / "shipped" / "avt_dense_general.pth"


@dataclass(frozen=True)
class BenchSize:
    clip_seconds: int = 200
    train_series: int = 10
    train_episodes: int = 6
    extra_series: int = 2
    extra_episodes: int = 3
    test_series: int = 4
    test_episodes: int = 6
    test_lone: int = 2
    epochs: int = 20
    batch_size: int = 8
    lr: float = 2e-3
    shift_aug: int = 20
    render_fps: float = 5.0


SIZE_HELP = {"clip_seconds": "S, seconds per clip", "train_series": "series in data_A/train",
             "train_episodes": "episodes per data_A/train series", "extra_series": "series in data_B",
             "extra_episodes": "episodes per data_B series", "test_series": "unseen test-B series (data_C)",
             "test_episodes": "episodes per test-B series", "test_lone": "extra one-episode test-B series",
             "epochs": "training epochs of every kind", "batch_size": "training batch size",
             "lr": "learning rate", "shift_aug": "temporal-shift augmentation, s (dense: at least S/3)",
             "render_fps": "pictures drawn per second by the generator"}
SIZES = {
    "default": BenchSize(),
    "quick": BenchSize(
        clip_seconds=40,
        train_series=4,
        train_episodes=2,
        extra_series=2,
        extra_episodes=2,
        test_series=2,
        test_episodes=2,
        test_lone=1,
        epochs=2,
        shift_aug=4,
    ),
}


def _demo_size(b: BenchSize) -> stages.DemoSize:
    return stages.DemoSize(**{f.name: getattr(b, f.name) for f in fields(stages.DemoSize)})


def test_seed(seed: int, b: BenchSize) -> int:
    """The first seed from ``seed`` whose test split holds a cour change (planning only: cheap)."""
    from datatools.synth import SynthConfig, plan_dataset
    for s in range(seed, seed + 1000, 97):
        plan = plan_dataset(SynthConfig(clip_seconds=b.clip_seconds, seed=s), b.test_series, b.test_episodes,
                            b.test_lone)
        if any(e.spans["cour_change"] and e.spans["cour_change"]["changed"] for e in plan.episodes):
            return s
    return seed


def stage_data(out: Path, b: BenchSize, seed: int, material: Path | None = None) -> None:
    """With ``material``, the training folders draw from its train split and test B from its test
    split (other sources: the test series never hear or show anything the training saw)."""
    data = out / "data"
    if (data / ".complete").is_file():
        print("data: already generated, skipping")
        return
    py = sys.executable
    ts = test_seed(seed + 2, b)
    for folder, series, episodes, lone, s, split in (
            ("data_A/train", b.train_series, b.train_episodes, 0, seed, "train"),
            ("data_B", b.extra_series, b.extra_episodes, 0, seed + 1, "train"),
            ("data_C", b.test_series, b.test_episodes, b.test_lone, ts, "test")):
        stages.run([py, "-m", "datatools.synth", "--out", data / folder, "--series", series,
                  "--episodes", episodes, "--lone_episodes", lone, "--seed", s, "--clip_seconds",
                  b.clip_seconds, "--render_fps", b.render_fps, "--difficulty", "realistic",
                  *(["--material", material, "--material_split", split] if material else [])])
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    shutil.move(str(data / "data_C" / "labels.txt"), truth / "testB_labels.txt")
    shutil.move(str(data / "data_C" / "spans.json"), truth / "testB_spans.json")
    atomic_write_text(data / ".complete", "ok\n")


def clip_flags(spans_path: Path | None) -> dict[str, list[str]]:
    """Clip stem -> its hard-case flags, from a generator's spans.json (empty without one)."""
    if spans_path is None or not spans_path.is_file():
        return {}
    return flags_of(json.loads(spans_path.read_text(encoding="utf-8")))


def season_alone(sidecar: Path) -> dict[str, float]:
    """Season mode's own answers (clips where a sibling matched), clip stem -> seconds."""
    from fuse.season import read_sidecar
    return {stem: r.seconds for stem, r in read_sidecar(sidecar).items() if r.source == "season"}


def score_all(
    preds: dict[str, dict[str, float]], truth: dict[str, float], flags: dict[str, list[str]]
) -> dict:
    """summary() of every method overall, per clip type (s/e) and per flag, on the labelled clips
    each method answers; ``coverage`` = answered share of the labelled clips."""
    groups: dict[str, list[str]] = {"all": list(truth), "s": [k for k in truth if k.endswith("_start")],
                                    "e": [k for k in truth if k.endswith("_end")]}
    for k in truth:
        for f in flags.get(k, []):
            groups.setdefault(f, []).append(k)
    out = {}
    for name, p in preds.items():
        out[name] = {}
        for g, clips in groups.items():
            got = [k for k in clips if k in p]
            row = summary([p[k] for k in got], [truth[k] for k in got])
            row["coverage"] = len(got) / len(clips) if clips else float("nan")
            row["n_clips"] = len(clips)
            out[name][g] = row
    return out


COVERAGES = (1.0, 0.95, 0.9, 0.8, 0.7, 0.5)


def coverage_curve(
    pred: dict[str, float], truth: dict[str, float], confidence: dict[str, float]
) -> list[dict]:
    """Error against coverage: answer only the most confident clips (confidence threshold lowered
    until the share of clips answered reaches each COVERAGES value) and score those."""
    import math
    clips = sorted((k for k in truth if k in pred and k in confidence), key=lambda k: -confidence[k])
    out = []
    for c in COVERAGES:
        n = max(1, math.ceil(c * len(clips))) if clips else 0
        kept = clips[:n]
        row = summary([pred[k] for k in kept], [truth[k] for k in kept])
        out.append({"coverage": c, "n": n, "threshold": confidence[kept[-1]] if kept else float("nan"),
                    "score": row["score"], "within_2s": row["within_2s"], "within_5s": row["within_5s"],
                    "median": row["median"]})
    return out


def coverage_table(curves: dict[str, list[dict]]) -> str:
    lines = [
        "| method | coverage | clips | confidence >= | score | within 2 s | within 5 s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rows in curves.items():
        for r in rows:
            lines.append(
                f"| {name} | {r['coverage']:.0%} | {r['n']} | {r['threshold']:.3f} | {r['score']:.2f} | "
                f"{r['within_2s']:.0%} | {r['within_5s']:.0%} |"
            )
    return "\n".join(lines)


def table(scores: dict, rows: list[str]) -> str:
    names = [m for m in METHODS if m in scores]
    head = "| clips | n | " + " | ".join(names) + " |"
    lines = [head, "|" + "---|" * (len(names) + 2)]
    for g in rows:
        if g not in scores["baseline"]:
            continue
        n = scores["baseline"][g]["n_clips"]
        cells = []
        for m in names:
            r = scores[m][g]
            cell = "-" if r["n"] == 0 else f"{r['score']:.2f}"
            if r["n"] and r["coverage"] < 0.999:
                cell += f" ({r['coverage']:.0%})"
            cells.append(cell)
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail_table(scores: dict, group: str = "all") -> str:
    lines = [
        "| method | n | score | MAE | median | within 1 s | within 2 s | within 5 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in (m for m in METHODS if m in scores):
        r = scores[m][group]
        if r["n"]:
            lines.append(f"| {m} | {r['n']} | {r['score']:.2f} | {r['mae']:.2f} | {r['median']:.2f} | "
                         f"{r['within_1s']:.0%} | {r['within_2s']:.0%} | {r['within_5s']:.0%} |")
    return "\n".join(lines)


def plot(path: Path, scores: dict, rows: list[str]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    rows = [g for g in rows if g in scores["baseline"]]
    names = [m for m in METHODS if m in scores]
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(rows)), 4.5))
    w = 0.8 / len(names)
    for i, m in enumerate(names):
        v = [scores[m][g]["score"] if scores[m][g]["n"] else np.nan for g in rows]
        ax.bar(np.arange(len(rows)) + i * w, v, w, label=m,
               color="#888888" if m == "baseline" else plt.cm.tab10(i % 10))
    ax.set_xticks(np.arange(len(rows)) + 0.4 - w / 2, rows, rotation=30, ha="right")
    ax.set_ylabel("score, s (lower is better)")
    ax.set_title("Unseen-series score per clip group (season: on the clips it answers)")
    ax.legend(fontsize=7, ncol=3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def stage_shipped(
    out: Path, size, sidecar: Path, data: Path, feats: Path, weights: Path | None
) -> dict[str, Path]:
    """The dense kind alone with season mode (the rule with the dense confidence and posterior), and, when
    ``weights`` exist, the shipped model zero-shot on test B, alone and with season mode.  Returns the
    submissions by method name."""
    py, rule = sys.executable, sidecar.parent / "offsets.json"
    res = {}
    runs = [("dense", out / "dense.csv", out / "dense_confidence.csv", out / "runs" / "testB_dense")]
    if weights is not None:
        test_dir = out / "runs" / "testB_shipped"
        stages.run(
            [
                py,
                stages.RUNS["dense"][0],
                "--testB",
                "--weights",
                weights,
                "--data_root",
                data,
                "--feat_root",
                feats,
                "--preset",
                "full",
                "--clip_seconds",
                size.clip_seconds,
                "--num_workers",
                0,
                "--device",
                "cpu",
                "--save_prefix",
                test_dir,
            ]
        )
        shutil.copyfile(test_dir / "submission.csv", out / "shipped.csv")
        shutil.copyfile(test_dir / "submission_confidence.csv", out / "shipped_confidence.csv")
        res["shipped"] = out / "shipped.csv"
        runs.append(("shipped", out / "shipped.csv", out / "shipped_confidence.csv", test_dir))
    for name, csv, conf, run_dir in runs:
        post = run_dir / "submission_posterior.npz"
        target = out / f"{name}_season_submission.csv"
        stages.run([py, "fuse/fuse.py", "--inputs", csv, "--output", target, "--trust", f"{csv.stem}={conf}",
                  "--season", sidecar, "--season_rule", rule, "--quiet",
                  *(["--posterior", post] if post.is_file() else [])])
        res[f"{name}+season"] = target
    return res


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):  # a None default means "the chosen size's value": say that only
        return action.help if action.default is None else super()._get_help_string(action)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=_HelpFormatter)
    p.add_argument(
        "--out", default=str(ROOT / "work_dir" / "accuracy_bench"), help="output folder (resumable)"
    )
    p.add_argument("--quick", action="store_true", help="the small size the test suite runs (a few minutes)")
    p.add_argument(
        "--seed", type=int, default=1, help="dataset seed (training series; test B uses later seeds)"
    )
    p.add_argument("--data", default=None, metavar="DIR",
                   help="use this dataset in the published layout (data_A/train, data_B, data_C) instead of "
                        "generating one; features go to <out>/processed")
    p.add_argument("--truth", default=None, metavar="LABELS", help="test-B (data_C) labels, with --data")
    p.add_argument("--spans", default=None, metavar="JSON",
                   help="with --data: a spans.json whose clips.*.flags give the hard-case rows")
    p.add_argument("--material", default=None, metavar="DIR",
                   help="generate the episodes from real material (make material): training series from its "
                        "train split, test-B series from its test split (sources never seen in training)")
    p.add_argument(
        "--shipped",
        default=str(SHIPPED_WEIGHTS),
        metavar="CKPT",
        help="also score this model zero-shot on test B (the model predict.py ships; trained on its "
        "own data, not on this run's), alone and with season mode; 'none' to leave it out",
    )
    o = p.add_argument_group("size overrides (default: the chosen size's values)")
    quick = asdict(SIZES["quick"])
    for name, val in asdict(BenchSize()).items():
        o.add_argument(f"--{name}", type=type(val), default=None, metavar=type(val).__name__.upper(),
                       help=f"{SIZE_HELP[name]} (default {val}; {quick[name]} with --quick)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    b = SIZES["quick" if args.quick else "default"]
    b = replace(b, **{k: getattr(args, k) for k in asdict(b) if getattr(args, k) is not None})
    if (args.data is None) != (args.truth is None):
        print("error: --data and --truth go together", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    material = Path(args.material).resolve() if args.material else None
    made_with = {"size": asdict(b), "seed": args.seed, "difficulty": "realistic",
                 "data": str(Path(args.data).resolve()) if args.data else None}
    if material:
        from datatools.synth.material import MaterialError, read_index
        try:
            made_with["material"] = {
                "folder": str(material),
                "content_hash": read_index(material)["content_hash"],
            }
        except MaterialError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    rec = out / "bench.json"
    if rec.is_file():
        old = json.loads(rec.read_text(encoding="utf-8"))
        if old != made_with:
            print(f"error: {out} holds a run made with other settings ({rec}); pass another --out",
                  file=sys.stderr)
            return 2
    atomic_write_json(rec, made_with, indent=1)
    size = _demo_size(b)
    if args.data:
        data, feats, truth = Path(args.data).resolve(), out / "processed", Path(args.truth).resolve()
        spans = Path(args.spans).resolve() if args.spans else None
    else:
        data, feats, truth, spans = (
            out / "data",
            out / "data" / "processed",
            out / "truth" / "testB_labels.txt",
            out / "truth" / "testB_spans.json",
        )
    timings: dict[str, float] = {}
    tfile = out / "timings.json"
    # A resumed stage takes no time; the report keeps the first run's time of each stage beside.
    earlier = json.loads(tfile.read_text(encoding="utf-8")).get("first_run", {}) if tfile.is_file() else {}

    def timed(name, fn, *a):
        stages.banner(name)
        t0 = time.perf_counter()
        res = fn(*a)
        timings[name] = round(time.perf_counter() - t0, 1)
        earlier.setdefault(name, timings[name])
        print(f"[{name}] {timings[name]:.1f} s", flush=True)
        atomic_write_json(tfile, {"this_run": timings, "first_run": earlier}, indent=1)
        return res

    if not args.data:
        timed("1 data", stage_data, out, b, args.seed, material)
    timed("2 preprocess", stages.stage_preprocess, out, size, data, feats)
    timed("3 train", stages.stage_train, out, size, data, feats)
    fuse_dir = out / "submissions"
    csvs = timed("4 test B", stages.stage_test, out, size, fuse_dir, data, feats)
    sidecar = timed("5 season mode", stages.stage_season, out, size, data, feats)
    timed("6 fuse", stages.stage_fuse_and_score, out, csvs, sidecar, fuse_dir, data, truth)
    shipped = Path(args.shipped) if args.shipped.lower() != "none" else None
    shipped = shipped if shipped is not None and shipped.is_file() else None
    if shipped is not None:
        from models.checkpoint import read_checkpoint
        s_ckpt = int(read_checkpoint(shipped)["clip_seconds"])
        if s_ckpt != size.clip_seconds:   # e.g. --quick (S = 40) against the shipped S = 200
            print(f"[bench] no shipped row: {shipped} was trained with S = {s_ckpt}, this run uses "
                  f"S = {size.clip_seconds}", flush=True)
            shipped = None
    extra = timed("6b shipped + season", stage_shipped, out, size, sidecar, data, feats, shipped)

    t0 = time.perf_counter()
    truth_rows = {r.stem: r.seconds for r in read_labels(truth)}
    preds = {"baseline": out / "baseline_submission.csv", **{p.stem: p for p in csvs},
             "fusion": out / "fused_submission.csv", "fusion+season": out / "fused_season_submission.csv",
             "dense": out / "dense.csv", "fusion+dense": out / "fused_dense_submission.csv",
             "fusion+dense+season": out / "fused_dense_season_submission.csv", **extra}
    preds = {n: {Path(r.clip).stem: r.seconds for r in read_submission(p)} for n, p in preds.items()}
    preds["season"] = season_alone(sidecar)
    flags = clip_flags(spans)
    for stem, g in sibling_groups(sidecar).items():
        flags[stem] = flags.get(stem, []) + g
    scores = score_all(preds, truth_rows, flags)
    rows = ["all", "s", "e", "no_sibling", "one_sibling", "several_siblings", *KEY_FLAGS]
    pairs = [
        (m, c)
        for m, c in (
            ("fusion", "fusion+season"),
            ("fusion+dense", "fusion+dense+season"),
            ("dense", "dense+season"),
            ("shipped", "shipped+season"),
        )
        if m in preds and c in preds
    ]
    checks = {c: season_check(preds, truth_rows, flags, m, c) for m, c in pairs}
    timings["7 score"] = round(time.perf_counter() - t0, 1)
    n_series = (
        len({json.loads(spans.read_text())["episodes"][k.rsplit("_", 1)[0]]["series"] for k in truth_rows})
        if spans and spans.is_file()
        else None
    )
    conf_file = out / "dense_confidence.csv"
    curves = {}
    if conf_file.is_file():
        from fuse.fuse import read_confidence
        conf = {Path(k).stem: v for k, v in read_confidence(conf_file).items()}
        curves["dense"] = coverage_curve(preds["dense"], truth_rows, conf)
    if (out / "shipped_confidence.csv").is_file() and "shipped" in preds:
        from fuse.fuse import read_confidence
        conf = {Path(k).stem: v for k, v in read_confidence(out / "shipped_confidence.csv").items()}
        curves["shipped"] = coverage_curve(preds["shipped"], truth_rows, conf)
    from models.engine import git_commit

    result = {
        "made_with": made_with,
        "commit": git_commit(),
        "coverage": curves,
        "n_test_clips": len(truth_rows),
        "n_test_series": n_series,
        "scores": scores,
        "season_check": checks,
        "season_rule": json.loads((sidecar.parent / "offsets.json").read_text(encoding="utf-8")).get(
            "decision"
        )
        if (sidecar.parent / "offsets.json").is_file()
        else None,
        "timings_s": {"this_run": timings, "first_run": earlier},
        "rows": rows,
    }
    atomic_write_json(out / "accuracy.json", no_nan(result), indent=1)
    plot(out / "accuracy.png", scores, rows)
    text = (
        f"Unseen-series scores (s; lower is better), {len(truth_rows)} labelled test-B clips"
        + (f" of {n_series} series" if n_series else "")
        + "; season mode alone is scored on the clips it "
        "answers, with that share in brackets.\n\n"
        + table(scores, rows)
        + "\n\nAll clips:\n\n"
        + detail_table(scores)
        + "\n\nSeason mode never hurts? (score, s; season alone on the clips it answers, "
        "with their number)\n\n"
        + "\n\n".join(season_check_table(v, m, c) for (m, c), v in zip(pairs, checks.values()))
        + (
            "\n\nError against coverage (answer only the most confident clips; the dense kind's "
            "confidence, its posterior mass within 2 s):\n\n" + coverage_table(curves)
            if curves
            else ""
        )
        + f"\n\nstage times (s), this run: {json.dumps(timings)}; first run of each "
        f"stage: {json.dumps(earlier)}"
    )
    atomic_write_text(out / "accuracy.md", text + "\n")
    print("\n" + text)
    print(f"\nJSON: {out / 'accuracy.json'}   figure: {out / 'accuracy.png'}   table: {out / 'accuracy.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
