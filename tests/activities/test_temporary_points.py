"""Temporary points: burn after hours through the expiry job, and pay only for their cart."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.activities.support import T0, available, customer, ledger_is_consistent
from tonari.kit.errors import Conflict, InsufficientPoints
from tonari.ledger import service as ledger
from tonari.ledger.adjustments import AdjustmentIn, adjust_points
from tonari.ledger.jobs import expire_batch
from tonari.ledger.temporary import (
    grant_temporary_points,
    held_for_other_carts,
    spendable_for_cart,
)
from tonari.models.ledger import LotDraw, PointLot
from tonari.orders.schemas import OrderPlace
from tonari.orders.service import place_order
from tonari.tenants.service import Principal


async def _grant(session, tenant_id: int, customer_id: int, **overrides):
    arguments = {
        "points": 300,
        "expires_in": timedelta(hours=2),
        "only_for_cart": "cart-1",
        "reason": "you left a kettle in your cart",
        "idempotency_key": "abandoned-cart-1",
        "at": T0,
    }
    arguments.update(overrides)
    return await grant_temporary_points(
        session, tenant_id=tenant_id, customer_id=customer_id, **arguments
    )


async def test_temporary_points_burn_after_two_hours_through_the_expiry_job(
    session, tenant
) -> None:
    buyer = await customer(session, tenant.id)
    grant = await _grant(session, tenant.id, buyer)
    assert grant.expires_at == T0 + timedelta(hours=2)
    assert await available(session, tenant.id, buyer) == 300
    almost = await expire_batch(
        session, now=T0 + timedelta(hours=1, minutes=59), tenant_id=tenant.id
    )
    assert almost.points == 0
    burnt = await expire_batch(session, now=T0 + timedelta(hours=2), tenant_id=tenant.id)
    assert (burnt.lots, burnt.points) == (1, 300)
    assert await available(session, tenant.id, buyer) == 0
    await ledger_is_consistent(session, tenant.id)


async def test_cart_points_pay_only_for_their_cart_and_go_first(session, tenant) -> None:
    buyer = await customer(session, tenant.id)
    principal = Principal(tenant_id=tenant.id, actor="test", scopes=frozenset({"admin"}))
    await adjust_points(
        session,
        principal,
        external_id="c",
        at=T0,
        body=AdjustmentIn(direction="grant", points=100, reason="gift", idempotency_key="g"),
    )
    grant = await _grant(session, tenant.id, buyer)
    account = await ledger.lock_account(session, tenant_id=tenant.id, customer_id=buyer)
    assert account.available == 400
    assert await spendable_for_cart(session, account, "cart-1") == 400
    assert await spendable_for_cart(session, account, "cart-2") == 100
    assert await spendable_for_cart(session, account, None) == 100
    assert (
        await held_for_other_carts(
            session, tenant_id=tenant.id, customer_id=buyer, cart_ref="cart-2"
        )
        == 300
    )

    with pytest.raises(InsufficientPoints) as refused:
        await ledger.draw_points(
            session,
            account,
            [ledger.LineSpend(None, 150)],
            reserve=False,
            reason="another cart",
            actor="test",
            occurred_at=T0,
            cart_ref="cart-2",
        )
    assert refused.value.details == {"requested": 150, "available": 100}

    entry = await ledger.draw_points(
        session,
        account,
        [ledger.LineSpend(None, 350)],
        reserve=False,
        reason="the abandoned cart, bought",
        actor="test",
        occurred_at=T0,
        cart_ref="cart-1",
    )
    draws = (
        await session.execute(
            select(LotDraw.lot_id, LotDraw.amount)
            .where(LotDraw.entry_id == entry)
            .order_by(LotDraw.id)
        )
    ).all()
    assert draws[0] == (grant.lot_id, 300), "the cart's own points are used first"
    assert sum(draw.amount for draw in draws) == 350
    assert account.available == 50
    await ledger_is_consistent(session, tenant.id)


async def test_an_order_for_another_cart_cannot_spend_them(session, tenant) -> None:
    buyer = await customer(session, tenant.id)
    await _grant(session, tenant.id, buyer)
    body = OrderPlace(
        order_id="other-order",
        customer={"external_id": "c"},  # type: ignore[arg-type]
        lines=[{"product_id": "kettle", "unit_price": 100_000, "quantity": 1}],  # type: ignore[list-item]
        points_to_spend=100,
        paid=True,
        placed_at=T0,
    )
    with pytest.raises(InsufficientPoints):
        await place_order(session, tenant_id=tenant.id, body=body, actor="test", now=T0)
    remaining = await session.scalar(
        select(PointLot.remaining).where(PointLot.customer_id == buyer)
    )
    assert remaining == 300


async def test_a_grant_is_made_once_per_idempotency_key(session, tenant) -> None:
    buyer = await customer(session, tenant.id)
    first = await _grant(session, tenant.id, buyer)
    again = await _grant(session, tenant.id, buyer)
    assert again.replayed and again.lot_id == first.lot_id
    assert await available(session, tenant.id, buyer) == 300
    with pytest.raises(Conflict):
        await _grant(session, tenant.id, buyer, points=999)
