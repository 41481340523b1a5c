"""The cart as offers see it while they are applied one after another.

Discounts accumulate per line (never below zero), earning changes are kept as an ordered list
per line so the final rate can be worked out after points are spent, and every effect is
attributed to the offer that caused it so budgets, limits and the trace can name it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from tonari.rules.offers.context import CustomerSnapshot, PresentedCode

if TYPE_CHECKING:
    from tonari.programs.schemas import Programme


class EarnMode(StrEnum):
    SET = "set"
    REPLACE_IF_HIGHER = "replace_if_higher"
    ADD = "add"
    MULTIPLY = "multiply"


@dataclass(frozen=True, slots=True)
class EarnChange:
    offer_code: str
    mode: EarnMode
    rate_bp: int


@dataclass(slots=True)
class WorkingLine:
    line_no: int
    product_id: str
    category: str | None
    brand: str | None
    on_sale: bool
    unit_price: int
    quantity: int
    discount: int = 0
    bonus_by_offer: dict[str, int] = field(default_factory=dict)
    earn_changes: list[EarnChange] = field(default_factory=list)

    @property
    def regular_total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def remaining(self) -> int:
        return self.regular_total - self.discount


@dataclass(frozen=True, slots=True)
class Issued:
    """Something the order hands out when it is placed: a code, a membership, an entitlement."""

    offer_code: str
    kind: str
    name: str
    quantity: int = 1
    days: int | None = None


@dataclass(slots=True)
class OfferEffects:
    """What one offer did, kept for its trace line, its budget and its usage counter."""

    offer_code: str
    discount: int = 0
    bonus_points: int = 0
    earn_points: int = 0
    stamps_added: dict[str, int] = field(default_factory=dict)
    stamps_by_line: dict[tuple[int, str], int] = field(default_factory=dict)
    stamps_used: dict[str, int] = field(default_factory=dict)
    issued: list[Issued] = field(default_factory=list)
    code_owner_points: int = 0
    code_owner_customer_id: int | None = None
    changed_earning: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        return self.bonus_points + self.earn_points + self.code_owner_points

    def is_empty(self) -> bool:
        return not (
            self.changed_earning
            or self.discount
            or self.bonus_points
            or self.stamps_added
            or self.stamps_used
            or self.issued
            or self.code_owner_points
            or self.notes
        )


@dataclass(slots=True)
class OfferContext:
    """Everything a condition or an effect may read, plus the lines effects may change."""

    programme: Programme
    customer: CustomerSnapshot
    at: datetime
    lines: list[WorkingLine]
    codes: Sequence[PresentedCode] = ()
    channel: str | None = None
    partner: str | None = None
    budgets_remaining: Mapping[str, int] = field(default_factory=dict)
    order_points: int = 0

    @property
    def local_at(self) -> datetime:
        return self.at.astimezone(self.programme.zone)
