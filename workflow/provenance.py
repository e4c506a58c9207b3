"""Where a result came from: the command, the commit, the machine and the date, recorded in every
result file a benchmark writes (``bench/results/*.json``), so a figure in the README or docs/ can be traced
to the run that produced it.

    from workflow.provenance import provenance
    doc = {**provenance(), "figures": ...}
"""
from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict:
    """Cores, memory and the software that set the speed of a run."""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    info = {"cores": os.cpu_count(), "memory_gb": round(mem, 1), "python": platform.python_version(),
            "platform": platform.platform(terse=True)}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in
                           Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
                           if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    if "torch" in sys.modules:          # only when the run used it; importing it here costs seconds
        info["torch"] = sys.modules["torch"].__version__
    return info


def command(argv: list[str] | None = None) -> str:
    """The command line of this process, as a user would type it from the repository root."""
    argv = list(sys.argv if argv is None else argv)
    prog = Path(argv[0]) if argv else Path("?")
    try:
        head = ["python", prog.resolve().relative_to(ROOT).as_posix()]
    except ValueError:
        head = ["python", prog.name]
    return shlex.join(head + argv[1:])


def provenance(argv: list[str] | None = None) -> dict:
    """``command``, ``commit`` (``dirty`` when the tree had uncommitted changes), ``machine``, ``date``."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"command": command(argv), "commit": _git("rev-parse", "HEAD") or None, "dirty": bool(status),
            "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M %Z")}
