"""Fuzzy matching of source records: train a Splink model and score candidate pairs.

The model is unsupervised (nothing here needs labelled pairs) and runs on DuckDB inside this
process. The comparisons and blocking rules are in :mod:`tonari.identity.matching_settings`;
this module owns the data going in and out: the record columns, the DuckDB session, the
training steps, and turning Splink's predictions into :class:`ScoredPair` values.

Exact identifier matches (same e-mail, phone, card) are joined elsewhere with union-find; the
model still compares e-mail and phone because, next to a name, they are strong evidence.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

import duckdb
import pandas as pd
import pyarrow as pa
from splink import DuckDBAPI, Linker
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.splink_dataframe import SplinkDataFrame

from tonari.identity.matching_settings import (
    DETERMINISTIC_RULES,
    DETERMINISTIC_RULES_RECALL,
    TRAINING_BLOCKING_RULES,
    untrained_settings,
)

# Splink logs every level it could not train on ("not observed in dataset") as a warning:
# expected on real data with empty columns, and noise on a command line. Errors still show.
logging.getLogger("splink").setLevel(logging.ERROR)

RECORD_COLUMNS = (
    "unique_id",
    "source",
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "phone",
    "city",
    "address",
    "postcode",
    "region",
)

# Pairs at or above this probability are merged without a person looking at them; pairs
# between the two bounds go to the review queue. Chosen on FEBRL (bench/bench_febrl.py):
# at 0.95 no false pair was merged in either set, 0.99 only loses true pairs, and at 0.5 a
# few false pairs appear, after transitive joining, which is what a reviewer should see.
AUTO_MERGE_PROBABILITY = 0.95
REVIEW_PROBABILITY = 0.5

# Random pairs sampled to learn how often unrelated people agree by chance (u values):
# enough for the rarer levels to be seen a few hundred times, and a few seconds' work.
U_SAMPLE_PAIRS = 1_500_000
# Cap on the pairs expectation maximisation looks at per training rule, so that a million
# records train about as fast as a hundred thousand.
EM_MAX_PAIRS = 500_000
# A training rule that finds fewer pairs than this has nothing to teach (a column that is
# empty in this data set) and is skipped rather than fed to EM.
EM_MIN_PAIRS = 50
# DuckDB spills to disk above this, so a million records never take the machine's memory.
DUCKDB_MEMORY_LIMIT = "4GB"

# Arrow or pandas, as the caller has them; both are copied into DuckDB the same way.
Records: TypeAlias = "pa.Table | pd.DataFrame"


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """One candidate pair and why the model scored it so."""

    left_id: int  # the smaller unique_id
    right_id: int
    probability: float  # Splink match_probability
    weight: float  # Splink match_weight
    levels: dict[str, str]  # comparison name -> label of the level that fired


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """The trained Splink settings: JSON-serialisable, stored and reused as they are."""

    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Session:
    connection: duckdb.DuckDBPyConnection
    db_api: DuckDBAPI


@contextmanager
def _duckdb_session() -> Iterator[_Session]:
    """A private in-memory DuckDB for one call: nothing is shared between calls.

    What spills beyond the memory limit goes to a temporary folder removed afterwards, not
    to DuckDB's default ``.tmp`` in whatever folder the command was started from.
    """
    spill = tempfile.TemporaryDirectory(prefix="tonari-duckdb-")
    connection = duckdb.connect(
        config={"memory_limit": DUCKDB_MEMORY_LIMIT, "temp_directory": spill.name}
    )
    try:
        yield _Session(connection=connection, db_api=DuckDBAPI(connection=connection))
    finally:
        connection.close()
        spill.cleanup()


def _record_count(records: Records | None) -> int:
    if records is None:
        return 0
    return records.num_rows if isinstance(records, pa.Table) else len(records)


def _register_records(session: _Session, records: Records, table_name: str) -> SplinkDataFrame:
    """Copy the records into DuckDB with fixed types: ids as BIGINT, everything else text.

    Casting here means an all-null column (which pandas and Arrow type as null or object)
    and an empty string both reach the SQL as a typed NULL, never as a type error.
    """
    raw_name = f"{table_name}_raw"
    session.connection.register(raw_name, records)
    present = set(records.column_names if isinstance(records, pa.Table) else records.columns)
    selects = ["CAST(unique_id AS BIGINT) AS unique_id"]
    for column in RECORD_COLUMNS[1:]:
        if column in present:
            selects.append(f"NULLIF(TRIM(CAST({column} AS VARCHAR)), '') AS {column}")
        else:
            selects.append(f"CAST(NULL AS VARCHAR) AS {column}")
    session.connection.execute(
        f"CREATE TABLE {table_name} AS SELECT {', '.join(selects)} FROM {raw_name}"
    ).fetchall()
    session.connection.unregister(raw_name)
    return session.db_api.register(table_name)


def _pair_count(session: _Session, table_name: str, rule: str) -> int:
    """How many pairs a blocking rule finds here. DuckDB counts the join without keeping
    it, so this takes well under a second even at a million records."""
    sql = (
        f"SELECT count(*) FROM {table_name} AS l JOIN {table_name} AS r "
        f"ON ({rule}) AND l.unique_id < r.unique_id"
    )
    rows = session.connection.execute(sql).fetchall()
    return int(rows[0][0])


def _new_linker(
    data: SplinkDataFrame | Sequence[SplinkDataFrame], settings: dict[str, Any]
) -> Linker:
    return Linker(data, settings, log_level=None)


def train_model(records: Records, *, seed: int = 1) -> TrainedModel:
    """Learn the model's parameters from unlabelled records.

    Three steps, as Splink recommends: the prior (how likely two random records are the
    same person) from near-certain rules, the u values from random pairs, and the m values
    by expectation maximisation on a few blocking rules. Rules that find nothing in this
    data (no e-mails at all, say) are skipped, and with fewer than two records the untrained
    settings come back as they are.
    """
    settings = untrained_settings()
    if _record_count(records) < 2:
        return TrainedModel(settings=settings)
    with _duckdb_session() as session:
        table = _register_records(session, records, "training_records")
        linker = _new_linker(table, settings)
        deterministic: list[str | BlockingRuleCreator] = [
            rule for rule in DETERMINISTIC_RULES if _pair_count(session, "training_records", rule)
        ]
        if deterministic:
            linker.training.estimate_probability_two_random_records_match(
                deterministic, recall=DETERMINISTIC_RULES_RECALL
            )
        linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=seed)
        for rule in TRAINING_BLOCKING_RULES:
            if _pair_count(session, "training_records", rule) < EM_MIN_PAIRS:
                continue
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
            )
        return TrainedModel(settings=linker.misc.save_model_to_json())


def _level_labels(settings: dict[str, Any]) -> dict[str, dict[int, str]]:
    """For each comparison, the label of each comparison vector value (Splink numbers the
    null level -1 and the others from the strongest, n - 1, down to 0)."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in settings["comparisons"]:
        levels = comparison["comparison_levels"]
        non_null = [level for level in levels if not level.get("is_null_level")]
        by_value: dict[int, str] = {}
        counter = len(non_null) - 1
        for level in levels:
            if level.get("is_null_level"):
                by_value[-1] = level["label_for_charts"]
            else:
                by_value[counter] = level["label_for_charts"]
                counter -= 1
        labels[comparison["output_column_name"]] = by_value
    return labels


