"""Temporary points: a lot that burns after hours or days, optionally held for one cart.

The abandoned-cart mechanic: a customer left a cart, the brand grants points that only the
order with that cart's id may spend, and that the ordinary expiry job burns if unused. The
points are in the customer's balance like any others (so ``ledger verify`` holds unchanged);
what is held for one cart is simply left out when any other order draws points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import Conflict, ValidationFailed
from tonari.kit.outbox import record_event
from tonari.ledger import service as ledger
from tonari.models.customers import Customer
from tonari.models.ledger import LedgerAccount, LedgerEntry, LedgerPosting, PointLot

TEMPORARY_SOURCE = "temporary"


@dataclass(frozen=True, slots=True)
class TemporaryGrant:
    lot_id: int
    points: int
    expires_at: datetime
    only_for_cart: str | None
    replayed: bool
    available: int

    def as_dict(self) -> dict[str, object]:
        return {
            "lot_id": self.lot_id,
            "points": self.points,
            "expires_at": self.expires_at,
            "only_for_cart": self.only_for_cart,
            "replayed": self.replayed,
            "available": self.available,
        }


async def grant_temporary_points(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    points: int,
    expires_in: timedelta,
    only_for_cart: str | None,
    reason: str,
    idempotency_key: str,
    at: datetime,
    actor: str = "system:temporary",
) -> TemporaryGrant:
    """Grant ``points`` that expire ``expires_in`` after ``at``; once per idempotency key."""
    if points <= 0:
        raise ValidationFailed("points must be positive", field="points")
    if expires_in <= timedelta(0):
        raise ValidationFailed("temporary points need a lifetime above zero", field="expires_in")
    account = await ledger.lock_account(session, tenant_id=tenant_id, customer_id=customer_id)
    key = f"temporary:{idempotency_key}"
    previous = (
        await session.execute(
            select(
                LedgerEntry.customer_id,
                LedgerEntry.reason,
                PointLot.id,
                PointLot.amount,
                PointLot.expires_at,
                PointLot.reserved_for_order_ref,
            )
            .join(LedgerPosting, LedgerPosting.entry_id == LedgerEntry.id)
            .join(PointLot, PointLot.id == LedgerPosting.lot_id)
            .where(LedgerEntry.tenant_id == tenant_id, LedgerEntry.idempotency_key == key)
        )
    ).first()
    if previous is not None:
        if (
            previous.customer_id != customer_id
            or previous.reason != reason
            or previous.amount != points
            or previous.reserved_for_order_ref != only_for_cart
        ):
            raise Conflict(
                "idempotency_key was used for another grant",
                field="idempotency_key",
                code="idempotency_key_reused",
            )
        return TemporaryGrant(
            previous.id, points, previous.expires_at, only_for_cart, True, account.available
        )
    expires_at = at + expires_in
    [lot_id] = await ledger.earn_lots(
        session,
        account,
        [
            ledger.LotToEarn(
                amount=points,
                earned_at=at,
                pending_until=at,
                expires_at=expires_at,
                source=TEMPORARY_SOURCE,
                reserved_for_order_ref=only_for_cart,
            )
        ],
        reason=reason,
        actor=actor,
        occurred_at=at,
        idempotency_key=key,
    )
    external_id = await session.scalar(
        select(Customer.external_id).where(Customer.id == customer_id)
    )
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type="points.temporary_granted",
        subject=str(external_id),
        payload={
            "customer": external_id,
            "points": points,
            "expires_at": expires_at.isoformat(),
            "only_for_cart": only_for_cart,
            "reason": reason,
        },
        occurred_at=at,
        customer_id=customer_id,
        entity_id=only_for_cart,
    )
    return TemporaryGrant(lot_id, points, expires_at, only_for_cart, False, account.available)


async def spendable_for_cart(
    session: AsyncSession, account: ledger.LockedAccount, cart_ref: str | None
) -> int:
    """What an order for ``cart_ref`` may spend: the balance less points held for other carts."""
    lots = await ledger.available_lots(session, account)
    return account.available - ledger.restricted_elsewhere(lots, cart_ref)


async def held_for_other_carts(
    session: AsyncSession, *, tenant_id: int, customer_id: int, cart_ref: str | None
) -> int:
    """Points in the customer's balance that only another cart may spend (no lock taken).

    For pricing a cart without locking: the spendable balance is ``available`` minus this.
    """
    held = await session.scalar(
        select(func.coalesce(func.sum(PointLot.remaining), 0))
        .join(LedgerAccount, LedgerAccount.id == PointLot.account_id)
        .where(
            LedgerAccount.tenant_id == tenant_id,
            LedgerAccount.customer_id == customer_id,
            PointLot.state == ledger.AVAILABLE,
            PointLot.remaining > 0,
            PointLot.reserved_for_order_ref.is_not(None),
            PointLot.reserved_for_order_ref.is_distinct_from(cart_ref),
        )
    )
    return int(held or 0)
