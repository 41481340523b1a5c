"""The abandoned cart end to end: events and orders through the API, real SMTP, the ledger."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.journeys.support import (
    T0,
    deliver,
    enable,
    instances,
    mail_to_sink,
    post_event,
    react,
    sends,
    subscriber,
    text_of,
    tick,
)
from tests.messaging.smtp_sink import smtp_sink_fixture  # noqa: F401  (the smtp_sink fixture)
from tonari.ledger.jobs import expire_batch
from tonari.ledger.temporary import held_for_other_carts
from tonari.models.ledger import PointLot

CART = "cart-77"


async def _cart_left(client, session, tenant, smtp_sink) -> None:
    await mail_to_sink(session, smtp_sink, tenant)
    await subscriber(session, tenant, "anna", email_address="anna@mail.example")
    await enable(client, tenant, "abandoned_cart")
    await post_event(
        client,
        tenant,
        event_type="cart_updated",
        customer="anna",
        entity_id=CART,
        at=T0,
        payload={"items": [{"product_id": "NN-ST34HMZPE", "quantity": 1}]},
    )
    await react(session, T0)


async def _buy(client, tenant, at) -> None:
    response = await client.post(
        "/v1/orders",
        json={
            "order_id": "o-77",
            "customer": {"external_id": "anna"},
            "cart_id": CART,
            "placed_at": at.isoformat(),
            "lines": [{"product_id": "NN-ST34HMZPE", "unit_price": 899_000, "quantity": 1}],
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text


async def test_buying_the_cart_within_two_hours_sends_nothing(
    client, session, tenant, smtp_sink
) -> None:
    await _cart_left(client, session, tenant, smtp_sink)
    await _buy(client, tenant, T0 + timedelta(minutes=90))
    await react(session, T0 + timedelta(minutes=90))
    await tick(session, T0 + timedelta(hours=3))
    await deliver(session, T0 + timedelta(hours=3))
    [instance] = await instances(session, tenant.id)
    assert (instance.status, instance.entity_key) == ("converted", CART)
    assert await sends(session, tenant.id) == []
    assert smtp_sink.messages == []


async def test_an_unbought_cart_gets_a_reminder_then_temporary_points_that_burn(
    client, session, tenant, smtp_sink
) -> None:
    await _cart_left(client, session, tenant, smtp_sink)
    # Another cart update of the same cart is the same instance.
    await post_event(
        client,
        tenant,
        event_type="cart_updated",
        customer="anna",
        entity_id=CART,
        at=T0 + timedelta(minutes=10),
    )
    await react(session, T0 + timedelta(minutes=10))
    assert len(await instances(session, tenant.id)) == 1
    # 1h59 later nothing is due yet; at 2h the reminder goes.
    assert await tick(session, T0 + timedelta(hours=1, minutes=59)) == 0
    at = T0 + timedelta(hours=2)
    assert await tick(session, at) == 1
    await deliver(session, at)
    smtp_sink.wait_for(1)
    [reminder] = smtp_sink.to("anna@mail.example")
    assert reminder["Subject"] == "Anna, your cart is waiting"
    assert "You left items in your cart" in text_of(reminder)
    # A day later still no order: 500 temporary points for that cart, and a letter saying so.
    at = T0 + timedelta(hours=2, days=1)
    assert await tick(session, at) == 1
    await deliver(session, at)
    smtp_sink.wait_for(2)
    points_letter = smtp_sink.to("anna@mail.example")[1]
    assert points_letter["Subject"] == "500 extra points for your cart"
    body = text_of(points_letter)
    assert "burn after 3 days, on 2026-03-14" in body
    lot = await session.scalar(
        select(PointLot).where(PointLot.tenant_id == tenant.id, PointLot.source == "temporary")
    )
    assert (lot.amount, lot.remaining, lot.reserved_for_order_ref) == (500, 500, CART)
    customer_id = lot.customer_id
    # Usable for this cart only: held for any other cart.
    assert (
        await held_for_other_carts(
            session, tenant_id=tenant.id, customer_id=customer_id, cart_ref="another-cart"
        )
        == 500
    )
    assert (
        await held_for_other_carts(
            session, tenant_id=tenant.id, customer_id=customer_id, cart_ref=CART
        )
        == 0
    )
    # Retried ticks and deliveries never send or grant twice.
    assert await tick(session, at) == 0
    await deliver(session, at + timedelta(minutes=5))
    assert len(smtp_sink.messages) == 2
    # Unused, the points burn when they expire; the journey ends without a conversion.
    burn_at = at + timedelta(days=3, seconds=1)
    await expire_batch(session, now=burn_at, tenant_id=tenant.id)
    await session.refresh(lot)
    assert (lot.state, lot.remaining) == ("expired", 0)
    assert await tick(session, burn_at) == 1
    [instance] = await instances(session, tenant.id)
    assert (instance.status, instance.converted_at) == ("completed", None)
    sent = await sends(session, tenant.id)
    assert [(m.step_key, m.status) for m in sent] == [
        ("remind", "sent"),
        ("points_letter", "sent"),
    ]
    stats = (await client.get("/v1/journeys/abandoned-cart", headers=tenant.headers)).json()
    assert stats["stats"]["entered"] == 1 and stats["stats"]["completed"] == 1
    outcomes = {s["step"]: s["outcomes"] for s in stats["steps"]}
    assert outcomes["grant"] == {"granted": 1}
    assert outcomes["remind"] == {"queued": 1}


async def test_buying_with_the_temporary_points_counts_a_conversion(
    client, session, tenant, smtp_sink
) -> None:
    await _cart_left(client, session, tenant, smtp_sink)
    await tick(session, T0 + timedelta(hours=2))
    await tick(session, T0 + timedelta(hours=2, days=1))
    bought_at = T0 + timedelta(days=2)
    await _buy(client, tenant, bought_at)
    await react(session, bought_at)
    [instance] = await instances(session, tenant.id)
    assert instance.status == "converted"
    assert instance.converted_at is not None
    stats = (await client.get("/v1/journeys/abandoned-cart", headers=tenant.headers)).json()
    assert stats["stats"]["converted"] == 1
