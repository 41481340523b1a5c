"""Scheduled codes: every buyer gets a new personal code of a pool every N days.

A customer is due when they bought (``customers.last_purchase_at``) after their last scheduled
code of the pool and their newest code of the pool is at least ``reissue_every_days`` old.
That condition is the whole state: running the job twice at the same moment, or on two
workers at once (a per-pool advisory lock makes the second wait and then find nobody due),
issues nothing more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.codes.bulk import IssueEvent, NewCodes, insert_codes
from tonari.codes.generator import length_for
from tonari.codes.pools import expiry_for, get_pool
from tonari.codes.schemas import PoolKind, PoolStatus
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.kit.errors import ValidationFailed
from tonari.models.codes import CodeBatch, CodePool

DUE_CUSTOMERS = text(
    """
SELECT c.id FROM customers c
WHERE c.tenant_id = :tenant_id
  AND c.id > :after
  AND c.last_purchase_at IS NOT NULL
  AND c.last_purchase_at <= :now
  AND NOT EXISTS (
      SELECT 1 FROM codes k
      WHERE k.owner_customer_id = c.id AND k.pool_id = :pool_id AND k.tenant_id = :tenant_id
        AND (k.issued_at > :recent
             OR (k.source = 'scheduled' AND k.issued_at >= c.last_purchase_at)))
ORDER BY c.id
LIMIT :limit
"""
)


@dataclass(frozen=True, slots=True)
class ScheduleRun:
    issued: int
    next_after: int | None
    """Pass as ``after_customer_id`` for the next batch; ``None`` when every customer was seen."""


async def issue_scheduled_codes(
    session: AsyncSession,
    *,
    tenant_id: int,
    pool: str,
    now: datetime,
    after_customer_id: int = 0,
    limit: int | None = None,
) -> ScheduleRun:
    """Give every due customer (after ``after_customer_id``, at most ``limit``) a new code."""
    found = await get_pool(session, tenant_id=tenant_id, pool=pool)
    every = found.reissue_every_days
    if every is None:
        raise ValidationFailed(f"code pool {found.code!r} has no reissue_every_days", field="pool")
    if found.status != PoolStatus.ACTIVE or found.kind == PoolKind.PUBLIC:
        return ScheduleRun(issued=0, next_after=None)
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"tonari.codes.schedule:{found.id}"},
    )
    due = list(
        await session.scalars(
            DUE_CUSTOMERS,
            {
                "tenant_id": tenant_id,
                "pool_id": found.id,
                "after": after_customer_id,
                "now": now,
                "recent": now - timedelta(days=every),
                "limit": limit,
            },
        )
    )
    if not due:
        return ScheduleRun(issued=0, next_after=None)
    batch_id = await session.scalar(
        insert(CodeBatch)
        .values(
            tenant_id=tenant_id,
            pool_id=found.id,
            kind="schedule",
            customers=len(due),
            codes=len(due),
            reason=f"every {every} days",
        )
        .returning(CodeBatch.id)
    )
    assert batch_id is not None
    spec = NewCodes(
        tenant_id=tenant_id,
        pool_id=found.id,
        batch_id=batch_id,
        source="scheduled",
        issued_at=now,
        expires_at=expiry_for(found, now),
        max_uses=found.max_uses_per_code,
        length=length_for(len(due), found.code_length),
        prefix=found.prefix,
    )
    event = IssueEvent(
        event_type="voucher.issued"
        if found.kind in (PoolKind.GIFT, PoolKind.BONUS)
        else "code.issued",
        pool=found.code,
        kind=found.kind,
        value_minor=found.value_minor,
        currency=found.currency,
        value_points=found.value_points,
        reason=f"every {every} days",
    )
    await insert_codes(session, spec, due, event=event)
    more = limit is not None and len(due) == limit
    return ScheduleRun(issued=len(due), next_after=due[-1] if more else None)


@asynccontextmanager
async def _database(url: str, database: Database | None) -> AsyncIterator[Database]:
    db = database or Database(url, pool_size=1, max_overflow=1)
    try:
        yield db
    finally:
        if database is None:
            await db.dispose()


async def run_scheduled_issues(
    url: str, *, batch: int = 5_000, database: Database | None = None
) -> int:
    """Every tenant's scheduled pools, one transaction per batch of customers; codes issued."""
    issued = 0
    async with _database(url, database) as db:
        async with db.transaction() as session:
            pools = (
                await session.execute(
                    select(CodePool.tenant_id, CodePool.code)
                    .where(
                        CodePool.reissue_every_days.is_not(None),
                        CodePool.status == PoolStatus.ACTIVE.value,
                    )
                    .order_by(CodePool.tenant_id, CodePool.id)
                )
            ).all()
        for tenant_id, pool in pools:
            now = utcnow()
            cursor: int | None = 0
            while cursor is not None:
                async with db.transaction() as session:
                    run = await issue_scheduled_codes(
                        session,
                        tenant_id=tenant_id,
                        pool=pool,
                        now=now,
                        after_customer_id=cursor,
                        limit=batch,
                    )
                issued += run.issued
                cursor = run.next_after
    return issued
