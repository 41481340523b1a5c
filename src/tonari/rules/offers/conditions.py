"""Offer conditions: each a typed class with its own parameters and a ``check`` that explains.

The registry at the bottom is the only place a condition type is named; a programme file picks
one with ``type:`` and the parameters are validated by that class's schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tonari.programs.kinds import CustomerType
from tonari.rules.calendar import months_between
from tonari.rules.offers.filters import ANY_LINE, LineFilter, matching_lines
from tonari.rules.offers.state import OfferContext


@dataclass(frozen=True, slots=True)
class Verdict:
    met: bool
    reason: str


class ConditionBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _money(amount: int) -> str:
    return f"{amount:,}"


class CartSubtotal(ConditionBase):
    """Subtotal of the matching lines at regular prices is at least ``min`` (and below ``max``)."""

    type: Literal["cart_subtotal"]
    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=1)
    filter: LineFilter = ANY_LINE

    def check(self, ctx: OfferContext) -> Verdict:
        subtotal = sum(line.regular_total for line in matching_lines(ctx.lines, self.filter))
        if subtotal < self.min:
            return Verdict(False, f"subtotal {_money(subtotal)} is below {_money(self.min)}")
        if self.max is not None and subtotal >= self.max:
            return Verdict(False, f"subtotal {_money(subtotal)} is {_money(self.max)} or more")
        return Verdict(True, f"subtotal {_money(subtotal)} ≥ {_money(self.min)}")


class CartContains(ConditionBase):
    """At least ``min_quantity`` units of matching products (by product, category, brand)."""

    type: Literal["cart_contains"]
    filter: LineFilter
    min_quantity: int = Field(default=1, ge=1)

    def check(self, ctx: OfferContext) -> Verdict:
        units = sum(line.quantity for line in matching_lines(ctx.lines, self.filter))
        what = self.filter.describe()
        if units < self.min_quantity:
            return Verdict(False, f"{units} unit(s) of {what} in cart, need {self.min_quantity}")
        return Verdict(True, f"{units} unit(s) of {what} in cart")


class CustomerTier(ConditionBase):
    """The buyer holds one of ``tiers`` (anonymous buyers hold none)."""

    type: Literal["customer_tier"]
    tiers: list[str] = Field(min_length=1)

    def check(self, ctx: OfferContext) -> Verdict:
        tier = ctx.customer.tier_code
        if tier is None:
            return Verdict(False, "anonymous buyer has no tier")
        if tier not in self.tiers:
            return Verdict(False, f"tier {tier} is not one of {', '.join(self.tiers)}")
        return Verdict(True, f"tier {tier}")


class CustomerTypeIs(ConditionBase):
    """The buyer is a person, a legal entity or an employee, as listed."""

    type: Literal["customer_type"]
    types: list[CustomerType] = Field(min_length=1)

    def check(self, ctx: OfferContext) -> Verdict:
        kind = ctx.customer.customer_type
        if kind not in self.types:
            return Verdict(False, f"customer type {kind} is not eligible")
        return Verdict(True, f"customer type {kind}")


class OrderNumber(ConditionBase):
    """This is the buyer's n-th order (``equals``), or at least the n-th (``at_least``)."""

    type: Literal["order_number"]
    equals: int | None = Field(default=None, ge=1)
    at_least: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_bound(self) -> OrderNumber:
        if (self.equals is None) == (self.at_least is None):
            raise ValueError("order_number takes exactly one of equals or at_least")
        return self

    def check(self, ctx: OfferContext) -> Verdict:
        if ctx.customer.anonymous:
            return Verdict(False, "anonymous buyer: order number unknown")
        number = ctx.customer.orders_count + 1
        if self.equals is not None and number != self.equals:
            return Verdict(False, f"this is order #{number}, offer is for order #{self.equals}")
        if self.at_least is not None and number < self.at_least:
            return Verdict(False, f"this is order #{number}, need #{self.at_least} or later")
        return Verdict(True, f"order #{number}")


class DateWindow(ConditionBase):
    """Local dates in the programme's zone, both ends included."""

    type: Literal["date_window"]
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self.end < self.start:
            raise ValueError("date_window.end is before date_window.start")
        return self

    def check(self, ctx: OfferContext) -> Verdict:
        today = ctx.local_at.date()
        if not self.start <= today <= self.end:
            return Verdict(False, f"{today} is outside {self.start}…{self.end}")
        return Verdict(True, f"{today} is within {self.start}…{self.end}")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Weekdays(ConditionBase):
    """Today, in the programme's zone, is one of ``days``."""

    type: Literal["weekday"]
    days: list[Weekday] = Field(min_length=1)

    def check(self, ctx: OfferContext) -> Verdict:
        today = WEEKDAYS[ctx.local_at.weekday()]
        if today not in self.days:
            return Verdict(False, f"{today} is not one of {', '.join(self.days)}")
        return Verdict(True, f"{today}")


