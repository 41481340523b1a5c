"""Two transactions sending the same event ids at once store each id exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text

from tonari.db import Database
from tonari.events.schemas import EventIn
from tonari.events.service import ingest_events
from tonari.kit.clock import utcnow


def _batch(ids: list[str]) -> list[EventIn]:
    at = utcnow() - timedelta(minutes=1)
    return [
        EventIn(event_id=i, event_type="product_viewed", anonymous_id="dev", occurred_at=at)
        for i in ids
    ]


async def test_a_concurrent_repeat_waits_and_reports_duplicates(
    database_url: str, committed_tenant
) -> None:
    tenant_id = committed_tenant.id
    ids = [f"race-{n:03d}" for n in range(50)]
    database = Database(database_url, pool_size=2, max_overflow=0)
    try:
        async with database.transaction() as first:
            stored = await ingest_events(
                first, tenant_id=tenant_id, events=_batch(ids), received_at=utcnow()
            )

            async def second() -> int:
                async with database.transaction() as other:
                    # The same ids in the opposite order: sorted claims cannot deadlock.
                    report = await ingest_events(
                        other,
                        tenant_id=tenant_id,
                        events=_batch([*reversed(ids), "race-new"]),
                        received_at=utcnow(),
                    )
                    return report.stored

            racing = asyncio.create_task(second())
            await asyncio.sleep(0.3)
            assert not racing.done(), "the repeat must wait for the first batch's commit"
        assert stored.stored == 50
        assert await asyncio.wait_for(racing, timeout=10) == 1
        async with database.reads() as session:
            count = await session.scalar(
                text("SELECT count(*) FROM customer_events WHERE tenant_id = :t"),
                {"t": tenant_id},
            )
        assert count == 51
    finally:
        await database.dispose()
