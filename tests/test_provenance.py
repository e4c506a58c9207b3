"""Every committed result file says where it came from (issue 44): the command, the commit, the machine
and the date (workflow/provenance.py), or it is kept in bench/results/historical/ and every table that
reads it says so."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import tables
from workflow.provenance import provenance

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KEYS = ("command", "commit", "machine", "date")


def _missing_keys(doc) -> list[str]:
    """The provenance keys ``doc`` lacks, at its top level ({**provenance(), ...}) or in a ``made_with``
    or ``provenance`` dict."""
    if not isinstance(doc, dict):
        return list(KEYS)
    have = set(doc)
    for sub in ("made_with", "provenance"):
        if isinstance(doc.get(sub), dict):
            have |= set(doc[sub])
    return [k for k in KEYS if k not in have]


def test_provenance_has_the_four_keys():
    assert _missing_keys({**provenance(["bench/x.py"]), "figures": 1}) == []
    assert _missing_keys({"made_with": provenance(["bench/x.py"])}) == []
    assert _missing_keys({"figures": 1}) == list(KEYS)


def test_every_result_file_outside_historical_carries_its_provenance():
    files = [f for f in sorted(RESULTS.rglob("*.json")) if not f.is_relative_to(RESULTS / tables.HISTORICAL)]
    assert files, "no result files found"
    lacking = {f.relative_to(ROOT).as_posix(): miss for f in files
               if (miss := _missing_keys(json.loads(f.read_text(encoding="utf-8"))))}
    assert not lacking, (
        "result files without command, commit, machine and date (rerun them, or move them to "
        f"bench/results/historical/ and let their tables say so): {lacking}")


@pytest.mark.parametrize("name", sorted(tables.TABLES))
def test_a_table_says_historical_exactly_when_it_reads_a_historical_file(name):
    files = tables.TABLES[name][0]()
    text = tables.render(name)
    historical = [tables._rel(f) for f in files if tables._is_historical(f)]
    for rel in historical:
        assert f"`{rel}`" in text and rel.startswith("bench/results/historical/"), (name, rel)
    assert (tables.HISTORICAL_NOTE in text) == bool(historical), name
