"""Building carts and buyers for the pure rules tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from tonari.programs.schemas import Programme
from tonari.programs.service import parse_programme
from tonari.rules.cart import CartCalculation, CartLine, calculate_cart
from tonari.rules.offers.context import CustomerSnapshot, PresentedCode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "programmes"
NOON_MOSCOW = datetime.fromisoformat("2026-06-15T12:00:00+03:00")


def example(name: str) -> Programme:
    return parse_programme(yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text()))


def line(
    product: str,
    price: int,
    quantity: int = 1,
    *,
    category: str | None = None,
    brand: str | None = None,
    on_sale: bool = False,
    no: int | None = None,
) -> dict[str, Any]:
    return {
        "product_id": product,
        "unit_price": price,
        "quantity": quantity,
        "category": category,
        "brand": brand,
        "on_sale": on_sale,
        "line_no": no,
    }


def cart(*lines: dict[str, Any]) -> list[CartLine]:
    return [
        CartLine(
            line_no=item["line_no"] or index,
            product_id=item["product_id"],
            unit_price=item["unit_price"],
            quantity=item["quantity"],
            category=item["category"],
            brand=item["brand"],
            on_sale=item["on_sale"],
        )
        for index, item in enumerate(lines, start=1)
    ]


def buyer(tier: str | None = "member", **facts: Any) -> CustomerSnapshot:
    return CustomerSnapshot(tier_code=tier, customer_id=facts.pop("customer_id", 1), **facts)


def run(
    programme: Programme,
    lines: list[CartLine],
    customer: CustomerSnapshot,
    *,
    at: datetime = NOON_MOSCOW,
    points: int = 0,
    codes: tuple[PresentedCode, ...] = (),
    **extra: Any,
) -> CartCalculation:
    return calculate_cart(programme, lines, customer, points, at=at, codes=codes, **extra)


def trace(calculation: CartCalculation, offer: str) -> dict[str, object]:
    for item in calculation.offers.traces:
        if item.code == offer:
            return item.as_dict()
    raise AssertionError(f"offer {offer} not in the trace: {calculation.offers.traces}")


def applied(calculation: CartCalculation) -> list[str]:
    return [item.code for item in calculation.offers.traces if item.applied]
