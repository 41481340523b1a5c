"""The applicator: offers in priority order, each checked, applied or refused with a reason.

Offers that need products the cart does not hold are skipped through an index built once per
programme version, so a programme with thousands of product offers costs about what one with
fifty does. Everything else is evaluated and explained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tonari.rules.offers.conditions import (
    AnyOf,
    Membership,
    Not,
    SpendInPeriod,
    SpendPeriod,
    StampsAtLeast,
)
from tonari.rules.offers.effects import AddStamps, StepBasis, SteppedDiscount, UseStamps
from tonari.rules.offers.offer import LimitPeriod, Offer
from tonari.rules.offers.state import OfferContext, OfferEffects, WorkingLine


@dataclass(frozen=True, slots=True)
class OfferTrace:
    code: str
    name: str
    applied: bool
    reason: str
    discount: int = 0
    points: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "offer": self.code,
            "name": self.name,
            "applied": self.applied,
            "reason": self.reason,
            "discount": self.discount,
            "points": self.points,
        }


@dataclass(slots=True)
class OffersOutcome:
    traces: list[OfferTrace] = field(default_factory=list)
    applied: list[OfferEffects] = field(default_factory=list)
    not_candidates: int = 0

    def effects_of(self, code: str) -> OfferEffects | None:
        return next((item for item in self.applied if item.offer_code == code), None)


@dataclass(frozen=True, slots=True)
class SnapshotNeeds:
    """Which customer facts the programme's offers read, so the caller fetches only those."""

    previous_month_spend: bool = False
    rolling_months: frozenset[int] = frozenset()
    units_this_year: bool = False
    memberships: bool = False
    stamps: bool = False
    usage_offers: tuple[Offer, ...] = ()
    budget_offers: tuple[Offer, ...] = ()


def _walk(conditions: Sequence[object]) -> list[object]:
    found: list[object] = []
    for condition in conditions:
        found.append(condition)
        if isinstance(condition, Not):
            found.extend(_walk([condition.condition]))
        elif isinstance(condition, AnyOf):
            found.extend(_walk(condition.conditions))
    return found


def snapshot_needs(offers: Sequence[Offer]) -> SnapshotNeeds:
    previous = units = memberships = stamps = False
    rolling: set[int] = set()
    for offer in offers:
        for item in [*_walk(offer.conditions), *offer.effects]:
            if isinstance(item, SpendInPeriod):
                previous |= item.period is SpendPeriod.PREVIOUS_CALENDAR_MONTH
                if item.period is SpendPeriod.ROLLING_MONTHS and item.months:
                    rolling.add(item.months)
            elif isinstance(item, SteppedDiscount):
                previous |= item.basis is StepBasis.PREVIOUS_MONTH_SPEND
                units |= item.basis is StepBasis.ANNUAL_UNITS
                if item.basis is StepBasis.ROLLING_SPEND and item.months:
                    rolling.add(item.months)
            elif isinstance(item, Membership):
                memberships = True
            elif isinstance(item, StampsAtLeast | AddStamps | UseStamps):
                stamps = True
    return SnapshotNeeds(
        previous_month_spend=previous,
        rolling_months=frozenset(rolling),
        units_this_year=units,
        memberships=memberships,
        stamps=stamps,
        usage_offers=tuple(o for o in offers if o.limits.per_customer_counted),
        budget_offers=tuple(o for o in offers if o.limits.budget is not None),
    )


@dataclass(frozen=True, slots=True)
class OfferIndex:
    """Offers by what they require of the cart; ``position`` keeps file order among equals."""

    offers: tuple[Offer, ...]
    always: tuple[int, ...]
    by_kind: dict[str, dict[str, tuple[int, ...]]]
    needs: SnapshotNeeds = SnapshotNeeds()
    withdrawable: frozenset[str] = frozenset()
    by_code: dict[str, Offer] = field(default_factory=dict)

    @classmethod
    def build(cls, offers: Sequence[Offer]) -> OfferIndex:
        ranked = tuple(
            sorted(offers, key=lambda offer: -offer.priority)
        )  # sorted() is stable: file order breaks ties
        always: list[int] = []
        by_kind: dict[str, dict[str, list[int]]] = {"product": {}, "category": {}, "brand": {}}
        for position, offer in enumerate(ranked):
            required = offer.required_items()
            if required is None:
                always.append(position)
                continue
            kind, keys = required
            for key in keys:
                by_kind[kind].setdefault(key, []).append(position)
        return cls(
            offers=ranked,
            always=tuple(always),
            by_kind={
                kind: {key: tuple(items) for key, items in table.items()}
                for kind, table in by_kind.items()
            },
            needs=snapshot_needs(ranked),
            withdrawable=frozenset(o.code for o in ranked if may_be_withdrawn(o)),
            by_code={offer.code: offer for offer in ranked},
        )

    def candidates(self, lines: Sequence[WorkingLine]) -> list[Offer]:
        positions = set(self.always)
        products = self.by_kind["product"]
        categories = self.by_kind["category"]
        brands = self.by_kind["brand"]
        for line in lines:
            positions.update(products.get(line.product_id, ()))
            if line.category is not None:
                positions.update(categories.get(line.category, ()))
            if line.brand is not None:
                positions.update(brands.get(line.brand, ()))
        return [self.offers[position] for position in sorted(positions)]


def period_start_label(period: LimitPeriod) -> str:
    return {"day": "today", "week": "this week", "month": "this month", "year": "this year"}[
        period.value
    ]


