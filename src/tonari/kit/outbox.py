"""Write a domain event in the caller's transaction; the worker relays it after commit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.models.outbox import OutboxEvent


async def record_event(
    session: AsyncSession,
    *,
    tenant_id: int,
    event_type: str,
    subject: str,
    payload: dict[str, Any],
    occurred_at: datetime,
    customer_id: int | None = None,
    entity_id: str | None = None,
) -> str:
    """Write the event; with ``customer_id`` segments and journeys react to it as well."""
    event_id = f"evt_{uuid.uuid4().hex}"
    await session.execute(
        insert(OutboxEvent).values(
            tenant_id=tenant_id,
            event_id=event_id,
            event_type=event_type,
            subject=subject,
            payload=payload,
            occurred_at=occurred_at,
        )
    )
    if customer_id is not None:
        from tonari.reactions.queue import queue_reaction

        await queue_reaction(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            kind=event_type,
            entity_id=entity_id,
            payload=payload,
            occurred_at=occurred_at,
        )
    return event_id