def _scored_pairs(
    session: _Session, predictions: SplinkDataFrame, settings: dict[str, Any]
) -> list[ScoredPair]:
    labels = _level_labels(settings)
    names = list(labels)
    columns = ", ".join(f"gamma_{name}" for name in names)
    rows = session.connection.execute(
        f"SELECT unique_id_l, unique_id_r, match_probability, match_weight, {columns} "
        f"FROM {predictions.physical_name}"
    ).fetchall()
    pairs = []
    for row in rows:
        left, right = int(row[0]), int(row[1])
        pairs.append(
            ScoredPair(
                left_id=min(left, right),
                right_id=max(left, right),
                probability=float(row[2]),
                weight=float(row[3]),
                levels={
                    name: labels[name][int(value)]
                    for name, value in zip(names, row[4:], strict=True)
                },
            )
        )
    return pairs


def score_pairs(
    records: Records, model: TrainedModel, *, min_probability: float
) -> list[ScoredPair]:
    """Every candidate pair within the records scoring at least ``min_probability``.

    One table for all sources: pairs within a source and across sources are both found.
    """
    if _record_count(records) < 2:
        return []
    with _duckdb_session() as session:
        table = _register_records(session, records, "records")
        linker = _new_linker(table, model.settings)
        predictions = linker.inference.predict(
            threshold_match_probability=min_probability, warning_mode="never"
        )
        return _scored_pairs(session, predictions, model.settings)


def _term_frequency_columns(settings: dict[str, Any]) -> list[str]:
    columns = {
        level["tf_adjustment_column"]
        for comparison in settings["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    return sorted(columns)


def score_new_against_existing(
    new_records: Records,
    existing_records: Records,
    model: TrainedModel,
    *,
    min_probability: float,
) -> list[ScoredPair]:
    """Pairs (new, existing) and (new, new) at or above ``min_probability``.

    Existing records were paired with each other in an earlier run, so those pairs are
    never built: Splink's ``predict_between`` joins the new records to the existing ones
    only, and ``predict_within`` pairs the new records among themselves. Term frequencies
    come from all records together, as a full run would see them.
    """
    new_count = _record_count(new_records)
    if new_count == 0:
        return []
    if _record_count(existing_records) == 0:
        return score_pairs(new_records, model, min_probability=min_probability)
    with _duckdb_session() as session:
        new_table = _register_records(session, new_records, "new_records")
        existing_table = _register_records(session, existing_records, "existing_records")
        session.connection.execute(
            "CREATE TABLE all_records AS "
            "SELECT * FROM existing_records UNION ALL SELECT * FROM new_records"
        ).fetchall()
        all_table = session.db_api.register("all_records")
        linker = _new_linker(all_table, model.settings)
        for column in _term_frequency_columns(model.settings):
            linker.table_management.compute_tf_table(column)
        predictions = [
            linker.inference.predict_between(
                new_table,
                existing_table,
                threshold_match_probability=min_probability,
                warning_mode="never",
            )
        ]
        if new_count >= 2:
            predictions.append(
                linker.inference.predict_within(
                    new_table, threshold_match_probability=min_probability, warning_mode="never"
                )
            )
        return list(
            itertools.chain.from_iterable(
                _scored_pairs(session, prediction, model.settings) for prediction in predictions
            )
        )
