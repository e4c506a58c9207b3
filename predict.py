"""Skip timestamps for whole episode files (OP end / ED start in episode time, in player formats), from a
clone of the repository: a thin front end over skips.cli, the same call as the installed command
``opedskip`` and ``python -m skips``.  ``python predict.py --help`` lists every flag.

    .venv/bin/python predict.py episodes/                       # the shipped model, JSON and CSV
    .venv/bin/python predict.py /media/Anime --db /media/Anime/.skips.sqlite --next_to_video --format edl
"""
from __future__ import annotations

import sys

from skips.cli import get_args_parser, main, options_from_args, parse_confidence, parse_formats

__all__ = ["get_args_parser", "main", "options_from_args", "parse_confidence", "parse_formats"]

if __name__ == "__main__":
    sys.exit(main())
