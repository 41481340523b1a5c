"""The points ledger: every movement is an entry of balanced postings.

Locking: a customer's account row is taken ``FOR UPDATE`` before any of its lots, draws or
cached balances change, and jobs take accounts in id order, so there is one lock order
everywhere and no deadlock between orders, returns and the scheduled jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.cache import database_key
from tonari.kit.errors import InsufficientPoints, NotFound
from tonari.models.base import table_of
from tonari.models.ledger import (
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    LotDraw,
    PointLot,
    PointsDebt,
)
from tonari.programs.schemas import NegativeBalanceRule

PENDING = "pending"
AVAILABLE = "available"
RESERVED = "reserved"
SYSTEM = "total"

# System account ids never change once a tenant exists.
_system_accounts: dict[tuple[str, int, str], int] = {}


@dataclass(slots=True)
class LockedAccount:
    """A customer's account row held under ``FOR UPDATE`` for this transaction."""

    id: int
    tenant_id: int
    customer_id: int
    pending: int
    available: int
    reserved: int
    debt: int
    defer_balance_writes: bool = False
    """When set, cached balances are written once by ``persist_balance`` (one order, one write)."""


async def persist_balance(session: AsyncSession, account: LockedAccount) -> None:
    """Write the in-memory balances; safe as absolute values because we hold the row lock."""
    await session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account.id)
        .values(
            pending=account.pending,
            available=account.available,
            reserved=account.reserved,
            debt=account.debt,
        )
        .execution_options(synchronize_session=False)
    )


@dataclass(slots=True)
class Movement:
    """Postings gathered for one entry, written together with one balance update."""

    postings: list[dict[str, Any]] = field(default_factory=list)
    delta: dict[str, int] = field(default_factory=lambda: {PENDING: 0, AVAILABLE: 0, RESERVED: 0})

    def customer(
        self, account: LockedAccount, bucket: str, amount: int, lot_id: int | None = None
    ) -> None:
        if amount == 0:
            return
        self.postings.append(
            {"account_id": account.id, "bucket": bucket, "amount": amount, "lot_id": lot_id}
        )
        self.delta[bucket] += amount

    def system(self, account_id: int, amount: int) -> None:
        if amount == 0:
            return
        self.postings.append(
            {"account_id": account_id, "bucket": SYSTEM, "amount": amount, "lot_id": None}
        )


async def system_account(session: AsyncSession, tenant_id: int, kind: str) -> int:
    key = (database_key(session), tenant_id, kind)
    cached = _system_accounts.get(key)
    if cached is not None:
        return cached
    account_id = await session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.tenant_id == tenant_id,
            LedgerAccount.kind == kind,
            LedgerAccount.customer_id.is_(None),
        )
    )
    if account_id is None:
        raise NotFound(f"tenant {tenant_id} has no {kind} account")
    _system_accounts[key] = int(account_id)
    return int(account_id)


