"""Builders for the code tests: pools, customers and orders' codes through the real services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.codes.pools import create_pool
from tonari.codes.schemas import CodePoolCreate
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import upsert_customer
from tonari.models.codes import CodePool, CodeRedemption, PromoCode
from tonari.models.outbox import OutboxEvent

T0 = datetime.fromisoformat("2026-03-01T10:00:00+00:00")


async def make_pool(session: AsyncSession, tenant_id: int, **fields: Any) -> CodePool:
    fields.setdefault("name", fields["code"])
    pool, _ = await create_pool(
        session, tenant_id=tenant_id, definition=CodePoolCreate(**fields), at=T0
    )
    return pool


async def make_customer(session: AsyncSession, tenant_id: int, external_id: str) -> int:
    customer, _ = await upsert_customer(
        session,
        tenant_id=tenant_id,
        external_id=external_id,
        fields=CustomerUpsert(),
        first_tier="silver",
        at=T0,
    )
    return customer.id


async def code_row(session: AsyncSession, tenant_id: int, code: str) -> PromoCode:
    found = await session.scalar(
        select(PromoCode)
        .where(PromoCode.tenant_id == tenant_id, PromoCode.code == code)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


async def counts(session: AsyncSession, tenant_id: int) -> dict[str, int]:
    """Rows the code features write, to prove bad input changed nothing."""
    result = {}
    for name, model in (
        ("pools", CodePool),
        ("codes", PromoCode),
        ("redemptions", CodeRedemption),
        ("events", OutboxEvent),
    ):
        result[name] = (
            await session.scalar(
                select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
            )
            or 0
        )
    return result


async def events(session: AsyncSession, tenant_id: int, event_type: str) -> list[OutboxEvent]:
    return list(
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.tenant_id == tenant_id, OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.id)
        )
    )
