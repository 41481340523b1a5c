"""The database side of offers: the buyer's snapshot before, and what an order leaves after.

The engine itself is pure (``tonari.rules.offers``); this module reads only the facts the
programme's offers need, locks the budgets of offers that have one (in code order, after the
buyer's account, so two orders never wait on each other in a cycle), and records applications,
budgets, stamps and memberships in the order's transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.codes.service import release_codes
from tonari.models.offers import Membership, OfferApplication, OfferBudget, StampMovement
from tonari.models.orders import Order, OrderLine
from tonari.orders.tiering import spend_between
from tonari.programs.kinds import CustomerType
from tonari.programs.schemas import Programme
from tonari.rules.calendar import months_ago, previous_month_bounds
from tonari.rules.cart import CartCalculation
from tonari.rules.offers.context import CustomerSnapshot, OfferUsage
from tonari.rules.offers.offer import LimitPeriod, Offer


def snapshot_of(row: Any, *, available: int, tier_code: str) -> CustomerSnapshot:
    """The buyer's snapshot from the customer row that ``find_customer_row`` returns."""
    return CustomerSnapshot(
        customer_type=CustomerType(row.customer_type),
        tier_code=tier_code,
        available_points=available,
        customer_id=int(row.id),
        birth_date=row.birth_date,
        registered_at=row.created_at,
        orders_count=int(row.orders_count),
        lifetime_spend=int(row.lifetime_spend),
    )


def period_start(offer: Offer, at: datetime, programme: Programme) -> datetime | None:
    """Start of the offer's limit period containing ``at``, in the programme's zone."""
    period = offer.limits.period
    if period is None:
        return None
    local = at.astimezone(programme.zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is LimitPeriod.DAY:
        start = midnight
    elif period is LimitPeriod.WEEK:
        start = midnight - timedelta(days=local.weekday())
    elif period is LimitPeriod.MONTH:
        start = midnight.replace(day=1)
    else:
        start = midnight.replace(month=1, day=1)
    # Re-attach the zone so a DST change inside the period is counted correctly.
    return start.replace(tzinfo=programme.zone).astimezone(UTC)


async def _units_this_year(
    session: AsyncSession, customer_id: int, at: datetime, programme: Programme
) -> int:
    local = at.astimezone(programme.zone)
    start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    total = await session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity - OrderLine.returned_quantity), 0))
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.customer_id == customer_id,
            Order.placed_at >= start.astimezone(UTC),
            Order.placed_at < at,
            Order.status != "cancelled",
        )
    )
    return int(total or 0)


async def _usage(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    offers: tuple[Offer, ...],
    programme: Programme,
    at: datetime,
) -> dict[str, OfferUsage]:
    usage: dict[str, OfferUsage] = {}
    for offer in offers:
        start = period_start(offer, at, programme)
        since = (
            func.count().filter(OfferApplication.applied_at >= start)
            if start is not None
            else func.count()
        )
        row = (
            await session.execute(
                select(func.count(), since).where(
                    OfferApplication.tenant_id == tenant_id,
                    OfferApplication.customer_id == customer_id,
                    OfferApplication.offer_code == offer.code,
                    OfferApplication.reversed_at.is_(None),
                )
            )
        ).one()
        usage[offer.code] = OfferUsage(total=int(row[0]), in_period=int(row[1]))
    return usage


async def complete_snapshot(
    session: AsyncSession,
    *,
    tenant_id: int,
    programme: Programme,
    snapshot: CustomerSnapshot,
    at: datetime,
) -> CustomerSnapshot:
    """Add to ``snapshot`` the facts this programme's offers read (nothing when none do)."""
    customer_id = snapshot.customer_id
    if customer_id is None or not programme.offers:
        return snapshot
    needs = programme.offer_index().needs
    changes: dict[str, Any] = {}
    if needs.previous_month_spend:
        start, end = previous_month_bounds(at, programme.zone)
        changes["spend_previous_month"] = await spend_between(session, customer_id, start, end)
    if needs.rolling_months:
        changes["spend_rolling_months"] = {
            months: await spend_between(
                session, customer_id, months_ago(at, months, programme.zone), at
            )
            for months in sorted(needs.rolling_months)
        }
    if needs.units_this_year:
        changes["units_this_year"] = await _units_this_year(session, customer_id, at, programme)
    if needs.memberships:
        codes = await session.scalars(
            select(Membership.code).where(
                Membership.tenant_id == tenant_id,
                Membership.customer_id == customer_id,
                Membership.starts_at <= at,
                Membership.ends_at > at,
                Membership.cancelled_at.is_(None),
            )
        )
        changes["memberships"] = frozenset(codes)
    if needs.stamps:
        rows = await session.execute(
            select(StampMovement.card, func.sum(StampMovement.delta))
            .where(StampMovement.tenant_id == tenant_id, StampMovement.customer_id == customer_id)
            .group_by(StampMovement.card)
        )
        changes["stamps"] = {card: int(total) for card, total in rows}
    if needs.usage_offers:
        changes["offer_usage"] = await _usage(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            offers=needs.usage_offers,
            programme=programme,
            at=at,
        )
    return replace(snapshot, **changes) if changes else snapshot


