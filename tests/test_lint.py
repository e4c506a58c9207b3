"""The code passes ruff with the rules configured in pyproject.toml ([tool.ruff.lint]): line length,
pyflakes, import order, bugbear and pyupgrade.  ruff is pinned in requirements.txt."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.is_file():
        return [str(exe)]
    if shutil.which("ruff"):
        return ["ruff"]
    raise AssertionError("ruff is not installed: pip install -r requirements.txt")


def test_ruff_check_passes():
    out = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_ruff_catches_a_long_line(tmp_path):
    """The check is live: a file breaking the configured line length fails it."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "bad.py").write_text("x = '" + "a" * 120 + "'\n", encoding="utf-8")
    out = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise", "."], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "E501" in out.stdout
