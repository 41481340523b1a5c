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
)

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
    reserved_for_order_ref: str | None = None


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
            "reserved_for_order_ref": lot.reserved_for_order_ref,
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
        await settle_debt_from_lots(session, account, available_lots)
    return lot_ids


async def settle_debt_from_lots(
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


async def available_lots(session: AsyncSession, account: LockedAccount) -> list[Any]:
    """Available lots, soonest expiry first (never-expiring last), oldest first on ties."""
    return list(
        (
            await session.execute(
                select(
                    PointLot.id,
                    PointLot.remaining,
                    PointLot.expires_at,
                    PointLot.reserved_for_order_ref,
                )
                .where(
                    PointLot.account_id == account.id,
                    PointLot.state == AVAILABLE,
                    PointLot.remaining > 0,
                )
                .order_by(PointLot.expires_at.asc().nulls_last(), PointLot.id)
            )
        ).all()
    )


def usable_for_cart(lots: list[Any], cart_ref: str | None) -> list[Any]:
    """The lots a spend for ``cart_ref`` may draw: that cart's own temporary points first
    (they burn soonest and serve nothing else), then the unrestricted ones."""
    own = [lot for lot in lots if cart_ref is not None and lot.reserved_for_order_ref == cart_ref]
    return own + [lot for lot in lots if lot.reserved_for_order_ref is None]


def restricted_elsewhere(lots: list[Any], cart_ref: str | None) -> int:
    """Points held for other carts: in the balance, but not spendable on ``cart_ref``."""
    return sum(
        lot.remaining
        for lot in lots
        if lot.reserved_for_order_ref is not None and lot.reserved_for_order_ref != cart_ref
    )


async def spendable_lots(
    session: AsyncSession, account: LockedAccount, *, cart_ref: str | None = None
) -> list[Any]:
    """Lots a spend may draw, in drawing order; lots held for another cart are left out."""
    return usable_for_cart(await available_lots(session, account), cart_ref)


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
    cart_ref: str | None = None,
) -> int:
    """Take points from lots for each line: reserved (held) or spent at once.

    ``cart_ref`` names the cart / order being paid: temporary points held for it are used
    first, and points held for any other cart are neither counted nor drawn.
    """
    needed = sum(spend.points for spend in spends)
    if needed <= 0:
        return 0
    if needed > account.available:
        raise InsufficientPoints(
            f"{needed} points requested, {max(account.available, 0)} available",
            field="points_to_spend",
            details={"requested": needed, "available": max(account.available, 0)},
        )
    candidates = await available_lots(session, account)
    spendable = account.available - restricted_elsewhere(candidates, cart_ref)
    if needed > spendable:
        raise InsufficientPoints(
            f"{needed} points requested, {max(spendable, 0)} available for this order "
            "(the rest is held for another cart)",
            field="points_to_spend",
            details={"requested": needed, "available": max(spendable, 0)},
        )
    lots = [[lot.id, lot.remaining] for lot in usable_for_cart(candidates, cart_ref)]
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
