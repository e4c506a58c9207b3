"""The installed command (issue 44): a wheel of the repository, installed into a fresh virtual
environment, gives ``opedskip``, which answers on a generated episode from a folder outside the clone
with the shipped model it carries (no --weights).  The fresh environment reuses the dependencies
already installed (a .pth line naming this interpreter's site-packages, so torch is not installed
twice) but not the clone's own editable install: its packages come from the wheel alone.

    .venv/bin/python -m pytest -q tests/test_install.py
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    # the wheel is built from a copy of the working tree's files (tracked, or new and not ignored), so
    # the build leaves nothing in the clone
    src, wheels = tmp / "src", tmp / "wheels"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.splitlines()
    for rel in listed:
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(src)], check=True, cwd=tmp, timeout=300)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "reuse_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    *map(str, wheels.glob("*.whl"))], check=True, timeout=300)
    return tmp, venv


def test_the_command_is_installed_with_its_packages_outside_the_clone(installed):
    tmp, venv = installed
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import skips; print(skips.__file__)"],
                           cwd=tmp, check=True, capture_output=True, text=True).stdout
    assert Path(where.strip()).is_relative_to(venv)
    out = subprocess.run([str(venv / "bin" / "opedskip"), "--help"], cwd=tmp, check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith("usage: opedskip") and "--db" in out and "--season" in out


def test_the_command_answers_with_the_model_it_carries(installed):
    from datatools.synth import generate_dataset

    tmp, venv = installed
    spans = generate_dataset(tmp / "ep", 1, 1, 200, seed=21, difficulty="realistic", min_minutes=7.0,
                             max_minutes=7.2, resolutions=((160, 90),), fps_choices=("25",), workers=2,
                             progress=False, full_episodes=True, render_fps=2.0)
    ep = next(iter(spans["episodes"].values()))
    r = subprocess.run([str(venv / "bin" / "opedskip"), str(tmp / "ep" / ep["full_episode"]), "--out",
                        str(tmp / "out"), "--no_progress", "--workers", "1"], cwd=tmp,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp / "out" / "predictions.json").read_text())
    assert [Path(w["path"]).is_relative_to(venv) for w in doc["weights"]] == [True]
    e = doc["episodes"][0]
    assert abs(e["op_end"] - ep["op_end"]) < 5.0 and abs(e["ed_start"] - ep["ed_start"]) < 5.0
