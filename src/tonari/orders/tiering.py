"""Re-evaluate a customer's tier from their spend and record a change as a domain event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.outbox import record_event
from tonari.models.customers import Customer
from tonari.models.orders import Order
from tonari.programs.schemas import Programme, QualificationBasis
from tonari.rules.calendar import months_ago, previous_month_bounds
from tonari.rules.tiers import SpendSnapshot, TierDecision, evaluate_tier


async def spend_between(
    session: AsyncSession, customer_id: int, start: datetime, end: datetime
) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Order.net_spend), 0)).where(
            Order.customer_id == customer_id,
            Order.placed_at >= start,
            Order.placed_at < end,
            Order.status != "cancelled",
        )
    )
    return int(total or 0)


async def reevaluate_tier(
    session: AsyncSession,
    *,
    programme: Programme,
    customer_id: int,
    at: datetime,
    known: Any = None,
) -> TierDecision:
    """``known``: the customer's tier_code, lifetime_spend, last_purchase_at if already read."""
    row = known
    if row is None:
        row = (
            await session.execute(
                select(
                    Customer.tier_code, Customer.lifetime_spend, Customer.last_purchase_at
                ).where(Customer.id == customer_id)
            )
        ).one()
    basis = programme.qualification.basis
    rolling = previous = 0
    if basis is QualificationBasis.ROLLING_MONTHS:
        start = months_ago(at, programme.qualification.months or 0, programme.zone)
        rolling = await spend_between(session, customer_id, start, at)
    elif basis is QualificationBasis.PREVIOUS_CALENDAR_MONTH:
        start, end = previous_month_bounds(at, programme.zone)
        previous = await spend_between(session, customer_id, start, end)
    spend = SpendSnapshot(
        lifetime=row.lifetime_spend,
        rolling=rolling,
        previous_calendar_month=previous,
        last_purchase_at=row.last_purchase_at,
    )
    return evaluate_tier(programme, current_code=row.tier_code, spend=spend, at=at)


async def apply_tier_decision(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    decision: TierDecision,
    programme: Programme,
    at: datetime,
) -> None:
    if not decision.changed:
        return
    previous = await session.scalar(
        select(Customer.tier_code).where(Customer.id == customer_id).with_for_update()
    )
    if previous == decision.tier_code:
        return
    external_id = await session.scalar(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(tier_code=decision.tier_code, tier_since=at)
        .returning(Customer.external_id)
    )
    old_index = programme.tier_index(previous) if previous else -1
    direction = "up" if programme.tier_index(decision.tier_code) > old_index else "down"
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type="customer.tier_changed",
        subject=str(external_id),
        payload={
            "customer": external_id,
            "from": previous,
            "to": decision.tier_code,
            "direction": direction,
            "reason": decision.reason,
            "at": at.isoformat(),
        },
        occurred_at=at,
        customer_id=customer_id,
    )


async def refresh_tier(
    session: AsyncSession,
    *,
    tenant_id: int,
    programme: Programme,
    customer_id: int,
    at: datetime,
    known: Any = None,
) -> TierDecision:
    """Re-evaluate one customer's tier and record the change, if any."""
    decision = await reevaluate_tier(
        session, programme=programme, customer_id=customer_id, at=at, known=known
    )
    await apply_tier_decision(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        decision=decision,
        programme=programme,
        at=at,
    )
    return decision


async def reevaluate_tiers_batch(
    session: AsyncSession,
    *,
    tenant_id: int,
    programme: Programme,
    now: datetime,
    after_customer_id: int = 0,
    limit: int = 500,
) -> tuple[int | None, int]:
    """Re-evaluate the tiers of one page of customers; returns (next cursor, tiers changed).

    Needed when tiers can fall without a purchase: a downgrade rule, or qualification over a
    rolling window or the previous month. Accounts are taken with SKIP LOCKED (the lock order
    of orders), so a customer whose order is in flight is skipped: that order re-evaluates.
    """
    from tonari.models.ledger import LedgerAccount

    rows = (
        await session.execute(
            select(LedgerAccount.customer_id)
            .where(
                LedgerAccount.tenant_id == tenant_id,
                LedgerAccount.customer_id > after_customer_id,
            )
            .order_by(LedgerAccount.customer_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    changed = 0
    for row in rows:
        decision = await refresh_tier(
            session, tenant_id=tenant_id, programme=programme, customer_id=row.customer_id, at=now
        )
        changed += int(decision.changed)
    next_cursor = rows[-1].customer_id if len(rows) == limit else None
    return next_cursor, changed


def tiers_can_fall_without_orders(programme: Programme) -> bool:
    from tonari.programs.schemas import DowngradeRule

    return (
        programme.downgrade.rule is not DowngradeRule.NONE
        or programme.qualification.basis is not QualificationBasis.LIFETIME
    )
