"""Add reactions in the caller's transaction: they exist exactly when the change committed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.models.reactions import CustomerReaction

REACTION_COLUMNS = ("tenant_id", "customer_id", "kind", "entity_id", "payload", "occurred_at")


async def queue_reaction(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    kind: str,
    occurred_at: datetime,
    entity_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(CustomerReaction).values(
            tenant_id=tenant_id,
            customer_id=customer_id,
            kind=kind,
            entity_id=entity_id,
            payload=payload or {},
            occurred_at=occurred_at,
        )
    )


async def copy_reactions(driver: Any, records: Sequence[tuple[Any, ...]]) -> None:
    """Bulk form for event ingest: rows in ``REACTION_COLUMNS`` order, payload as JSON text."""
    if records:
        await driver.copy_records_to_table(
            "customer_reactions", records=list(records), columns=REACTION_COLUMNS
        )
