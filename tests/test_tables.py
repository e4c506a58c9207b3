"""bench/tables.py: the result tables of the README and docs/*.md are what the committed result files
give, each sits in exactly one document, and a number edited by hand is caught wherever it is."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bench import tables

ROOT = Path(__file__).resolve().parent.parent


def _names(doc: Path) -> list[str]:
    return [m["name"] for m in tables.MARKER.finditer(doc.read_text(encoding="utf-8"))]


def test_documents_are_the_readme_and_docs():
    docs = tables.documents()
    assert docs[0] == ROOT / "README.md" and ROOT / "docs" / "benchmarks.md" in docs
    assert all(d.suffix == ".md" and d.is_file() for d in docs)


def test_every_document_matches_its_committed_files():
    assert tables.check() == []
    assert tables.main(["--check"]) == 0
    assert {"episodes_material"} <= set(_names(ROOT / "README.md"))
    benchmarks = set(_names(ROOT / "docs" / "benchmarks.md"))
    assert {"accuracy_seed1", "accuracy_spread", "material_spread"} <= benchmarks


def _tamper_seed1(doc: Path) -> str:
    """Lower the all-clips score of the accuracy_seed1 table in ``doc`` by 1; the text before."""
    text = doc.read_text(encoding="utf-8")
    body = tables.blocks(text)["accuracy_seed1"]
    m = re.search(r"\| all \| 52 \| (\d+\.\d\d) \|", body)
    assert m, "the seed-1 table lost its all-clips row"
    edited_body = body.replace(m.group(0), m.group(0).replace(m.group(1), f"{float(m.group(1)) - 1:.2f}"), 1)
    doc.write_text(text.replace(body, edited_body, 1), encoding="utf-8")
    return text


def test_hand_edited_number_in_a_docs_file_fails_the_check(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    copies = [tmp_path / "README.md"] + [docs / d.name for d in tables.documents()[1:]]
    for src, dst in zip(tables.documents(), copies):
        shutil.copy(src, dst)
    bench_md = docs / "benchmarks.md"
    text = _tamper_seed1(bench_md)
    problems = tables.check(copies)
    assert problems == [f"{bench_md}: table 'accuracy_seed1' differs from what its files give "
                        "(rerun `python -m bench.tables --write`)"]
    args = [a for c in copies for a in ("--doc", str(c))]
    assert tables.main(["--check", *args]) == 1
    assert tables.main(["--write", *args]) == 0
    assert tables.check(copies, complete=True) == [] and bench_md.read_text(encoding="utf-8") == text


def test_one_document_alone_is_checked_without_the_others(tmp_path):
    copy = tmp_path / "benchmarks.md"
    shutil.copy(ROOT / "docs" / "benchmarks.md", copy)
    assert tables.check(copy) == [] and tables.main(["--check", "--doc", str(copy)]) == 0
    _tamper_seed1(copy)
    problems = tables.check(copy)
    assert len(problems) == 1 and "'accuracy_seed1'" in problems[0] and str(copy) in problems[0]


def test_table_missing_from_every_document_or_in_two_fails(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    missing = tables.check([readme], complete=True)
    assert "table 'accuracy_seed1' is in none of " + str(readme) in missing
    twice = tmp_path / "twice.md"
    shutil.copy(ROOT / "README.md", twice)
    problems = tables.check([readme, twice])
    assert problems == [f"table 'episodes_material' is in more than one place: {readme}, {twice}"]


def test_table_of_uncommitted_file_has_no_figures(monkeypatch, tmp_path):
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    out = tables.render("material_seed1")
    assert out.startswith("*Not measured yet") and not re.search(r"\d+\.\d\d", out)


def test_unknown_table_is_reported(tmp_path):
    copy = tmp_path / "notes.md"
    copy.write_text("x\n<!-- table nosuch (hand) -->\n| 1 |\n<!-- /table nosuch -->\n", encoding="utf-8")
    assert tables.check(copy) == [f"{copy}: table 'nosuch' is not one bench/tables.py knows"]


def test_every_table_is_in_exactly_one_document_and_every_result_file_in_a_table():
    where = [n for d in tables.documents() for n in _names(d)]
    assert sorted(where) == sorted(tables.TABLES), set(where) ^ set(tables.TABLES)
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