async def lock_account(session: AsyncSession, *, tenant_id: int, customer_id: int) -> LockedAccount:
    row = (
        await session.execute(
            select(
                LedgerAccount.id,
                LedgerAccount.pending,
                LedgerAccount.available,
                LedgerAccount.reserved,
                LedgerAccount.debt,
            )
            .where(LedgerAccount.tenant_id == tenant_id, LedgerAccount.customer_id == customer_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound(f"customer {customer_id} has no points account", code="unknown_customer")
    return LockedAccount(
        id=row.id,
        tenant_id=tenant_id,
        customer_id=customer_id,
        pending=row.pending,
        available=row.available,
        reserved=row.reserved,
        debt=row.debt,
    )


async def write_entry(
    session: AsyncSession,
    account: LockedAccount,
    movement: Movement,
    *,
    kind: str,
    reason: str,
    actor: str,
    occurred_at: datetime,
    order_id: int | None = None,
    idempotency_key: str | None = None,
    debt_change: int = 0,
) -> int:
    """Write one entry, its postings and the cached balance change; postings must net to 0."""
    total = sum(posting["amount"] for posting in movement.postings)
    if total != 0:
        raise AssertionError(f"unbalanced {kind} entry: postings sum to {total}")
    entry_id = await session.scalar(
        insert(LedgerEntry)
        .values(
            tenant_id=account.tenant_id,
            kind=kind,
            customer_id=account.customer_id,
            order_id=order_id,
            reason=reason,
            actor=actor,
            idempotency_key=idempotency_key,
            occurred_at=occurred_at,
        )
        .returning(LedgerEntry.id)
    )
    assert entry_id is not None
    if movement.postings:
        await session.execute(
            insert(table_of(LedgerPosting)),
            [
                {"tenant_id": account.tenant_id, "entry_id": entry_id, **p}
                for p in movement.postings
            ],
        )
    delta = movement.delta
    if any(delta.values()) or debt_change:
        account.pending += delta[PENDING]
        account.available += delta[AVAILABLE]
        account.reserved += delta[RESERVED]
        account.debt += debt_change
        if not account.defer_balance_writes:
            await persist_balance(session, account)
    return int(entry_id)


@dataclass(frozen=True, slots=True)
class LotToEarn:
    amount: int
    earned_at: datetime
    pending_until: datetime
    expires_at: datetime | None
    source: str
    order_id: int | None = None
    order_line_no: int | None = None


async def earn_lots(
    session: AsyncSession,
    account: LockedAccount,
    lots: list[LotToEarn],
    *,
    reason: str,
    actor: str,
    occurred_at: datetime,
    order_id: int | None = None,
    idempotency_key: str | None = None,
    hold_pending: bool = False,
    counter_account: str = "points_issued",
) -> list[int]:
    """Issue points as lots; a lot whose pending period is over is available at once.

    ``hold_pending`` keeps them pending whatever the date: an unpaid order's points wait for
    the payment before the release job may free them.
    """
    lots = [lot for lot in lots if lot.amount > 0]
    if not lots:
        return []
    rows: list[dict[str, Any]] = [
        {
            "tenant_id": account.tenant_id,
            "account_id": account.id,
            "customer_id": account.customer_id,
            "order_id": lot.order_id,
            "order_line_no": lot.order_line_no,
            "source": lot.source,
            "amount": lot.amount,
            "remaining": lot.amount,
            "state": PENDING if hold_pending or lot.pending_until > occurred_at else AVAILABLE,
            "earned_at": lot.earned_at,
            "pending_until": lot.pending_until,
            "expires_at": lot.expires_at,
        }
        for lot in lots
    ]
    lot_ids = list(
        await session.scalars(
            insert(table_of(PointLot)).returning(
                table_of(PointLot).c.id, sort_by_parameter_order=True
            ),
            rows,
        )
    )
    issued = await system_account(session, account.tenant_id, counter_account)
    movement = Movement()
    available_lots: list[tuple[int, int]] = []
    for lot_id, row in zip(lot_ids, rows, strict=True):
        movement.customer(account, row["state"], row["amount"], lot_id)
        movement.system(issued, -row["amount"])
        if row["state"] == AVAILABLE:
            available_lots.append((lot_id, row["amount"]))
    await write_entry(
        session,
        account,
        movement,
        kind="earn",
        reason=reason,
        actor=actor,
        occurred_at=occurred_at,
        order_id=order_id,
        idempotency_key=idempotency_key,
    )
    if available_lots and account.debt > 0:
        await _settle_debt_from_lots(session, account, available_lots)
    return lot_ids


async def _settle_debt_from_lots(
    session: AsyncSession, account: LockedAccount, lots: list[tuple[int, int]]
) -> None:
    """Under allow_negative the balance already shows the debt; new lots pay it off first."""
    for lot_id, amount in lots:
        if account.debt <= 0:
            break
        paid = min(account.debt, amount)
        await session.execute(
            update(PointLot)
            .where(PointLot.id == lot_id)
            .values(remaining=PointLot.remaining - paid)
            .execution_options(synchronize_session=False)
        )
        account.debt -= paid
    if not account.defer_balance_writes:
        await persist_balance(session, account)


async def _spendable_lots(session: AsyncSession, account: LockedAccount) -> list[Any]:
    """Available lots, soonest expiry first (never-expiring last), oldest first on ties."""
    return list(
        (
            await session.execute(
                select(PointLot.id, PointLot.remaining, PointLot.expires_at)
                .where(
                    PointLot.account_id == account.id,
                    PointLot.state == AVAILABLE,
                    PointLot.remaining > 0,
                )
                .order_by(PointLot.expires_at.asc().nulls_last(), PointLot.id)
            )
        ).all()
    )


@dataclass(frozen=True, slots=True)
class LineSpend:
    line_no: int | None
    points: int


async def draw_points(
    session: AsyncSession,
    account: LockedAccount,
    spends: list[LineSpend],
    *,
    reserve: bool,
    reason: str,
    actor: str,
    occurred_at: datetime,
    order_id: int | None = None,
    kind: str | None = None,
    counter_account: str = "points_redeemed",
    idempotency_key: str | None = None,
) -> int:
    """Take points from lots for each line: reserved (held) or spent at once."""
    needed = sum(spend.points for spend in spends)
    if needed <= 0:
        return 0
    if needed > account.available:
        raise InsufficientPoints(
            f"{needed} points requested, {max(account.available, 0)} available",
            field="points_to_spend",
            details={"requested": needed, "available": max(account.available, 0)},
        )
    lots = [[lot.id, lot.remaining] for lot in await _spendable_lots(session, account)]
    draws: list[dict[str, Any]] = []
    lot_taken: dict[int, int] = {}
    cursor = 0
    for spend in spends:
        left = spend.points
        while left > 0:
            lot_id, remaining = lots[cursor]
            take = min(left, remaining)
            if take:
                draws.append({"lot_id": lot_id, "order_line_no": spend.line_no, "amount": take})
                lot_taken[lot_id] = lot_taken.get(lot_id, 0) + take
                lots[cursor][1] -= take
                left -= take
            if lots[cursor][1] == 0:
                cursor += 1
    movement = Movement()
    if reserve:
        movement.customer(account, AVAILABLE, -needed)
        movement.customer(account, RESERVED, needed)
    else:
        movement.customer(account, AVAILABLE, -needed)
        movement.system(await system_account(session, account.tenant_id, counter_account), needed)
    entry_id = await write_entry(
        session,
        account,
        movement,
        kind=kind or ("reserve" if reserve else "spend"),
        reason=reason,
        actor=actor,
        occurred_at=occurred_at,
        order_id=order_id,
        idempotency_key=idempotency_key,
    )
    for lot_id, taken in lot_taken.items():
        await session.execute(
            update(PointLot)
            .where(PointLot.id == lot_id)
            .values(remaining=PointLot.remaining - taken)
        )
    await session.execute(
        insert(table_of(LotDraw)),
        [
            {
                "tenant_id": account.tenant_id,
                "entry_id": entry_id,
                "order_id": order_id,
                "status": RESERVED if reserve else "spent",
                **draw,
            }
            for draw in draws
        ],
    )
    return entry_id


async def confirm_reservation(
    session: AsyncSession,
    account: LockedAccount,
    *,
    order_id: int,
    actor: str,
    occurred_at: datetime,
) -> int:
    held = list(
        await session.scalars(
            select(LotDraw).where(LotDraw.order_id == order_id, LotDraw.status == RESERVED)
        )
    )
    total = sum(draw.amount - draw.restored for draw in held)
    if total == 0:
        return 0
    movement = Movement()
    movement.customer(account, RESERVED, -total)
    movement.system(await system_account(session, account.tenant_id, "points_redeemed"), total)
    await write_entry(
        session,
        account,
        movement,
        kind="confirm",
        reason="order paid",
        actor=actor,
        occurred_at=occurred_at,
        order_id=order_id,
    )
    await session.execute(
        update(LotDraw)
        .where(LotDraw.order_id == order_id, LotDraw.status == RESERVED)
        .values(status="spent")
    )
    return total


async def give_back_draws(
    session: AsyncSession,
    account: LockedAccount,
    *,
    order_id: int,
    line_no: int,
    amount: int,
    actor: str,
    occurred_at: datetime,
    reason: str,
) -> int:
    """Return ``amount`` points a line drew, to the lots they came from (latest expiry first).

    Reserved points go back to available; spent points come back from the redeemed account.
    A lot that has expired meanwhile takes its points back and expires them again at once,
    so a return never extends a point's life.
    """
    if amount <= 0:
        return 0
    draws = list(
        (
            await session.execute(
                select(
                    LotDraw.id,
                    LotDraw.lot_id,
                    LotDraw.amount,
                    LotDraw.restored,
                    LotDraw.status,
                    PointLot.state,
                )
                .join(PointLot, PointLot.id == LotDraw.lot_id)
                .where(
                    LotDraw.order_id == order_id,
                    LotDraw.order_line_no == line_no,
                    LotDraw.amount > LotDraw.restored,
                )
                .order_by(PointLot.expires_at.desc().nulls_first(), LotDraw.id.desc())
            )
        ).all()
    )
    redeemed = await system_account(session, account.tenant_id, "points_redeemed")
    expired_account = await system_account(session, account.tenant_id, "points_expired")
    movement = Movement()
    left = amount
    reexpired = 0
    for draw in draws:
        if left == 0:
            break
        give = min(left, draw.amount - draw.restored)
        left -= give
        if draw.status == RESERVED:
            movement.customer(account, RESERVED, -give)
        else:
            movement.system(redeemed, -give)
        if draw.state == "expired":
            movement.system(expired_account, give)
            reexpired += give
        else:
            movement.customer(account, AVAILABLE, give, draw.lot_id)
            await session.execute(
                update(PointLot)
                .where(PointLot.id == draw.lot_id)
                .values(remaining=PointLot.remaining + give)
            )
        await session.execute(
            update(LotDraw).where(LotDraw.id == draw.id).values(restored=LotDraw.restored + give)
        )
    if left:
        raise AssertionError(f"line {line_no} of order {order_id} drew {amount - left} < {amount}")
    await write_entry(
        session,
        account,
        movement,
        kind="restore",
        reason=reason,
        actor=actor,
        occurred_at=occurred_at,
        order_id=order_id,
    )
    return amount - reexpired


async def take_back_earned(
    session: AsyncSession,
    account: LockedAccount,
    *,
    order_id: int,
    line_no: int,
    amount: int,
    rule: NegativeBalanceRule,
    actor: str,
    occurred_at: datetime,
    reason: str,
) -> tuple[int, int]:
    """Reverse points a line earned: from its own lot first, then other available lots.

    What cannot be recovered because the customer already spent it follows the programme's
    rule: ``allow_negative`` leaves a negative balance (a debt new points pay off first);
    ``clamp_and_record_debt`` keeps the balance at zero and records the loss.
    Returns (taken back, shortfall).
    """
    if amount <= 0:
        return 0, 0
    issued = await system_account(session, account.tenant_id, "points_issued")
    movement = Movement()
    left = amount
    own = (
        await session.execute(
            select(PointLot.id, PointLot.remaining, PointLot.state).where(
                PointLot.order_id == order_id,
                PointLot.order_line_no == line_no,
                PointLot.state.in_((PENDING, AVAILABLE)),
            )
        )
    ).first()
    lot_updates: dict[int, int] = {}
    if own is not None and own.remaining > 0:
        take = min(left, own.remaining)
        movement.customer(account, own.state, -take, own.id)
        lot_updates[own.id] = take
        left -= take
    if left:
        for lot in await _spendable_lots(session, account):
            if left == 0:
                break
            already = lot_updates.get(lot.id, 0)
            take = min(left, lot.remaining - already)
            if take <= 0:
                continue
            movement.customer(account, AVAILABLE, -take, lot.id)
            lot_updates[lot.id] = already + take
            left -= take
    shortfall = left
    debt_change = 0
    if shortfall and rule is NegativeBalanceRule.ALLOW_NEGATIVE:
        movement.customer(account, AVAILABLE, -shortfall)
        debt_change = shortfall
    recovered = amount - (0 if rule is NegativeBalanceRule.ALLOW_NEGATIVE else shortfall)
    movement.system(issued, recovered)
    for lot_id, taken in lot_updates.items():
        await session.execute(
            update(PointLot)
            .where(PointLot.id == lot_id)
            .values(
                remaining=PointLot.remaining - taken,
            )
        )
    entry_id = await write_entry(
        session,
        account,
        movement,
        kind="take_back",
        reason=reason,
        actor=actor,
        occurred_at=occurred_at,
        order_id=order_id,
        debt_change=debt_change,
    )
    if shortfall and rule is NegativeBalanceRule.CLAMP_AND_RECORD_DEBT:
        await session.execute(
            insert(PointsDebt).values(
                tenant_id=account.tenant_id,
                customer_id=account.customer_id,
                order_id=order_id,
                entry_id=entry_id,
                amount=shortfall,
            )
        )
    await session.execute(
        update(PointLot)
        .where(
            PointLot.order_id == order_id,
            PointLot.order_line_no == line_no,
            PointLot.state == PENDING,
            PointLot.remaining == 0,
        )
        .values(state="cancelled")
    )
    return recovered, shortfall


def due_lots_condition(now: datetime, kind: str) -> Any:
    if kind == "release":
        return and_(PointLot.state == PENDING, PointLot.pending_until <= now)
    return and_(PointLot.state == AVAILABLE, PointLot.remaining > 0, PointLot.expires_at <= now)


def releasable_order_condition() -> Any:
    """Points of an unpaid order stay pending until it is paid (or for good if cancelled)."""
    from tonari.models.orders import Order

    return or_(
        PointLot.order_id.is_(None),
        PointLot.order_id.in_(
            select(Order.id).where(Order.id == PointLot.order_id, Order.paid_at.is_not(None))
        ),
    )
