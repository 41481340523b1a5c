"""Moving points between customers' accounts: lots keep their dates, every move is postings.

Used when a partner's side account is claimed and when two profiles of one person merge (and
unmerge). Nothing edits a balance by hand: each lot leaves one account and lands on the other in
one balanced ledger entry, with its earned, pending-until and expiry dates intact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.ledger import service as ledger
from tonari.models.base import table_of
from tonari.models.ledger import LedgerAccount, PointLot

TRANSFERRED = "transferred"


@dataclass(slots=True)
class LotTransfer:
    points: int = 0
    entry_id: int | None = None
    # (lot that left, lot that arrived)
    lots: list[tuple[int, int]] = field(default_factory=list)


async def lock_accounts(
    session: AsyncSession, tenant_id: int, customer_ids: list[int]
) -> dict[int, ledger.LockedAccount]:
    """Lock several customers' accounts in one statement, in id order (the ledger's order:
    PostgreSQL locks the rows as the sorted result hands them over, as the jobs do)."""
    rows = (
        await session.execute(
            select(
                LedgerAccount.id,
                LedgerAccount.customer_id,
                LedgerAccount.pending,
                LedgerAccount.available,
                LedgerAccount.reserved,
                LedgerAccount.debt,
            )
            .where(
                LedgerAccount.tenant_id == tenant_id,
                LedgerAccount.customer_id.in_(set(customer_ids)),
            )
            .order_by(LedgerAccount.id)
            .with_for_update()
        )
    ).all()
    return {
        int(row.customer_id): ledger.LockedAccount(
            id=row.id,
            tenant_id=tenant_id,
            customer_id=int(row.customer_id),
            pending=row.pending,
            available=row.available,
            reserved=row.reserved,
            debt=row.debt,
        )
        for row in rows
    }


async def move_live_lots(
    session: AsyncSession,
    holder: ledger.LockedAccount,
    customer: ledger.LockedAccount,
    *,
    at: datetime,
    actor: str,
    reason: str,
    only_lots: list[int] | None = None,
) -> LotTransfer:
    """One entry: the live lots of ``holder`` (all, or ``only_lots``) land on ``customer``'s."""
    lots = (
        await session.execute(
            select(
                PointLot.id,
                PointLot.source,
                PointLot.remaining,
                PointLot.state,
                PointLot.earned_at,
                PointLot.pending_until,
                PointLot.expires_at,
            )
            .where(
                PointLot.account_id == holder.id,
                PointLot.state.in_((ledger.PENDING, ledger.AVAILABLE)),
                PointLot.remaining > 0,
                *([PointLot.id.in_(only_lots)] if only_lots is not None else []),
            )
            .order_by(PointLot.id)
        )
    ).all()
    if not lots:
        return LotTransfer()
    new_ids = list(
        await session.scalars(
            insert(table_of(PointLot)).returning(
                table_of(PointLot).c.id, sort_by_parameter_order=True
            ),
            [
                {
                    "tenant_id": customer.tenant_id,
                    "account_id": customer.id,
                    "customer_id": customer.customer_id,
                    "source": lot.source,
                    "amount": lot.remaining,
                    "remaining": lot.remaining,
                    "state": lot.state,
                    "earned_at": lot.earned_at,
                    "pending_until": lot.pending_until,
                    "expires_at": lot.expires_at,
                }
                for lot in lots
            ],
        )
    )
    movement = ledger.Movement()
    for lot, new_id in zip(lots, new_ids, strict=True):
        movement.customer(customer, lot.state, lot.remaining, new_id)
        # The holder's side of the same entry; its cached balance is written below.
        movement.postings.append(
            {
                "account_id": holder.id,
                "bucket": lot.state,
                "amount": -lot.remaining,
                "lot_id": lot.id,
            }
        )
    entry_id = await ledger.write_entry(
        session,
        customer,
        movement,
        kind="transfer",
        reason=reason,
        actor=actor,
        occurred_at=at,
    )
    holder.pending -= sum(lot.remaining for lot in lots if lot.state == ledger.PENDING)
    holder.available -= sum(lot.remaining for lot in lots if lot.state == ledger.AVAILABLE)
    await ledger.persist_balance(session, holder)
    await session.execute(
        update(PointLot)
        .where(PointLot.id.in_([lot.id for lot in lots]))
        .values(remaining=0, state=TRANSFERRED)
    )
    if customer.debt > 0:
        await ledger.settle_debt_from_lots(
            session,
            customer,
            [
                (new_id, lot.remaining)
                for lot, new_id in zip(lots, new_ids, strict=True)
                if lot.state == ledger.AVAILABLE
            ],
        )
    return LotTransfer(
        points=sum(lot.remaining for lot in lots),
        entry_id=entry_id,
        lots=[(lot.id, new_id) for lot, new_id in zip(lots, new_ids, strict=True)],
    )
