"""``python -m datatools.synth``: the generator's command line (datatools/synth/cli.py)."""
import sys

from datatools.synth.cli import main

sys.exit(main())
