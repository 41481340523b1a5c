"""Random sequences of every ledger operation: after each step the ledger must still prove out.

A seeded generator (reproducible) mixes placing (paid or not, with points), paying,
cancelling, partial returns, grants, deductions and the release/expiry jobs across a few
customers while the clock moves forward. After every step: entries balance, cached balances
equal postings and lots, nothing is negative under the clamp rule.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import make_tenant, panasonic_document
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import upsert_customer
from tonari.kit.errors import InsufficientPoints, InvalidState, ValidationFailed
from tonari.ledger.adjustments import AdjustmentIn, adjust_points
from tonari.ledger.jobs import expire_batch, release_pending_batch
from tonari.ledger.verify import verify_ledger
from tonari.models.ledger import LedgerAccount, LedgerPosting
from tonari.models.orders import OrderLine
from tonari.orders.changes import cancel_order, pay_order, return_order_lines
from tonari.orders.schemas import OrderPlace, OrderReturnIn
from tonari.orders.service import place_order
from tonari.tenants.service import Principal

START = datetime.fromisoformat("2024-01-01T10:00:00+00:00")
CUSTOMERS = ("a", "b", "c")


@pytest.mark.parametrize("rule", ["clamp_and_record_debt", "allow_negative"])
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_operations_keep_the_ledger_exact(session, seed: int, rule: str) -> None:
    rng = random.Random(seed)
    tenant = await make_tenant(
        session,
        programme=panasonic_document(
            negative_balance=rule, expiry={"mode": "after_days", "days": 60}, pending_days=7
        ),
    )
    principal = Principal(tenant_id=tenant.id, actor="test", scopes=frozenset({"admin"}))
    for name in CUSTOMERS:
        await upsert_customer(
            session,
            tenant_id=tenant.id,
            external_id=name,
            fields=CustomerUpsert(),
            first_tier="silver",
            at=START,
        )
    now = START
    orders: list[tuple[str, str]] = []
    done: dict[str, int] = {}
    for step in range(90):
        now += timedelta(hours=rng.randint(1, 96))
        customer = rng.choice(CUSTOMERS)
        action = rng.choices(
            ["place", "pay", "cancel", "return", "grant", "deduct", "jobs"],
            weights=[8, 2, 1, 3, 2, 1, 2],
        )[0]
        try:
            async with session.begin_nested():
                await _do(session, rng, tenant.id, principal, action, customer, step, now, orders)
            done[action] = done.get(action, 0) + 1
        except (InsufficientPoints, InvalidState, ValidationFailed):
            pass  # refused operations must leave nothing behind: checked below
        report = await verify_ledger(session, tenant_id=tenant.id)
        assert report.problems == [], f"step {step} ({action}): {report.problems}"
        if rule == "clamp_and_record_debt":
            lowest = await session.scalar(
                select(func.min(LedgerAccount.available)).where(
                    LedgerAccount.tenant_id == tenant.id, LedgerAccount.customer_id.is_not(None)
                )
            )
            assert lowest is not None and lowest >= 0, f"step {step}: negative balance"
    assert done["place"] >= 20 and done["return"] >= 5 and done["jobs"] >= 3, done
    total = await session.scalar(
        select(func.sum(LedgerPosting.amount)).where(LedgerPosting.tenant_id == tenant.id)
    )
    assert total == 0, "points are neither created nor destroyed"


async def _do(
    session,
    rng: random.Random,
    tenant_id: int,
    principal: Principal,
    action: str,
    customer: str,
    step: int,
    now: datetime,
    orders: list[tuple[str, str]],
) -> None:
    if action == "place":
        lines = [
            {
                "product_id": f"p{rng.randint(1, 5)}",
                "unit_price": rng.randint(1, 50) * 10_000,
                "quantity": rng.randint(1, 4),
            }
            for _ in range(rng.randint(1, 4))
        ]
        body = OrderPlace(
            order_id=f"o{step}",
            customer={"external_id": customer},  # type: ignore[arg-type]
            lines=lines,
            points_to_spend=rng.choice([0, 0, 10, 100, 1_000]),  # type: ignore[arg-type]
            paid=rng.random() < 0.6,
            placed_at=now,
        )
        await place_order(session, tenant_id=tenant_id, body=body, actor="t", now=now)
        orders.append((body.order_id, customer))
    elif action in ("pay", "cancel", "return") and orders:
        order_id, _ = rng.choice(orders)
        if action == "pay":
            await pay_order(session, tenant_id=tenant_id, order_id=order_id, actor="t", at=now)
        elif action == "cancel":
            await cancel_order(session, tenant_id=tenant_id, order_id=order_id, actor="t", at=now)
        else:
            line = await session.scalar(_open_line(order_id, tenant_id))
            if line is None:
                return
            quantity = rng.randint(1, line.quantity - line.returned_quantity)
            await return_order_lines(
                session,
                tenant_id=tenant_id,
                order_id=order_id,
                actor="t",
                now=now,
                body=OrderReturnIn(
                    return_id=f"r{step}", lines=[{"line_no": line.line_no, "quantity": quantity}]
                ),  # type: ignore[list-item]
            )
    elif action == "grant":
        await adjust_points(
            session,
            principal,
            external_id=customer,
            at=now,
            body=AdjustmentIn(
                direction="grant",
                points=rng.randint(1, 500),
                reason="random",
                idempotency_key=f"g{step}",
            ),
        )
    elif action == "deduct":
        await adjust_points(
            session,
            principal,
            external_id=customer,
            at=now,
            body=AdjustmentIn(
                direction="deduct",
                points=rng.randint(1, 300),
                reason="random",
                idempotency_key=f"d{step}",
            ),
        )
    elif action == "jobs":
        await release_pending_batch(session, now=now, tenant_id=tenant_id)
        await expire_batch(session, now=now, tenant_id=tenant_id)


def _open_line(order_id: str, tenant_id: int):  # type: ignore[no-untyped-def]
    from tonari.models.orders import Order

    return (
        select(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.tenant_id == tenant_id,
            Order.external_id == order_id,
            OrderLine.returned_quantity < OrderLine.quantity,
        )
        .order_by(OrderLine.line_no)
        .limit(1)
    )
