"""Compile a segment definition to one select of customer ids (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, not_, or_, select

from tonari.models.customers import Customer
from tonari.models.orders import Order
from tonari.segments import schemas as s


def _compile(node: s.Node, tenant_id: int, at: datetime) -> ColumnElement[bool]:
    if isinstance(node, s.AllGroup):
        return and_(*(_compile(n, tenant_id, at) for n in node.all))
    if isinstance(node, s.AnyGroup):
        return or_(*(_compile(n, tenant_id, at) for n in node.any))
    if isinstance(node, s.NotGroup):
        return not_(_compile(node.not_, tenant_id, at))
    if isinstance(node, s.CityIn):
        return Customer.city.in_(node.values)
    if isinstance(node, s.GenderIn):
        return Customer.gender.in_(node.values)
    if isinstance(node, s.LifetimeSpendAtLeast):
        return Customer.lifetime_spend >= node.min
    if isinstance(node, s.OrdersInLastDays):
        count = (
            select(func.count())
            .where(
                Order.tenant_id == tenant_id,
                Order.customer_id == Customer.id,
                Order.status != "cancelled",
                Order.placed_at > at - timedelta(days=node.days),
                Order.placed_at <= at,
            )
            .scalar_subquery()
        )
        return exists().where(count >= node.min)
    raise TypeError(f"unknown node {type(node).__name__}")


def compile_segment(
    node: s.Node, *, tenant_id: int, at: datetime, customer_ids: Sequence[int] | None = None
) -> Select[Any]:
    """Customer ids of one tenant matching the definition, live profiles only."""
    query = select(Customer.id).where(
        Customer.tenant_id == tenant_id,
        Customer.merged_into_id.is_(None),
        Customer.erased_at.is_(None),
        _compile(node, tenant_id, at),
    )
    if customer_ids is not None:
        query = query.where(Customer.id.in_(list(customer_ids)))
    return query
