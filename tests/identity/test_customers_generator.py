"""The identity benchmark's data generator: seven readable files, a truth file that covers them,
about 30% duplicates, and the noise (typos, garbage) the resolver is measured against."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from bench.customers_generator import SOURCES, generate

from tonari.identity.sources import parse_sources_yaml

RECORDS = 2_000


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("customers")
    generate(RECORDS, out, seed=7)
    return out


def _rows(out: Path, name: str) -> list[dict[str, object]]:
    source = next(s for s in SOURCES if s.name == name)
    path = out / source.file
    if source.format == "parquet":
        return pq.read_table(path).to_pylist()
    if source.format == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    with path.open(encoding=source.encoding or "utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _truth(out: Path) -> list[dict[str, str]]:
    with (out / "truth.csv").open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _one_edit_apart(a: str, b: str) -> bool:
    """Levenshtein or adjacent-transposition distance of exactly one."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def test_every_source_file_reads_and_matches_its_declaration(generated: Path) -> None:
    declared = {
        s["name"]: s for s in yaml.safe_load((generated / "sources.yaml").read_text())["sources"]
    }
    assert set(declared) == {s.name for s in SOURCES}
    for source in SOURCES:
        rows = _rows(generated, source.name)
        assert rows, source.name
        mapping = declared[source.name]["columns"]
        assert "record_id" in mapping.values()
        # The mobile app's JSON lines leave unknown keys out; every other file has them all.
        columns = set().union(*rows) if source.sparse_json else set(rows[0])
        assert set(mapping) <= columns, source.name
    camera = (generated / "camera_club.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        camera.decode("utf-8")
    assert "Фамилия" in camera.decode("cp1251")
    assert declared["bank_cards"]["record_ids_are_people"] is True
    parsed = parse_sources_yaml((generated / "sources.yaml").read_text(encoding="utf-8"))
    assert [s.name for s in parsed] == [s.name for s in SOURCES]


def test_truth_covers_every_record_once(generated: Path) -> None:
    truth = _truth(generated)
    assert len(truth) == RECORDS
    assert len({(t["source"], t["record_id"]) for t in truth}) == RECORDS
    for source in SOURCES:
        id_column = next(c for c, f in source.columns.items() if f == "record_id")
        ids = {str(row[id_column]) for row in _rows(generated, source.name)}
        assert ids == {t["record_id"] for t in truth if t["source"] == source.name}


def test_about_thirty_percent_of_records_are_duplicates(generated: Path) -> None:
    people = {t["person_id"] for t in _truth(generated)}
    duplicates = 1 - len(people) / RECORDS
    assert 0.22 < duplicates < 0.38, duplicates


def test_duplicates_carry_typos_and_some_rows_are_garbage(generated: Path) -> None:
    person_of = {(t["source"], t["record_id"]): t["person_id"] for t in _truth(generated)}
    last_names: dict[str, set[str]] = defaultdict(set)
    for name, id_column, column in (
        ("online_store", "customer_id", "last_name"),
        ("cooking_club", "member_id", "last_name"),
        ("camera_club", "Номер", "Фамилия"),
        ("bank_cards", "client_id", "last_name"),
    ):
        for row in _rows(generated, name):
            if row.get(column):
                last_names[person_of[(name, str(row[id_column]))]].add(str(row[column]))
    typos = [
        names
        for names in last_names.values()
        if any(_one_edit_apart(a, b) for a in names for b in names if a < b)
    ]
    assert typos, "no duplicate differs from its person's other records by a one-letter typo"
    emails = [str(r.get("email") or "") for r in _rows(generated, "online_store")]
    assert any(e and "@" not in e[1:-1] for e in emails), "no invalid e-mail among the rows"
