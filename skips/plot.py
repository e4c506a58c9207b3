"""Timeline PNG of one episode's prediction (predict.py --plot)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from skips.prepare import WINDOWS, clip_offset
from skips.result import EpisodeResult


def plot_episode(r: EpisodeResult, path: Path) -> None:
    """Timeline PNG: for the start and the end clip (in episode time) the audio energy, the text-ROI
    density, each model's per-second score (min-max scaled for display) and the boundaries."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    S = r.plot["clip_seconds"]
    fig, axes = plt.subplots(2, 1, figsize=(11, 5.5), constrained_layout=True)
    for ax, kind in zip(axes, WINDOWS):
        t = clip_offset(kind, r.duration, S) + np.arange(S)
        scale = lambda v: (v - v.min()) / (np.ptp(v) or 1.0)  # noqa: E731
        ax.fill_between(t, 0, scale(r.plot["energy"][kind]), step="post", alpha=0.25, color="grey",
                        label="audio energy")
        ax.plot(t, r.plot["text"][kind] / (r.plot["text"][kind].max() or 1.0), drawstyle="steps-post",
                color="black", ls="--", lw=1, label="text-ROI density")
        for i, sc in enumerate(r.plot["scores"]):
            ax.plot(t, scale(np.asarray(sc[kind], np.float64)), lw=1,
                    label=f"model {i + 1} ({r.models[i]['kind']}) score")
        lo, hi = r.op if kind == "start" else r.ed
        ax.axvspan(lo, hi, color="tab:orange", alpha=0.15, label="skip range")
        b = r.op_end if kind == "start" else r.ed_start
        ax.axvline(b, color="red", lw=2, label=("OP end" if kind == "start" else "ED start") +
                   f" {b:.1f} s ({r.source['op_end' if kind == 'start' else 'ed_start']})")
        for m in r.models:
            ax.axvline(m["op_end" if kind == "start" else "ed_start"], color="red", lw=0.6, ls=":")
        ax.set_xlim(t[0], t[0] + S)
        ax.set_ylim(-0.05, 1.1)
        ax.set_title(f"{Path(r.file).name}: {'first' if kind == 'start' else 'last'} {S} s")
        ax.set_xlabel("episode time (s)")
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


