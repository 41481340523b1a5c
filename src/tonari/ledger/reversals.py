"""Reversals for returns and cancellations: spent points come back to their lots, earned
points are taken back, and what a customer already spent follows the negative-balance rule.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.ledger.service import (
    AVAILABLE,
    PENDING,
    RESERVED,
    LockedAccount,
    Movement,
    spendable_lots,
    system_account,
    write_entry,
)
from tonari.models.ledger import LotDraw, PointLot, PointsDebt
from tonari.programs.schemas import NegativeBalanceRule


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
        for lot in await spendable_lots(session, account):
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
