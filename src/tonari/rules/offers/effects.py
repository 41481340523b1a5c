"""Offer effects: discounts, earning changes, stamps and things handed out with the order.

Each effect is a typed class with its own parameters; ``apply`` changes the working lines and
records what it did on the offer's ``OfferEffects`` so the trace and the budget can name it.
Discounts are taken from what is left of a line after earlier offers, never below zero.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tonari.kit.money import allocate, apply_rate
from tonari.rules.offers.conditions import SpendPeriod, period_spend, presented_code
from tonari.rules.offers.filters import ANY_LINE, LineFilter, matching_lines
from tonari.rules.offers.state import (
    EarnChange,
    EarnMode,
    Issued,
    OfferContext,
    OfferEffects,
    WorkingLine,
)

Rate = Annotated[int, Field(ge=1, le=10_000, description="Basis points: 500 = 5%")]


class EffectBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _give(lines: list[WorkingLine], amounts: list[int], effects: OfferEffects) -> None:
    for line, amount in zip(lines, amounts, strict=True):
        granted = min(amount, line.remaining)
        line.discount += granted
        effects.discount += granted


def _spread(lines: list[WorkingLine], total: int, effects: OfferEffects) -> None:
    """Give ``total`` over ``lines`` in proportion to what is left of each."""
    weights = [line.remaining for line in lines]
    total = min(total, sum(weights))
    if total <= 0:
        return
    _give(lines, allocate(total, weights), effects)


class DiscountPercent(EffectBase):
    """``percent_bp`` off the matching lines (the whole order without a filter)."""

    type: Literal["discount_percent"]
    percent_bp: Rate
    filter: LineFilter = ANY_LINE
    max_amount: int | None = Field(default=None, ge=1)

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        lines = matching_lines(ctx.lines, self.filter)
        rounding = ctx.programme.rounding
        amounts = [apply_rate(line.remaining, self.percent_bp, rounding) for line in lines]
        if self.max_amount is not None and sum(amounts) > self.max_amount:
            amounts = allocate(self.max_amount, amounts)
        _give(lines, amounts, effects)


class DiscountFixed(EffectBase):
    """A fixed amount off the matching lines together, or off every matching unit."""

    type: Literal["discount_fixed"]
    amount: int = Field(ge=1)
    per_unit: bool = False
    filter: LineFilter = ANY_LINE

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        lines = matching_lines(ctx.lines, self.filter)
        if self.per_unit:
            _give(lines, [self.amount * line.quantity for line in lines], effects)
        else:
            _spread(lines, self.amount, effects)


class DiscountCodeValue(EffectBase):
    """Gift vouchers: each valid presented code of ``pools`` takes its own value off the
    matching lines (a voucher worth more than the cart pays for the cart, not cash back)."""

    type: Literal["discount_code_value"]
    pools: list[str] = Field(min_length=1)
    filter: LineFilter = ANY_LINE

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        value = sum(
            code.value_minor for code in ctx.codes if code.valid and code.pool in self.pools
        )
        if value:
            _spread(matching_lines(ctx.lines, self.filter), value, effects)


def _units(lines: list[WorkingLine]) -> list[WorkingLine]:
    """One entry per unit, dearest first (ties by line number) so "cheapest" is well defined."""
    ordered = sorted(lines, key=lambda line: (-line.unit_price, line.line_no))
    return [line for line in ordered for _ in range(line.quantity)]


def _discount_units(
    units: list[WorkingLine], percent_bp: int, ctx: OfferContext, effects: OfferEffects
) -> None:
    per_line: dict[int, tuple[WorkingLine, int]] = {}
    for line in units:
        amount = apply_rate(line.unit_price, percent_bp, ctx.programme.rounding)
        held = per_line.get(line.line_no, (line, 0))[1]
        per_line[line.line_no] = (line, held + amount)
    chosen = list(per_line.values())
    _give([line for line, _ in chosen], [amount for _, amount in chosen], effects)


MAX_UNITS_EXPANDED = 10_000


class DiscountCheapest(EffectBase):
    """``percent_bp`` off the ``count`` cheapest matching units."""

    type: Literal["discount_cheapest"]
    count: int = Field(ge=1, le=1_000)
    percent_bp: Rate = 10_000
    filter: LineFilter = ANY_LINE

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        units = _units(matching_lines(ctx.lines, self.filter)[:MAX_UNITS_EXPANDED])
        _discount_units(units[::-1][: self.count], self.percent_bp, ctx, effects)


class BuyXGetY(EffectBase):
    """Of every ``buy + get`` matching units (dearest first), the ``get`` cheapest are
    ``percent_bp`` off: buy 2 get the 3rd free is buy 2, get 1, 100%; the second item at
    half price is buy 1, get 1, 50%."""

    type: Literal["buy_x_get_y"]
    buy: int = Field(ge=1, le=100)
    get: int = Field(default=1, ge=1, le=100)
    percent_bp: Rate = 10_000
    max_applications: int | None = Field(default=None, ge=1)
    filter: LineFilter = ANY_LINE

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        units = _units(matching_lines(ctx.lines, self.filter))
        size = self.buy + self.get
        groups = len(units) // size
        if self.max_applications is not None:
            groups = min(groups, self.max_applications)
        rewarded = [
            unit
            for group in range(groups)
            for unit in units[group * size + self.buy : (group + 1) * size]
        ]
        _discount_units(rewarded, self.percent_bp, ctx, effects)
        if groups:
            effects.notes.append(f"{groups} × buy {self.buy} get {self.get}")


class StepBasis(StrEnum):
    CART_SUBTOTAL = "cart_subtotal"
    CART_UNITS = "cart_units"
    LIFETIME_SPEND = "lifetime_spend"
    PREVIOUS_MONTH_SPEND = "previous_month_spend"
    ROLLING_SPEND = "rolling_spend"
    ANNUAL_UNITS = "annual_units"


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    start: int = Field(ge=0, alias="from", description="The step applies from this value on")
    percent_bp: int = Field(ge=0, le=10_000)


class SteppedDiscount(EffectBase):
    """A discount whose rate depends on a measure: the cart, lifetime or last month's spend,
    or units bought this year. With ``marginal`` each unit of a unit-based measure gets the
    rate of its own position (units 101–200 at 5%, 201–300 at 10%...)."""

    type: Literal["stepped_discount"]
    basis: StepBasis
    months: int | None = Field(default=None, ge=1, le=120)
    steps: list[Step] = Field(min_length=1, max_length=50)
    marginal: bool = False
    filter: LineFilter = ANY_LINE

    @model_validator(mode="after")
    def _steps_rise(self) -> SteppedDiscount:
        starts = [step.start for step in self.steps]
        if starts != sorted(set(starts)):
            raise ValueError("steps must have strictly increasing 'from' values")
        unit_based = self.basis in (StepBasis.ANNUAL_UNITS, StepBasis.CART_UNITS)
        if self.marginal and not unit_based:
            raise ValueError("marginal steps need a unit basis (annual_units or cart_units)")
        if self.basis is StepBasis.ROLLING_SPEND and self.months is None:
            raise ValueError("stepped_discount.months is required for rolling_spend")
        return self

    def rate_for(self, value: int) -> int:
        rate = 0
        for step in self.steps:
            if value >= step.start:
                rate = step.percent_bp
        return rate

    def measure(self, ctx: OfferContext, lines: list[WorkingLine]) -> int:
        basis = self.basis
        if basis is StepBasis.CART_SUBTOTAL:
            return sum(line.regular_total for line in lines)
        if basis is StepBasis.CART_UNITS:
            return sum(line.quantity for line in lines)
        if basis is StepBasis.ANNUAL_UNITS:
            return ctx.customer.units_this_year + sum(line.quantity for line in lines)
        period = {
            StepBasis.LIFETIME_SPEND: SpendPeriod.LIFETIME,
            StepBasis.PREVIOUS_MONTH_SPEND: SpendPeriod.PREVIOUS_CALENDAR_MONTH,
            StepBasis.ROLLING_SPEND: SpendPeriod.ROLLING_MONTHS,
        }[basis]
        return period_spend(ctx, period, self.months)

    def _units_per_rate(self, first: int, count: int) -> list[tuple[int, int]]:
        """(rate, units) for unit positions ``first`` … ``first + count - 1``."""
        bands: list[tuple[int, int]] = []
        bounds = [step.start for step in self.steps[1:]] + [first + count]
        position = first
        for step, upper in zip(self.steps, bounds, strict=True):
            low = max(position, step.start)
            high = min(upper, first + count)
            if high > low:
                bands.append((step.percent_bp, high - low))
                position = high
        return bands

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        lines = matching_lines(ctx.lines, self.filter)
        rounding = ctx.programme.rounding
        if not self.marginal:
            rate = self.rate_for(self.measure(ctx, lines))
            if rate:
                amounts = [apply_rate(line.remaining, rate, rounding) for line in lines]
                _give(lines, amounts, effects)
                effects.notes.append(f"{self.basis.value.replace('_', ' ')} step {rate / 100:g}%")
            return
        position = 1 + (ctx.customer.units_this_year if self.basis is StepBasis.ANNUAL_UNITS else 0)
        amounts = []
        for line in lines:
            bands = self._units_per_rate(position, line.quantity)
            amounts.append(
                sum(apply_rate(line.unit_price * units, rate, rounding) for rate, units in bands)
            )
            position += line.quantity
        _give(lines, amounts, effects)


class SetPrice(EffectBase):
    """Sell up to ``count`` matching units at ``price`` each (the one-rouble gift)."""

    type: Literal["set_price"]
    price: int = Field(ge=0)
    count: int = Field(default=1, ge=1, le=1_000)
    filter: LineFilter = ANY_LINE

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        units = _units(matching_lines(ctx.lines, self.filter)[:MAX_UNITS_EXPANDED])
        per_line: dict[int, tuple[WorkingLine, int]] = {}
        for line in units[::-1][: self.count]:
            cut = max(line.unit_price - self.price, 0)
            held = per_line.get(line.line_no, (line, 0))[1]
            per_line[line.line_no] = (line, held + cut)
        chosen = list(per_line.values())
        _give([line for line, _ in chosen], [amount for _, amount in chosen], effects)


class EarnRate(EffectBase):
    """Change how matching lines earn: exactly ``rate_bp`` (``set``: a partner's own rate),
    at least ``rate_bp`` whatever the tier (``replace_if_higher``), ``rate_bp`` on top
    (``add``), or × ``rate_bp``/10,000 (``multiply``: 15,000 earns half as much again)."""

    type: Literal["earn_rate"]
    mode: EarnMode
    rate_bp: int = Field(ge=0, le=100_000)
    filter: LineFilter = ANY_LINE

    @model_validator(mode="after")
    def _rate_fits_mode(self) -> EarnRate:
        if self.mode is not EarnMode.MULTIPLY and self.rate_bp > 10_000:
            raise ValueError("rate_bp above 10,000 (100%) only makes sense with mode multiply")
        return self

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        change = EarnChange(offer_code=effects.offer_code, mode=self.mode, rate_bp=self.rate_bp)
        for line in matching_lines(ctx.lines, self.filter):
            line.earn_changes.append(change)
            effects.changed_earning = True


class BonusPoints(EffectBase):
    """Fixed points for the order (spread over matching lines) or for every matching unit."""

    type: Literal["bonus_points"]
    points: int = Field(ge=1, le=10_000_000)
    per_unit: bool = False
    filter: LineFilter = ANY_LINE

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        lines = matching_lines(ctx.lines, self.filter)
        if not lines:
            return
        if self.per_unit:
            amounts = [self.points * line.quantity for line in lines]
        else:
            weights = [max(line.regular_total, 1) for line in lines]
            amounts = allocate(self.points, weights)
        for line, amount in zip(lines, amounts, strict=True):
            line.bonus_by_offer[effects.offer_code] = (
                line.bonus_by_offer.get(effects.offer_code, 0) + amount
            )
            effects.bonus_points += amount


class AddStamps(EffectBase):
    """Stamps for every matching unit bought; units an earlier offer made free earn none."""

    type: Literal["add_stamps"]
    card: str = Field(min_length=1, max_length=40)
    per_unit: int = Field(default=1, ge=1, le=100)
    filter: LineFilter = ANY_LINE

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        for line in matching_lines(ctx.lines, self.filter):
            free = line.discount // line.unit_price if line.unit_price else 0
            stamps = (line.quantity - free) * self.per_unit
            if stamps <= 0:
                continue
            # Per line, so returning some units takes back exactly their stamps.
            key = (line.line_no, self.card)
            effects.stamps_by_line[key] = effects.stamps_by_line.get(key, 0) + stamps
            effects.stamps_added[self.card] = effects.stamps_added.get(self.card, 0) + stamps


class UseStamps(EffectBase):
    """Use ``count`` stamps of ``card``; the offer is refused when the buyer holds fewer."""

    type: Literal["use_stamps"]
    card: str = Field(min_length=1, max_length=40)
    count: int = Field(ge=1, le=1_000)

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        effects.stamps_used[self.card] = effects.stamps_used.get(self.card, 0) + self.count


class IssueCode(EffectBase):
    """Hand the buyer personal codes from a pool when the order is placed."""

    type: Literal["issue_code"]
    pool: str = Field(min_length=1, max_length=60)
    count: int = Field(default=1, ge=1, le=100)

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        effects.issued.append(Issued(effects.offer_code, "code", self.pool, self.count))


class GrantEntitlement(EffectBase):
    """A perk for this order, e.g. free shipping, which the shop acts upon."""

    type: Literal["grant_entitlement"]
    name: str = Field(min_length=1, max_length=80)

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        effects.issued.append(Issued(effects.offer_code, "entitlement", self.name))


class GrantMembership(EffectBase):
    """Start (or extend) a membership for ``days``: the paid-membership products."""

    type: Literal["grant_membership"]
    code: str = Field(min_length=1, max_length=40)
    days: int = Field(ge=1, le=3_660)

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        effects.issued.append(
            Issued(effects.offer_code, "membership", self.code, 1, days=self.days)
        )


class RewardCodeOwner(EffectBase):
    """Points for the owner of the shared code the buyer used (referral: both sides win)."""

    type: Literal["reward_code_owner"]
    pools: list[str] = Field(min_length=1)
    points: int = Field(ge=1, le=10_000_000)

    def apply(self, ctx: OfferContext, effects: OfferEffects) -> None:
        code = presented_code(ctx, self.pools)
        owner = next((c.owner_customer_id for c in ctx.codes if c.code == code), None)
        if owner is None or owner == ctx.customer.customer_id:
            return
        effects.code_owner_points += self.points
        effects.code_owner_customer_id = owner
        effects.notes.append(f"code owner earns {self.points} points")


def ctx_offer_code(effects: OfferEffects) -> str:
    return effects.offer_code


Effect = Annotated[
    DiscountPercent
    | DiscountFixed
    | DiscountCodeValue
    | DiscountCheapest
    | BuyXGetY
    | SteppedDiscount
    | SetPrice
    | EarnRate
    | BonusPoints
    | AddStamps
    | UseStamps
    | IssueCode
    | GrantEntitlement
    | GrantMembership
    | RewardCodeOwner,
    Field(discriminator="type"),
]

EFFECT_TYPES: dict[str, type[EffectBase]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (
        DiscountPercent,
        DiscountFixed,
        DiscountCodeValue,
        DiscountCheapest,
        BuyXGetY,
        SteppedDiscount,
        SetPrice,
        EarnRate,
        BonusPoints,
        AddStamps,
        UseStamps,
        IssueCode,
        GrantEntitlement,
        GrantMembership,
        RewardCodeOwner,
    )
}

DISCOUNT_TYPES = frozenset(
    {
        "discount_percent",
        "discount_fixed",
        "discount_code_value",
        "discount_cheapest",
        "buy_x_get_y",
        "stepped_discount",
        "set_price",
    }
)
