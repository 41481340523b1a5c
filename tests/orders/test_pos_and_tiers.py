"""Offline purchases by card or phone, tier moves and their events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from tests.factories import make_tenant, panasonic_document
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import get_customer, upsert_customer
from tonari.models.outbox import OutboxEvent
from tonari.orders.schemas import OrderPlace
from tonari.orders.service import place_order
from tonari.orders.tiering import reevaluate_tiers_batch
from tonari.programs.service import programme_in_force


async def test_pos_identifies_the_customer_by_card_or_phone(client, tenant) -> None:
    r = await client.put(
        "/v1/customers/c-77",
        headers=tenant.headers,
        json={"card_number": "7770001", "phone": "8 (916) 123-45-67"},
    )
    assert r.status_code == 201 and r.json()["phone"] == "+79161234567"
    line = [{"product_id": "fridge", "unit_price": 4_000_000, "quantity": 1}]
    by_card = await client.post(
        "/v1/orders",
        headers=tenant.headers,
        json={
            "order_id": "pos-1",
            "channel": "pos",
            "paid": True,
            "customer": {"card_number": "7770001"},
            "lines": line,
        },
    )
    assert by_card.status_code == 201, by_card.text
    assert by_card.json()["customer"] == "c-77" and by_card.json()["points_to_earn"] == 2_000
    by_phone = await client.post(
        "/v1/orders",
        headers=tenant.headers,
        json={
            "order_id": "pos-2",
            "channel": "pos",
            "paid": True,
            "customer": {"phone": "+7 916 123 45 67"},
            "lines": line,
        },
    )
    assert by_phone.json()["customer"] == "c-77"
    unknown = await client.post(
        "/v1/orders",
        headers=tenant.headers,
        json={
            "order_id": "pos-3",
            "channel": "pos",
            "customer": {"card_number": "0000"},
            "lines": line,
        },
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "customer.card_number"


async def test_card_number_is_unique_per_tenant(client, tenant) -> None:
    await client.put("/v1/customers/a", headers=tenant.headers, json={"card_number": "1"})
    taken = await client.put("/v1/customers/b", headers=tenant.headers, json={"card_number": "1"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "card_taken"


async def test_tier_up_emits_an_event(client, session, tenant) -> None:
    await client.put("/v1/customers/t1", headers=tenant.headers, json={})
    await client.post(
        "/v1/orders",
        headers=tenant.headers,
        json={
            "order_id": "big",
            "customer": {"external_id": "t1"},
            "paid": True,
            "lines": [{"product_id": "tv", "unit_price": 15_000_000, "quantity": 1}],
        },
    )
    events = list(
        await session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.tenant_id == tenant.id,
                OutboxEvent.event_type == "customer.tier_changed",
            )
        )
    )
    assert [(e.payload["from"], e.payload["to"], e.payload["direction"]) for e in events] == [
        ("silver", "premium", "up")
    ]


async def test_monthly_tiers_are_re_evaluated_by_the_scheduled_job(session) -> None:
    tenant = await make_tenant(
        session,
        programme=panasonic_document(
            qualification={"basis": "previous_calendar_month"}, downgrade={"rule": "reevaluate"}
        ),
    )
    january = datetime.fromisoformat("2026-01-15T12:00:00+03:00")
    await upsert_customer(
        session,
        tenant_id=tenant.id,
        external_id="m",
        fields=CustomerUpsert(),
        first_tier="silver",
        at=january,
    )
    body = OrderPlace(
        order_id="jan",
        customer={"external_id": "m"},  # type: ignore[arg-type]
        lines=[
            {
                "product_id": "tv",
                "unit_price": 6_000_000,  # type: ignore[list-item]
                "quantity": 1,
            }
        ],
        paid=True,
        placed_at=january,
    )
    result, _ = await place_order(session, tenant_id=tenant.id, body=body, actor="t", now=january)
    assert result["tier_after"] == "silver", "December's spend counts in January: none"

    async def tier_at(moment: str) -> str | None:
        at = datetime.fromisoformat(moment)
        _, programme = await programme_in_force(session, tenant_id=tenant.id, at=at)
        cursor: int | None = 0
        while cursor is not None:
            cursor, _ = await reevaluate_tiers_batch(
                session, tenant_id=tenant.id, programme=programme, now=at, after_customer_id=cursor
            )
        customer = await get_customer(session, tenant_id=tenant.id, external_id="m")
        await session.refresh(customer)
        return customer.tier_code

    assert await tier_at("2026-02-01T00:00:01+03:00") == "gold", "60,000 in January"
    assert await tier_at("2026-02-20T00:00:00+03:00") == "gold", "the same period: no change"
    assert await tier_at("2026-03-01T00:00:01+03:00") == "silver", "nothing in February"