def _check_stacking(offer: Offer, applied: list[str], groups: dict[str, str]) -> str | None:
    if offer.exclusive and applied:
        return f"exclusive offer, but {applied[0]} already applied"
    if offer.group is not None and offer.group in groups:
        return f"group {offer.group} already used by {groups[offer.group]}"
    clash = [code for code in offer.not_combinable_with if code in applied]
    if clash:
        return f"not combinable with {clash[0]}"
    return None


def _check_limits(offer: Offer, ctx: OfferContext) -> str | None:
    limits = offer.limits
    if limits.per_customer_counted:
        if ctx.customer.anonymous:
            return "limited per customer: anonymous buyers cannot receive it"
        usage = ctx.customer.offer_usage.get(offer.code)
        total = usage.total if usage else 0
        in_period = usage.in_period if usage else 0
        if limits.per_customer is not None and total >= limits.per_customer:
            return f"already received {total} time(s); limit {limits.per_customer} per customer"
        period, per_period = limits.period, limits.per_period
        if period is not None and per_period is not None and in_period >= per_period:
            when = period_start_label(period)
            return f"already received {in_period} time(s) {when}; limit {per_period}"
    if limits.budget is not None:
        left = ctx.budgets_remaining.get(offer.code, limits.budget)
        if left <= 0:
            return "budget exhausted"
    return None


Saved = list[tuple[int, dict[str, int], int]]


def _snapshot(lines: list[WorkingLine]) -> Saved:
    return [(line.discount, dict(line.bonus_by_offer), len(line.earn_changes)) for line in lines]


def _restore(lines: list[WorkingLine], saved: Saved) -> None:
    for line, (discount, bonus, changes) in zip(lines, saved, strict=True):
        line.discount = discount
        line.bonus_by_offer = bonus
        del line.earn_changes[changes:]


def may_be_withdrawn(offer: Offer) -> bool:
    """Whether the offer can be refused after its effects ran (a money budget it would
    overrun, stamps the buyer lacks): only then is the cart saved first, to be put back."""
    return offer.limits.budget_money is not None or any(
        isinstance(effect, UseStamps) for effect in offer.effects
    )


def _apply_one(
    offer: Offer, ctx: OfferContext, withdrawable: bool
) -> tuple[OfferEffects | None, str]:
    reasons = []
    for condition in offer.conditions:
        verdict = condition.check(ctx)
        if not verdict.met:
            return None, verdict.reason
        reasons.append(verdict.reason)
    met = "; ".join(reasons)
    saved = _snapshot(ctx.lines) if withdrawable else None
    effects = OfferEffects(offer_code=offer.code)
    for effect in offer.effects:
        effect.apply(ctx, effects)
    refusal = _refusal_after_effects(offer, ctx, effects)
    if refusal is not None:
        assert saved is not None, "only offers that may be withdrawn are refused here"
        _restore(ctx.lines, saved)
        return None, refusal
    if effects.is_empty():
        return None, "conditions met but nothing in the cart for its effects"
    return effects, met or "no conditions"


def _refusal_after_effects(offer: Offer, ctx: OfferContext, effects: OfferEffects) -> str | None:
    for card, count in effects.stamps_used.items():
        held = ctx.customer.stamps.get(card, 0)
        if held < count:
            return f"needs {count} stamps on {card}, has {held}"
    budget = offer.limits.budget_money
    if budget is not None:
        left = ctx.budgets_remaining.get(offer.code, budget)
        if effects.discount > left:
            return f"budget: {left:,} left, the offer would give {effects.discount:,}"
    return None


def apply_offers(ctx: OfferContext, index: OfferIndex) -> OffersOutcome:
    """Apply the programme's offers to ``ctx.lines`` in priority order and explain each."""
    outcome = OffersOutcome()
    candidates = index.candidates(ctx.lines)
    outcome.not_candidates = len(index.offers) - len(candidates)
    applied: list[str] = []
    groups: dict[str, str] = {}
    refused_by: dict[str, str] = {}
    stopped_by: str | None = None
    for offer in candidates:
        reason = _refusal(offer, ctx, applied, groups, refused_by, stopped_by)
        if reason is not None:
            outcome.traces.append(OfferTrace(offer.code, offer.name, False, reason))
            continue
        effects, why = _apply_one(offer, ctx, offer.code in index.withdrawable)
        if effects is None:
            outcome.traces.append(OfferTrace(offer.code, offer.name, False, why))
            continue
        applied.append(offer.code)
        if offer.group is not None:
            groups[offer.group] = offer.code
        for other in offer.not_combinable_with:
            refused_by.setdefault(other, offer.code)
        outcome.applied.append(effects)
        outcome.traces.append(
            OfferTrace(offer.code, offer.name, True, why, effects.discount, effects.bonus_points)
        )
        if offer.final or offer.exclusive:
            stopped_by = offer.code
    return outcome


def _refusal(
    offer: Offer,
    ctx: OfferContext,
    applied: list[str],
    groups: dict[str, str],
    refused_by: dict[str, str],
    stopped_by: str | None,
) -> str | None:
    if stopped_by is not None:
        return f"{stopped_by} applied before and is final"
    if not offer.in_window(ctx.at):
        return _window_text(offer, ctx.at)
    if offer.segments and not set(offer.segments) & ctx.customer.segments:
        return f"only for segment {', '.join(offer.segments)}"
    if offer.code in refused_by:
        return f"{refused_by[offer.code]} applied and is not combinable with it"
    return _check_stacking(offer, applied, groups) or _check_limits(offer, ctx)


def _window_text(offer: Offer, at: datetime) -> str:
    if offer.valid_from is not None and at < offer.valid_from:
        return f"starts {offer.valid_from.isoformat()}"
    assert offer.valid_until is not None
    return f"ended {offer.valid_until.isoformat()}"
