from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from tonari.customers.schemas import CustomerReference
from tonari.kit.limits import MAX_CART_TOTAL, MAX_POINTS, MAX_UNIT_PRICE

MAX_LINES = 200


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderLineIn(Strict):
    product_id: str = Field(min_length=1, max_length=128)
    category: str | None = Field(default=None, max_length=120)
    brand: str | None = Field(default=None, max_length=120)
    on_sale: StrictBool = Field(default=False, description="Sold at a sale price already")
    unit_price: StrictInt = Field(ge=0, le=MAX_UNIT_PRICE, description="Minor units, an integer")
    quantity: StrictInt = Field(ge=1, le=100_000)


class CartIn(Strict):
    customer: CustomerReference | None = Field(
        default=None, description="Omit for an anonymous buyer"
    )
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)
    points_to_spend: StrictInt = Field(default=0, ge=0, le=MAX_POINTS)
    at: datetime | None = Field(
        default=None, description="Moment to price at (default now); must carry an offset"
    )
    promo_codes: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=10, description="Promo codes and vouchers presented"
    )
    channel: Literal["online", "pos", "app", "call_centre", "import", "partner"] = "online"
    cart_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The shop's cart id: temporary points granted for this cart may pay here",
    )
    partner: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^[a-z0-9_\-]+$",
        description="Coalition partner where the purchase was made; omit for the brand itself",
    )

    @field_validator("lines")
    @classmethod
    def _total_fits(cls, lines: list[OrderLineIn]) -> list[OrderLineIn]:
        total = sum(line.unit_price * line.quantity for line in lines)
        if total > MAX_CART_TOTAL:
            raise ValueError(f"the cart totals {total} minor units; at most {MAX_CART_TOTAL}")
        return lines


class OrderPlace(CartIn):
    order_id: str = Field(min_length=1, max_length=128, description="The shop's own order id")
    placed_at: datetime | None = None
    paid: StrictBool = Field(default=False, description="Spend points at once, no reservation")

    @model_validator(mode="after")
    def _no_at(self) -> OrderPlace:
        if self.at is not None:
            raise ValueError("use placed_at for an order, not at")
        return self


class ReturnLineIn(Strict):
    line_no: StrictInt = Field(ge=1, le=MAX_LINES)
    quantity: StrictInt = Field(ge=1, le=100_000)


class OrderReturnIn(Strict):
    return_id: str = Field(min_length=1, max_length=128)
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=MAX_LINES)
    returned_at: datetime | None = None


class OrderAction(Strict):
    at: datetime | None = None
