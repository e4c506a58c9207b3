"""The house rules of pyproject.toml: the layers of [tool.importlinter] hold (lint-imports, run here
so a wrong-way import fails CI), no module edits sys.path, and nothing outside the tests imports a
top-level script (avt_*_main.py, predict.py, demo.py): scripts are front ends over the packages."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("datatools", "preprocessing", "utils", "models", "fuse", "skips", "workflow", "bench")
SCRIPTS = {p.stem for p in ROOT.glob("*.py")}


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.is_file() else [shutil.which("lint-imports") or "lint-imports"]
    return subprocess.run([*cmd, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)})


def _sources() -> list[Path]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return sorted(files + [ROOT / f"{s}.py" for s in SCRIPTS])


def test_layer_contracts_hold():
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in out.stdout


def test_a_wrong_way_import_fails(tmp_path):
    """The check is live: in a copy where the shared constants import a benchmark, the layers break."""
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "results",
                                                                                  "shipped"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    spec = tmp_path / "datatools" / "spec.py"
    spec.write_text(spec.read_text(encoding="utf-8") + "\nimport bench.tables  # noqa\n", encoding="utf-8")
    out = _lint_imports(tmp_path)
    assert out.returncode == 1, out.stdout[-2000:]
    assert "Layers only point down BROKEN" in out.stdout and "datatools.spec -> bench.tables" in out.stdout


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_no_module_edits_sys_path():
    offenders = []
    for path in _sources() + sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name)
                    and node.value.id == "sys"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_nothing_outside_tests_imports_a_top_level_script():
    assert {"predict", "demo", "avt_main"} <= SCRIPTS
    offenders = [f"{path.relative_to(ROOT)} imports {name}"
                 for path in _sources() for name in _imports(ast.parse(path.read_text(encoding="utf-8")))
                 if name.split(".")[0] in SCRIPTS]
    assert offenders == []
