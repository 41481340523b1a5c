"""Scheduled ledger work: pending → available, and expiry. Safe on many workers at once.

Each batch locks the accounts it works on with ``FOR UPDATE SKIP LOCKED`` (another worker or
a live order holding an account just makes this batch skip it) and re-reads the due lots
under that lock, so a lot is released or expired exactly once however many workers run.
A batch is one transaction: a worker killed mid-batch loses nothing and repeats nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.ledger.service import (
    AVAILABLE,
    PENDING,
    LockedAccount,
    Movement,
    due_lots_condition,
    releasable_order_condition,
    settle_debt_from_lots,
    system_account,
    write_entry,
)
from tonari.models.ledger import LedgerAccount, PointLot


@dataclass(slots=True)
class BatchResult:
    accounts: int = 0
    lots: int = 0
    points: int = 0

    def add(self, other: BatchResult) -> None:
        self.accounts += other.accounts
        self.lots += other.lots
        self.points += other.points


async def _lock_due_accounts(
    session: AsyncSession, *, kind: str, now: datetime, limit: int, tenant_id: int | None
) -> list[LockedAccount]:
    due = select(PointLot.account_id).where(due_lots_condition(now, kind))
    if kind == "release":
        due = due.where(releasable_order_condition())
    if tenant_id is not None:
        due = due.where(PointLot.tenant_id == tenant_id)
    rows = (
        await session.execute(
            select(
                LedgerAccount.id,
                LedgerAccount.tenant_id,
                LedgerAccount.customer_id,
                LedgerAccount.pending,
                LedgerAccount.available,
                LedgerAccount.reserved,
                LedgerAccount.debt,
            )
            .where(LedgerAccount.id.in_(due.distinct().limit(limit * 4).scalar_subquery()))
            .order_by(LedgerAccount.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [
        LockedAccount(
            id=r.id,
            tenant_id=r.tenant_id,
            customer_id=r.customer_id,
            pending=r.pending,
            available=r.available,
            reserved=r.reserved,
            debt=r.debt,
        )
        for r in rows
    ]


async def release_pending_batch(
    session: AsyncSession, *, now: datetime, limit: int = 200, tenant_id: int | None = None
) -> BatchResult:
    """Make lots whose return window has passed spendable. Returns what this batch did."""
    result = BatchResult()
    for account in await _lock_due_accounts(
        session, kind="release", now=now, limit=limit, tenant_id=tenant_id
    ):
        lots = (
            await session.execute(
                select(PointLot.id, PointLot.remaining)
                .where(
                    PointLot.account_id == account.id,
                    due_lots_condition(now, "release"),
                    releasable_order_condition(),
                )
                .order_by(PointLot.id)
            )
        ).all()
        if not lots:
            continue
        movement = Movement()
        for lot in lots:
            movement.customer(account, PENDING, -lot.remaining, lot.id)
            movement.customer(account, AVAILABLE, lot.remaining, lot.id)
        await write_entry(
            session,
            account,
            movement,
            kind="release",
            reason="return window over: points are spendable",
            actor="system:release",
            occurred_at=now,
        )
        await session.execute(
            update(PointLot)
            .where(PointLot.id.in_([lot.id for lot in lots]))
            .values(state=AVAILABLE)
        )
        if account.debt > 0:
            await settle_debt_from_lots(
                session, account, [(lot.id, lot.remaining) for lot in lots if lot.remaining]
            )
        result.accounts += 1
        result.lots += len(lots)
        result.points += sum(lot.remaining for lot in lots)
    return result


async def expire_batch(
    session: AsyncSession, *, now: datetime, limit: int = 200, tenant_id: int | None = None
) -> BatchResult:
    """Burn what is left of lots past their expiry; the points go to the expired account."""
    result = BatchResult()
    for account in await _lock_due_accounts(
        session, kind="expire", now=now, limit=limit, tenant_id=tenant_id
    ):
        lots = (
            await session.execute(
                select(PointLot.id, PointLot.remaining)
                .where(PointLot.account_id == account.id, due_lots_condition(now, "expire"))
                .order_by(PointLot.id)
            )
        ).all()
        if not lots:
            continue
        expired_account = await system_account(session, account.tenant_id, "points_expired")
        movement = Movement()
        for lot in lots:
            movement.customer(account, AVAILABLE, -lot.remaining, lot.id)
            movement.system(expired_account, lot.remaining)
        await write_entry(
            session,
            account,
            movement,
            kind="expire",
            reason="points expired",
            actor="system:expiry",
            occurred_at=now,
        )
        await session.execute(
            update(PointLot)
            .where(PointLot.id.in_([lot.id for lot in lots]))
            .values(state="expired", remaining=0)
        )
        result.accounts += 1
        result.lots += len(lots)
        result.points += sum(lot.remaining for lot in lots)
    return result


async def remind_expiring_batch(
    session: AsyncSession, *, tenant_id: int, days: int, now: datetime, limit: int = 200
) -> BatchResult:
    """Write one ``points.expiring`` event per customer for lots expiring within ``days``.

    Each lot is reminded once (``expiry_reminded_at``); accounts are taken with SKIP LOCKED
    like the other jobs, so several workers never remind twice.
    """
    from datetime import timedelta

    from tonari.kit.outbox import record_event
    from tonari.models.customers import Customer

    horizon = now + timedelta(days=days)
    due = and_(
        PointLot.tenant_id == tenant_id,
        PointLot.state == AVAILABLE,
        PointLot.remaining > 0,
        PointLot.expiry_reminded_at.is_(None),
        PointLot.expires_at <= horizon,
        PointLot.expires_at > now,
    )
    accounts = list(
        await session.scalars(
            select(LedgerAccount.id)
            .where(
                LedgerAccount.id.in_(
                    select(PointLot.account_id).where(due).distinct().limit(limit * 4)
                )
            )
            .order_by(LedgerAccount.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    result = BatchResult()
    for account_id in accounts:
        lots = (
            await session.execute(
                select(
                    PointLot.id,
                    PointLot.remaining,
                    PointLot.expires_at,
                    Customer.external_id,
                    Customer.id.label("customer_id"),
                )
                .join(Customer, Customer.id == PointLot.customer_id)
                .where(due, PointLot.account_id == account_id)
                .order_by(PointLot.expires_at)
            )
        ).all()
        if not lots:
            continue
        points = sum(lot.remaining for lot in lots)
        await record_event(
            session,
            tenant_id=tenant_id,
            event_type="points.expiring",
            subject=lots[0].external_id,
            payload={
                "customer": lots[0].external_id,
                "points": points,
                "earliest_expires_at": lots[0].expires_at.isoformat(),
                "lots": [
                    {"points": lot.remaining, "expires_at": lot.expires_at.isoformat()}
                    for lot in lots
                ],
            },
            occurred_at=now,
            customer_id=lots[0].customer_id,
        )
        await session.execute(
            update(PointLot)
            .where(PointLot.id.in_([lot.id for lot in lots]))
            .values(expiry_reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        result.accounts += 1
        result.lots += len(lots)
        result.points += points
    return result
