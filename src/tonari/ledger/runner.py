"""Run the ledger jobs to completion, one transaction per batch (used by CLI and worker)."""

from __future__ import annotations

from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.ledger.jobs import BatchResult, expire_batch, release_pending_batch
from tonari.orders.tiering import reevaluate_tiers_batch, tiers_can_fall_without_orders


async def run_ledger_jobs(
    url: str, *, batch: int = 200, database: Database | None = None
) -> tuple[BatchResult, BatchResult]:
    db = database or Database(url, pool_size=1, max_overflow=1)
    released, expired = BatchResult(), BatchResult()
    try:
        for job, total in ((release_pending_batch, released), (expire_batch, expired)):
            while True:
                async with db.transaction() as session:
                    done = await job(session, now=utcnow(), limit=batch)
                total.add(done)
                if done.accounts == 0:
                    break
    finally:
        if database is None:
            await db.dispose()
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
    from sqlalchemy import select

    from tonari.kit.errors import NotFound
    from tonari.models.tenants import Tenant
    from tonari.programs.service import programme_in_force

    db = database or Database(url, pool_size=1, max_overflow=1)
    changed = 0
    try:
        async with db.transaction() as session:
            tenant_ids = list(await session.scalars(select(Tenant.id).order_by(Tenant.id)))
        for tenant_id in tenant_ids:
            now = utcnow()
            async with db.transaction() as session:
                try:
                    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=now)
                except NotFound:
                    continue
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
    finally:
        if database is None:
            await db.dispose()
    return changed


async def run_expiry_reminders(
    url: str, *, batch: int = 200, database: Database | None = None
) -> int:
    """Remind every tenant's customers of points about to expire; returns events written."""
    from sqlalchemy import select

    from tonari.kit.errors import NotFound
    from tonari.ledger.jobs import remind_expiring_batch
    from tonari.models.tenants import Tenant
    from tonari.programs.service import programme_in_force

    db = database or Database(url, pool_size=1, max_overflow=1)
    reminded = 0
    try:
        async with db.transaction() as session:
            tenant_ids = list(await session.scalars(select(Tenant.id).order_by(Tenant.id)))
        for tenant_id in tenant_ids:
            now = utcnow()
            async with db.transaction() as session:
                try:
                    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=now)
                except NotFound:
                    continue
            if programme.expiry_reminder_days == 0:
                continue
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
    finally:
        if database is None:
            await db.dispose()
    return reminded
