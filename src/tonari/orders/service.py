"""Orders: calculate (no side effects), place (idempotent by the shop's order id), pay,
cancel and return lines. Points move per line, so a partial return reverses exactly the
points of the returned units.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.service import find_customer_row
from tonari.kit.clock import ensure_aware
from tonari.kit.errors import Conflict, InsufficientPoints, ValidationFailed
from tonari.kit.hashing import canonical_hash
from tonari.kit.outbox import record_event
from tonari.ledger import service as ledger
from tonari.ledger.temporary import spendable_for_cart
from tonari.models.base import table_of
from tonari.models.customers import Customer
from tonari.models.orders import Order, OrderLine
from tonari.orders.offers import (
    budgets_remaining,
    complete_snapshot,
    record_offers,
    snapshot_of,
)
from tonari.orders.schemas import CartIn, OrderPlace
from tonari.orders.tiering import refresh_tier, tiers_can_fall_without_orders
from tonari.orders.vouchers import code_owners, hand_out, present_codes
from tonari.programs.schemas import Programme
from tonari.programs.service import programme_in_force
from tonari.rules.cart import ANONYMOUS, CartCalculation, CartLine, calculate_cart
from tonari.rules.lots import expires_at, pending_until
from tonari.rules.offers.context import CustomerSnapshot, PresentedCode


@dataclass(slots=True)
class Buyer:
    customer_id: int | None
    external_id: str | None
    view: CustomerSnapshot
    account: ledger.LockedAccount | None = None
    codes: list[PresentedCode] = field(default_factory=list)
    owner_accounts: dict[int, ledger.LockedAccount] = field(default_factory=dict)


def _cart_lines(body: CartIn, programme: Programme) -> list[CartLine]:
    if body.currency is not None and body.currency != programme.currency:
        raise ValidationFailed(
            f"currency {body.currency} differs from the programme's {programme.currency}",
            field="currency",
            code="currency_mismatch",
        )
    if len(body.lines) > programme.max_cart_lines:
        raise ValidationFailed(
            f"at most {programme.max_cart_lines} lines per cart",
            field="lines",
            code="too_many_lines",
        )
    return [
        CartLine(
            line_no=index,
            product_id=line.product_id,
            unit_price=line.unit_price,
            quantity=line.quantity,
            category=line.category,
            brand=line.brand,
            on_sale=line.on_sale,
        )
        for index, line in enumerate(body.lines, start=1)
    ]


async def _lock_accounts(
    session: AsyncSession, *, tenant_id: int, customer_ids: list[int]
) -> dict[int, ledger.LockedAccount]:
    """Lock accounts in customer-id order, so two orders crediting each other's referrers
    never wait on each other in a cycle."""
    return {
        customer_id: await ledger.lock_account(
            session, tenant_id=tenant_id, customer_id=customer_id
        )
        for customer_id in sorted(set(customer_ids))
    }


def cart_reference(body: CartIn) -> str | None:
    """What temporary points for one cart are tied to: the cart id, else the order id."""
    return body.cart_id or (body.order_id if isinstance(body, OrderPlace) else None)


def _check_partner(body: CartIn, programme: Programme) -> None:
    if body.partner is not None and programme.partner(body.partner) is None:
        known = ", ".join(partner.code for partner in programme.partners) or "none configured"
        raise ValidationFailed(
            f"the programme has no partner {body.partner!r} (known: {known})",
            field="partner",
            code="unknown_partner",
        )


async def _buyer(
    session: AsyncSession, *, tenant_id: int, body: CartIn, lock: bool, at: datetime
) -> Buyer:
    """The buyer (locked when placing), the codes they present and the referrers to credit."""
    if body.customer is None:
        codes = await present_codes(
            session, tenant_id=tenant_id, body=body, customer_id=None, at=at
        )
        owners = code_owners(codes, None) if lock else []
        locked = await _lock_accounts(session, tenant_id=tenant_id, customer_ids=owners)
        return Buyer(None, None, ANONYMOUS, None, codes, locked)
    cart_ref = cart_reference(body)
    row = await find_customer_row(
        session, tenant_id=tenant_id, reference=body.customer, cart_ref=cart_ref
    )
    codes = await present_codes(
        session, tenant_id=tenant_id, body=body, customer_id=int(row.id), at=at
    )
    account = None
    available = int(row.spendable)
    locked = {}
    if lock:
        owners = code_owners(codes, int(row.id))
        locked = await _lock_accounts(
            session, tenant_id=tenant_id, customer_ids=[int(row.id), *owners]
        )
        account = locked.pop(int(row.id))
        available = await spendable_for_cart(session, account, cart_ref)
    view = snapshot_of(row, available=available, tier_code=row.tier_code or "")
    return Buyer(int(row.id), row.external_id, view, account, codes, locked)


async def calculate_order(
    session: AsyncSession, *, tenant_id: int, body: CartIn, now: datetime
) -> dict[str, Any]:
    at = ensure_aware(body.at, "at") if body.at else now
    version, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    lines = _cart_lines(body, programme)
    _check_partner(body, programme)
    buyer = await _buyer(session, tenant_id=tenant_id, body=body, lock=False, at=at)
    view = buyer.view
    if buyer.customer_id is not None and not view.tier_code:
        view = replace(view, tier_code=programme.tiers[0].code)
    view = await complete_snapshot(
        session, tenant_id=tenant_id, programme=programme, snapshot=view, at=at
    )
    codes = buyer.codes
    budgets = await budgets_remaining(session, tenant_id=tenant_id, programme=programme, lock=False)
    calculation = calculate_cart(
        programme,
        lines,
        view,
        body.points_to_spend,
        at=at,
        codes=codes,
        channel=body.channel,
        partner=body.partner,
        budgets_remaining=budgets,
    )
    return {
        "currency": programme.currency,
        "programme_version": version,
        "customer": buyer.external_id,
        **calculation.as_dict(),
    }


def _refuse_unmet_spend(calculation: CartCalculation, buyer: Buyer) -> None:
    if calculation.points_applied == calculation.points_requested:
        return
    if calculation.points_requested > max(buyer.view.available_points, 0):
        raise InsufficientPoints(
            f"{calculation.points_requested} points requested, "
            f"{max(buyer.view.available_points, 0)} available",
            field="points_to_spend",
            details={"available": max(buyer.view.available_points, 0)},
        )
    raise ValidationFailed(
        f"at most {calculation.max_points_spendable} points can pay for this cart",
        field="points_to_spend",
        code="points_over_limit",
        details={"max_points_spendable": calculation.max_points_spendable},
    )


async def _existing_order_answer(
    session: AsyncSession, *, tenant_id: int, order_id: str, request_hash: str
) -> dict[str, Any] | None:
    row = (
        await session.execute(
            select(Order.request_hash, Order.result).where(
                Order.tenant_id == tenant_id, Order.external_id == order_id
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise Conflict(
            f"order {order_id!r} was already placed with a different body",
            field="order_id",
            code="order_id_reused",
        )
    return dict(row.result)


async def place_order(
    session: AsyncSession, *, tenant_id: int, body: OrderPlace, actor: str, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Place an order once. Returns (the order, created); a repeat returns the first answer.

    A named buyer's account is locked first and the order id is checked under that lock, so
    twins of one order serialise there; anonymous twins meet at the unique order id.
    """
    request_hash = canonical_hash(body.model_dump(mode="json"))
    if body.customer is None:
        known = await _existing_order_answer(
            session, tenant_id=tenant_id, order_id=body.order_id, request_hash=request_hash
        )
        if known is not None:
            return known, False
    placed_at = ensure_aware(body.placed_at, "placed_at") if body.placed_at else now
    version, programme = await programme_in_force(session, tenant_id=tenant_id, at=placed_at)
    lines = _cart_lines(body, programme)
    _check_partner(body, programme)
    buyer = await _buyer(session, tenant_id=tenant_id, body=body, lock=True, at=placed_at)
    if buyer.customer_id is not None:
        known = await _existing_order_answer(
            session, tenant_id=tenant_id, order_id=body.order_id, request_hash=request_hash
        )
        if known is not None:
            return known, False
        tier_code = buyer.view.tier_code or programme.tiers[0].code
        if tiers_can_fall_without_orders(programme):
            # The tier held at the moment of purchase may have fallen since the last order.
            decision = await refresh_tier(
                session,
                tenant_id=tenant_id,
                programme=programme,
                customer_id=buyer.customer_id,
                at=placed_at,
            )
            tier_code = decision.tier_code
        buyer.view = await complete_snapshot(
            session,
            tenant_id=tenant_id,
            programme=programme,
            snapshot=replace(buyer.view, tier_code=tier_code),
            at=placed_at,
        )
    codes = buyer.codes
    budgets = await budgets_remaining(session, tenant_id=tenant_id, programme=programme, lock=True)
    calculation = calculate_cart(
        programme,
        lines,
        buyer.view,
        body.points_to_spend,
        at=placed_at,
        codes=codes,
        channel=body.channel,
        partner=body.partner,
        budgets_remaining=budgets,
    )
    _refuse_unmet_spend(calculation, buyer)
    net_spend = calculation.total_regular - calculation.discount_total
    status = "paid" if body.paid else "placed"
    result: dict[str, Any] = {
        "order_id": body.order_id,
        "status": status,
        "customer": buyer.external_id,
        "currency": programme.currency,
        "programme_version": version,
        "placed_at": placed_at.isoformat(),
        "tier_after": calculation.tier_code,
        **calculation.as_dict(),
    }
    order_values = {
        "tenant_id": tenant_id,
        "external_id": body.order_id,
        "customer_id": buyer.customer_id,
        "status": status,
        "channel": body.channel,
        "request_hash": request_hash,
        "currency": programme.currency,
        "programme_version": version,
        "tier_code": calculation.tier_code,
        "total_regular": calculation.total_regular,
        "points_spent": calculation.points_applied,
        "total_paid": calculation.total_to_pay,
        "points_earned": calculation.points_to_earn,
        "net_spend": net_spend,
        "discount_total": calculation.discount_total,
        "partner": body.partner,
        "placed_at": placed_at,
        "paid_at": placed_at if body.paid else None,
        "result": result,
    }
    order_id = await session.scalar(
        pg_insert(Order)
        .on_conflict_do_nothing(index_elements=[Order.tenant_id, Order.external_id])
        .returning(Order.id),
        [order_values],
    )
    if order_id is None:
        # An anonymous twin committed first (named customers serialise on the account lock).
        known = await _existing_order_answer(
            session, tenant_id=tenant_id, order_id=body.order_id, request_hash=request_hash
        )
        assert known is not None
        return known, False
    await session.execute(
        pg_insert(table_of(OrderLine)),
        [
            {
                "tenant_id": tenant_id,
                "order_id": order_id,
                "line_no": line.line_no,
                "product_id": line.product_id,
                "category": line.category,
                "brand": source.brand,
                "on_sale": source.on_sale,
                "unit_price": line.unit_price,
                "quantity": line.quantity,
                "line_total": line.regular_total,
                "discount": line.discount,
                "points_spent": line.points_applied,
                "amount_paid": line.price_to_pay,
                "points_earned": line.points_to_earn,
            }
            for line, source in zip(calculation.lines, lines, strict=True)
        ],
    )
    await record_offers(
        session,
        tenant_id=tenant_id,
        programme=programme,
        calculation=calculation,
        order_id=order_id,
        customer_id=buyer.customer_id,
        at=placed_at,
    )
    issued_codes = await hand_out(
        session,
        tenant_id=tenant_id,
        programme=programme,
        calculation=calculation,
        codes=codes,
        owner_accounts=buyer.owner_accounts,
        order_id=order_id,
        order_external_id=body.order_id,
        customer_id=buyer.customer_id,
        paid=body.paid,
        at=placed_at,
        actor=actor,
    )
    if issued_codes:
        result["issued_codes"] = issued_codes
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(result=result)
            .execution_options(synchronize_session=False)
        )
    if buyer.account is not None and buyer.customer_id is not None:
        await _move_order_points(
            session,
            buyer.account,
            calculation,
            programme=programme,
            body=body,
            order_id=order_id,
            placed_at=placed_at,
            actor=actor,
        )
        customer = (
            await session.execute(
                update(Customer)
                .where(Customer.id == buyer.customer_id)
                .values(
                    lifetime_spend=Customer.lifetime_spend + net_spend,
                    orders_count=Customer.orders_count + 1,
                    last_purchase_at=_later(Customer.last_purchase_at, placed_at),
                    first_purchase_at=_earlier(Customer.first_purchase_at, placed_at),
                )
                .returning(Customer.tier_code, Customer.lifetime_spend, Customer.last_purchase_at)
                .execution_options(synchronize_session=False)
            )
        ).one()
        decision = await refresh_tier(
            session,
            tenant_id=tenant_id,
            programme=programme,
            customer_id=buyer.customer_id,
            at=placed_at,
            known=customer,
        )
        if decision.tier_code != calculation.tier_code:
            result["tier_after"] = decision.tier_code
            await session.execute(
                update(Order)
                .where(Order.id == order_id)
                .values(result=result)
                .execution_options(synchronize_session=False)
            )
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type="order.placed",
        subject=body.order_id,
        payload={k: v for k, v in result.items() if k != "explanations"},
        occurred_at=placed_at,
        customer_id=buyer.customer_id,
        entity_id=body.cart_id,
    )
    return result, True


