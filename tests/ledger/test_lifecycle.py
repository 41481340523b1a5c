"""Points through an order's life: reserve, pay, release, expire, cancel, return per line."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from tests.factories import make_tenant, panasonic_document
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import customer_balances, get_customer, upsert_customer
from tonari.ledger.adjustments import AdjustmentIn, adjust_points
from tonari.ledger.jobs import expire_batch, release_pending_batch
from tonari.ledger.verify import verify_ledger
from tonari.models.ledger import LedgerPosting, PointsDebt
from tonari.models.tenants import AuditLog
from tonari.orders.changes import cancel_order, pay_order, return_order_lines
from tonari.orders.schemas import OrderPlace, OrderReturnIn
from tonari.orders.service import place_order
from tonari.tenants.service import Principal

T0 = datetime.fromisoformat("2025-03-10T12:00:00+03:00")


async def _customer(
    session,
    tenant_id: int,
    external_id: str = "c",
    grant: int = 0,
    at: datetime = T0,
    key: str = "g",
) -> None:
    await upsert_customer(
        session,
        tenant_id=tenant_id,
        external_id=external_id,
        fields=CustomerUpsert(),
        first_tier="silver",
        at=at,
    )
    if grant:
        principal = Principal(tenant_id=tenant_id, actor="test", scopes=frozenset({"admin"}))
        await adjust_points(
            session,
            principal,
            external_id=external_id,
            at=at,
            body=AdjustmentIn(direction="grant", points=grant, reason="gift", idempotency_key=key),
        )


async def _place(
    session,
    tenant_id: int,
    order_id: str,
    lines: list[dict],
    *,
    points: int = 0,
    paid: bool = True,
    at: datetime = T0,
    customer: str = "c",
) -> dict:
    body = OrderPlace(
        order_id=order_id,
        customer={"external_id": customer},  # type: ignore[arg-type]
        lines=lines,
        points_to_spend=points,
        paid=paid,  # type: ignore[arg-type]
        placed_at=at,
    )
    result, _ = await place_order(session, tenant_id=tenant_id, body=body, actor="test", now=at)
    return result


async def _balances(session, tenant_id: int, at: datetime = T0, external_id: str = "c"):
    customer = await get_customer(session, tenant_id=tenant_id, external_id=external_id)
    return await customer_balances(session, tenant_id=tenant_id, customer_id=customer.id, at=at)


async def _system(session, tenant_id: int, kind: str) -> int:
    from tonari.ledger.service import system_account

    account = await system_account(session, tenant_id, kind)
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(
            LedgerPosting.account_id == account
        )
    )
    return int(total or 0)


async def _ok(session, tenant_id: int) -> None:
    report = await verify_ledger(session, tenant_id=tenant_id)
    assert report.problems == []


async def test_reserved_points_are_held_until_payment(session, tenant) -> None:
    await _customer(session, tenant.id, grant=1_000)
    await _place(
        session,
        tenant.id,
        "o1",
        [{"product_id": "a", "unit_price": 100_000, "quantity": 1}],
        points=400,
        paid=False,
    )
    b = await _balances(session, tenant.id)
    assert (b.available, b.reserved, b.pending) == (600, 400, 30)  # 5% of 600 roubles paid
    await pay_order(session, tenant_id=tenant.id, order_id="o1", actor="t", at=T0)
    b = await _balances(session, tenant.id)
    assert (b.available, b.reserved) == (600, 0)
    assert await _system(session, tenant.id, "points_redeemed") == 400
    await _ok(session, tenant.id)


async def test_unpaid_order_points_are_not_released_and_cancel_restores(session, tenant) -> None:
    await _customer(session, tenant.id, grant=1_000)
    await _place(
        session,
        tenant.id,
        "o1",
        [{"product_id": "a", "unit_price": 100_000, "quantity": 1}],
        points=400,
        paid=False,
    )
    later = T0 + timedelta(days=30)
    await release_pending_batch(session, now=later, tenant_id=tenant.id)
    assert (await _balances(session, tenant.id, later)).pending == 30, "unpaid: still pending"
    result = await cancel_order(session, tenant_id=tenant.id, order_id="o1", actor="t", at=later)
    assert result["status"] == "cancelled"
    b = await _balances(session, tenant.id, later)
    assert (b.available, b.reserved, b.pending) == (1_000, 0, 0)
    customer = await get_customer(session, tenant_id=tenant.id, external_id="c")
    await session.refresh(customer)
    assert customer.lifetime_spend == 0 and customer.orders_count == 0
    await _ok(session, tenant.id)


async def test_pending_points_become_available_after_the_return_window(session, tenant) -> None:
    await _customer(session, tenant.id)
    await _place(
        session, tenant.id, "o1", [{"product_id": "a", "unit_price": 1_000_000, "quantity": 1}]
    )
    day13 = T0 + timedelta(days=13)
    assert (await release_pending_batch(session, now=day13, tenant_id=tenant.id)).lots == 0
    day14 = T0 + timedelta(days=14)
    done = await release_pending_batch(session, now=day14, tenant_id=tenant.id)
    assert (done.lots, done.points) == (1, 500)
    again = await release_pending_batch(session, now=day14, tenant_id=tenant.id)
    assert again.lots == 0, "a second run changes nothing"
    b = await _balances(session, tenant.id, day14)
    assert (b.pending, b.available) == (0, 500)
    await _ok(session, tenant.id)


async def test_points_expire_at_the_end_of_the_twelfth_month_after(session, tenant) -> None:
    await _customer(session, tenant.id)
    await _place(
        session, tenant.id, "o1", [{"product_id": "a", "unit_price": 1_000_000, "quantity": 1}]
    )
    await release_pending_batch(session, now=T0 + timedelta(days=20), tenant_id=tenant.id)
    # Earned 10 March 2025 (Moscow): expires when March 2026 ends, Moscow time.
    last_moment = datetime.fromisoformat("2026-03-31T23:59:00+03:00")
    b = await _balances(session, tenant.id, last_moment - timedelta(days=20))
    assert b.expiring_soon == 500
    assert (await expire_batch(session, now=last_moment, tenant_id=tenant.id)).lots == 0
    first_april = datetime.fromisoformat("2026-04-01T00:00:00+03:00")
    done = await expire_batch(session, now=first_april, tenant_id=tenant.id)
    assert (done.lots, done.points) == (1, 500)
    assert (await _balances(session, tenant.id, first_april)).available == 0
    assert await _system(session, tenant.id, "points_expired") == 500
    await _ok(session, tenant.id)


async def test_spending_draws_the_soonest_expiring_points_first(session, tenant) -> None:
    await _customer(session, tenant.id)
    await _place(
        session, tenant.id, "old", [{"product_id": "a", "unit_price": 20_000, "quantity": 1}], at=T0
    )
    later = T0 + timedelta(days=90)
    await _place(
        session,
        tenant.id,
        "new",
        [{"product_id": "a", "unit_price": 20_000, "quantity": 1}],
        at=later,
    )
    now = later + timedelta(days=20)
    await release_pending_batch(session, now=now, tenant_id=tenant.id)
    await _place(
        session,
        tenant.id,
        "spend",
        [{"product_id": "b", "unit_price": 100_000, "quantity": 1}],
        points=12,
        at=now,
    )
    # 10 points from the older lot (all of it), 2 from the newer.
    await expire_batch(
        session, now=datetime.fromisoformat("2026-04-01T00:00:00+03:00"), tenant_id=tenant.id
    )
    assert await _system(session, tenant.id, "points_expired") == 0, "the old lot was spent"
    b = await _balances(session, tenant.id, now)
    assert b.available == 8
    await _ok(session, tenant.id)


async def test_partial_return_reverses_points_per_line(session, tenant) -> None:
    await _customer(session, tenant.id, grant=3_000)
    lines = [
        {"product_id": "cup", "unit_price": 100_000, "quantity": 3},
        {"product_id": "tv", "unit_price": 1_000_000, "quantity": 1},
    ]
    order = await _place(session, tenant.id, "o1", lines, points=900)
    spent = {line["line_no"]: line["points_applied"] for line in order["lines"]}
    earned = {line["line_no"]: line["points_to_earn"] for line in order["lines"]}
    assert sum(spent.values()) == 900
    first = await return_order_lines(
        session,
        tenant_id=tenant.id,
        order_id="o1",
        actor="t",
        now=T0,
        body=OrderReturnIn(return_id="r1", lines=[{"line_no": 1, "quantity": 1}]),  # type: ignore[list-item]
    )
    assert first[1] is True
    assert first[0]["points_restored"] == round(spent[1] / 3)
    assert first[0]["points_taken_back"] == round(earned[1] / 3)
    assert first[0]["status"] == "partially_returned"
    replay = await return_order_lines(
        session,
        tenant_id=tenant.id,
        order_id="o1",
        actor="t",
        now=T0,
        body=OrderReturnIn(return_id="r1", lines=[{"line_no": 1, "quantity": 1}]),  # type: ignore[list-item]
    )
    assert replay == (first[0], False), "the same return id is applied once"
    rest = await return_order_lines(
        session,
        tenant_id=tenant.id,
        order_id="o1",
        actor="t",
        now=T0,
        body=OrderReturnIn(
            return_id="r2", lines=[{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}]
        ),  # type: ignore[list-item]
    )
    assert rest[0]["status"] == "returned"
    b = await _balances(session, tenant.id)
    assert (b.available, b.pending, b.reserved) == (3_000, 0, 0), "everything undone exactly"
    customer = await get_customer(session, tenant_id=tenant.id, external_id="c")
    await session.refresh(customer)
    assert customer.lifetime_spend == 0
    await _ok(session, tenant.id)


async def _spent_then_returned(session, tenant_id: int) -> None:
    await _customer(session, tenant_id)
    await _place(
        session, tenant_id, "big", [{"product_id": "tv", "unit_price": 2_000_000, "quantity": 1}]
    )
    now = T0 + timedelta(days=15)
    await release_pending_batch(session, now=now, tenant_id=tenant_id)
    await _place(
        session,
        tenant_id,
        "use",
        [{"product_id": "x", "unit_price": 200_000, "quantity": 1}],
        points=800,
        at=now,
    )
    await return_order_lines(
        session,
        tenant_id=tenant_id,
        order_id="big",
        actor="t",
        now=now,
        body=OrderReturnIn(return_id="r", lines=[{"line_no": 1, "quantity": 1}]),  # type: ignore[list-item]
    )


async def test_return_of_spent_points_clamps_and_records_the_debt(session, tenant) -> None:
    await _spent_then_returned(session, tenant.id)
    b = await _balances(session, tenant.id)
    assert b.available == 0, "clamped at zero"
    debts = list(
        await session.scalars(select(PointsDebt.amount).where(PointsDebt.tenant_id == tenant.id))
    )
    assert debts == [800], "1,000 earned, 200 left to take back, 800 recorded as lost"
    await _ok(session, tenant.id)


async def test_return_of_spent_points_may_go_negative(session) -> None:
    tenant = await make_tenant(
        session, programme=panasonic_document(negative_balance="allow_negative")
    )
    await _spent_then_returned(session, tenant.id)
    b = await _balances(session, tenant.id)
    assert (b.available, b.debt) == (-800, 800)
    later = T0 + timedelta(days=40)
    await _place(
        session,
        tenant.id,
        "next",
        [{"product_id": "tv", "unit_price": 2_000_000, "quantity": 1}],
        at=later,
    )
    await release_pending_batch(session, now=later + timedelta(days=14), tenant_id=tenant.id)
    b = await _balances(session, tenant.id, later)
    # 1,000 from "next" + 60 from "use" (5% of the 1,200 roubles paid in money) − 800 owed
    assert (b.available, b.debt) == (260, 0), "new points pay off the debt first"
    await _ok(session, tenant.id)


async def test_manual_adjustments_are_idempotent_and_audited(session, tenant) -> None:
    await _customer(session, tenant.id)
    principal = Principal(tenant_id=tenant.id, actor="api_key:support", scopes=frozenset({"admin"}))
    body = AdjustmentIn(
        direction="grant",
        points=250,
        reason="apology for late delivery",
        idempotency_key="ticket-42",
    )
    first = await adjust_points(session, principal, external_id="c", body=body, at=T0)
    second = await adjust_points(session, principal, external_id="c", body=body, at=T0)
    assert first["replayed"] is False and second["replayed"] is True
    deduct = AdjustmentIn(
        direction="deduct", points=50, reason="fraud check", idempotency_key="ticket-43"
    )
    await adjust_points(session, principal, external_id="c", body=deduct, at=T0)
    assert (await _balances(session, tenant.id)).available == 200
    audits = list(
        await session.scalars(
            select(AuditLog).where(AuditLog.tenant_id == tenant.id).order_by(AuditLog.id)
        )
    )
    assert [(a.action, a.actor, a.details["reason"]) for a in audits] == [
        ("points.grant", "api_key:support", "apology for late delivery"),
        ("points.deduct", "api_key:support", "fraud check"),
    ]
    assert await _system(session, tenant.id, "adjustments") == -200
    await _ok(session, tenant.id)


async def test_customers_are_reminded_once_before_points_expire(session, tenant) -> None:
    from tonari.ledger.jobs import remind_expiring_batch
    from tonari.models.outbox import OutboxEvent

    await _customer(session, tenant.id)
    await _place(
        session, tenant.id, "o1", [{"product_id": "a", "unit_price": 1_000_000, "quantity": 1}]
    )
    await release_pending_batch(session, now=T0 + timedelta(days=15), tenant_id=tenant.id)
    # Expires when March 2026 ends (Moscow); reminders go 14 days ahead.
    early = datetime.fromisoformat("2026-03-10T12:00:00+03:00")
    assert (await remind_expiring_batch(session, tenant_id=tenant.id, days=14, now=early)).lots == 0
    due = datetime.fromisoformat("2026-03-20T12:00:00+03:00")
    done = await remind_expiring_batch(session, tenant_id=tenant.id, days=14, now=due)
    assert (done.accounts, done.points) == (1, 500)
    again = await remind_expiring_batch(session, tenant_id=tenant.id, days=14, now=due)
    assert again.accounts == 0, "each lot is reminded once"
    events = list(
        await session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.tenant_id == tenant.id, OutboxEvent.event_type == "points.expiring"
            )
        )
    )
    assert len(events) == 1
    assert events[0].payload["points"] == 500
    assert events[0].payload["earliest_expires_at"] == "2026-03-31T21:00:00+00:00"
