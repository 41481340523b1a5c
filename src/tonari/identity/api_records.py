"""Customers sent through the API are records too: of the built-in ``api`` source.

So a shop's customer and the same person in an imported file meet in one profile, and the
incremental resolution (run by the worker) sees every change the API makes.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity.importer import RECORD_COLUMNS
from tonari.identity.records import CleanRecord, clean_row
from tonari.identity.sources import API_SOURCE, SourceDefinition, api_source
from tonari.kit.driver import driver_in_transaction

_FIELDS = ("first_name", "last_name", "email", "phone", "card_number", "city", "gender")
_MAPPING = {name: name for name in ("record_id", *_FIELDS, "birth_date")}
_API = SourceDefinition(name=API_SOURCE, region="RU", record_ids_are_people=True)
_SETS = ", ".join(f"{name} = excluded.{name}" for name in RECORD_COLUMNS if name != "record_id")
_UPSERT = f"""
INSERT INTO source_records (tenant_id, source_id, profile_id, home_profile_id,
                            {", ".join(RECORD_COLUMNS)})
SELECT $1, $2, $3, $3, {", ".join(f"${n}" for n in range(4, 4 + len(RECORD_COLUMNS)))}
ON CONFLICT (tenant_id, source_id, record_id) DO UPDATE SET {_SETS},
    needs_resolution = true, changed_at = now(), last_seen_at = now()
WHERE source_records.content_hash IS DISTINCT FROM excluded.content_hash
  AND source_records.erased_at IS NULL
"""
_WITHOUT_RECORDS = """
SELECT c.id, c.external_id, c.first_name, c.last_name, c.email, c.phone, c.card_number,
       c.city, c.gender, c.birth_date
FROM customers c
WHERE c.tenant_id = $1 AND c.merged_into_id IS NULL AND c.erased_at IS NULL
  AND c.customer_type <> 'partner_holder' AND c.external_id NOT LIKE 'profile:%'
  AND NOT EXISTS (
      SELECT 1 FROM source_records r WHERE r.tenant_id = c.tenant_id AND r.profile_id = c.id
  )
"""


def api_record(customer: Any, today: date) -> CleanRecord:
    values: dict[str, str | None] = {"record_id": customer["external_id"]}
    for name in _FIELDS:
        values[name] = customer[name]
    birth = customer["birth_date"]
    values["birth_date"] = birth.isoformat() if birth else None
    cleaned = clean_row(values, _MAPPING, _API, today=today)
    assert isinstance(cleaned, CleanRecord)  # an external id is always there
    return cleaned


def _arguments(record: CleanRecord) -> list[Any]:
    return [
        json.dumps(getattr(record, name), ensure_ascii=False)
        if name in ("raw", "flags")
        else getattr(record, name)
        for name in RECORD_COLUMNS
    ]


async def record_api_customer(
    session: AsyncSession, *, tenant_id: int, customer_id: int, at: datetime
) -> None:
    """Write (or refresh) the API record of one customer and queue it for resolution."""
    driver = await driver_in_transaction(session)
    customer = await driver.fetchrow(
        "SELECT id, external_id, first_name, last_name, email, phone, card_number, city, "
        "gender, birth_date FROM customers WHERE id = $1",
        customer_id,
    )
    source = await api_source(session, tenant_id=tenant_id)
    await driver.execute(
        _UPSERT, tenant_id, source.id, customer_id, *_arguments(api_record(customer, at.date()))
    )


async def backfill_api_records(session: AsyncSession, tenant_id: int) -> int:
    """Records for customers that have none yet (made before sources existed)."""
    driver = await driver_in_transaction(session)
    rows = await driver.fetch(_WITHOUT_RECORDS, tenant_id)
    if not rows:
        return 0
    source = await api_source(session, tenant_id=tenant_id)
    today = datetime.now(UTC).date()
    await driver.executemany(
        _UPSERT,
        [(tenant_id, source.id, row["id"], *_arguments(api_record(row, today))) for row in rows],
    )
    return len(rows)
