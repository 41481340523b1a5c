"""The golden record: one value per attribute from a profile's records, and where it came from.

Pure. Each attribute has a survivorship rule, configurable per brand; an empty value never
wins, and every chosen value names its source, record and rule (its provenance).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Rule(StrEnum):
    TRUSTED_SOURCE = "trusted_source"  # the most trusted source, then the most recent
    MOST_RECENT = "most_recent"  # the latest seen or updated, then the most trusted
    VERIFIED = "verified"  # a checked value (valid address, stated gender) first
    MOST_COMMON = "most_common"  # what most records agree on, then the most trusted
    NON_EMPTY = "non_empty"  # any value at all, the oldest record first


GOLDEN_FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "birth_date",
    "gender",
    "email",
    "phone",
    "city",
    "address",
    "postcode",
    "region",
    "card_number",
)
DEFAULT_RULES: dict[str, Rule] = {
    "first_name": Rule.MOST_COMMON,
    # A maiden name gives way to the married one: the latest record knows best.
    "last_name": Rule.MOST_RECENT,
    "middle_name": Rule.TRUSTED_SOURCE,
    "birth_date": Rule.MOST_COMMON,
    "gender": Rule.VERIFIED,
    "email": Rule.VERIFIED,
    "phone": Rule.VERIFIED,
    "city": Rule.MOST_RECENT,
    "address": Rule.MOST_RECENT,
    "postcode": Rule.MOST_RECENT,
    "region": Rule.MOST_RECENT,
    "card_number": Rule.TRUSTED_SOURCE,
}
# Which status makes a value "verified", per attribute.
_VERIFIED = {"email": {"valid"}, "phone": {"valid"}}
# Statuses that must never win at all (they cannot reach the person).
_UNUSABLE = {"email": {"invalid", "unreachable"}, "phone": {"invalid", "unreachable"}}


@dataclass(frozen=True, slots=True)
class RecordFacts:
    id: int
    source: str
    record_id: str
    trust: int
    seen_at: datetime
    values: Mapping[str, Any]
    statuses: Mapping[str, str | None]  # email/phone status; gender "inferred" or None


def rules_for(overrides: Mapping[str, str] | None) -> dict[str, Rule]:
    rules = dict(DEFAULT_RULES)
    for name, rule in (overrides or {}).items():
        if name in rules:
            rules[name] = Rule(rule)
    return rules


def _verified(name: str, record: RecordFacts) -> bool:
    status = record.statuses.get(name)
    if name == "gender":
        return status != "inferred"
    allowed = _VERIFIED.get(name)
    return status in allowed if allowed else True


def _pick(name: str, rule: Rule, candidates: list[RecordFacts]) -> RecordFacts:
    def recency(record: RecordFacts) -> tuple[datetime, int]:
        return (record.seen_at, record.id)

    if rule is Rule.TRUSTED_SOURCE:
        return max(candidates, key=lambda r: (r.trust, *recency(r)))
    if rule is Rule.MOST_RECENT:
        return max(candidates, key=lambda r: (*recency(r), r.trust))
    if rule is Rule.VERIFIED:
        return max(candidates, key=lambda r: (_verified(name, r), r.trust, *recency(r)))
    if rule is Rule.MOST_COMMON:
        votes = Counter(_comparable(r.values[name]) for r in candidates)
        return max(
            candidates, key=lambda r: (votes[_comparable(r.values[name])], r.trust, *recency(r))
        )
    return min(candidates, key=lambda r: r.id)


def _comparable(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def seen_at_text(moment: datetime) -> str:
    """UTC with microseconds, as PostgreSQL writes it for one-record profiles too."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def golden_record(
    records: Sequence[RecordFacts], rules: Mapping[str, Rule]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values, provenance) for one profile; an attribute no record knows is None."""
    values: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    for name in GOLDEN_FIELDS:
        unusable = _UNUSABLE.get(name, ())
        candidates = [
            record
            for record in records
            if record.values.get(name) not in (None, "")
            and record.statuses.get(name) not in unusable
        ]
        if not candidates:
            values[name] = None
            continue
        rule = rules.get(name, Rule.TRUSTED_SOURCE)
        # Most profiles are one record: no rule has anything to choose between.
        chosen = candidates[0] if len(candidates) == 1 else _pick(name, rule, candidates)
        value = chosen.values[name]
        values[name] = value
        key = _comparable(value)
        provenance[name] = {
            "source": chosen.source,
            "record": chosen.record_id,
            "record_key": chosen.id,
            "rule": str(rule),
            "seen_at": seen_at_text(chosen.seen_at),
            "agreeing_records": sum(1 for r in candidates if _comparable(r.values[name]) == key),
            "records_with_value": len(candidates),
        }
        status = chosen.statuses.get(name)
        if status is not None:
            provenance[name]["status"] = status
    return values, provenance