async def _move_order_points(
    session: AsyncSession,
    account: ledger.LockedAccount,
    calculation: CartCalculation,
    *,
    programme: Programme,
    body: OrderPlace,
    order_id: int,
    placed_at: datetime,
    actor: str,
) -> None:
    """Spend (or reserve) the order's points and earn its lots, with one balance write."""
    account.defer_balance_writes = True
    await ledger.draw_points(
        session,
        account,
        [
            ledger.LineSpend(line.line_no, line.points_applied)
            for line in calculation.lines
            if line.points_applied
        ],
        reserve=not body.paid,
        cart_ref=cart_reference(body),
        reason=f"order {body.order_id}",
        actor=actor,
        occurred_at=placed_at,
        order_id=order_id,
    )
    await ledger.earn_lots(
        session,
        account,
        [
            ledger.LotToEarn(
                amount=line.points_to_earn,
                earned_at=placed_at,
                pending_until=pending_until(programme, placed_at),
                expires_at=expires_at(programme, placed_at),
                source="order",
                order_id=order_id,
                order_line_no=line.line_no,
            )
            for line in calculation.lines
        ],
        reason=f"order {body.order_id} at {calculation.tier_code}",
        actor=actor,
        occurred_at=placed_at,
        order_id=order_id,
        # An unpaid order's points wait for the payment before they can be released.
        hold_pending=not body.paid,
    )
    account.defer_balance_writes = False
    await ledger.persist_balance(session, account)


def _later(column: Any, moment: datetime) -> Any:
    from sqlalchemy import func

    return func.greatest(func.coalesce(column, moment), moment)


def _earlier(column: Any, moment: datetime) -> Any:
    from sqlalchemy import func

    return func.least(func.coalesce(column, moment), moment)
