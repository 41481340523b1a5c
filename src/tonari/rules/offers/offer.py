"""One offer of a programme: conditions, effects, priority, stacking, validity and limits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from tonari.rules.offers.conditions import CartContains, Condition
from tonari.rules.offers.effects import Effect


class LimitPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class OfferLimits(BaseModel):
    """How often one customer may get the offer, and what it may cost in all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_customer: int | None = Field(default=None, ge=1, description="Times per customer, ever")
    per_period: int | None = Field(default=None, ge=1)
    period: LimitPeriod | None = None
    budget_money: int | None = Field(
        default=None, ge=1, description="Total discount the offer may give, minor units"
    )
    budget_points: int | None = Field(default=None, ge=1, description="Total points it may give")

    @model_validator(mode="after")
    def _period_pairs(self) -> OfferLimits:
        if (self.per_period is None) != (self.period is None):
            raise ValueError("limits.per_period and limits.period go together")
        if self.budget_money is not None and self.budget_points is not None:
            raise ValueError("an offer has a money budget or a points budget, not both")
        return self

    @property
    def per_customer_counted(self) -> bool:
        return self.per_customer is not None or self.per_period is not None

    @property
    def budget(self) -> int | None:
        return self.budget_money if self.budget_money is not None else self.budget_points


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2_000)
    priority: int = Field(default=0, ge=-1_000, le=1_000, description="Higher applies first")
    group: str | None = Field(
        default=None, max_length=60, description="At most one offer of a group applies"
    )
    exclusive: bool = Field(default=False, description="Applies only alone; nothing after it")
    final: bool = Field(default=False, description="No offer is applied after this one")
    not_combinable_with: list[str] = Field(default_factory=list)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    segments: list[str] = Field(
        default_factory=list, description="Eligible segments; empty means everyone"
    )
    conditions: list[Condition] = Field(default_factory=list, max_length=50)
    effects: list[Effect] = Field(min_length=1, max_length=20)
    limits: OfferLimits = OfferLimits()

    @model_validator(mode="after")
    def _window_ordered(self) -> Offer:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self

    def in_window(self, at: datetime) -> bool:
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_until is None or at < self.valid_until

    def required_items(self) -> tuple[str, frozenset[str]] | None:
        """The products/categories/brands the cart must hold for this offer to have a chance:
        lets the engine skip offers for other products without evaluating them."""
        for condition in self.conditions:
            if isinstance(condition, CartContains):
                line_filter = condition.filter
                if line_filter.products:
                    return "product", frozenset(line_filter.products)
                if line_filter.categories:
                    return "category", frozenset(line_filter.categories)
                if line_filter.brands:
                    return "brand", frozenset(line_filter.brands)
        return None
