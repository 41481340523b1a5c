"""The nightly rebuild moves customers whose RFM rank changed through other customers' orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.factories import TenantFixture
from tests.segments.support import segment_events
from tonari.db import Database
from tonari.models.customers import Customer
from tonari.models.segments import SegmentMembership
from tonari.segments.nightly import is_population_relative, rebuild_relative_segments
from tonari.segments.service import create_segment

AT = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _buyer(tenant_id: int, name: str, spend: int) -> Customer:
    return Customer(
        tenant_id=tenant_id,
        external_id=name,
        orders_count=1,
        lifetime_spend=spend,
        last_purchase_at=AT - timedelta(days=10),
    )


async def _members(database: Database, segment_id: int) -> set[str]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(Customer.external_id)
            .join(SegmentMembership, SegmentMembership.customer_id == Customer.id)
            .where(SegmentMembership.segment_id == segment_id)
        )
        return set(rows)


def test_only_segments_ranking_customers_are_population_relative() -> None:
    assert is_population_relative({"field": "rfm", "monetary": [5]})
    assert is_population_relative(
        {"all": [{"field": "city", "values": ["Omsk"]}, {"not": {"field": "rfm", "recency": [1]}}]}
    )
    assert not is_population_relative({"field": "orders_count", "days": 30, "min": 1})


async def test_a_top_spender_outranked_by_others_leaves_at_night(
    database_url: str, committed_tenant: TenantFixture
) -> None:
    t = committed_tenant.id
    database = Database(database_url, pool_size=2, max_overflow=0)
    try:
        async with database.transaction() as session:
            session.add_all(_buyer(t, f"b{n}", n * 10_000) for n in range(1, 6))
            await session.flush()
            segment = await create_segment(
                session,
                tenant_id=t,
                key="top-spenders",
                name="Top monetary quintile",
                definition={"field": "rfm", "monetary": [5]},
                at=AT,
            )
            await create_segment(
                session,
                tenant_id=t,
                key="omsk",
                name="Omsk",
                definition={"field": "city", "values": ["Omsk"]},
                at=AT,
            )
        assert await _members(database, segment.id) == {"b5"}
        # Five bigger buyers arrive; nothing re-evaluates b5, whose own data did not change.
        async with database.transaction() as session:
            session.add_all(_buyer(t, f"n{n}", 100_000 + n) for n in range(1, 6))
        assert await _members(database, segment.id) == {"b5"}

        report = await rebuild_relative_segments(database, at=AT + timedelta(hours=12))

        assert "top-spenders" in report.rebuilt and "omsk" not in report.rebuilt
        assert report.failed == []
        # Ten buyers: the top fifth is the two biggest.
        assert await _members(database, segment.id) == {"n4", "n5"}
        async with database.transaction() as session:
            moves = [(kind, key) for kind, key, _ in await segment_events(session, t)]
        assert moves.count(("segment.exited", "top-spenders")) == 1
        assert moves.count(("segment.entered", "top-spenders")) == 2
    finally:
        await database.dispose()
