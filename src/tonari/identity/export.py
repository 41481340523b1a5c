"""The audit file: where every source record went, and on what evidence."""

from __future__ import annotations

import csv
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.driver import driver_in_transaction

EXPORT_COLUMNS = (
    "source",
    "source_record_id",
    "profile_id",
    "profile_external_id",
    "match_score",
    "match_rule",
)
_QUERY = """
SELECT s.name, r.record_id, r.profile_id, c.external_id, r.match_score, r.match_rule
FROM source_records r
JOIN customer_sources s ON s.id = r.source_id
LEFT JOIN customers c ON c.id = r.profile_id
WHERE r.tenant_id = $1 AND r.erased_at IS NULL
ORDER BY s.name, r.record_id
"""
FETCH_ROWS = 10_000


async def export_assignments(session: AsyncSession, *, tenant_id: int, stream: TextIO) -> int:
    """Write the CSV with a server-side cursor, so a million rows take no memory."""
    driver = await driver_in_transaction(session)
    writer = csv.writer(stream)
    writer.writerow(EXPORT_COLUMNS)
    written = 0
    async for row in driver.cursor(_QUERY, tenant_id, prefetch=FETCH_ROWS):
        score = row["match_score"]
        writer.writerow(
            [
                row["name"],
                row["record_id"],
                row["profile_id"] or "",
                row["external_id"] or "",
                "" if score is None else f"{score:.4f}",
                row["match_rule"] or "",
            ]
        )
        written += 1
    return written
