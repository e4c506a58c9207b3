"""``python -m skips``: the same command as predict.py and the installed ``opedskip``."""
import sys

from skips.cli import main

sys.argv[0] = "python -m skips"   # what --help and the errors call the program
sys.exit(main())
