"""Writing resolution's outcome: new profiles, records re-pointed, golden records refreshed.

Everything here works in bulk (COPY into a temporary table, one UPDATE ... FROM), because the
first run of a brand moves a million records at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity.golden import GOLDEN_FIELDS, RecordFacts, Rule, golden_record
from tonari.identity.records import is_inferred
from tonari.kit.driver import driver_in_transaction

GOLDEN_CHUNK = 20_000
_SINGLE_RECORD_PROFILES = """
SELECT profile_id FROM source_records
WHERE tenant_id = $1 AND profile_id = ANY($2::bigint[]) AND erased_at IS NULL
GROUP BY profile_id HAVING count(*) = 1
"""


def _provenance_of(name: str, value: str, status: str = "NULL") -> str:
    """SQL for one attribute's provenance, the same as golden.golden_record gives one record."""
    return (
        f"'{name}', CASE WHEN {value} IS NOT NULL THEN base.about || jsonb_build_object("
        f"'rule', $3::jsonb ->> '{name}', 'status', {status}) END"
    )


_USABLE_EMAIL = (
    "r.email_status IS DISTINCT FROM 'invalid' AND r.email_status IS DISTINCT FROM 'unreachable'"
)
_USABLE_PHONE = (
    "r.phone_status IS DISTINCT FROM 'invalid' AND r.phone_status IS DISTINCT FROM 'unreachable'"
)
_INFERRED = (
    """CASE WHEN r.flags @> '[{"field": "gender", "code": "inferred"}]' THEN 'inferred' END"""
)
_EMAIL = f"CASE WHEN {_USABLE_EMAIL} THEN nullif(r.email, '') END"
_PHONE = f"CASE WHEN {_USABLE_PHONE} THEN nullif(r.phone, '') END"
_TEXT = (
    "first_name",
    "last_name",
    "middle_name",
    "gender",
    "city",
    "address",
    "postcode",
    "region",
)
_STAGE_SINGLE_RECORD_PROFILES = f"""
INSERT INTO golden_stage
SELECT r.profile_id, nullif(r.first_name, ''), nullif(r.last_name, ''),
       nullif(r.middle_name, ''), r.birth_date, nullif(r.gender, ''),
       {_EMAIL}, CASE WHEN {_EMAIL} IS NOT NULL THEN r.email_status END,
       {_PHONE}, CASE WHEN {_PHONE} IS NOT NULL THEN r.phone_status END,
       nullif(r.city, ''), nullif(r.address, ''), nullif(r.postcode, ''), nullif(r.region, ''),
       nullif(r.card_number, ''),
       jsonb_strip_nulls(jsonb_build_object(
           {_provenance_of("first_name", "nullif(r.first_name, '')")},
           {_provenance_of("last_name", "nullif(r.last_name, '')")},
           {_provenance_of("middle_name", "nullif(r.middle_name, '')")},
           {_provenance_of("birth_date", "r.birth_date")},
           {_provenance_of("gender", "nullif(r.gender, '')", _INFERRED)},
           {_provenance_of("email", _EMAIL, "r.email_status")},
           {_provenance_of("phone", _PHONE, "r.phone_status")},
           {_provenance_of("city", "nullif(r.city, '')")},
           {_provenance_of("address", "nullif(r.address, '')")},
           {_provenance_of("postcode", "nullif(r.postcode, '')")},
           {_provenance_of("region", "nullif(r.region, '')")},
           {_provenance_of("card_number", "nullif(r.card_number, '')")}
       ))
FROM source_records r
JOIN customer_sources s ON s.id = r.source_id
CROSS JOIN LATERAL (SELECT jsonb_build_object(
    'source', s.name, 'record', r.record_id, 'record_key', r.id,
    'seen_at', to_char(COALESCE(r.source_updated_at, r.changed_at) AT TIME ZONE 'UTC',
                       'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'agreeing_records', 1, 'records_with_value', 1) AS about) AS base
WHERE r.tenant_id = $1 AND r.profile_id = ANY($2::bigint[]) AND r.erased_at IS NULL
"""
_FACTS = """
SELECT r.id, r.profile_id, s.name AS source, r.record_id, s.trust,
       COALESCE(r.source_updated_at, r.changed_at) AS seen_at, r.flags,
       r.first_name, r.last_name, r.middle_name, r.birth_date, r.gender, r.email,
       r.email_status, r.phone, r.phone_status, r.city, r.address, r.postcode, r.region,
       r.card_number
FROM source_records r JOIN customer_sources s ON s.id = r.source_id
WHERE r.tenant_id = $2 AND r.profile_id = ANY($1::bigint[]) AND r.erased_at IS NULL
"""


async def create_profiles(
    session: AsyncSession,
    tenant_id: int,
    preferred_external_ids: Sequence[str | None],
    *,
    first_tier: str | None,
    at: datetime,
) -> list[int]:
    """One new profile per entry, with its ledger account; returns their ids in order.

    A profile takes the brand's own customer id from its records when nobody has it yet, so
    the shop's API calls find it; otherwise ``profile:<id>``.
    """
    if not preferred_external_ids:
        return []
    driver = await driver_in_transaction(session)
    ids = [
        int(row[0])
        for row in await driver.fetch(
            "SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, $1)",
            len(preferred_external_ids),
        )
    ]
    wanted = sorted({value for value in preferred_external_ids if value})
    taken = {
        row["external_id"]
        for row in await driver.fetch(
            "SELECT external_id FROM customers WHERE tenant_id = $1 AND external_id = ANY($2)",
            tenant_id,
            wanted,
        )
    }
    rows = []
    for profile_id, preferred in zip(ids, preferred_external_ids, strict=True):
        external = preferred if preferred and preferred not in taken else None
        if external is not None:
            taken.add(external)
        rows.append(
            (
                profile_id,
                tenant_id,
                external or f"profile:{profile_id}",
                first_tier,
                at if first_tier else None,
                at,
                at,
            )
        )
    await driver.copy_records_to_table(
        "customers",
        records=rows,
        columns=(
            "id",
            "tenant_id",
            "external_id",
            "tier_code",
            "tier_since",
            "created_at",
            "updated_at",
        ),
    )
    await driver.execute(
        "INSERT INTO ledger_accounts (tenant_id, kind, customer_id) "
        "SELECT $1, 'customer', unnest($2::bigint[]) ON CONFLICT DO NOTHING",
        tenant_id,
        ids,
    )
    return ids


