"""Shared test fixtures.  Tests run from the repository root (see pyproject.toml), with the
repository installed in editable mode by `make setup`."""
import os

# Keep each test process to the machine's cores without oversubscription from BLAS/torch threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
