"""Command line of the generator: ``python -m datatools.synth --help``."""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path

from datatools.synth.encode import generate_dataset
from datatools.synth.plan import DEFAULT_RESOLUTIONS, DIFFICULTIES, FPS_CHOICES, REALISTIC_KNOBS, SynthConfig


def _resolutions(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for item in text.split(","):
        try:
            w, h = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad resolution {item!r}; expected WxH, e.g. 320x180") from None
        if w < 16 or h < 16 or w % 2 or h % 2:
            raise argparse.ArgumentTypeError(f"resolution {item!r}: width and height must be even and >= 16")
        out.append((w, h))
    return tuple(out)


def _fps_list(text: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in text.split(","))
    bad = [v for v in items if v not in FPS_CHOICES]
    if bad:
        raise argparse.ArgumentTypeError(f"fps {bad} not in {sorted(FPS_CHOICES)}")
    return items


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m datatools.synth",
        description="Generate synthetic anime episodes in the competition "
        "clip format, with exact OP/ED truth.",
        add_help=add_help,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("dataset")
    g.add_argument("--out", required=True, help="output folder (clips, labels.txt, spans.json)")
    g.add_argument("--series", type=int, default=3, help="number of series")
    g.add_argument("--episodes", type=int, default=4, help="episodes per series")
    g.add_argument("--lone_episodes", type=int, default=0,
                   help="extra series that have a single episode each")
    g.add_argument("--clip_seconds", type=int, default=200,
                   help="S: length of each _start/_end clip; layouts scale by S/200 when S < 200")
    g.add_argument("--seed", type=int, default=0, help="random seed (same seed, same dataset)")
    g.add_argument("--full_episodes", action="store_true", help="also write <id>.mp4, the whole episode")
    g.add_argument("--min_minutes", type=float, default=6.0, help="shortest episode, minutes")
    g.add_argument("--max_minutes", type=float, default=24.0, help="longest episode, minutes")
    g.add_argument("--difficulty", choices=DIFFICULTIES, default="realistic",
                   help="realistic: episodes built the way real anime is (shared editing styles, music "
                        "everywhere, boundary variety, wide positions, cour changes; the knobs below); "
                        "easy: the first generator's clean, well separated episodes (tests)")
    g.add_argument(
        "--material",
        default=None,
        metavar="DIR",
        help="real material (realistic difficulty): a folder indexed by `python -m datatools.synth.material` "
        "(make material builds one from Debian's free game music and art); songs, scores and "
        "background music become excerpts of its tracks, dialogue its rendered speech lines, "
        "backgrounds and characters its images",
    )
    g.add_argument(
        "--material_split",
        choices=("train", "calib", "test", "all"),
        default="train",
        help="which sources of --material to draw from (split by source: a test series never hears "
        "or shows anything of a training source)",
    )
    g = p.add_argument_group("format")
    g.add_argument("--resolutions", type=_resolutions, default=_resolutions(DEFAULT_RESOLUTIONS),
                   help="comma-separated WxH choices, one drawn per series (16:9 and 4:3 by default)")
    g.add_argument("--width", type=int, default=None, help="force this width (with --height)")
    g.add_argument("--height", type=int, default=None, help="force this height (with --width)")
    g.add_argument("--fps", type=_fps_list, default=tuple(FPS_CHOICES), help="comma-separated fps choices "
                   "from 24,25,29.97,30, one drawn per series")
    g.add_argument("--sample_rate", type=int, default=22050, help="audio sample rate, Hz")
    g.add_argument("--preset", default="ultrafast", help="libx264 preset (ultrafast keeps a 200 s clip "
                   "well under 10 CPU seconds)")
    g.add_argument("--crf", type=int, default=23, help="libx264 quality (lower is better, bigger)")
    g.add_argument("--render_fps", type=float, default=0.0,
                   help="draw a new picture only this many times a second and repeat it between "
                        "(the file keeps its frame rate; faster, choppier; 0 = every frame)")
    g = p.add_argument_group("easy difficulty: confusers (probabilities per episode)")
    g.add_argument("--no_cold_open_prob", type=float, default=0.25, help="episode starts with the OP")
    g.add_argument("--no_preview_prob", type=float, default=0.3, help="ED runs to the very end")
    g.add_argument("--gap_prob", type=float, default=0.4, help="black+silent gap at each OP/ED boundary")
    g.add_argument("--insert_song_prob", type=float, default=0.35, help="an insert song in the body")
    g.add_argument("--replaced_op_prob", type=float, default=0.1,
                   help="episode uses the series' second OP song (cour change)")
    g.add_argument("--subtitle_prob", type=float, default=0.35, help="subtitle in a body scene")
    g = p.add_argument_group("realistic difficulty: phenomena (probabilities per series, episode or "
                             "body scene; each is recorded per clip in spans.json)")
    for name, (default, text) in REALISTIC_KNOBS.items():
        g.add_argument(f"--{name}", type=float, default=default, help=text)
    g = p.add_argument_group("test hooks and run")
    g.add_argument("--stamp_frames", action="store_true",
                   help="replace every picture by a 4x4 binary code of its frame index (decode_stamp)")
    g.add_argument("--stamp_segments", action="store_true",
                   help="replace every picture by a 4x4 code of (segment code << 12 | frame index %% 4096), "
                        "the segment being what is on screen (tests of the label convention)")
    g.add_argument("--text_truth", action="store_true",
                   help="write <stem>_text.json: true text boxes of the frame shown at each second")
    g.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    g.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if (args.width is None) != (args.height is None):
        print("error: --width and --height go together", file=sys.stderr)
        return 2
    res = ((args.width, args.height),) if args.width else args.resolutions
    for name in ("series", "episodes", "lone_episodes"):
        if getattr(args, name) < 0:
            print(f"error: --{name} must be >= 0", file=sys.stderr)
            return 2
    if args.clip_seconds < 10 or args.min_minutes > args.max_minutes:
        print("error: need --clip_seconds >= 10 and --min_minutes <= --max_minutes", file=sys.stderr)
        return 2
    cfg_kw = {
        f.name: getattr(args, f.name)
        for f in fields(SynthConfig)
        if f.name not in ("clip_seconds", "seed", "resolutions", "fps_choices") and hasattr(args, f.name)
    }
    for name in REALISTIC_KNOBS:
        if not 0.0 <= cfg_kw[name] <= 1.0:
            print(f"error: --{name} must be a probability in [0, 1]", file=sys.stderr)
            return 2
    if args.material:
        from datatools.synth.material import MaterialError, load_pool
        try:
            load_pool(str(Path(args.material).resolve()), args.material_split)
        except MaterialError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        cfg_kw["material"] = str(Path(args.material).resolve())
        if args.difficulty != "realistic":
            print("error: --material works with --difficulty realistic only", file=sys.stderr)
            return 2
    try:
        spans = generate_dataset(
            args.out, args.series, args.episodes, args.clip_seconds, args.seed, args.lone_episodes,
            args.full_episodes, args.stamp_frames, args.text_truth, args.workers, args.preset, args.crf,
            progress=not args.no_progress, render_fps=args.render_fps, stamp_segments=args.stamp_segments,
            resolutions=res, fps_choices=args.fps, **cfg_kw)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    unlabelled = sum(c["label"] is None for e in spans["episodes"].values() for c in e["clips"].values())
    note = f"; {unlabelled} clip(s) without a label, see spans.json" if unlabelled else ""
    print(f"wrote {2 * len(spans['episodes'])} clips to {args.out} (labels.txt, spans.json{note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
