"""Changes to a placed order: pay, cancel, return lines. Points move back per line, so a
partial return reverses exactly the points of the returned units.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.clock import ensure_aware
from tonari.kit.errors import Conflict, InvalidState, NotFound, ValidationFailed
from tonari.kit.hashing import canonical_hash
from tonari.kit.money import divide
from tonari.kit.outbox import record_event
from tonari.ledger import reversals
from tonari.ledger import service as ledger
from tonari.models.customers import Customer
from tonari.models.orders import Order, OrderLine, OrderReturn
from tonari.orders.offers import return_line_stamps, undo_offers
from tonari.orders.schemas import OrderReturnIn
from tonari.orders.tiering import refresh_tier
from tonari.orders.vouchers import take_back_referrals
from tonari.programs.schemas import Programme
from tonari.programs.service import programme_in_force


async def _load_order(session: AsyncSession, *, tenant_id: int, order_id: str) -> Order:
    order = await session.scalar(
        select(Order).where(Order.tenant_id == tenant_id, Order.external_id == order_id)
    )
    if order is None:
        raise NotFound(f"no order {order_id!r}", field="order_id", code="unknown_order")
    return order


async def _lock_order(
    session: AsyncSession, *, tenant_id: int, order_id: str
) -> tuple[Order, ledger.LockedAccount | None]:
    """Lock the buyer's account (the one lock order), then read the order under it."""
    order = await _load_order(session, tenant_id=tenant_id, order_id=order_id)
    account = None
    if order.customer_id is not None:
        account = await ledger.lock_account(
            session, tenant_id=tenant_id, customer_id=order.customer_id
        )
    await session.refresh(order, with_for_update=True)
    return order, account


async def order_view(session: AsyncSession, *, tenant_id: int, order_id: str) -> dict[str, Any]:
    order = await _load_order(session, tenant_id=tenant_id, order_id=order_id)
    lines = list(
        await session.scalars(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)
        )
    )
    return {
        "order_id": order.external_id,
        "status": order.status,
        "channel": order.channel,
        "currency": order.currency,
        "tier": order.tier_code,
        "placed_at": order.placed_at.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
        "total_regular": order.total_regular,
        "points_spent": order.points_spent,
        "total_paid": order.total_paid,
        "points_earned": order.points_earned,
        "net_spend": order.net_spend,
        "discount_total": order.discount_total,
        "lines": [
            {
                "line_no": line.line_no,
                "product_id": line.product_id,
                "category": line.category,
                "unit_price": line.unit_price,
                "quantity": line.quantity,
                "discount": line.discount,
                "returned_quantity": line.returned_quantity,
                "points_spent": line.points_spent,
                "points_earned": line.points_earned,
                "points_taken_back": line.points_taken_back,
                "points_restored": line.points_restored,
                "amount_paid": line.amount_paid,
            }
            for line in lines
        ],
    }


async def pay_order(
    session: AsyncSession, *, tenant_id: int, order_id: str, actor: str, at: datetime
) -> dict[str, Any]:
    order, account = await _lock_order(session, tenant_id=tenant_id, order_id=order_id)
    if order.status == "cancelled":
        raise InvalidState(f"order {order_id!r} is cancelled", field="order_id")
    if order.paid_at is None:
        if account is not None:
            await ledger.confirm_reservation(
                session, account, order_id=order.id, actor=actor, occurred_at=at
            )
        order.paid_at = at
        order.status = "paid"
        await record_event(
            session,
            tenant_id=tenant_id,
            event_type="order.paid",
            subject=order_id,
            payload={"order_id": order_id, "paid_at": at.isoformat()},
            occurred_at=at,
            customer_id=order.customer_id,
        )
    await session.flush()
    return await order_view(session, tenant_id=tenant_id, order_id=order_id)


