"""Manual grants and deductions: always with a reason, the acting key, and an audit row."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.service import get_customer
from tonari.kit.errors import Conflict
from tonari.ledger import service as ledger
from tonari.models.ledger import LedgerEntry
from tonari.programs.service import programme_in_force
from tonari.reactions.queue import queue_reaction
from tonari.rules.lots import expires_at
from tonari.tenants.service import Principal, audit


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    direction: Literal["grant", "deduct"]
    points: StrictInt = Field(gt=0, le=10**9)
    reason: str = Field(min_length=3, max_length=500)
    idempotency_key: str = Field(min_length=1, max_length=160)
    expires_at: datetime | None = Field(
        default=None, description="Grants only; default: the programme's expiry rule"
    )


async def adjust_points(
    session: AsyncSession,
    principal: Principal,
    *,
    external_id: str,
    body: AdjustmentIn,
    at: datetime,
) -> dict[str, Any]:
    tenant_id = principal.tenant_id
    customer = await get_customer(session, tenant_id=tenant_id, external_id=external_id)
    account = await ledger.lock_account(session, tenant_id=tenant_id, customer_id=customer.id)
    key = f"adjust:{body.idempotency_key}"
    previous = (
        await session.execute(
            select(LedgerEntry.id, LedgerEntry.customer_id, LedgerEntry.reason).where(
                LedgerEntry.tenant_id == tenant_id, LedgerEntry.idempotency_key == key
            )
        )
    ).first()
    if previous is not None:
        if previous.customer_id != customer.id or previous.reason != body.reason:
            raise Conflict(
                "idempotency_key was used for another adjustment",
                field="idempotency_key",
                code="idempotency_key_reused",
            )
        return {"entry_id": previous.id, "replayed": True, "balance": account.available}
    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    if body.direction == "grant":
        [lot_id] = await ledger.earn_lots(
            session,
            account,
            [
                ledger.LotToEarn(
                    amount=body.points,
                    earned_at=at,
                    pending_until=at,
                    expires_at=body.expires_at or expires_at(programme, at),
                    source="adjustment",
                )
            ],
            reason=body.reason,
            actor=principal.actor,
            occurred_at=at,
            idempotency_key=key,
            counter_account="adjustments",
        )
        entry_hint: dict[str, Any] = {"lot_id": lot_id}
    else:
        await ledger.draw_points(
            session,
            account,
            [ledger.LineSpend(None, body.points)],
            reserve=False,
            reason=body.reason,
            actor=principal.actor,
            occurred_at=at,
            kind="deduct",
            counter_account="adjustments",
            idempotency_key=key,
        )
        entry_hint = {}
    # Balance segments and journeys see the change without a webhook event of its own.
    await queue_reaction(
        session,
        tenant_id=tenant_id,
        customer_id=customer.id,
        kind="points.adjusted",
        occurred_at=at,
        payload={"direction": body.direction, "points": body.points},
    )
    await audit(
        session,
        principal,
        action=f"points.{body.direction}",
        subject=external_id,
        details={"points": body.points, "reason": body.reason, **entry_hint},
    )
    return {"replayed": False, "balance": account.available, **entry_hint}