class Hours(ConditionBase):
    """Local time of day from ``start`` (included) to ``end`` (excluded); may cross midnight."""

    type: Literal["hours"]
    start: time
    end: time

    def check(self, ctx: OfferContext) -> Verdict:
        now = ctx.local_at.time().replace(tzinfo=None)
        if self.start <= self.end:
            inside = self.start <= now < self.end
        else:
            inside = now >= self.start or now < self.end
        window = f"{self.start:%H:%M}–{self.end:%H:%M}"
        if not inside:
            return Verdict(False, f"{now:%H:%M} is outside {window}")
        return Verdict(True, f"{now:%H:%M} is within {window}")


def birthday_in(year: int, born: date) -> date:
    """The birthday in ``year``; 29 February falls on 28 February in common years."""
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def days_from_birthday(today: date, born: date) -> int:
    """Signed days from the nearest birthday (negative: it is still ahead)."""
    candidates = [birthday_in(today.year + shift, born) for shift in (-1, 0, 1)]
    return min(((today - day).days for day in candidates), key=abs)


class Birthday(ConditionBase):
    """Within ``days_before`` to ``days_after`` of the buyer's birthday, in local dates."""

    type: Literal["birthday"]
    days_before: int = Field(default=0, ge=0, le=60)
    days_after: int = Field(default=0, ge=0, le=60)

    def check(self, ctx: OfferContext) -> Verdict:
        born = ctx.customer.birth_date
        if born is None:
            return Verdict(False, "birth date unknown")
        offset = days_from_birthday(ctx.local_at.date(), born)
        if -self.days_before <= offset <= self.days_after:
            return Verdict(True, f"birthday {born:%d %b} ({offset:+d} days)")
        return Verdict(False, f"birthday {born:%d %b} is {offset:+d} days away from today")


class PromoCode(ConditionBase):
    """A valid code of one of ``pools`` was presented; a referral code is not the buyer's own."""

    type: Literal["promo_code"]
    pools: list[str] = Field(min_length=1)

    def check(self, ctx: OfferContext) -> Verdict:
        refusals: list[str] = []
        for code in ctx.codes:
            if code.pool not in self.pools:
                continue
            if not code.valid:
                refusals.append(f"code {code.code}: {code.reason}")
                continue
            owner = code.owner_customer_id
            if owner is not None and owner == ctx.customer.customer_id:
                refusals.append(f"code {code.code} is the buyer's own: no self-referral")
                continue
            return Verdict(True, f"code {code.code}")
        if refusals:
            return Verdict(False, "; ".join(refusals))
        return Verdict(False, f"no code of {', '.join(self.pools)} presented")


def presented_code(ctx: OfferContext, pools: list[str]) -> str | None:
    for code in ctx.codes:
        if code.pool in pools and code.valid:
            return code.code
    return None


class Membership(ConditionBase):
    """The buyer holds an active membership ``code`` (a paid membership, a card)."""

    type: Literal["membership"]
    code: str = Field(min_length=1)

    def check(self, ctx: OfferContext) -> Verdict:
        if self.code in ctx.customer.memberships:
            return Verdict(True, f"membership {self.code} active")
        return Verdict(False, f"no active membership {self.code}")


class SpendPeriod(StrEnum):
    PREVIOUS_CALENDAR_MONTH = "previous_calendar_month"
    ROLLING_MONTHS = "rolling_months"
    LIFETIME = "lifetime"


def period_spend(ctx: OfferContext, period: SpendPeriod, months: int | None) -> int:
    customer = ctx.customer
    if period is SpendPeriod.PREVIOUS_CALENDAR_MONTH:
        return customer.spend_previous_month
    if period is SpendPeriod.ROLLING_MONTHS:
        return customer.spend_rolling_months.get(months or 12, 0)
    return customer.lifetime_spend


class SpendInPeriod(ConditionBase):
    """Net spend last calendar month, in the last ``months`` or ever is within ``min``…``max``."""

    type: Literal["spend_in_period"]
    period: SpendPeriod
    months: int | None = Field(default=None, ge=1, le=120)
    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _months_for_rolling(self) -> SpendInPeriod:
        if self.period is SpendPeriod.ROLLING_MONTHS and self.months is None:
            raise ValueError("spend_in_period.months is required for rolling_months")
        return self

    def check(self, ctx: OfferContext) -> Verdict:
        spend = period_spend(ctx, self.period, self.months)
        label = self.period.value.replace("_", " ")
        if spend < self.min or (self.max is not None and spend >= self.max):
            upper = f"–{_money(self.max)}" if self.max is not None else "+"
            return Verdict(False, f"{label} spend {_money(spend)} not in {self.min:,}{upper}")
        return Verdict(True, f"{label} spend {_money(spend)}")