async def _reverse_lines(
    session: AsyncSession,
    *,
    order: Order,
    account: ledger.LockedAccount | None,
    programme: Programme,
    quantities: dict[int, int],
    actor: str,
    at: datetime,
    reason: str,
) -> dict[str, int]:
    """Take back earned and give back spent points for returned units, line by line."""
    lines = {
        line.line_no: line
        for line in await session.scalars(
            select(OrderLine).where(OrderLine.order_id == order.id).with_for_update()
        )
    }
    taken_back = restored = shortfall = spend_reduction = refund = 0
    for line_no, quantity in quantities.items():
        line = lines.get(line_no)
        if line is None:
            raise ValidationFailed(f"order has no line {line_no}", field="lines.line_no")
        if line.returned_quantity + quantity > line.quantity:
            raise ValidationFailed(
                f"line {line_no}: {quantity} more returned but only "
                f"{line.quantity - line.returned_quantity} left",
                field="lines.quantity",
                code="return_exceeds_quantity",
            )
    for line_no, quantity in sorted(quantities.items()):
        line = lines[line_no]
        returned = line.returned_quantity + quantity
        earned_target = divide(line.points_earned * returned, line.quantity, programme.rounding)
        spent_target = divide(line.points_spent * returned, line.quantity, programme.rounding)
        take = earned_target - line.points_taken_back
        give = spent_target - line.points_restored
        if account is not None:
            recovered, short = await reversals.take_back_earned(
                session,
                account,
                order_id=order.id,
                line_no=line_no,
                amount=take,
                rule=programme.negative_balance,
                actor=actor,
                occurred_at=at,
                reason=reason,
            )
            taken_back += recovered
            shortfall += short
            restored += await reversals.give_back_draws(
                session,
                account,
                order_id=order.id,
                line_no=line_no,
                amount=give,
                actor=actor,
                occurred_at=at,
                reason=reason,
            )
        previously = line.returned_quantity
        line.returned_quantity = returned
        line.points_taken_back += take
        line.points_restored += give
        # Shares of the discounted line, so returning every unit undoes exactly the whole line.
        net_line = line.line_total - line.discount
        spend_reduction += (net_line * returned) // line.quantity - (
            net_line * previously
        ) // line.quantity
        refund += (line.amount_paid * returned) // line.quantity - (
            line.amount_paid * previously
        ) // line.quantity
    order.net_spend -= spend_reduction
    if order.customer_id is not None:
        await session.execute(
            update(Customer)
            .where(Customer.id == order.customer_id)
            .values(lifetime_spend=Customer.lifetime_spend - spend_reduction)
        )
    await session.flush()
    return {
        "points_taken_back": taken_back,
        "points_restored": restored,
        "points_not_recovered": shortfall,
        "spend_reduction": spend_reduction,
        "refund": refund,
    }


async def _give_back_offers(
    session: AsyncSession,
    *,
    order: Order,
    programme: Programme,
    actor: str,
    at: datetime,
    reason: str,
) -> None:
    """What the order's offers gave or took, undone: a cancel and a full return alike."""
    await undo_offers(
        session,
        tenant_id=order.tenant_id,
        programme=programme,
        order_id=order.id,
        order_external_id=order.external_id,
        at=at,
    )
    await take_back_referrals(
        session,
        tenant_id=order.tenant_id,
        programme=programme,
        order_id=order.id,
        actor=actor,
        at=at,
        reason=reason,
    )


