"""What happens to a customer is queued once for segments and journeys, in the same commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from tonari.kit.clock import utcnow

NOW = utcnow().replace(microsecond=0)


async def queued(session: Any, tenant_id: int) -> list[Any]:
    rows = await session.execute(
        text(
            "SELECT c.external_id AS customer, r.kind, r.entity_id, r.payload "
            "FROM customer_reactions r JOIN customers c ON c.id = r.customer_id "
            "WHERE r.tenant_id = :t ORDER BY r.id"
        ),
        {"t": tenant_id},
    )
    return list(rows)


async def test_registration_order_and_events_are_queued(client, session, tenant) -> None:
    h = tenant.headers
    created = await client.put(
        "/v1/customers/c1",
        json={"email": "anna@example.com", "time_zone": "Europe/Moscow"},
        headers=h,
    )
    assert created.status_code == 201, created.text
    assert created.json()["time_zone"] == "Europe/Moscow"
    await client.put("/v1/customers/c1", json={"city": "Moscow"}, headers=h)
    order = await client.post(
        "/v1/orders",
        headers=h,
        json={
            "order_id": "o-1",
            "cart_id": "cart-9",
            "customer": {"external_id": "c1"},
            "lines": [{"product_id": "kettle", "unit_price": 500_000, "quantity": 1}],
        },
    )
    assert order.status_code == 201, order.text
    events = await client.post(
        "/v1/events",
        headers=h,
        json={
            "events": [
                {
                    "event_id": "v1",
                    "event_type": "product_viewed",
                    "occurred_at": (NOW - timedelta(minutes=1)).isoformat(),
                    "customer": {"external_id": "c1"},
                    "entity_id": "camera-1",
                    "payload": {"price": 100},
                },
                {
                    "event_id": "v2",
                    "event_type": "product_viewed",
                    "occurred_at": (NOW - timedelta(minutes=1)).isoformat(),
                    "anonymous_id": "cookie-7",
                    "entity_id": "camera-1",
                },
            ]
        },
    )
    assert events.status_code == 200, events.text
    rows = await queued(session, tenant.id)
    kinds = [(row.customer, row.kind, row.entity_id) for row in rows]
    assert kinds[:2] == [("c1", "customer.registered", None), ("c1", "customer.updated", None)]
    assert ("c1", "order.placed", "cart-9") in kinds
    assert ("c1", "product_viewed", "camera-1") in kinds
    # The anonymous visitor is nobody yet: nothing for segments to re-evaluate.
    assert len([k for k in kinds if k[1] == "product_viewed"]) == 1
    viewed = next(row for row in rows if row.kind == "product_viewed")
    assert viewed.payload == {"price": 100}
    # A repeated batch stores nothing and queues nothing.
    again = await client.post(
        "/v1/events",
        headers=h,
        json={
            "events": [
                {
                    "event_id": "v1",
                    "event_type": "product_viewed",
                    "occurred_at": (NOW - timedelta(minutes=1)).isoformat(),
                    "customer": {"external_id": "c1"},
                }
            ]
        },
    )
    assert again.json()["duplicates"] == 1
    assert len(await queued(session, tenant.id)) == len(rows)


async def test_an_unknown_time_zone_is_refused_with_its_field(client, tenant) -> None:
    r = await client.put(
        "/v1/customers/c2", json={"time_zone": "Mars/Olympus"}, headers=tenant.headers
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "time_zone"
    assert "IANA" in r.json()["error"]["message"]


async def test_a_rejected_order_queues_nothing(client, session, tenant) -> None:
    r = await client.post(
        "/v1/orders",
        headers=tenant.headers,
        json={
            "order_id": "o-x",
            "customer": {"external_id": "ghost"},
            "lines": [{"product_id": "kettle", "unit_price": 500_000, "quantity": 1}],
        },
    )
    assert r.status_code == 404
    assert await queued(session, tenant.id) == []
