"""The data quality report: how many people the brand's databases hold, and how well known.

It answers the questions of the first seven-database job in the marketer's words: how many
records each source brought, how many people they turned out to be, which databases share
customers, what is wrong with the contact data, and how much more the golden record knows
than any one database did on its own (Panasonic: gender known for 40% → 98% of the base).

Everything is counted in PostgreSQL, a handful of aggregate queries whatever the base's size;
no record is loaded into Python. Shares are kept as exact fractions, with basis points rounded
half-even for display, so a figure can always be recomputed from its two counts.

Living profiles are those not folded into another, not erased and not technical side accounts
(``partner_holder``). Erased records are left out everywhere: they are nobody's data any more.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity.evidence import AUTO as AUTO_PAIR
from tonari.identity.evidence import CONFIRMED, REJECTED, REVIEW

# The identifiers resolution follows, each with how many records may share a value before it
# is taken for a placeholder (MAX_SHARED_IDENTIFIER for emails and phones): the report counts
# exactly what resolution did.
from tonari.identity.evidence import IDENTIFIERS as RESOLUTION_IDENTIFIERS
from tonari.identity.records import DISPOSABLE, INVALID, LANDLINE, TYPO, VALID
from tonari.profiles.flags import FlagCode

BASIS_POINTS = 10_000
# Flags that mean a birth date was given but could not be used.
BAD_BIRTH_DATE_CODES = (
    FlagCode.IMPOSSIBLE_DATE,
    FlagCode.UNRECOGNISED_FORMAT,
    FlagCode.FUTURE_DATE,
    FlagCode.TOO_OLD,
)
# How many of the values shared by too many records the report names, per identifier.
PLACEHOLDERS_NAMED = 10
# The identifier each matching column stands for, in the brand's words.
IDENTIFIER_NAMES = {"email_key": "email"}

_LIVE_PROFILE = (
    "{c}.tenant_id = :tenant_id AND {c}.merged_into_id IS NULL AND {c}.erased_at IS NULL "
    "AND {c}.customer_type <> 'partner_holder'"
)


def basis_points(numerator: int, denominator: int) -> int | None:
    """numerator / denominator in basis points, rounded half-even; None when nothing to divide."""
    if denominator == 0:
        return None
    quotient, remainder = divmod(numerator * BASIS_POINTS, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


class Share(BaseModel):
    """An exact fraction; ``basis_points`` is its rounded display value (None for 0/0)."""

    numerator: int
    denominator: int
    basis_points: int | None

    @classmethod
    def of(cls, numerator: int, denominator: int) -> Share:
        return cls(
            numerator=numerator,
            denominator=denominator,
            basis_points=basis_points(numerator, denominator),
        )


class Completeness(BaseModel):
    """What is known, as a share of the records (before) or of the people (after)."""

    gender: Share = Field(description="Gender known (stated or inferred from the name)")
    city: Share = Field(description="City of residence known")
    gender_and_age: Share = Field(description="Gender and birth date both known")
    email_for_messaging: Share = Field(description="An email address with status 'valid'")
    mobile_phone: Share = Field(description="A mobile number with status 'valid'")


class CompletenessChange(BaseModel):
    before: Completeness = Field(description="Share of source records: each database alone")
    after: Completeness = Field(description="Share of people: the golden records")


class RecordProblems(BaseModel):
    """Records whose values the cleaners flagged (each record counted once per problem)."""

    invalid_emails: int
    disposable_emails: int
    typo_corrected_emails: int
    invalid_phones: int
    landline_phones: int
    bad_birth_dates: int = Field(description="Given but impossible, unreadable, future, too old")
    bad_birth_dates_by_code: dict[str, int]


class SourceQuality(BaseModel):
    name: str
    title: str
    records: int
    people: int = Field(description="Living profiles holding at least one record of it")
    waiting_for_resolution: int = Field(description="New or changed records not resolved yet")
    completeness: Completeness
    problems: RecordProblems


class People(BaseModel):
    records: int = Field(description="Source records (erased ones left out)")
    resolved_records: int = Field(description="Records that belong to a living profile")
    waiting_for_resolution: int
    people: int = Field(description="Living profiles with at least one record")
    in_several_sources: int = Field(description="People found in more than one source")
    profiles_without_records: int = Field(description="Living profiles no record supports")
    duplicate_rate: Share = Field(description="1 - people / resolved records")


class SourcePairDuplicates(BaseModel):
    """People found in both sources; for a source with itself, people it holds twice or more."""

    source: str
    other_source: str
    people: int


class SharedIdentifier(BaseModel):
    identifier: str
    value: str
    records: int


class IdentifierSharing(BaseModel):
    """Per identifier: values too common to be anyone's, and values whose records stay apart."""

    identifier: str
    resolution_limit: int = Field(description="More records than this: a placeholder")
    placeholder_values: int
    placeholder_records: int
    most_shared: list[SharedIdentifier]
    kept_apart_values: int = Field(
        description="Values shared within the limit whose records are in several profiles "
        "(a never-merge rule held: different cards, distinct-people sources, a rejection)"
    )