async def cancel_order(
    session: AsyncSession, *, tenant_id: int, order_id: str, actor: str, at: datetime
) -> dict[str, Any]:
    order, account = await _lock_order(session, tenant_id=tenant_id, order_id=order_id)
    if order.status == "cancelled":
        return await order_view(session, tenant_id=tenant_id, order_id=order_id)
    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    remaining = {
        line.line_no: line.quantity - line.returned_quantity
        for line in await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
        if line.quantity > line.returned_quantity
    }
    summary = await _reverse_lines(
        session,
        order=order,
        account=account,
        programme=programme,
        quantities=remaining,
        actor=actor,
        at=at,
        reason=f"order {order_id} cancelled",
    )
    order.status = "cancelled"
    order.cancelled_at = at
    await _give_back_offers(
        session,
        order=order,
        programme=programme,
        actor=actor,
        at=at,
        reason=f"order {order_id} cancelled",
    )
    if order.customer_id is not None:
        await session.execute(
            update(Customer)
            .where(Customer.id == order.customer_id)
            .values(orders_count=Customer.orders_count - 1)
        )
        await refresh_tier(
            session,
            tenant_id=tenant_id,
            programme=programme,
            customer_id=order.customer_id,
            at=at,
        )
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type="order.cancelled",
        subject=order_id,
        payload={"order_id": order_id, **summary},
        occurred_at=at,
        customer_id=order.customer_id,
    )
    await session.flush()
    return {**await order_view(session, tenant_id=tenant_id, order_id=order_id), **summary}


async def return_order_lines(
    session: AsyncSession,
    *,
    tenant_id: int,
    order_id: str,
    body: OrderReturnIn,
    actor: str,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    request_hash = canonical_hash(body.model_dump(mode="json"))
    order, account = await _lock_order(session, tenant_id=tenant_id, order_id=order_id)
    previous = (
        await session.execute(
            select(OrderReturn.request_hash, OrderReturn.result).where(
                OrderReturn.order_id == order.id, OrderReturn.external_id == body.return_id
            )
        )
    ).first()
    if previous is not None:
        if previous.request_hash != request_hash:
            raise Conflict(
                f"return {body.return_id!r} was already recorded with a different body",
                field="return_id",
                code="return_id_reused",
            )
        return dict(previous.result), False
    if order.status == "cancelled":
        raise InvalidState(f"order {order_id!r} is cancelled", field="order_id")
    if order.paid_at is None:
        raise InvalidState(
            f"order {order_id!r} is not paid yet: cancel it instead of returning lines",
            field="order_id",
        )
    at = ensure_aware(body.returned_at, "returned_at") if body.returned_at else now
    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    quantities: dict[int, int] = {}
    for item in body.lines:
        quantities[item.line_no] = quantities.get(item.line_no, 0) + item.quantity
    summary = await _reverse_lines(
        session,
        order=order,
        account=account,
        programme=programme,
        quantities=quantities,
        actor=actor,
        at=at,
        reason=f"return {body.return_id} of order {order_id}",
    )
    fully = all(
        line.returned_quantity == line.quantity
        for line in await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
    )
    order.status = "returned" if fully else "partially_returned"
    await return_line_stamps(
        session,
        tenant_id=tenant_id,
        order_id=order.id,
        returned={
            line.line_no: (line.returned_quantity, line.quantity)
            for line in await session.scalars(
                select(OrderLine).where(
                    OrderLine.order_id == order.id, OrderLine.line_no.in_(list(quantities))
                )
            )
        },
        return_id=body.return_id,
        at=at,
    )
    if fully:
        await _give_back_offers(
            session,
            order=order,
            programme=programme,
            actor=actor,
            at=at,
            reason=f"order {order_id} returned",
        )
    if order.customer_id is not None:
        await refresh_tier(
            session,
            tenant_id=tenant_id,
            programme=programme,
            customer_id=order.customer_id,
            at=at,
        )
    result = {
        "return_id": body.return_id,
        "order_id": order_id,
        "status": order.status,
        "returned_at": at.isoformat(),
        **summary,
    }
    session.add(
        OrderReturn(
            tenant_id=tenant_id,
            order_id=order.id,
            external_id=body.return_id,
            request_hash=request_hash,
            result=result,
            returned_at=at,
        )
    )
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type="order.returned",
        subject=order_id,
        payload=result,
        occurred_at=at,
        customer_id=order.customer_id,
    )
    await session.flush()
    return result, True
