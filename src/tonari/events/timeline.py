"""One customer's events and orders merged, newest first, paged by a keyset cursor.

The cursor is ``<at>|<kind>|<id>`` of the last item shown, so pages never skip or repeat an
item even when several share a timestamp (an offset would, as new events keep arriving).
Each side is cut and limited on its own index before the merge, and the time bound lets
PostgreSQL skip the event partitions of later months.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, func, literal, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.service import get_customer
from tonari.events.schemas import Timeline, TimelineItem
from tonari.kit.errors import ValidationFailed
from tonari.kit.limits import MAX_ID
from tonari.models.events import CustomerEvent
from tonari.models.orders import Order

KINDS = ("event", "order")


def parse_cursor(before: str | None) -> tuple[datetime, str, int] | None:
    """``None``, a bare timestamp (strictly before it) or a ``next_before`` token."""
    if before is None:
        return None
    parts = before.split("|")
    try:
        at = datetime.fromisoformat(parts[0].replace(" ", "+"))
        if at.tzinfo is None:
            raise ValueError("no time zone")
        if len(parts) == 1:
            return at, "", 0  # sorts below every kind: strictly earlier than ``at``
        if len(parts) == 3 and parts[1] in KINDS and 0 < int(parts[2]) <= MAX_ID:
            return at, parts[1], int(parts[2])
        raise ValueError("not a cursor")
    except ValueError:
        raise ValidationFailed(
            "before must be a timestamp with a time zone or a next_before token",
            field="before",
        ) from None


def _cursor(item: TimelineItem, item_id: int) -> str:
    return f"{item.at.isoformat().replace('+00:00', 'Z')}|{item.kind}|{item_id}"


async def customer_timeline(
    session: AsyncSession,
    *,
    tenant_id: int,
    external_id: str,
    limit: int,
    before: str | None = None,
) -> Timeline:
    customer = await get_customer(session, tenant_id=tenant_id, external_id=external_id)
    cursor = parse_cursor(before)
    events: Any = select(
        CustomerEvent.occurred_at.label("at"),
        literal("event", String).label("kind"),
        CustomerEvent.id.label("id"),
        CustomerEvent.event_type.label("type"),
        CustomerEvent.entity_id.label("entity_id"),
        CustomerEvent.payload.label("data"),
    ).where(CustomerEvent.tenant_id == tenant_id, CustomerEvent.customer_id == customer.id)
    orders: Any = select(
        Order.placed_at.label("at"),
        literal("order", String).label("kind"),
        Order.id.label("id"),
        Order.status.label("type"),
        Order.external_id.label("entity_id"),
        func.jsonb_build_object(
            "currency",
            Order.currency,
            "total_paid",
            Order.total_paid,
            "points_earned",
            Order.points_earned,
            "points_spent",
            Order.points_spent,
        ).label("data"),
    ).where(Order.tenant_id == tenant_id, Order.customer_id == customer.id)
    if cursor is not None:
        at, kind, item_id = cursor
        bound = tuple_(literal(at), literal(kind, String), literal(item_id))
        events = events.where(
            CustomerEvent.occurred_at <= at,
            tuple_(CustomerEvent.occurred_at, literal("event", String), CustomerEvent.id) < bound,
        )
        orders = orders.where(
            Order.placed_at <= at,
            tuple_(Order.placed_at, literal("order", String), Order.id) < bound,
        )
    newest_first = ("at", "kind", "id")
    events = events.order_by(CustomerEvent.occurred_at.desc(), CustomerEvent.id.desc())
    merged = union_all(
        events.limit(limit + 1).subquery().select(),
        orders.order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(limit + 1)
        .subquery()
        .select(),
    ).subquery()
    rows = (
        await session.execute(
            select(merged)
            .order_by(*(merged.c[name].desc() for name in newest_first))
            .limit(limit + 1)
        )
    ).all()
    items = [
        TimelineItem(
            kind=row.kind, at=row.at, type=row.type, entity_id=row.entity_id, data=row.data
        )
        for row in rows[:limit]
    ]
    next_before = _cursor(items[-1], rows[limit - 1].id) if len(rows) > limit else None
    return Timeline(items=items, next_before=next_before)
