"""Run the scheduled ledger work to completion, one transaction per batch (CLI and worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select

from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.kit.errors import NotFound
from tonari.ledger.jobs import (
    BatchResult,
    expire_batch,
    release_pending_batch,
    remind_expiring_batch,
)
from tonari.models.tenants import Tenant
from tonari.orders.tiering import reevaluate_tiers_batch, tiers_can_fall_without_orders
from tonari.programs.schemas import Programme
from tonari.programs.service import programme_in_force


@asynccontextmanager
async def _database(url: str, database: Database | None) -> AsyncIterator[Database]:
    db = database or Database(url, pool_size=1, max_overflow=1)
    try:
        yield db
    finally:
        if database is None:
            await db.dispose()


async def _programmes_in_force(db: Database) -> AsyncIterator[tuple[int, Programme]]:
    """Every tenant with a programme in force now, and that programme."""
    async with db.transaction() as session:
        tenant_ids = list(await session.scalars(select(Tenant.id).order_by(Tenant.id)))
    for tenant_id in tenant_ids:
        async with db.transaction() as session:
            try:
                _, programme = await programme_in_force(session, tenant_id=tenant_id, at=utcnow())
            except NotFound:
                continue
        yield tenant_id, programme


async def run_ledger_jobs(
    url: str, *, batch: int = 200, database: Database | None = None
) -> tuple[BatchResult, BatchResult]:
    """Release pending points, then expire points, until nothing is due."""
    released, expired = BatchResult(), BatchResult()
    async with _database(url, database) as db:
        for job, total in ((release_pending_batch, released), (expire_batch, expired)):
            while True:
                async with db.transaction() as session:
                    done = await job(session, now=utcnow(), limit=batch)
                total.add(done)
                if done.accounts == 0:
                    break
    return released, expired


async def run_tier_reevaluation(
    url: str,
    *,
    batch: int = 500,
    database: Database | None = None,
    only_local_hour: int | None = None,
) -> int:
    """Re-evaluate every tenant's tiers where they can fall without a purchase.

    ``only_local_hour`` limits the run to tenants whose programme clock shows that hour, so an
    hourly job visits each tenant once a day, just after its own midnight.
    """
    changed = 0
    async with _database(url, database) as db:
        async for tenant_id, programme in _programmes_in_force(db):
            now = utcnow()
            if not tiers_can_fall_without_orders(programme):
                continue
            if (
                only_local_hour is not None
                and now.astimezone(programme.zone).hour != only_local_hour
            ):
                continue
            cursor: int | None = 0
            while cursor is not None:
                async with db.transaction() as session:
                    cursor, done = await reevaluate_tiers_batch(
                        session,
                        tenant_id=tenant_id,
                        programme=programme,
                        now=now,
                        after_customer_id=cursor,
                        limit=batch,
                    )
                changed += done
    return changed


async def run_expiry_reminders(
    url: str, *, batch: int = 200, database: Database | None = None
) -> int:
    """Remind every tenant's customers of points about to expire; returns events written."""
    reminded = 0
    async with _database(url, database) as db:
        async for tenant_id, programme in _programmes_in_force(db):
            if programme.expiry_reminder_days == 0:
                continue
            now = utcnow()
            while True:
                async with db.transaction() as session:
                    done = await remind_expiring_batch(
                        session,
                        tenant_id=tenant_id,
                        days=programme.expiry_reminder_days,
                        now=now,
                        limit=batch,
                    )
                reminded += done.accounts
                if done.accounts == 0:
                    break
    return reminded
