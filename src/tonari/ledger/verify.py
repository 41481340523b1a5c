"""Prove the ledger: entries balance, cached balances equal postings, lots agree with both."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(slots=True)
class VerificationReport:
    accounts_checked: int = 0
    entries_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


UNBALANCED_ENTRIES = """
SELECT e.id, e.kind, SUM(p.amount) AS total
FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id
WHERE (CAST(:tenant_id AS BIGINT) IS NULL
       OR e.tenant_id = :tenant_id)
GROUP BY e.id, e.kind HAVING SUM(p.amount) <> 0
LIMIT 50
"""

CACHED_VS_POSTINGS = """
WITH sums AS (
  SELECT p.account_id,
         COALESCE(SUM(p.amount) FILTER (WHERE p.bucket = 'pending'), 0) AS pending,
         COALESCE(SUM(p.amount) FILTER (WHERE p.bucket = 'available'), 0) AS available,
         COALESCE(SUM(p.amount) FILTER (WHERE p.bucket = 'reserved'), 0) AS reserved
  FROM ledger_postings p
  WHERE (CAST(:tenant_id AS BIGINT) IS NULL OR p.tenant_id = :tenant_id)
  GROUP BY p.account_id
)
SELECT a.id, a.customer_id, a.pending, a.available, a.reserved,
       COALESCE(s.pending, 0) AS p_pending, COALESCE(s.available, 0) AS p_available,
       COALESCE(s.reserved, 0) AS p_reserved
FROM ledger_accounts a LEFT JOIN sums s ON s.account_id = a.id
WHERE a.customer_id IS NOT NULL AND (CAST(:tenant_id AS BIGINT) IS NULL OR a.tenant_id = :tenant_id)
  AND (a.pending <> COALESCE(s.pending, 0) OR a.available <> COALESCE(s.available, 0)
       OR a.reserved <> COALESCE(s.reserved, 0))
LIMIT 50
"""

LOTS_VS_CACHED = """
WITH lots AS (
  SELECT account_id,
         COALESCE(SUM(remaining) FILTER (WHERE state = 'pending'), 0) AS pending,
         COALESCE(SUM(remaining) FILTER (WHERE state = 'available'), 0) AS available
  FROM point_lots WHERE (CAST(:tenant_id AS BIGINT) IS NULL OR tenant_id = :tenant_id)
  GROUP BY account_id
), held AS (
  SELECT l.account_id, SUM(d.amount - d.restored) AS reserved
  FROM lot_draws d JOIN point_lots l ON l.id = d.lot_id
  WHERE d.status = 'reserved' AND (CAST(:tenant_id AS BIGINT) IS NULL OR d.tenant_id = :tenant_id)
  GROUP BY l.account_id
)
SELECT a.id, a.customer_id, a.pending, a.available, a.reserved, a.debt,
       COALESCE(l.pending, 0) AS lot_pending, COALESCE(l.available, 0) AS lot_available,
       COALESCE(h.reserved, 0) AS draw_reserved
FROM ledger_accounts a
LEFT JOIN lots l ON l.account_id = a.id LEFT JOIN held h ON h.account_id = a.id
WHERE a.customer_id IS NOT NULL AND (CAST(:tenant_id AS BIGINT) IS NULL OR a.tenant_id = :tenant_id)
  AND (a.pending <> COALESCE(l.pending, 0)
       OR a.available <> COALESCE(l.available, 0) - a.debt
       OR a.reserved <> COALESCE(h.reserved, 0))
LIMIT 50
"""


async def verify_ledger(
    session: AsyncSession, *, tenant_id: int | None = None
) -> VerificationReport:
    report = VerificationReport()
    params = {"tenant_id": tenant_id}
    report.entries_checked = int(
        await session.scalar(
            text(
                "SELECT count(*) FROM ledger_entries "
                "WHERE (CAST(:tenant_id AS BIGINT) IS NULL OR tenant_id = :tenant_id)"
            ),
            params,
        )
        or 0
    )
    report.accounts_checked = int(
        await session.scalar(
            text(
                "SELECT count(*) FROM ledger_accounts WHERE customer_id IS NOT NULL "
                "AND (CAST(:tenant_id AS BIGINT) IS NULL OR tenant_id = :tenant_id)"
            ),
            params,
        )
        or 0
    )
    for row in (await session.execute(text(UNBALANCED_ENTRIES), params)).all():
        report.problems.append(f"entry {row.id} ({row.kind}) postings sum to {row.total}, not 0")
    for row in (await session.execute(text(CACHED_VS_POSTINGS), params)).all():
        report.problems.append(
            f"account {row.id} (customer {row.customer_id}): cached "
            f"pending/available/reserved {row.pending}/{row.available}/{row.reserved} != "
            f"postings {row.p_pending}/{row.p_available}/{row.p_reserved}"
        )
    for row in (await session.execute(text(LOTS_VS_CACHED), params)).all():
        report.problems.append(
            f"account {row.id} (customer {row.customer_id}): lots say pending "
            f"{row.lot_pending}, available {row.lot_available} - debt {row.debt}, reserved "
            f"{row.draw_reserved}; cached {row.pending}/{row.available}/{row.reserved}"
        )
    return report
