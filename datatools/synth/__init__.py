"""Synthetic anime-episode generator: competition-format clips with exact OP/ED truth.

Writes, for every episode, ``<id>_start.mp4`` (the first S seconds) and ``<id>_end.mp4`` (the last
S seconds), H.264 (libx264, yuv420p) + AAC, encoded by the imageio-ffmpeg binary from numpy frames
piped raw into its stdin; ``labels.txt`` (``<id>_start <OP end>`` / ``<id>_end <ED start>``, clip
seconds) and ``spans.json`` (the whole truth).  ``<id>`` is a random 8-character alphanumeric
string, so a clip name says nothing about its series.

    python -m datatools.synth --out work_dir/synth --series 3 --episodes 4 --clip_seconds 200 --seed 0
    python -m datatools.synth --difficulty easy ...   # the first generator's clean episodes
    python -m datatools.synth --help                  # every flag

Two difficulties (``--difficulty``, Python ``difficulty=``):
- ``realistic`` (default): episodes built the way real anime is: shared editing styles (action
  scenes cut like an OP, EDs without scrolling credits), music everywhere (loud scores, theme-song
  reprises, insert songs, OP songs that start under the cold open or ring on after the picture
  cuts), boundary variety (cuts, fades, lead-ins, black gaps, title and sponsor cards), wide
  positions (cold opens 0-150 s, long tails after the ED) and seasons (cour changes, premieres
  without an OP).  Every phenomenon has a probability knob (plan.REALISTIC_KNOBS) and is recorded
  per clip in spans.json (``clips.<kind>.flags``).  See datatools/synth/realistic.py.
- ``easy``: the first generator (datatools/synth/plan.py, episode.py): one look per segment
  type, music only in the OP/ED/insert songs; clean truth for tests.

Label convention (both difficulties): ``_start`` = the end of the last frame of the OP *sequence*
(after its fade-out; a song that rings on under the body does not count); ``_end`` = the first
frame of the ED *sequence* (after any black gap; a song lead-in under the last scene does not
count).  spans.json also keeps the audible song spans (``op_song_span``, ``ed_song_span``), the
OP start and ED end.  A ``_start`` clip of an episode without an OP has ``label`` None and a
``no_label`` reason; it is rendered and left out of labels.txt.

Layout scaling for short clips: with S < 200 every layout length is multiplied by r = S / 200
(short effects keep a floor), so every label stays inside [0, S]; a layout that would break this
is redrawn.  Episodes are at least 2 S long, so the start and end clips never overlap.

The package: ``plan`` (config, series/episode plans, easy layouts), ``realistic`` (realistic
layouts and their rendering plan), ``episode`` (on-demand frames and audio), ``audio`` (songs,
speech, noise), ``pictures`` (scenes, text sprites, stamps), ``text`` (made-up words), ``encode``
(ffmpeg encoding and the dataset writer), ``cli``.

Python API:
    from datatools.synth import generate_dataset, decode_stamp
    spans = generate_dataset("out", series=2, episodes=3, clip_seconds=20, seed=1)   # the spans dict
    plan = plan_dataset(SynthConfig(...), 2, 3); ep = build_episode(plan.episodes[0])
    ep.audio(0, n); ep.frame(t)

Test hooks: ``--stamp_frames`` replaces every picture by a 4x4 black/white code of the frame index
within the file (``decode_stamp`` reads it back, also from the 88x66 letterboxed copy);
``--stamp_segments`` codes the on-screen segment with the frame index; ``--text_truth`` writes
``<stem>_text.json`` with the true text boxes of the frame shown at each second.
"""
from datatools.synth.cli import get_args_parser, main
from datatools.synth.difficulty import build_episode, plan_dataset
from datatools.synth.encode import TEXT_SUFFIX, encode_range, generate_dataset, make_episode
from datatools.synth.episode import SEGMENT_KINDS, Episode
from datatools.synth.pictures import decode_stamp, stamp_frame
from datatools.synth.plan import (
                                  DIFFICULTIES,
                                  FPS_CHOICES,
                                  REALISTIC_KNOBS,
                                  DatasetPlan,
                                  EpisodePlan,
                                  SeriesPlan,
                                  SynthConfig,
)

__all__ = ["DIFFICULTIES", "FPS_CHOICES", "REALISTIC_KNOBS", "SEGMENT_KINDS", "TEXT_SUFFIX", "DatasetPlan",
           "Episode", "EpisodePlan", "SeriesPlan", "SynthConfig", "build_episode", "decode_stamp",
           "encode_range", "generate_dataset", "get_args_parser", "main", "make_episode", "plan_dataset",
           "stamp_frame"]