async def budgets_remaining(
    session: AsyncSession, *, tenant_id: int, programme: Programme, lock: bool
) -> dict[str, int]:
    """What each budgeted offer may still give. With ``lock`` the budget rows stay locked to
    the end of the transaction, so parallel orders cannot both spend the last of a budget."""
    offers = programme.offer_index().needs.budget_offers if programme.offers else ()
    if not offers:
        return {}
    codes = sorted(offer.code for offer in offers)
    if lock:
        await session.execute(
            pg_insert(OfferBudget)
            .values([{"tenant_id": tenant_id, "offer_code": code} for code in codes])
            .on_conflict_do_nothing(index_elements=["tenant_id", "offer_code"])
        )
    query = (
        select(OfferBudget.offer_code, OfferBudget.spent)
        .where(OfferBudget.tenant_id == tenant_id, OfferBudget.offer_code.in_(codes))
        .order_by(OfferBudget.offer_code)
    )
    if lock:
        query = query.with_for_update()
    spent = {code: int(amount) for code, amount in await session.execute(query)}
    return {offer.code: (offer.limits.budget or 0) - spent.get(offer.code, 0) for offer in offers}


def _budget_cost(offer: Offer, discount: int, points: int) -> int:
    return discount if offer.limits.budget_money is not None else points


async def record_offers(
    session: AsyncSession,
    *,
    tenant_id: int,
    programme: Programme,
    calculation: CartCalculation,
    order_id: int,
    customer_id: int | None,
    at: datetime,
) -> None:
    """Write what the applied offers gave: applications, budgets, stamps and memberships."""
    applied = calculation.offers.applied
    if not applied:
        return
    by_code = programme.offer_index().by_code
    await session.execute(
        pg_insert(OfferApplication),
        [
            {
                "tenant_id": tenant_id,
                "order_id": order_id,
                "customer_id": customer_id,
                "offer_code": effects.offer_code,
                "discount": effects.discount,
                "points": effects.points,
                "applied_at": at,
            }
            for effects in applied
        ],
    )
    for effects in applied:
        offer = by_code[effects.offer_code]
        if offer.limits.budget is None:
            continue
        await session.execute(
            update(OfferBudget)
            .where(OfferBudget.tenant_id == tenant_id, OfferBudget.offer_code == offer.code)
            .values(
                spent=OfferBudget.spent + _budget_cost(offer, effects.discount, effects.points),
                updated_at=func.now(),
            )
        )
    if customer_id is None:
        return
    await _record_stamps(
        session,
        tenant_id=tenant_id,
        calculation=calculation,
        order_id=order_id,
        customer_id=customer_id,
        at=at,
    )
    for item in calculation.issued:
        if item.kind == "membership" and item.days is not None:
            await _extend_membership(
                session,
                tenant_id=tenant_id,
                customer_id=customer_id,
                code=item.name,
                days=item.days,
                order_id=order_id,
                at=at,
            )


async def _extend_membership(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    code: str,
    days: int,
    order_id: int,
    at: datetime,
) -> None:
    """A renewal bought before the term ends starts when the current term ends."""
    current_end = await session.scalar(
        select(func.max(Membership.ends_at)).where(
            Membership.tenant_id == tenant_id,
            Membership.customer_id == customer_id,
            Membership.code == code,
            Membership.cancelled_at.is_(None),
            Membership.ends_at > at,
        )
    )
    starts = max(current_end or at, at)
    await session.execute(
        pg_insert(Membership).values(
            tenant_id=tenant_id,
            customer_id=customer_id,
            code=code,
            starts_at=starts,
            ends_at=starts + timedelta(days=days),
            order_id=order_id,
        )
    )


