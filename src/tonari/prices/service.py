"""Personal prices for a catalogue page: the regular price, the customer's own price if they
pay with their available points (capped by the programme's share), and the points earned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.schemas import CustomerReference
from tonari.customers.service import find_customer_row
from tonari.kit.errors import ValidationFailed
from tonari.kit.limits import MAX_UNIT_PRICE
from tonari.models.catalog import Product
from tonari.orders.offers import complete_snapshot, snapshot_of
from tonari.programs.schemas import Programme
from tonari.programs.service import programme_in_force
from tonari.rules.cart import (
    ANONYMOUS,
    CartLine,
    calculate_cart,
    earn_rate,
    line_points_cap,
    may_spend_points,
    points_for_amount,
)
from tonari.rules.offers.context import CustomerSnapshot

MAX_PRODUCTS = 500


class PricedProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=128)
    price: StrictInt | None = Field(
        default=None, ge=0, le=MAX_UNIT_PRICE, description="Minor units; else catalogue"
    )
    category: str | None = None


class PricesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer: CustomerReference | None = None
    products: list[PricedProductIn] = Field(min_length=1, max_length=MAX_PRODUCTS)

    @model_validator(mode="after")
    def _unique(self) -> PricesIn:
        ids = [p.product_id for p in self.products]
        if len(set(ids)) != len(ids):
            raise ValueError("each product_id may appear once")
        return self


async def personal_prices(
    session: AsyncSession, *, tenant_id: int, body: PricesIn, at: datetime
) -> dict[str, Any]:
    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    missing = [p.product_id for p in body.products if p.price is None]
    catalogue: dict[str, tuple[int, str | None]] = {}
    if missing:
        rows = await session.execute(
            select(Product.product_id, Product.price, Product.category).where(
                Product.tenant_id == tenant_id, Product.product_id.in_(missing)
            )
        )
        catalogue = {r.product_id: (r.price, r.category) for r in rows}
        unknown = [pid for pid in missing if pid not in catalogue]
        if unknown:
            raise ValidationFailed(
                f"no price given and not in the catalogue: {unknown[:10]}",
                field="products.price",
                code="unknown_product",
            )
    view = ANONYMOUS
    if body.customer is not None:
        row = await find_customer_row(session, tenant_id=tenant_id, reference=body.customer)
        view = snapshot_of(
            row, available=int(row.available), tier_code=row.tier_code or programme.tiers[0].code
        )
        view = await complete_snapshot(
            session, tenant_id=tenant_id, programme=programme, snapshot=view, at=at
        )
    personal = may_spend_points(programme, view)
    tier = None if view.anonymous else programme.tier(view.tier_code)
    items = []
    for product in body.products:
        price, category = (
            (product.price, product.category)
            if product.price is not None
            else catalogue[product.product_id]
        )
        category = product.category or category
        item: dict[str, Any] = {"product_id": product.product_id, "regular_price": price}
        if programme.offers:
            item.update(
                _priced_with_offers(programme, view, product.product_id, price, category, at)
            )
        elif tier is None:
            item.update(personal_price=None, points_to_spend=0, points_to_earn=0)
        else:
            rate, _ = earn_rate(programme, tier, product.product_id, category)
            points = (
                min(line_points_cap(programme, price), max(view.available_points, 0))
                if personal
                else 0
            )
            own_price = price - points * programme.point_value_minor
            item.update(
                personal_price=own_price if personal else None,
                points_to_spend=points,
                points_to_earn=points_for_amount(programme, price, rate),
                points_to_earn_with_points=points_for_amount(programme, own_price, rate),
                earn_rate_bp=rate,
            )
        items.append(item)
    reason = None
    if view.anonymous:
        reason = "anonymous visitors see the regular price"
    elif not personal:
        reason = f"customer type {view.customer_type} gets the regular price only"
    return {
        "currency": programme.currency,
        "tier": view.tier_code or None,
        "available_points": max(view.available_points, 0),
        "personal_price_reason": reason,
        "products": items,
    }


def _priced_with_offers(
    programme: Programme,
    view: CustomerSnapshot,
    product_id: str,
    price: int,
    category: str | None,
    at: datetime,
) -> dict[str, Any]:
    """One unit in a cart of its own, through the same engine as the order: what offers take
    off, then the most points may pay, and what is earned either way."""
    lines = [CartLine(1, product_id, price, 1, category)]
    plain = calculate_cart(programme, lines, view, 0, at=at)
    line = plain.lines[0]
    applied = [trace.code for trace in plain.offers.traces if trace.applied]
    if view.anonymous:
        return {
            "offer_price": line.price_to_pay,
            "offers": applied,
            "personal_price": None,
            "points_to_spend": 0,
            "points_to_earn": 0,
        }
    spent = calculate_cart(programme, lines, view, max(view.available_points, 0), at=at)
    spent_line = spent.lines[0]
    personal = may_spend_points(programme, view)
    return {
        "offer_price": line.price_to_pay,
        "offers": applied,
        "personal_price": spent_line.price_to_pay if personal else None,
        "points_to_spend": spent_line.points_applied,
        "points_to_earn": line.points_to_earn,
        "points_to_earn_with_points": spent_line.points_to_earn,
        "earn_rate_bp": line.earn_rate_bp,
    }
