"""The worker's identity job: resolve each tenant's new and changed records, every minute."""

from __future__ import annotations

from sqlalchemy import func, select, text

from tonari.db import Database
from tonari.identity.resolve import RESOLUTION_LOCK, first_tier_in_force, resolve_identities
from tonari.kit.clock import utcnow


async def run_incremental_resolution(database: Database) -> dict[str, int]:
    """One transaction per tenant with work waiting; a tenant another worker is resolving
    right now is skipped (its changes are picked up on the next tick)."""
    async with database.transaction() as session:
        tenants = [
            int(tenant_id)
            for tenant_id in await session.scalars(
                text("SELECT DISTINCT tenant_id FROM source_records WHERE needs_resolution")
            )
        ]
    resolved = merges = 0
    for tenant_id in tenants:
        async with database.transaction() as session:
            locked = await session.scalar(
                select(func.pg_try_advisory_xact_lock(RESOLUTION_LOCK, tenant_id))
            )
            if not locked:
                continue
            summary = await resolve_identities(
                session,
                tenant_id=tenant_id,
                at=utcnow(),
                incremental=True,
                first_tier=await first_tier_in_force(session, tenant_id),
            )
            resolved += summary.records
            merges += summary.merges
    return {"tenants": len(tenants), "records": resolved, "merges": merges}
