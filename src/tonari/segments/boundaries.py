"""Time-based boundaries: when each customer's membership may next change with the clock alone.

"Birthday in 3 days", "points expiring within 7 days", "no purchase for 90 days" change
without any event. For every segment with such conditions we store, per customer, the
earliest instant at which any of them could flip (``segment_boundaries.due_at``); the
boundary worker claims due rows ``FOR UPDATE SKIP LOCKED``, re-evaluates only those
customers and schedules their next instant. The instant is conservative: re-evaluating at
a boundary that changes nothing just schedules the next one, so the logic of the tree
(and/or/not) never needs to be reasoned about here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.models.customers import Customer
from tonari.models.events import CustomerEvent
from tonari.models.ledger import PointLot
from tonari.models.offers import Membership
from tonari.models.orders import Order
from tonari.models.segments import Segment, SegmentBoundary
from tonari.segments import schemas as s
from tonari.segments.compiler import (
    EMAIL_EVENTS,
    Context,
    days,
    events_in_window,
    expiring_lots,
    last_activity,
    last_cart_event,
    live_customers,
    local_midnight,
    next_birthday,
    orders_in_window,
)

NextChange = Callable[[Any, Context], ColumnElement[Any]]


def _after(ctx: Context, instant: ColumnElement[Any]) -> ColumnElement[Any]:
    """``instant`` when it is still ahead, else NULL (LEAST ignores NULLs)."""
    return case((instant > ctx.at, instant), else_=None)


def _first_in_window_leaves(where: list[ColumnElement[bool]], column: Any, n: int) -> Any:
    """The oldest row in a rolling window of ``n`` days leaves it ``n`` days after it."""
    return select(func.min(column) + days(n)).where(*where).scalar_subquery()


def _age(c: s.AgeBetween, ctx: Context) -> ColumnElement[Any]:
    return local_midnight(ctx, next_birthday(ctx, today_counts=False))


def _birthday(c: s.BirthdayInDays, ctx: Context) -> ColumnElement[Any]:
    upcoming = next_birthday(ctx, today_counts=True)
    inside = upcoming <= ctx.today + days(c.days)
    # Inside the window it ends the day after the birthday; outside it opens N days before.
    return case(
        (inside, local_midnight(ctx, upcoming + 1)),
        else_=local_midnight(ctx, upcoming - c.days),
    )


def _orders(c: s.OrdersCount | s.Spend | s.Bought, ctx: Context) -> ColumnElement[Any] | None:
    if c.days is None:
        return None
    return _first_in_window_leaves(orders_in_window(ctx, c.days), Order.placed_at, c.days)


def _viewed(c: s.Viewed, ctx: Context) -> ColumnElement[Any]:
    where = events_in_window(ctx, ["product_viewed"], c.days)
    return _first_in_window_leaves(where, CustomerEvent.occurred_at, c.days)


def _email(c: s.EmailEngagement, ctx: Context) -> ColumnElement[Any]:
    where = events_in_window(ctx, [EMAIL_EVENTS[c.action]], c.days)
    return _first_in_window_leaves(where, CustomerEvent.occurred_at, c.days)


def _cart(c: s.CartOpen, ctx: Context) -> ColumnElement[Any]:
    last = last_cart_event(ctx)
    ages = [c.min_age_minutes] + ([c.max_age_minutes] if c.max_age_minutes else [])
    return func.least(*(_after(ctx, last + timedelta(minutes=m)) for m in ages))


def _since(column: Any, n: int, ctx: Context) -> ColumnElement[Any]:
    return _after(ctx, column + days(n))


def _last_purchase(c: s.LastPurchase, ctx: Context) -> ColumnElement[Any]:
    n = c.within_days if c.within_days is not None else c.more_than_days
    assert n is not None
    return _since(Customer.last_purchase_at, n, ctx)


def _last_activity(c: s.LastActivity, ctx: Context) -> ColumnElement[Any]:
    n = c.within_days if c.within_days is not None else c.more_than_days
    assert n is not None
    return _since(last_activity(ctx), n, ctx)


def _points_expiring(c: s.PointsExpiring, ctx: Context) -> ColumnElement[Any]:
    enters = PointLot.expires_at - days(c.within_days)
    # A lot enters the window N days before it expires and leaves it when it expires.
    step = case((enters > ctx.at, enters), else_=PointLot.expires_at)
    return select(func.min(step)).where(*expiring_lots(ctx)).scalar_subquery()


def _membership(c: s.MembershipActive, ctx: Context) -> ColumnElement[Any]:
    where = [
        Membership.tenant_id == ctx.tenant_id,
        Membership.customer_id == Customer.id,
        Membership.cancelled_at.is_(None),
    ]
    if c.codes is not None:
        where.append(Membership.code.in_(c.codes))
    starts = select(func.min(Membership.starts_at)).where(*where, Membership.starts_at > ctx.at)
    ends = select(func.min(Membership.ends_at)).where(*where, Membership.ends_at > ctx.at)
    return func.least(starts.scalar_subquery(), ends.scalar_subquery())


NEXT_CHANGE: dict[type[s.Condition], Callable[[Any, Context], ColumnElement[Any] | None]] = {
    s.AgeBetween: _age,
    s.BirthdayInDays: _birthday,
    s.OrdersCount: _orders,
    s.Spend: _orders,
    s.Bought: _orders,
    s.Viewed: _viewed,
    s.EmailEngagement: _email,
    s.CartOpen: _cart,
    s.LastPurchase: _last_purchase,
    s.LastActivity: _last_activity,
    s.PointsExpiring: _points_expiring,
    s.MembershipActive: _membership,
}


def next_change(node: s.Node, ctx: Context) -> ColumnElement[Any] | None:
    """The earliest instant any time-based condition of the tree may flip, per customer; None
    when the definition does not move with time."""
    instants = []
    for condition in s.conditions_of(node):
        compute = NEXT_CHANGE.get(type(condition))
        if compute is not None and (instant := compute(condition, ctx)) is not None:
            instants.append(instant)
    if not instants:
        return None
    return instants[0] if len(instants) == 1 else func.least(*instants)


def moves_with_time(node: s.Node) -> bool:
    return next_change(node, Context(tenant_id=0, at=utcnow())) is not None


async def schedule_boundaries(
    session: AsyncSession,
    *,
    segment: Segment,
    node: s.Node,
    ctx: Context,
    customer_ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> None:
    """Replace these customers' boundaries of ``segment`` with their next instants.

    A separate statement from the membership query on purpose: computed together in one
    select list, the planner loses the WHERE-clause short cuts of the predicate (measured
    4× slower on 20,000 customers).
    """
    instant = next_change(node, ctx)
    scope = [SegmentBoundary.segment_id == segment.id]
    if customer_ids is not None:
        scope.append(SegmentBoundary.customer_id.in_(list(customer_ids)))
    if id_range is not None:
        scope.append(SegmentBoundary.customer_id.between(*id_range))
    await session.execute(delete(SegmentBoundary).where(*scope))
    if instant is None:
        return
    due = (
        select(
            literal(ctx.tenant_id).label("tenant_id"),
            literal(segment.id).label("segment_id"),
            Customer.id.label("customer_id"),
            instant.label("due_at"),
        )
        .where(*live_customers(ctx, customer_ids, id_range))
        .cte("due")
        # Computed once per customer: inlined, the filter below would compute it twice.
        .prefix_with("MATERIALIZED")
    )
    await session.execute(
        insert(SegmentBoundary)
        .from_select(
            ["tenant_id", "segment_id", "customer_id", "due_at"],
            select(due).where(due.c.due_at.is_not(None)),
        )
        .on_conflict_do_update(
            index_elements=["segment_id", "customer_id"],
            set_={"due_at": text("excluded.due_at")},
        )
    )


_CLAIM = text(
    """
    SELECT tenant_id, segment_id, customer_id FROM segment_boundaries
    WHERE due_at <= :at AND (CAST(:tenant AS bigint) IS NULL OR tenant_id = :tenant)
    ORDER BY due_at LIMIT :batch FOR UPDATE SKIP LOCKED
    """
)


async def apply_due_boundaries(
    session: AsyncSession, *, at: datetime, batch: int, tenant_id: int | None = None
) -> int:
    """Claim up to ``batch`` due rows (skipping rows other workers hold), re-evaluate those
    customers against their segments and schedule their next instants; returns the rows.
    ``tenant_id`` limits the work to one tenant (the worker takes every tenant's)."""
    from tonari.segments.membership import apply_to_customers, load_definition, zone_of

    rows = (await session.execute(_CLAIM, {"at": at, "batch": batch, "tenant": tenant_id})).all()
    by_segment: dict[tuple[int, int], list[int]] = {}
    for row in rows:
        by_segment.setdefault((row.tenant_id, row.segment_id), []).append(row.customer_id)
    for (tenant_id, segment_id), customers in sorted(by_segment.items()):
        segment = await session.get(Segment, segment_id)
        if segment is None or segment.status != "active":
            await session.execute(
                delete(SegmentBoundary).where(SegmentBoundary.segment_id == segment_id)
            )
            continue
        await apply_to_customers(
            session,
            segment=segment,
            node=load_definition(segment.definition),
            ctx=Context(tenant_id, at, await zone_of(session, tenant_id, at)),
            customer_ids=sorted(customers),
        )
    return len(rows)


async def process_due_boundaries(
    database: Database,
    *,
    at: datetime | None = None,
    batch: int = 1_000,
    budget_seconds: float | None = None,
) -> int:
    """Re-evaluate customers whose boundary is due, batch by batch; returns how many rows.

    Each batch is one transaction: the claimed rows stay locked (other workers skip them)
    until their memberships, events and next boundaries are written together.
    """
    done = 0
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    while deadline is None or time.monotonic() < deadline:
        async with database.transaction() as session:
            claimed = await apply_due_boundaries(session, at=at or utcnow(), batch=batch)
        done += claimed
        if claimed < batch:
            break
    return done