class Problems(RecordProblems):
    identifiers: list[IdentifierSharing]
    pairs_to_review: int = Field(
        description="Model pairs waiting for a person, their records not already one profile"
    )
    rejected_pairs: int = Field(description="Pairs a person said are two people")
    kept_apart_pairs: int = Field(
        description="Model or confirmed pairs whose records a never-merge rule keeps apart"
    )


class QualityReport(BaseModel):
    sources: list[SourceQuality]
    people: People
    duplicates: list[SourcePairDuplicates]
    problems: Problems
    completeness: CompletenessChange


def _completeness_columns(alias: str, condition: str = "TRUE") -> str:
    """The same five counts for records and for profiles: both carry the cleaned columns."""
    known = {
        "gender": f"{alias}.gender IS NOT NULL",
        "city": f"{alias}.city IS NOT NULL",
        "gender_and_age": f"{alias}.gender IS NOT NULL AND {alias}.birth_date IS NOT NULL",
        "email_for_messaging": f"{alias}.email IS NOT NULL AND {alias}.email_status = '{VALID}'",
        "mobile_phone": f"{alias}.phone IS NOT NULL AND {alias}.phone_status = '{VALID}'",
    }
    return ", ".join(
        f"count(*) FILTER (WHERE {condition} AND {test}) AS known_{name}"
        for name, test in known.items()
    )


def _birth_flag(code: str) -> str:
    return "r.flags @> '" + json.dumps([{"field": "birth_date", "code": code}]) + "'::jsonb"


