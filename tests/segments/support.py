"""Test data for segments: customers, orders, events and lots written straight to the tables
the segment compiler reads, and the reactions of one tenant applied in the test's session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.models.consents import Consent
from tonari.models.customers import Customer
from tonari.models.events import CustomerEvent
from tonari.models.ledger import LedgerAccount, PointLot
from tonari.models.offers import Membership
from tonari.models.orders import Order, OrderLine
from tonari.models.outbox import OutboxEvent
from tonari.models.reactions import CustomerReaction
from tonari.reactions.dispatcher import Reaction, dispatch_claimed
from tonari.segments.compiler import compile_segment
from tonari.segments.reactions import react_to_reactions
from tonari.segments.schemas import NODE_ADAPTER

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def customer(session: AsyncSession, tenant_id: int, external_id: str, **fields: Any) -> int:
    fields.setdefault("created_at", AT)
    row = Customer(tenant_id=tenant_id, external_id=external_id, **fields)
    session.add(row)
    await session.flush()
    return row.id


async def order(
    session: AsyncSession,
    tenant_id: int,
    customer_id: int,
    *,
    placed_at: datetime,
    net_spend: int = 100_000,
    lines: list[tuple[str, str | None]] | None = None,
    status: str = "paid",
) -> None:
    row = Order(
        tenant_id=tenant_id,
        external_id=f"o-{uuid.uuid4().hex[:10]}",
        customer_id=customer_id,
        status=status,
        channel="online",
        request_hash="x",
        currency="RUB",
        programme_version=1,
        total_regular=net_spend,
        points_spent=0,
        total_paid=net_spend,
        points_earned=0,
        net_spend=net_spend,
        placed_at=placed_at,
        result={},
    )
    session.add(row)
    await session.flush()
    for line_no, (product, category) in enumerate(lines or [("kettle", "kitchen")], start=1):
        session.add(
            OrderLine(
                tenant_id=tenant_id,
                order_id=row.id,
                line_no=line_no,
                product_id=product,
                category=category,
                unit_price=net_spend,
                quantity=1,
                line_total=net_spend,
                points_spent=0,
                amount_paid=net_spend,
                points_earned=0,
            )
        )
    await session.flush()


async def event(
    session: AsyncSession,
    tenant_id: int,
    customer_id: int,
    event_type: str,
    *,
    at: datetime,
    entity_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(CustomerEvent).values(
            tenant_id=tenant_id,
            customer_id=customer_id,
            event_type=event_type,
            entity_id=entity_id,
            event_id=f"e-{uuid.uuid4().hex}",
            payload=payload or {},
            occurred_at=at,
            received_at=at,
        )
    )


async def lot(
    session: AsyncSession,
    tenant_id: int,
    customer_id: int,
    *,
    points: int,
    expires_at: datetime | None,
    available: int | None = None,
) -> None:
    account_id = await session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.tenant_id == tenant_id, LedgerAccount.customer_id == customer_id
        )
    )
    if account_id is None:
        account = LedgerAccount(tenant_id=tenant_id, kind="customer", customer_id=customer_id)
        session.add(account)
        await session.flush()
        account_id = account.id
    await session.execute(
        LedgerAccount.__table__.update()  # type: ignore[attr-defined]
        .where(LedgerAccount.id == account_id)
        .values(
            available=LedgerAccount.available + (available if available is not None else points)
        )
    )
    session.add(
        PointLot(
            tenant_id=tenant_id,
            account_id=account_id,
            customer_id=customer_id,
            source="order",
            amount=points,
            remaining=points,
            state="available",
            earned_at=AT,
            pending_until=AT,
            expires_at=expires_at,
        )
    )
    await session.flush()


async def consent(
    session: AsyncSession, tenant_id: int, customer_id: int, channel: str, granted: bool
) -> None:
    session.add(
        Consent(
            tenant_id=tenant_id,
            customer_id=customer_id,
            channel=channel,
            topic="marketing",
            granted=granted,
            source="test",
            changed_at=AT,
        )
    )
    await session.flush()


async def membership(
    session: AsyncSession,
    tenant_id: int,
    customer_id: int,
    code: str,
    starts: datetime,
    ends: datetime,
) -> None:
    session.add(
        Membership(
            tenant_id=tenant_id, customer_id=customer_id, code=code, starts_at=starts, ends_at=ends
        )
    )
    await session.flush()


async def matching(
    session: AsyncSession,
    tenant_id: int,
    definition: dict[str, Any],
    *,
    at: datetime = AT,
    zone: Any = None,
) -> set[str]:
    """External ids of the customers the compiled definition selects."""
    query = compile_segment(
        NODE_ADAPTER.validate_python(definition), tenant_id=tenant_id, at=at, zone=zone
    )
    ids = list((await session.execute(query)).scalars())
    rows = await session.scalars(select(Customer.external_id).where(Customer.id.in_(ids)))
    return set(rows)


async def apply_queued_reactions(session: AsyncSession, tenant_id: int, at: datetime) -> int:
    """What the reactions worker does for this tenant, inside the test's transaction: take the
    queued reactions (oldest first), delete them and hand them to the segments handler."""
    rows = (
        await session.execute(
            delete(CustomerReaction)
            .where(CustomerReaction.tenant_id == tenant_id)
            .returning(
                CustomerReaction.id,
                CustomerReaction.tenant_id,
                CustomerReaction.customer_id,
                CustomerReaction.kind,
                CustomerReaction.entity_id,
                CustomerReaction.payload,
                CustomerReaction.occurred_at,
            )
        )
    ).mappings()
    reactions = sorted((Reaction(**row) for row in rows), key=lambda r: r.id)
    await dispatch_claimed(session, reactions, at=at, handlers=(react_to_reactions,))
    return len(reactions)


async def segment_events(session: AsyncSession, tenant_id: int) -> list[tuple[str, str, int]]:
    """(event type, segment key, customer id) of the segment events in the outbox, in order."""
    rows = await session.execute(
        select(OutboxEvent.event_type, OutboxEvent.payload)
        .where(OutboxEvent.tenant_id == tenant_id, OutboxEvent.event_type.like("segment.%"))
        .order_by(OutboxEvent.id)
    )
    return [(t, p["segment"], int(p["customer_id"])) for t, p in rows]
