"""The boundary worker's own transactions: due rows claimed, customers moved, rows rescheduled."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from tests.factories import TenantFixture
from tonari.db import Database
from tonari.models.customers import Customer
from tonari.models.segments import SegmentBoundary, SegmentMembership
from tonari.segments.boundaries import process_due_boundaries
from tonari.segments.service import create_segment


async def test_process_due_boundaries_commits_each_batch(
    database_url: str, committed_tenant: TenantFixture
) -> None:
    database = Database(database_url, pool_size=2, max_overflow=0)
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    try:
        async with database.transaction() as session:
            customers = [
                Customer(
                    tenant_id=committed_tenant.id,
                    external_id=f"bday-{n}",
                    birth_date=date(1990, 6, 10 + n % 3),
                )
                for n in range(30)
            ]
            session.add_all(customers)
            await session.flush()
            segment = await create_segment(
                session,
                tenant_id=committed_tenant.id,
                key="birthday-soon",
                name="Birthday in 3 days",
                definition={"field": "birthday_in_days", "days": 3},
                at=start,
            )
        # Local midnight of 7 June in Moscow: the ten born on 10 June enter; batches of 4.
        opens = datetime(2026, 6, 6, 21, tzinfo=UTC)
        assert await process_due_boundaries(database, at=opens, batch=4) >= 10
        async with database.transaction() as session:
            members = set(
                await session.scalars(
                    select(Customer.external_id)
                    .join(SegmentMembership, SegmentMembership.customer_id == Customer.id)
                    .where(SegmentMembership.segment_id == segment.id)
                )
            )
            assert members == {f"bday-{n}" for n in range(30) if n % 3 == 0}
            still_due = await session.scalar(
                select(SegmentBoundary.customer_id).where(
                    SegmentBoundary.segment_id == segment.id, SegmentBoundary.due_at <= opens
                )
            )
            assert still_due is None, "every due row was rescheduled"
    finally:
        await database.dispose()