async def point_records(
    session: AsyncSession, rows: Sequence[tuple[int, int, float | None, str]]
) -> None:
    """(record, profile, score, rule) for each record: its profile now and why it is there."""
    if not rows:
        return
    driver = await driver_in_transaction(session)
    await driver.execute(
        "CREATE TEMPORARY TABLE record_profile_stage (id bigint, profile_id bigint, "
        "score float8, rule text) ON COMMIT DROP"
    )
    await driver.copy_records_to_table("record_profile_stage", records=list(rows))
    await driver.execute("ANALYZE record_profile_stage")
    await driver.execute(
        "UPDATE source_records r SET profile_id = s.profile_id, "
        "home_profile_id = COALESCE(r.home_profile_id, s.profile_id), match_score = s.score, "
        "match_rule = s.rule, needs_resolution = false "
        "FROM record_profile_stage s WHERE r.id = s.id AND (r.profile_id IS DISTINCT FROM "
        "s.profile_id OR r.match_score IS DISTINCT FROM s.score OR r.match_rule IS DISTINCT "
        "FROM s.rule OR r.needs_resolution)"
    )
    await driver.execute("DROP TABLE record_profile_stage")


def _facts(row: Any) -> RecordFacts:
    flags = row["flags"]
    if isinstance(flags, str):
        flags = json.loads(flags)
    return RecordFacts(
        id=int(row["id"]),
        source=row["source"],
        record_id=row["record_id"],
        trust=int(row["trust"]),
        seen_at=row["seen_at"],
        values={name: row[name] for name in GOLDEN_FIELDS},
        statuses={
            "email": row["email_status"],
            "phone": row["phone_status"],
            "gender": "inferred" if is_inferred(flags, "gender") else None,
        },
    )


async def refresh_golden_records(
    session: AsyncSession,
    tenant_id: int,
    profile_ids: Sequence[int],
    rules: dict[str, Rule],
    at: datetime,
) -> int:
    """Recompute the golden record of each profile from its records; returns how many."""
    driver = await driver_in_transaction(session)
    unique_ids = sorted(set(profile_ids))
    await driver.execute(
        "CREATE TEMPORARY TABLE golden_stage (id bigint, first_name text, last_name text, "
        "middle_name text, birth_date date, gender text, email text, email_status text, "
        "phone text, phone_status text, city text, address text, postcode text, region text, "
        "card_number text, provenance jsonb) ON COMMIT DROP"
    )
    singletons = [
        int(row["profile_id"])
        for row in await driver.fetch(_SINGLE_RECORD_PROFILES, tenant_id, unique_ids)
    ]
    # A profile of one record has nothing to choose between: SQL copies its values over.
    await driver.execute(
        _STAGE_SINGLE_RECORD_PROFILES,
        tenant_id,
        singletons,
        json.dumps({name: str(rule) for name, rule in rules.items()}),
    )
    chosen_in_sql = set(singletons)
    several = [profile_id for profile_id in unique_ids if profile_id not in chosen_in_sql]
    for start in range(0, len(several), GOLDEN_CHUNK):
        chunk = several[start : start + GOLDEN_CHUNK]
        by_profile: dict[int, list[RecordFacts]] = {}
        for row in await driver.fetch(_FACTS, chunk, tenant_id):
            by_profile.setdefault(int(row["profile_id"]), []).append(_facts(row))
        staged = []
        for profile_id in chunk:
            records = by_profile.get(profile_id, [])
            values, provenance = golden_record(records, rules)
            staged.append(
                (
                    profile_id,
                    *(values[name] for name in GOLDEN_FIELDS[:6]),
                    provenance.get("email", {}).get("status"),
                    values["phone"],
                    provenance.get("phone", {}).get("status"),
                    values["city"],
                    values["address"],
                    values["postcode"],
                    values["region"],
                    values["card_number"],
                    json.dumps(provenance, ensure_ascii=False, default=str),
                )
            )
        await driver.copy_records_to_table("golden_stage", records=staged)
    await driver.execute("ANALYZE golden_stage")
    # Cards are unique per brand: clear the ones that move before setting any, so a card
    # passing from one profile to another in this same run never collides with itself.
    await driver.execute(
        "UPDATE customers c SET card_number = NULL FROM golden_stage g "
        "WHERE c.id = g.id AND c.card_number IS DISTINCT FROM g.card_number "
        "AND c.card_number IS NOT NULL"
    )
    updated = await driver.execute(
        "UPDATE customers c SET first_name = g.first_name, last_name = g.last_name, "
        "middle_name = g.middle_name, birth_date = g.birth_date, gender = g.gender, "
        "email = g.email, email_status = g.email_status, phone = g.phone, "
        "phone_status = g.phone_status, city = g.city, address = g.address, "
        "postcode = g.postcode, region = g.region, card_number = g.card_number, "
        "provenance = g.provenance, updated_at = $1 FROM golden_stage g WHERE c.id = g.id",
        at,
    )
    await driver.execute("DROP TABLE golden_stage")
    return int(str(updated).rsplit(" ", 1)[-1] or 0)