_BAD_BIRTH = " OR ".join(_birth_flag(code) for code in BAD_BIRTH_DATE_CODES)
_BIRTH_BY_CODE = ", ".join(
    f"count(r.id) FILTER (WHERE {_birth_flag(code)}) AS birth_{code}"
    for code in BAD_BIRTH_DATE_CODES
)
_PER_SOURCE = f"""
SELECT s.id, s.name, s.title, count(r.id) AS records,
       count(r.id) FILTER (WHERE r.needs_resolution OR r.profile_id IS NULL) AS waiting,
       {_completeness_columns("r", "r.id IS NOT NULL")},
       count(r.id) FILTER (WHERE r.email_status = '{INVALID}') AS invalid_emails,
       count(r.id) FILTER (WHERE r.email_status = '{DISPOSABLE}') AS disposable_emails,
       count(r.id) FILTER (WHERE r.email_status = '{TYPO}') AS typo_corrected_emails,
       count(r.id) FILTER (WHERE r.phone_status = '{INVALID}') AS invalid_phones,
       count(r.id) FILTER (WHERE r.phone_status = '{LANDLINE}') AS landline_phones,
       count(r.id) FILTER (WHERE {_BAD_BIRTH}) AS bad_birth_dates,
       {_BIRTH_BY_CODE}
FROM customer_sources s
LEFT JOIN source_records r
  ON r.source_id = s.id AND r.tenant_id = s.tenant_id AND r.erased_at IS NULL
WHERE s.tenant_id = :tenant_id
GROUP BY s.id
ORDER BY s.name
"""
# A profile's record counts come first, so the golden records are read once each.
_PEOPLE = f"""
WITH held AS (
    SELECT profile_id, count(*) AS records, count(DISTINCT source_id) AS sources
    FROM source_records
    WHERE tenant_id = :tenant_id AND erased_at IS NULL AND profile_id IS NOT NULL
    GROUP BY profile_id
)
SELECT count(h.profile_id) AS people,
       count(*) - count(h.profile_id) AS without_records,
       coalesce(sum(h.records), 0) AS resolved_records,
       count(*) FILTER (WHERE h.sources > 1) AS in_several_sources,
       {_completeness_columns("c", "h.profile_id IS NOT NULL")}
FROM customers c LEFT JOIN held h ON h.profile_id = c.id
WHERE {_LIVE_PROFILE.format(c="c")}
"""
# Each (profile, source) once with its record count; a self-join on the profile gives every
# pair of sources a person is in. A source meets itself only where it holds a person twice.
_SOURCE_PAIRS = f"""
WITH held AS (
    SELECT r.profile_id, r.source_id, count(*) AS records
    FROM source_records r JOIN customers c ON c.id = r.profile_id
    WHERE r.tenant_id = :tenant_id AND r.erased_at IS NULL AND {_LIVE_PROFILE.format(c="c")}
    GROUP BY r.profile_id, r.source_id
)
SELECT a.source_id, b.source_id AS other_id, count(*) AS people
FROM held a JOIN held b ON b.profile_id = a.profile_id AND b.source_id >= a.source_id
WHERE b.source_id > a.source_id OR a.records > 1
GROUP BY a.source_id, b.source_id
UNION ALL
SELECT source_id, NULL, count(*) FROM held GROUP BY source_id
"""
# min <> max says "in more than one profile" without a DISTINCT, so it aggregates by hash.
_SHARED_VALUES = " UNION ALL ".join(
    f"SELECT '{column}' AS identifier, {column}::text AS value, count(*) AS records, "
    f"min(profile_id) <> max(profile_id) AS split FROM source_records "
    f"WHERE tenant_id = :tenant_id AND erased_at IS NULL AND {column} IS NOT NULL "
    f"GROUP BY {column} HAVING count(*) > 1"
    for column, _, _ in RESOLUTION_IDENTIFIERS
)
_LIMITS = " UNION ALL ".join(
    f"SELECT '{column}' AS identifier, {int(limit)} AS resolution_limit"
    for column, _, limit in RESOLUTION_IDENTIFIERS
)
IDENTIFIERS = f"""
WITH shared AS ({_SHARED_VALUES}), limits AS ({_LIMITS})
SELECT l.identifier, l.resolution_limit,
       count(s.value) FILTER (WHERE s.records > l.resolution_limit) AS placeholder_values,
       coalesce(sum(s.records) FILTER (WHERE s.records > l.resolution_limit), 0)
           AS placeholder_records,
       (array_agg(s.value ORDER BY s.records DESC, s.value)
           FILTER (WHERE s.records > l.resolution_limit))[1:{PLACEHOLDERS_NAMED}] AS top_values,
       (array_agg(s.records ORDER BY s.records DESC, s.value)
           FILTER (WHERE s.records > l.resolution_limit))[1:{PLACEHOLDERS_NAMED}] AS top_records,
       count(s.value) FILTER (WHERE s.records <= l.resolution_limit AND s.split)
           AS kept_apart_values
FROM limits l LEFT JOIN shared s ON s.identifier = l.identifier
GROUP BY l.identifier, l.resolution_limit
"""
_PAIRS = f"""
SELECT count(*) FILTER (WHERE p.status = '{REVIEW}'
                        AND l.profile_id IS DISTINCT FROM r.profile_id) AS to_review,
       count(*) FILTER (WHERE p.status = '{REJECTED}') AS rejected,
       count(*) FILTER (WHERE p.status IN ('{AUTO_PAIR}', '{CONFIRMED}')
                        AND l.profile_id IS DISTINCT FROM r.profile_id) AS kept_apart
FROM identity_pairs p
JOIN source_records l ON l.id = p.left_record_id AND l.erased_at IS NULL
JOIN source_records r ON r.id = p.right_record_id AND r.erased_at IS NULL
WHERE p.tenant_id = :tenant_id
"""
_COMPLETENESS_FIELDS = tuple(Completeness.model_fields)
_RECORD_PROBLEM_COUNTS = (
    "invalid_emails",
    "disposable_emails",
    "typo_corrected_emails",
    "invalid_phones",
    "landline_phones",
    "bad_birth_dates",
)


def _completeness(row: Any, denominator: int) -> Completeness:
    return Completeness(
        **{name: Share.of(int(row[f"known_{name}"]), denominator) for name in _COMPLETENESS_FIELDS}
    )


