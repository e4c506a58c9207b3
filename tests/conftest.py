"""Shared test fixtures.  Tests run from the repository root (see pyproject.toml)."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# Keep each test process to the machine's cores without oversubscription from BLAS/torch threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
