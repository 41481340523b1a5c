"""Orders and events re-evaluate only their customers and emit segment.entered / exited;
time alone moves customers through their scheduled boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture
from tests.segments.support import (
    apply_queued_reactions,
    customer,
    lot,
    segment_events,
)
from tonari.kit.clock import utcnow
from tonari.models.customers import Customer
from tonari.models.segments import SegmentBoundary
from tonari.segments.boundaries import apply_due_boundaries
from tonari.segments.service import (
    create_segment,
    evaluate_for_customers,
    get_segment,
    is_member,
)


async def _id(session: AsyncSession, tenant_id: int, external_id: str) -> int:
    found = await session.scalar(
        select(Customer.id).where(
            Customer.tenant_id == tenant_id, Customer.external_id == external_id
        )
    )
    assert found is not None
    return found


async def test_orders_and_events_move_customers_in_and_out(
    client: AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    h, t = tenant.headers, tenant.id
    now = utcnow()
    for key, definition in (
        (
            "moscow-buyers",
            {
                "all": [
                    {"field": "city", "values": ["Moscow"]},
                    {"field": "orders_count", "days": 30, "min": 1},
                ]
            },
        ),
        ("camera-lookers", {"field": "viewed", "days": 7, "products": ["camera-1"]}),
    ):
        await create_segment(session, tenant_id=t, key=key, name=key, definition=definition, at=now)
    for ext in ("c1", "c2"):
        r = await client.put(f"/v1/customers/{ext}", json={"city": "Moscow"}, headers=h)
        assert r.status_code == 201, r.text
    c1, c2 = await _id(session, t, "c1"), await _id(session, t, "c2")
    await apply_queued_reactions(session, t, utcnow())
    assert await segment_events(session, t) == []

    order = await client.post(
        "/v1/orders",
        json={
            "order_id": "o-1",
            "cart_id": "cart-1",
            "customer": {"external_id": "c1"},
            "paid": True,
            "lines": [{"product_id": "kettle", "unit_price": 500_000, "quantity": 1}],
        },
        headers=h,
    )
    assert order.status_code == 201, order.text
    seen_at = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    viewed = await client.post(
        "/v1/events",
        json={
            "events": [
                {
                    "event_id": "v-1",
                    "event_type": "product_viewed",
                    "occurred_at": seen_at.isoformat(),
                    "customer": {"external_id": "c2"},
                    "entity_id": "camera-1",
                }
            ]
        },
        headers=h,
    )
    assert viewed.json()["stored"] == 1, viewed.text
    await apply_queued_reactions(session, t, utcnow())
    assert await segment_events(session, t) == [
        ("segment.entered", "moscow-buyers", c1),
        ("segment.entered", "camera-lookers", c2),
    ]
    buyers = await get_segment(session, tenant_id=t, key="moscow-buyers")
    assert await is_member(session, tenant_id=t, segment_id=buyers.id, customer_id=c1)
    assert not await is_member(session, tenant_id=t, segment_id=buyers.id, customer_id=c2)
    # Journeys get the change as a reaction keyed by the segment; segments ignore it.
    queued = (
        await session.execute(
            text(
                "SELECT kind, entity_id, customer_id FROM customer_reactions "
                "WHERE tenant_id = :t ORDER BY id"
            ),
            {"t": t},
        )
    ).all()
    assert [tuple(row) for row in queued] == [
        ("segment.entered", "moscow-buyers", c1),
        ("segment.entered", "camera-lookers", c2),
    ]
    await apply_queued_reactions(session, t, utcnow())
    assert len(await segment_events(session, t)) == 2

    moved = await client.put("/v1/customers/c1", json={"city": "Kazan"}, headers=h)
    assert moved.status_code == 200
    await apply_queued_reactions(session, t, utcnow())
    assert (await segment_events(session, t))[-1] == ("segment.exited", "moscow-buyers", c1)
    assert await evaluate_for_customers(
        session,
        tenant_id=t,
        definition={"field": "city", "values": ["Kazan", "Moscow"]},
        customer_ids=[c1, c2],
        at=utcnow(),
    ) == {c1, c2}
    # The view leaves the 7-day window exactly 7 days after it happened.
    lookers = await get_segment(session, tenant_id=t, key="camera-lookers")
    due = await session.scalar(
        select(SegmentBoundary.due_at).where(
            SegmentBoundary.segment_id == lookers.id, SegmentBoundary.customer_id == c2
        )
    )
    assert due == seen_at + timedelta(days=7)


async def _boundary(session: AsyncSession, segment_id: int, customer_id: int) -> datetime | None:
    return await session.scalar(
        select(SegmentBoundary.due_at).where(
            SegmentBoundary.segment_id == segment_id, SegmentBoundary.customer_id == customer_id
        )
    )


async def test_birthday_in_3_days_enters_exactly_when_due(
    session: AsyncSession, tenant: TenantFixture
) -> None:
    t = tenant.id  # the Panasonic programme runs on Europe/Moscow (UTC+3)
    anna = await customer(session, t, "anna", birth_date=date(1990, 6, 10))
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    segment = await create_segment(
        session,
        tenant_id=t,
        key="birthday-soon",
        name="Birthday in 3 days",
        definition={"field": "birthday_in_days", "days": 3},
        at=start,
    )
    # The window opens at local midnight of 7 June: 21:00 UTC on 6 June.
    opens = datetime(2026, 6, 6, 21, tzinfo=UTC)
    assert await _boundary(session, segment.id, anna) == opens
    assert (
        await apply_due_boundaries(session, at=opens - timedelta(seconds=1), batch=100, tenant_id=t)
        == 0
    )
    assert await apply_due_boundaries(session, at=opens, batch=100, tenant_id=t) == 1
    assert await segment_events(session, t) == [("segment.entered", "birthday-soon", anna)]
    # It closes when the birthday is over (local midnight of 11 June).
    closes = datetime(2026, 6, 10, 21, tzinfo=UTC)
    assert await _boundary(session, segment.id, anna) == closes
    assert await apply_due_boundaries(session, at=closes, batch=100, tenant_id=t) == 1
    assert (await segment_events(session, t))[-1] == ("segment.exited", "birthday-soon", anna)
    assert await _boundary(session, segment.id, anna) == datetime(2027, 6, 6, 21, tzinfo=UTC)


async def test_points_expiring_in_7_days_and_no_purchase_for_90_days(
    session: AsyncSession, tenant: TenantFixture
) -> None:
    t = tenant.id
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    boris = await customer(session, t, "boris", last_purchase_at=start - timedelta(days=30))
    await lot(session, t, boris, points=500, expires_at=start + timedelta(days=10))
    expiring = await create_segment(
        session,
        tenant_id=t,
        key="expiring",
        name="Points expiring in 7 days",
        definition={"field": "points_expiring", "within_days": 7},
        at=start,
    )
    lapsed = await create_segment(
        session,
        tenant_id=t,
        key="lapsed",
        name="No purchase for 90 days",
        definition={"field": "last_purchase", "more_than_days": 90},
        at=start,
    )
    enters = start + timedelta(days=3)
    assert await _boundary(session, expiring.id, boris) == enters
    assert await _boundary(session, lapsed.id, boris) == start + timedelta(days=60)
    assert await apply_due_boundaries(session, at=enters, batch=100, tenant_id=t) == 1
    assert await segment_events(session, t) == [("segment.entered", "expiring", boris)]
    # Once the lot's day has come it is no longer "expiring within 7 days".
    assert await _boundary(session, expiring.id, boris) == start + timedelta(days=10)
    assert (
        await apply_due_boundaries(session, at=start + timedelta(days=60), batch=100, tenant_id=t)
        == 2
    )
    assert (await segment_events(session, t))[1:] == [
        ("segment.exited", "expiring", boris),
        ("segment.entered", "lapsed", boris),
    ]
    # Lapsed stays lapsed until a purchase (an event, not the clock): nothing more scheduled.
    assert await _boundary(session, lapsed.id, boris) is None
    assert await _boundary(session, expiring.id, boris) is None


async def test_consent_and_point_adjustments_move_customers_without_an_order(
    client: AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    h, t = tenant.headers, tenant.id
    now = utcnow()
    for key, definition in (
        ("mail-ok", {"field": "consent", "channel": "email"}),
        ("rich", {"field": "balance", "min": 1_000}),
    ):
        await create_segment(session, tenant_id=t, key=key, name=key, definition=definition, at=now)
    r = await client.put("/v1/customers/k1", json={"email": "k1@example.com"}, headers=h)
    assert r.status_code in (200, 201), r.text
    cid = await _id(session, t, "k1")
    await apply_queued_reactions(session, t, now)
    r = await client.put(
        "/v1/customers/k1/consents",
        json={"consents": [{"channel": "email", "topic": "marketing", "granted": True}]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/v1/customers/k1/adjustments",
        json={
            "direction": "grant",
            "points": 1_500,
            "reason": "goodwill for a late delivery",
            "idempotency_key": "k1-goodwill",
        },
        headers=h,
    )
    assert r.status_code in (200, 201), r.text
    await apply_queued_reactions(session, t, now)
    entered = {(kind, key) for kind, key, who in await segment_events(session, t) if who == cid}
    assert entered == {("segment.entered", "mail-ok"), ("segment.entered", "rich")}