async def undo_offers(
    session: AsyncSession,
    *,
    tenant_id: int,
    programme: Programme,
    order_id: int,
    order_external_id: str,
    at: datetime,
) -> None:
    """A cancelled order gives back what its offers took: usage, budgets, stamps, memberships
    and the uses of the codes it redeemed."""
    await release_codes(session, tenant_id=tenant_id, order_external_id=order_external_id, at=at)
    rows = (
        await session.execute(
            update(OfferApplication)
            .where(
                OfferApplication.tenant_id == tenant_id,
                OfferApplication.order_id == order_id,
                OfferApplication.reversed_at.is_(None),
            )
            .values(reversed_at=at)
            .returning(
                OfferApplication.offer_code, OfferApplication.discount, OfferApplication.points
            )
        )
    ).all()
    by_code = programme.offer_index().by_code
    for code, discount, points in sorted(rows):
        offer = by_code.get(code)
        if offer is None or offer.limits.budget is None:
            continue
        await session.execute(
            update(OfferBudget)
            .where(OfferBudget.tenant_id == tenant_id, OfferBudget.offer_code == code)
            .values(spent=OfferBudget.spent - _budget_cost(offer, discount, points))
        )
    # Whatever partial returns already took back, this leaves the card as before the order.
    net = (
        await session.execute(
            select(StampMovement.customer_id, StampMovement.card, func.sum(StampMovement.delta))
            .where(StampMovement.tenant_id == tenant_id, StampMovement.order_id == order_id)
            .group_by(StampMovement.customer_id, StampMovement.card)
        )
    ).all()
    undo = [
        _stamp_row(
            tenant_id,
            customer_id,
            card,
            -int(delta),
            order_id,
            None,
            "order cancelled or returned",
            f"order-undo:{order_id}:{card}",
            at,
        )
        for customer_id, card, delta in net
        if delta
    ]
    if undo:
        await session.execute(
            pg_insert(StampMovement)
            .values(undo)
            .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
        )
    await session.execute(
        update(Membership)
        .where(
            and_(
                Membership.tenant_id == tenant_id,
                Membership.order_id == order_id,
                Membership.cancelled_at.is_(None),
            )
        )
        .values(cancelled_at=at)
    )


def _stamp_row(
    tenant_id: int,
    customer_id: int,
    card: str,
    delta: int,
    order_id: int,
    line_no: int | None,
    reason: str,
    key: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "card": card,
        "delta": delta,
        "order_id": order_id,
        "order_line_no": line_no,
        "reason": reason,
        "idempotency_key": key,
        "occurred_at": at,
    }


async def _record_stamps(
    session: AsyncSession,
    *,
    tenant_id: int,
    calculation: CartCalculation,
    order_id: int,
    customer_id: int,
    at: datetime,
) -> None:
    """Stamps added are written per order line, stamps used per card."""
    rows = []
    for effects in calculation.offers.applied:
        for (line_no, card), count in sorted(effects.stamps_by_line.items()):
            key = f"order:{order_id}:{effects.offer_code}:{card}:{line_no}"
            rows.append(
                _stamp_row(tenant_id, customer_id, card, count, order_id, line_no, "order", key, at)
            )
        for card, count in sorted(effects.stamps_used.items()):
            key = f"order:{order_id}:{effects.offer_code}:{card}:used"
            rows.append(
                _stamp_row(tenant_id, customer_id, card, -count, order_id, None, "used", key, at)
            )
    if rows:
        await session.execute(pg_insert(StampMovement), rows)


async def return_line_stamps(
    session: AsyncSession,
    *,
    tenant_id: int,
    order_id: int,
    returned: dict[int, tuple[int, int]],
    return_id: str,
    at: datetime,
) -> None:
    """Take back the stamps of returned units: ``returned`` maps a line to (units returned so
    far, units bought); each line gives back its share of the stamps it earned."""
    earned = (
        await session.execute(
            select(
                StampMovement.customer_id,
                StampMovement.card,
                StampMovement.order_line_no,
                func.sum(StampMovement.delta).filter(StampMovement.reason == "order"),
                func.sum(StampMovement.delta).filter(StampMovement.reason == "returned"),
            )
            .where(
                StampMovement.tenant_id == tenant_id,
                StampMovement.order_id == order_id,
                StampMovement.order_line_no.in_(list(returned)),
            )
            .group_by(StampMovement.customer_id, StampMovement.card, StampMovement.order_line_no)
        )
    ).all()
    rows = []
    for customer_id, card, line_no, added, taken in earned:
        if line_no is None:
            continue
        units_returned, units = returned[line_no]
        due = int(added or 0) * units_returned // units
        delta = due + int(taken or 0)
        if delta > 0:
            key = f"return:{order_id}:{return_id}:{card}:{line_no}"
            rows.append(
                _stamp_row(
                    tenant_id, customer_id, card, -delta, order_id, line_no, "returned", key, at
                )
            )
    if rows:
        await session.execute(pg_insert(StampMovement), rows)
