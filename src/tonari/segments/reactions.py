"""How segments react to queued customer reactions (see tonari.reactions.dispatcher).

Only the customers named by the batch are re-evaluated, and only against the tenant's active
segments that can be affected by what happened: a ``product_viewed`` cannot change a
"tier is gold" segment. Each affected segment costs one query for the whole batch of
customers (plus the writes of what changed), whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.models.segments import Segment
from tonari.reactions.dispatcher import Reaction
from tonari.segments import schemas as s
from tonari.segments.membership import apply_to_customers, context_for, load_definition

EVERYTHING = s.CONDITION_FIELDS
_ACTIVITY = {"last_activity"}
_PROFILE = {
    "city",
    "region",
    "gender",
    "customer_type",
    "registration_source",
    "age",
    "birthday_in_days",
    "attribute",
    "consent",
    "tier",
}
_ORDERS = {
    "orders_count",
    "spend",
    "lifetime_spend",
    "bought",
    "last_purchase",
    "rfm",
    "cart",
    "tier",
    "balance",
    "points_expiring",
    "membership",
    "last_activity",
}
_POINTS = {"balance", "points_expiring"}

# Which condition fields a reaction kind can change; kinds not listed (custom events, new
# domain events) re-evaluate every segment, which is always correct, only slower.
AFFECTS: dict[str, frozenset[str]] = {
    "product_viewed": frozenset({"viewed", *_ACTIVITY}),
    "wishlist_added": frozenset({"wishlist", *_ACTIVITY}),
    "wishlist_removed": frozenset({"wishlist", *_ACTIVITY}),
    "cart_updated": frozenset({"cart", *_ACTIVITY}),
    "added_to_cart": frozenset({"cart", *_ACTIVITY}),
    "removed_from_cart": frozenset({"cart", *_ACTIVITY}),
    "email_opened": frozenset({"email", *_ACTIVITY}),
    "email_clicked": frozenset({"email", *_ACTIVITY}),
    "login": frozenset(_ACTIVITY),
    "registration": frozenset(_ACTIVITY),
    "store_visit": frozenset(_ACTIVITY),
    "review_written": frozenset(_ACTIVITY),
    "customer.registered": frozenset(EVERYTHING),
    "customer.updated": frozenset(_PROFILE | _ACTIVITY),
    "customer.tier_changed": frozenset({"tier"}),
    "order.placed": frozenset(_ORDERS),
    "order.paid": frozenset(_ORDERS),
    "order.cancelled": frozenset(_ORDERS),
    "order.returned": frozenset(_ORDERS),
    "points.expiring": frozenset(_POINTS),
    "points.temporary_granted": frozenset(_POINTS),
    "points.adjusted": frozenset(_POINTS),
    "consent.changed": frozenset({"consent"}),
    "activity.rewarded": frozenset({*_POINTS, *_ACTIVITY}),
}


def affected_fields(kind: str) -> frozenset[str]:
    if kind.startswith("custom:"):
        return frozenset(_ACTIVITY)
    return AFFECTS.get(kind, EVERYTHING)


def fields_of(definition: s.Node) -> frozenset[str]:
    return frozenset(s.field_of(condition) for condition in s.conditions_of(definition))


async def react_to_reactions(
    session: AsyncSession, tenant_id: int, reactions: Sequence[Reaction], at: datetime
) -> None:
    """Apply one tenant's reactions (oldest first) inside the dispatcher's transaction."""
    # Segment changes are themselves reactions (for journeys): never react to our own.
    relevant = [r for r in reactions if not r.kind.startswith("segment.")]
    if not relevant:
        return
    segments = list(
        await session.scalars(
            select(Segment)
            .where(Segment.tenant_id == tenant_id, Segment.status == "active")
            .order_by(Segment.id)
        )
    )
    if not segments:
        return
    touched: dict[str, set[int]] = {}
    for reaction in relevant:
        for field in affected_fields(reaction.kind):
            touched.setdefault(field, set()).add(reaction.customer_id)
    ctx = await context_for(session, tenant_id, at)
    for segment in segments:
        node = load_definition(segment.definition)
        customers: set[int] = set()
        for field in fields_of(node):
            customers |= touched.get(field, set())
        if customers:
            await apply_to_customers(
                session, segment=segment, node=node, ctx=ctx, customer_ids=sorted(customers)
            )
