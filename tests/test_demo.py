"""The demo brand, as a newcomer sees it: real customers, tiers, balances and a sound ledger."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.demo import DEMO_TENANT_SLUG, load_demo, programme_document
from tonari.kit.clock import utcnow
from tonari.ledger.verify import verify_ledger
from tonari.models.customers import Customer
from tonari.models.ledger import PointLot
from tonari.models.orders import Order
from tonari.programs.service import parse_programme
from tonari.tenants.service import authenticate


async def test_demo_brand_looks_like_a_running_programme(session: AsyncSession) -> None:
    now = utcnow()
    summary = await load_demo(session, now=now)

    assert summary.created
    assert summary.tenant_slug == DEMO_TENANT_SLUG
    assert summary.products >= 40
    # 300 shop customers, and the club members who were nobody's customer yet.
    assert 300 <= summary.customers <= 340
    assert summary.orders >= 900
    # Every tier of the Panasonic programme is held by a real share of the customers.
    assert set(summary.tiers) == {"silver", "gold", "premium"}
    assert summary.tiers["gold"] >= 30
    assert summary.tiers["premium"] >= 15
    # Balances are real: most customers can spend points, some are still pending.
    assert summary.customers_with_points >= summary.customers // 2
    assert summary.points_available > 0
    assert summary.points_pending > 0
    assert summary.sample_customer is not None

    tenant_id = summary.tenant_id
    await _clubs_joined_the_shop_profiles(session, tenant_id, summary.customers)
    report = await verify_ledger(session, tenant_id=tenant_id)
    assert report.ok, report.problems
    assert report.accounts_checked == summary.customers

    lot_states = {
        row.state
        for row in await session.execute(
            select(PointLot.state).where(PointLot.tenant_id == tenant_id).distinct()
        )
    }
    assert {"pending", "available", "expired"} <= lot_states
    statuses = {
        row.status
        for row in await session.execute(
            select(Order.status).where(Order.tenant_id == tenant_id).distinct()
        )
    }
    assert {"paid", "cancelled"} <= statuses
    assert statuses & {"returned", "partially_returned"}
    spent_orders = await session.scalar(
        select(func.count()).where(Order.tenant_id == tenant_id, Order.points_spent > 0)
    )
    assert spent_orders and spent_orders > summary.orders // 10
    assert summary.api_key is not None
    principal = await authenticate(session, summary.api_key)
    assert principal.tenant_id == tenant_id and "admin" in principal.scopes

    await _marketing_is_switched_on(session, tenant_id)

    again = await load_demo(session, now=utcnow())
    assert not again.created
    assert again.api_key is None
    assert again.tenant_id == tenant_id
    assert (again.customers, again.orders, again.tiers) == (
        summary.customers,
        summary.orders,
        summary.tiers,
    )


def test_packaged_programme_is_the_example() -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "programmes" / "panasonic.yaml"
    assert programme_document() == yaml.safe_load(example.read_text(encoding="utf-8"))
    programme = parse_programme(programme_document())
    assert [tier.earn_rate_bp for tier in programme.tiers] == [500, 1000, 1500]


async def _clubs_joined_the_shop_profiles(
    session: AsyncSession, tenant_id: int, profiles: int
) -> None:
    """Club members who are shop customers joined their profile; the rest are new people."""
    from sqlalchemy import text

    rows = {
        row.name: (int(row.records), int(row.joined))
        for row in await session.execute(
            text(
                "SELECT s.name, count(*) AS records, count(*) FILTER (WHERE EXISTS ("
                " SELECT 1 FROM source_records api JOIN customer_sources a ON a.id = api.source_id"
                " WHERE a.name = 'api' AND api.profile_id = r.profile_id)) AS joined "
                "FROM source_records r JOIN customer_sources s ON s.id = r.source_id "
                "WHERE r.tenant_id = :t GROUP BY s.name"
            ),
            {"t": tenant_id},
        )
    }
    assert rows["api"] == (300, 300)
    cooking, cooking_joined = rows["cooking_club"]
    camera, camera_joined = rows["camera_club"]
    assert cooking_joined == 40 and cooking == 40 + 21
    # Name, birth date and city alone: the model finds nearly every one of them.
    assert camera == 40 and camera_joined >= 36
    assert profiles == 300 + (cooking - cooking_joined) + (camera - camera_joined)


async def _marketing_is_switched_on(session: AsyncSession, tenant_id: int) -> None:
    """Every shipped trigger is on, and the demo segments hold the customers they describe."""
    from tonari.journeys.templates import SHIPPED
    from tonari.models.journeys import Journey
    from tonari.models.reactions import CustomerReaction
    from tonari.models.segments import Segment, SegmentMembership

    journeys = (
        await session.scalars(
            select(Journey.template).where(
                Journey.tenant_id == tenant_id, Journey.status == "active"
            )
        )
    ).all()
    assert sorted(journeys) == sorted(SHIPPED)
    sizes = dict(
        (
            await session.execute(
                select(Segment.key, func.count(SegmentMembership.customer_id))
                .outerjoin(SegmentMembership, SegmentMembership.segment_id == Segment.id)
                .where(Segment.tenant_id == tenant_id)
                .group_by(Segment.key)
            )
        ).all()
    )
    tiers = await session.scalar(
        select(func.count())
        .select_from(Customer)
        .where(
            Customer.tenant_id == tenant_id,
            Customer.tier_code.in_(["gold", "premium"]),
            Customer.merged_into_id.is_(None),
        )
    )
    assert sizes["gold-and-premium"] == tiers and tiers > 0
    assert sizes["lapsed-90-days"] > 0
    # Replayed history queues nothing for the triggers: no backlog of stale letters.
    backlog = await session.scalar(
        select(func.count())
        .select_from(CustomerReaction)
        .where(CustomerReaction.tenant_id == tenant_id, CustomerReaction.kind != "consent.changed")
    )
    assert backlog == 0
