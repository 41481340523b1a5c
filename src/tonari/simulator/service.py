"""The simulator over the API: programmes from the body, orders inline or from the tenant's own
history, the replay run off the event loop.

Replaying the tenant's real orders is the valuable case: the marketer asks what a proposal
would have cost on last year's customers, not on made-up ones.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import ValidationFailed
from tonari.models.customers import Customer
from tonari.models.orders import Order, OrderLine, OrderReturn
from tonari.programs.schemas import CustomerType, Programme
from tonari.programs.service import parse_programme, programme_in_force
from tonari.rules.cart import CartLine
from tonari.simulator.history import HistoryOrder, HistoryReturn, history_from_records
from tonari.simulator.prepared import RedemptionMode, RedemptionPolicy
from tonari.simulator.simulate import simulate

MAX_INLINE_ORDERS = 10_000
MAX_STORED_ORDERS = 200_000
REPLAYED_STATUSES = ("paid", "partially_returned", "returned")


class RedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: RedemptionMode = RedemptionMode.MAX
    min_balance: int = Field(default=0, ge=0)


class StoredOrdersIn(BaseModel):
    """The tenant's own paid orders placed in ``[since, until)``."""

    model_config = ConfigDict(extra="forbid")
    since: AwareDatetime
    until: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> StoredOrdersIn:
        if self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class SimulationIn(BaseModel):
    """A what-if: ``orders`` inline (the history file's columns as JSON) or ``stored``."""

    model_config = ConfigDict(extra="forbid")
    programme: dict[str, Any] = Field(description="The proposed programme document")
    baseline: dict[str, Any] | Literal["current", "none"] = Field(
        default="none",
        description="A programme document, 'current' (the one in force) or 'none'",
    )
    margin_bp: int = Field(default=3_000, ge=0, le=10_000)
    redemption: RedemptionIn = RedemptionIn()
    orders: list[dict[str, Any]] | None = Field(
        default=None, min_length=1, max_length=MAX_INLINE_ORDERS
    )
    stored: StoredOrdersIn | None = None
    until: AwareDatetime | None = Field(
        default=None, description="Replay up to this moment (default: the last order)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> SimulationIn:
        if (self.orders is None) == (self.stored is None):
            raise ValueError("give either orders (inline) or stored (a date range), not both")
        return self


def _programme(document: dict[str, Any], where: str) -> Programme:
    try:
        return parse_programme(document)
    except ValidationFailed as exc:
        field = f"{where}.{exc.field}" if exc.field else where
        raise ValidationFailed(
            f"{where}: {exc.message}", field=field, code=exc.code, details=exc.details
        ) from None


async def stored_history(
    session: AsyncSession, *, tenant_id: int, since: datetime, until: datetime
) -> list[HistoryOrder]:
    """The tenant's paid orders in ``[since, until)`` with their lines and returns.

    Returned units are replayed at the order's first return (per-line return times are not
    kept). Cancelled and unpaid orders are left out.
    """
    scope = (
        Order.tenant_id == tenant_id,
        Order.placed_at >= since,
        Order.placed_at < until,
        Order.status.in_(REPLAYED_STATUSES),
    )
    count = int(await session.scalar(select(func.count()).where(*scope)) or 0)
    if count > MAX_STORED_ORDERS:
        raise ValidationFailed(
            f"{count:,} orders in that range; at most {MAX_STORED_ORDERS:,} are replayed over "
            "the API: narrow stored.since/until, or export them and use 'tonari simulate'",
            field="stored",
            code="too_many_orders",
        )
    first_return = (
        select(func.min(OrderReturn.returned_at))
        .where(OrderReturn.order_id == Order.id)
        .scalar_subquery()
    )
    orders = (
        await session.execute(
            select(
                Order.id,
                Order.external_id,
                Order.placed_at,
                Order.points_spent,
                Order.channel,
                Order.partner,
                Customer.external_id.label("customer"),
                Customer.customer_type,
                Customer.birth_date,
                first_return.label("first_return"),
            )
            .outerjoin(Customer, Customer.id == Order.customer_id)
            .where(*scope)
            .order_by(Order.id)
        )
    ).all()
    lines: dict[int, list[Any]] = {}
    for line in await session.execute(
        select(
            OrderLine.order_id,
            OrderLine.line_no,
            OrderLine.product_id,
            OrderLine.category,
            OrderLine.brand,
            OrderLine.on_sale,
            OrderLine.unit_price,
            OrderLine.quantity,
            OrderLine.returned_quantity,
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(*scope)
        .order_by(OrderLine.order_id, OrderLine.line_no)
    ):
        lines.setdefault(line.order_id, []).append(line)
    history: list[HistoryOrder] = []
    for row_number, order in enumerate(orders, start=1):
        order_lines = lines.get(order.id, [])
        if not order_lines:
            continue
        returned = tuple(
            (line.line_no, line.returned_quantity)
            for line in order_lines
            if line.returned_quantity > 0
        )
        returns = (
            (HistoryReturn(order.first_return, returned),)
            if returned and order.first_return is not None
            else ()
        )
        history.append(
            HistoryOrder(
                row=row_number,
                customer_id=order.customer,
                order_id=order.external_id,
                placed_at=order.placed_at,
                lines=tuple(
                    CartLine(
                        line.line_no,
                        line.product_id,
                        line.unit_price,
                        line.quantity,
                        line.category,
                        line.brand,
                        line.on_sale,
                    )
                    for line in order_lines
                ),
                points_spent=order.points_spent,
                customer_type=CustomerType(order.customer_type or CustomerType.PERSON),
                returns=returns,
                birth_date=order.birth_date,
                channel=order.channel,
                partner=order.partner,
            )
        )
    return history


async def run_simulation(
    session: AsyncSession, *, tenant_id: int, body: SimulationIn, now: datetime
) -> dict[str, Any]:
    """Validate, gather the history, replay both programmes off the event loop, answer JSON."""
    programme = _programme(body.programme, "programme")
    baseline: Programme | None
    if body.baseline == "none":
        baseline = None
    elif body.baseline == "current":
        _, baseline = await programme_in_force(session, tenant_id=tenant_id, at=now)
    else:
        assert isinstance(body.baseline, dict)
        baseline = _programme(body.baseline, "baseline")
    if body.orders is not None:
        history = history_from_records(body.orders, zone=programme.zone)
        if history.rejects:
            first = history.rejects[0]
            raise ValidationFailed(
                f"orders.{first.row - 1}: {first.reason}",
                field=f"orders.{first.row - 1}",
                code="invalid_order",
                details={
                    "errors": [
                        {"field": f"orders.{reject.row - 1}", "message": reject.reason}
                        for reject in history.rejects[:50]
                    ]
                },
            )
        orders = history.orders
    else:
        assert body.stored is not None
        orders = await stored_history(
            session, tenant_id=tenant_id, since=body.stored.since, until=body.stored.until
        )
        if not orders:
            raise ValidationFailed("no paid orders in that range", field="stored", code="no_orders")
    policy = RedemptionPolicy(body.redemption.mode, body.redemption.min_balance)
    # The replay is pure CPU work: off the event loop, so other requests are still answered.
    try:
        comparison = await asyncio.to_thread(
            simulate,
            orders,
            programme=programme,
            baseline=baseline,
            margin_bp=body.margin_bp,
            policy=policy,
            until=body.until,
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="until", code="no_orders") from None
    return comparison.as_dict()
