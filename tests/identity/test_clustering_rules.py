"""The pure rules of resolution: clustering with never-merge keys, profiles, golden values."""

from __future__ import annotations

from datetime import UTC, datetime

from tonari.identity.assignment import assign_profiles
from tonari.identity.clusters import (
    CARD,
    CONFIRMED,
    EMAIL,
    FUZZY,
    PHONE,
    Edge,
    cluster_records,
    exact_edges,
)
from tonari.identity.golden import RecordFacts, Rule, golden_record, rules_for

PEOPLE_KEY = "record id of shop"


def test_shared_identifiers_join_records_transitively() -> None:
    edges = exact_edges(EMAIL, [[1, 2]]) + exact_edges(PHONE, [[2, 3], [4, 5]])
    result = cluster_records(range(1, 7), edges, unique_keys={})
    assert result.clusters == [[1, 2, 3], [4, 5], [6]]
    assert result.reasons[3].kind == PHONE and 6 not in result.reasons


def test_two_cards_are_never_one_person_even_through_a_chain() -> None:
    """1 and 3 hold different cards; 2 looks like both: it joins the strongest evidence only."""
    edges = [Edge(1, 2, EMAIL), Edge(2, 3, FUZZY, 0.99)]
    result = cluster_records(
        [1, 2, 3], edges, unique_keys={1: {"card": "7001"}, 3: {"card": "7002"}}
    )
    assert result.clusters == [[1, 2], [3]]
    [blocked] = result.blocked
    assert blocked.edge.kind == FUZZY and "card (7001 and 7002)" in blocked.reason


def test_a_rejected_pair_stays_apart_by_every_path() -> None:
    edges = [Edge(1, 2, EMAIL), Edge(2, 3, PHONE), Edge(3, 4, EMAIL)]
    result = cluster_records([1, 2, 3, 4], edges, unique_keys={}, rejected=[(1, 4)])
    assert len(result.clusters) == 2
    assert result.blocked[0].reason == "a person rejected this match"


def test_record_ids_of_one_source_give_way_to_a_person_but_cards_do_not() -> None:
    keys = {1: {PEOPLE_KEY: "a"}, 2: {PEOPLE_KEY: "b"}}
    assert len(cluster_records([1, 2], [Edge(1, 2, EMAIL)], unique_keys=keys).clusters) == 2
    assert cluster_records([1, 2], [Edge(1, 2, CONFIRMED)], unique_keys=keys).clusters == [[1, 2]]
    cards = {1: {"card": "1"}, 2: {"card": "2"}}
    assert len(cluster_records([1, 2], [Edge(1, 2, CONFIRMED)], unique_keys=cards).clusters) == 2


def test_stronger_evidence_is_followed_first() -> None:
    """The card edge (2-3) is taken before the fuzzy one (1-2), so 1 is the one left out."""
    edges = [Edge(1, 2, FUZZY, 0.999), Edge(2, 3, CARD)]
    keys = {1: {"card": "9"}, 3: {"card": "8"}}
    result = cluster_records([1, 2, 3], edges, unique_keys=keys)
    assert result.clusters == [[1], [2, 3]]


def test_profiles_follow_the_majority_of_their_records() -> None:
    # Records 1-3 were profile 10, 4 was profile 20; now all one person: 20 folds into 10.
    plan = assign_profiles(
        [[1, 2, 3, 4]],
        current={1: 10, 2: 10, 3: 10, 4: 20},
        home={1: 10, 2: 10, 3: 10, 4: 20},
        folded=frozenset(),
    )
    assert plan.merges == [(20, 10)]
    assert plan.plans[0].profile_id == 10


def test_a_split_brings_a_folded_profile_back_and_new_people_get_new_profiles() -> None:
    plan = assign_profiles(
        [[1, 2], [3], [5]],
        current={1: 10, 2: 10, 3: 10, 5: None},
        home={1: 10, 2: 10, 3: 20, 5: None},
        folded=frozenset({20}),
    )
    assert [(p.records, p.profile_id, p.revived) for p in plan.plans] == [
        ((1, 2), 10, False),
        ((3,), 20, True),
        ((5,), None, False),
    ]
    assert plan.merges == []


def test_on_a_tie_the_profile_the_shop_knows_survives() -> None:
    plan = assign_profiles(
        [[1, 2]],
        current={1: 10, 2: 20},
        home={1: 10, 2: 20},
        folded=frozenset(),
        known_to_brand=frozenset({20}),
    )
    assert plan.merges == [(10, 20)]


def _facts(record: int, source: str, trust: int, day: int, **values: object) -> RecordFacts:
    statuses = {
        key: values.pop(f"{key}_status")
        for key in ("email", "phone", "gender")
        if f"{key}_status" in values
    }
    return RecordFacts(
        id=record,
        source=source,
        record_id=f"r{record}",
        trust=trust,
        seen_at=datetime(2026, 1, day, tzinfo=UTC),
        values=values,
        statuses=statuses,  # type: ignore[arg-type]
    )


def test_golden_values_follow_their_rules_and_name_their_source() -> None:
    records = [
        _facts(
            1,
            "shop",
            90,
            1,
            first_name="Анна",
            last_name="Петрова",
            email="anna@gmial.com",
            email_status="typo",
            gender="female",
            gender_status="inferred",
        ),
        _facts(
            2,
            "club",
            40,
            5,
            first_name="Анна",
            last_name="Иванова",
            email="anna@gmail.com",
            email_status="valid",
            gender="male",
        ),
        _facts(3, "bank", 80, 3, first_name="Ана", email="old@mail.ru", email_status="unreachable"),
    ]
    values, provenance = golden_record(records, rules_for({"first_name": "most_common"}))
    assert values["first_name"] == "Анна" and provenance["first_name"]["agreeing_records"] == 2
    assert values["last_name"] == "Иванова"  # most recent: the married name
    assert values["email"] == "anna@gmail.com"  # verified beats the more trusted typo
    assert values["gender"] == "male"  # stated beats inferred
    assert provenance["email"] == {
        "source": "club",
        "record": "r2",
        "record_key": 2,
        "rule": "verified",
        "seen_at": "2026-01-05T00:00:00.000000Z",
        "status": "valid",
        "agreeing_records": 1,
        "records_with_value": 2,
    }
    trusted, _ = golden_record(records, rules_for({"last_name": Rule.TRUSTED_SOURCE}))
    assert trusted["last_name"] == "Петрова"
    assert values["city"] is None and "city" not in provenance
