"""bench/tables.py: the README's result tables are what the committed result files give, and a
number edited by hand is caught."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bench import tables

ROOT = Path(__file__).resolve().parent.parent


def test_readme_tables_match_committed_files():
    assert tables.check(ROOT / "README.md") == []
    names = set(tables.blocks((ROOT / "README.md").read_text(encoding="utf-8")))
    assert {"accuracy_seed1", "accuracy_spread", "material_spread", "shipped_zero_shot"} <= names


def test_hand_edited_number_fails_the_check(tmp_path):
    copy = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", copy)
    text = copy.read_text(encoding="utf-8")
    body = tables.blocks(text)["accuracy_seed1"]
    m = re.search(r"\| all \| 52 \| (\d+\.\d\d) \|", body)
    assert m, "the seed-1 table lost its all-clips row"
    edited_body = body.replace(m.group(0), m.group(0).replace(m.group(1), f"{float(m.group(1)) - 1:.2f}"), 1)
    copy.write_text(text.replace(body, edited_body, 1), encoding="utf-8")
    problems = tables.check(copy)
    assert len(problems) == 1 and "'accuracy_seed1'" in problems[0]
    assert tables.main(["--check", "--readme", str(copy)]) == 1
    assert tables.main(["--write", "--readme", str(copy)]) == 0
    assert tables.check(copy) == [] and copy.read_text(encoding="utf-8") == text


def test_table_of_uncommitted_file_has_no_figures(monkeypatch, tmp_path):
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    out = tables.render("material_seed1")
    assert out.startswith("*Not measured yet") and not re.search(r"\d+\.\d\d", out)


def test_unknown_table_is_reported(tmp_path):
    copy = tmp_path / "README.md"
    copy.write_text("x\n<!-- table nosuch (hand) -->\n| 1 |\n<!-- /table nosuch -->\n", encoding="utf-8")
    assert tables.check(copy) == [f"{copy}: table 'nosuch' is not one bench/tables.py knows"]


def test_every_table_is_in_the_readme_and_every_result_file_in_a_table():
    names = set(tables.blocks((ROOT / "README.md").read_text(encoding="utf-8")))
    assert set(tables.TABLES) <= names, set(tables.TABLES) - names
    used = {f.resolve() for fn, _ in tables.TABLES.values() for f in fn()}
    committed = {f.resolve() for f in (ROOT / "bench" / "results").glob("*.json")}
    assert committed <= used, sorted(str(f) for f in committed - used)


@pytest.mark.parametrize("name", ["preprocess_bench", "train_bench", "season_bench", "demo"])
def test_new_result_files_record_where_they_came_from(name):
    """The benchmarks that write a result file record the command, commit, machine and date."""
    f = ROOT / "bench" / "results" / f"{name}.json"
    if not f.is_file():
        pytest.skip(f"{f.name} is not committed yet (its table says 'Not measured yet')")
    doc = json.loads(f.read_text(encoding="utf-8"))
    assert doc["command"].startswith("python ") and len(doc["commit"]) == 40 and doc["date"][:2] == "20"
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["memory_gb"] > 0