def _record_problems(row: Any) -> RecordProblems:
    return RecordProblems(
        **{name: int(row[name]) for name in _RECORD_PROBLEM_COUNTS},
        bad_birth_dates_by_code={
            str(code): int(row[f"birth_{code}"]) for code in BAD_BIRTH_DATE_CODES
        },
    )


def _sum_rows(rows: list[Any], names: list[str]) -> dict[str, int]:
    return {name: sum(int(row[name]) for row in rows) for name in names}


async def quality_report(session: AsyncSession, *, tenant_id: int) -> QualityReport:
    """The tenant's data quality now: five aggregate queries, nothing loaded row by row."""
    arguments = {"tenant_id": tenant_id}
    source_rows = [row._mapping for row in await session.execute(text(_PER_SOURCE), arguments)]
    people_row = (await session.execute(text(_PEOPLE), arguments)).one()._mapping
    pair_rows = [row._mapping for row in await session.execute(text(_SOURCE_PAIRS), arguments)]
    identifier_rows = [row._mapping for row in await session.execute(text(IDENTIFIERS), arguments)]
    review_row = (await session.execute(text(_PAIRS), arguments)).one()._mapping

    names_by_id = {int(row["id"]): str(row["name"]) for row in source_rows}
    people_by_source: dict[str, int] = {}
    together: dict[tuple[str, str], int] = {}
    for row in pair_rows:
        name = names_by_id[int(row["source_id"])]
        if row["other_id"] is None:
            people_by_source[name] = int(row["people"])
        else:
            other = names_by_id[int(row["other_id"])]
            together[(min(name, other), max(name, other))] = int(row["people"])

    sources = [
        SourceQuality(
            name=row["name"],
            title=row["title"],
            records=int(row["records"]),
            people=people_by_source.get(row["name"], 0),
            waiting_for_resolution=int(row["waiting"]),
            completeness=_completeness(row, int(row["records"])),
            problems=_record_problems(row),
        )
        for row in source_rows
    ]
    totals = _sum_rows(
        source_rows,
        [
            "records",
            "waiting",
            *(f"known_{name}" for name in _COMPLETENESS_FIELDS),
            *_RECORD_PROBLEM_COUNTS,
            *(f"birth_{code}" for code in BAD_BIRTH_DATE_CODES),
        ],
    )
    records = totals["records"]
    people = int(people_row["people"])
    resolved = int(people_row["resolved_records"])
    # Sources without records have nothing to compare; the matrix covers those that have.
    with_records = sorted(source.name for source in sources if source.records)
    duplicates = [
        SourcePairDuplicates(source=name, other_source=other, people=together.get((name, other), 0))
        for index, name in enumerate(with_records)
        for other in with_records[index:]
    ]
    return QualityReport(
        sources=sources,
        people=People(
            records=records,
            resolved_records=resolved,
            waiting_for_resolution=totals["waiting"],
            people=people,
            in_several_sources=int(people_row["in_several_sources"]),
            profiles_without_records=int(people_row["without_records"]),
            # Over resolved records: a record not resolved yet is not a duplicate of anyone.
            duplicate_rate=Share.of(resolved - people, resolved),
        ),
        duplicates=duplicates,
        problems=Problems(
            **_record_problems(totals).model_dump(),
            identifiers=[_sharing(row) for row in identifier_rows],
            pairs_to_review=int(review_row["to_review"]),
            rejected_pairs=int(review_row["rejected"]),
            kept_apart_pairs=int(review_row["kept_apart"]),
        ),
        completeness=CompletenessChange(
            before=_completeness(totals, records), after=_completeness(people_row, people)
        ),
    )


def _sharing(row: Any) -> IdentifierSharing:
    identifier = IDENTIFIER_NAMES.get(row["identifier"], row["identifier"])
    values = list(row["top_values"] or [])
    counts = list(row["top_records"] or [])
    return IdentifierSharing(
        identifier=identifier,
        resolution_limit=int(row["resolution_limit"]),
        placeholder_values=int(row["placeholder_values"]),
        placeholder_records=int(row["placeholder_records"]),
        most_shared=[
            SharedIdentifier(identifier=identifier, value=value, records=int(count))
            for value, count in zip(values, counts, strict=True)
        ],
        kept_apart_values=int(row["kept_apart_values"]),
    )
