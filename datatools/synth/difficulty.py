"""The generator's two difficulties in one place: which planner and which builder each uses.

``easy`` is the first generator (datatools/synth/plan.py and episode.py, clean truth); ``realistic``
(datatools/synth/realistic.py) builds on it.  Sitting above both, this module is the only one that
knows every difficulty, so the lower modules never import each other in a circle.
"""
from __future__ import annotations

import numpy as np

from datatools.synth.audio import tag
from datatools.synth.episode import Episode, build_episode_easy
from datatools.synth.material_media import ref_of, unique_theme_seeds
from datatools.synth.plan import DatasetPlan, EpisodePlan, SynthConfig, plan_episode_easy, plan_series_easy
from datatools.synth.realistic import build_episode_realistic, plan_episode_realistic, plan_series_realistic
from datatools.synth.text import ID_CHARS

PLANNERS = {"easy": (plan_series_easy, plan_episode_easy),
            "realistic": (plan_series_realistic, plan_episode_realistic)}
BUILDERS = {"easy": build_episode_easy, "realistic": build_episode_realistic}


def plan_dataset(cfg: SynthConfig, series: int, episodes: int, lone_episodes: int = 0) -> DatasetPlan:
    """Series plans and episode layouts (cheap: nothing is rendered)."""
    plan_series, plan_episode = PLANNERS[cfg.difficulty]
    ser = [plan_series(cfg, i, episodes if i < series else 1) for i in range(series + lone_episodes)]
    if cfg.material:   # different series never share a theme song (while the split has enough)
        unique_theme_seeds(ref_of(cfg), [th for sp in ser for th in sp.style["op"] + sp.style["ed"]])
    rng = np.random.default_rng(tag(cfg.seed, "ids"))
    ids: set[str] = set()
    eps = []
    for sp in ser:
        for e in range(episodes if sp.index < series else 1):
            while True:
                ep_id = "".join(ID_CHARS[int(i)] for i in rng.integers(len(ID_CHARS), size=8))
                if ep_id not in ids:
                    break
            ids.add(ep_id)
            eps.append(plan_episode(cfg, sp, e, ep_id, lone=sp.index >= series))
    return DatasetPlan(cfg, ser, eps)


def build_episode(plan: EpisodePlan) -> Episode:
    """Scenes, overlays and sounds of an episode of the plan's difficulty (rendered lazily)."""
    return BUILDERS[plan.cfg.difficulty](plan)