class Tenure(ConditionBase):
    """The buyer registered at least ``min_months`` ago."""

    type: Literal["tenure"]
    min_months: int = Field(ge=0, le=1_200)

    def check(self, ctx: OfferContext) -> Verdict:
        since = ctx.customer.registered_at
        if since is None:
            return Verdict(False, "registration date unknown")
        months = months_between(since, ctx.at, ctx.programme.zone)
        if months < self.min_months:
            return Verdict(False, f"member for {months} months, need {self.min_months}")
        return Verdict(True, f"member for {months} months")


class NotOnSale(ConditionBase):
    """No line of the cart is on sale (the brand's "not during sales")."""

    type: Literal["not_on_sale"]

    def check(self, ctx: OfferContext) -> Verdict:
        on_sale = [line.line_no for line in ctx.lines if line.on_sale]
        if on_sale:
            return Verdict(False, f"line(s) {', '.join(map(str, on_sale))} on sale")
        return Verdict(True, "nothing on sale")


class StampsAtLeast(ConditionBase):
    """The buyer holds at least ``count`` stamps on ``card``."""

    type: Literal["stamps_at_least"]
    card: str = Field(min_length=1)
    count: int = Field(ge=1)

    def check(self, ctx: OfferContext) -> Verdict:
        held = ctx.customer.stamps.get(self.card, 0)
        if held < self.count:
            return Verdict(False, f"{held} of {self.count} stamps on {self.card}")
        return Verdict(True, f"{held} stamps on {self.card}")


class InSegment(ConditionBase):
    """The buyer is in one of ``segments``."""

    type: Literal["segment"]
    segments: list[str] = Field(min_length=1)

    def check(self, ctx: OfferContext) -> Verdict:
        found = sorted(set(self.segments) & ctx.customer.segments)
        if not found:
            return Verdict(False, f"not in segment {', '.join(self.segments)}")
        return Verdict(True, f"in segment {found[0]}")


class Channel(ConditionBase):
    """The order comes through one of ``channels`` (online, pos, app...)."""

    type: Literal["channel"]
    channels: list[str] = Field(min_length=1)

    def check(self, ctx: OfferContext) -> Verdict:
        if ctx.channel not in self.channels:
            return Verdict(False, f"channel {ctx.channel} is not one of {', '.join(self.channels)}")
        return Verdict(True, f"channel {ctx.channel}")


class AtPartner(ConditionBase):
    """The purchase was made at one of the coalition ``partners``."""

    type: Literal["partner"]
    partners: list[str] = Field(min_length=1)

    def check(self, ctx: OfferContext) -> Verdict:
        if ctx.partner not in self.partners:
            return Verdict(False, f"bought at {ctx.partner or 'the brand'}, not a listed partner")
        return Verdict(True, f"bought at partner {ctx.partner}")


class Not(ConditionBase):
    """Negates one condition, e.g. "not in tier gold", "no promo code"."""

    type: Literal["not"]
    condition: Condition

    def check(self, ctx: OfferContext) -> Verdict:
        inner = self.condition.check(ctx)
        return Verdict(not inner.met, f"not ({inner.reason})")


class AnyOf(ConditionBase):
    """At least one of ``conditions`` holds."""

    type: Literal["any_of"]
    conditions: list[Condition] = Field(min_length=1)

    def check(self, ctx: OfferContext) -> Verdict:
        reasons = []
        for condition in self.conditions:
            verdict = condition.check(ctx)
            if verdict.met:
                return verdict
            reasons.append(verdict.reason)
        return Verdict(False, "none of: " + "; ".join(reasons))


CONDITION_TYPES: dict[str, type[ConditionBase]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (
        CartSubtotal,
        CartContains,
        CustomerTier,
        CustomerTypeIs,
        OrderNumber,
        DateWindow,
        Weekdays,
        Hours,
        Birthday,
        PromoCode,
        Membership,
        SpendInPeriod,
        Tenure,
        NotOnSale,
        StampsAtLeast,
        InSegment,
        Channel,
        AtPartner,
        Not,
        AnyOf,
    )
}

Condition = Annotated[
    CartSubtotal
    | CartContains
    | CustomerTier
    | CustomerTypeIs
    | OrderNumber
    | DateWindow
    | Weekdays
    | Hours
    | Birthday
    | PromoCode
    | Membership
    | SpendInPeriod
    | Tenure
    | NotOnSale
    | StampsAtLeast
    | InSegment
    | Channel
    | AtPartner
    | Not
    | AnyOf,
    Field(discriminator="type"),
]

Not.model_rebuild()
AnyOf.model_rebuild()

__all__ = ["CONDITION_TYPES", "Condition", "Verdict", "birthday_in", "presented_code"]
