"""What a cart costs a customer: points spent per line, price to pay, points to earn.

Used by order calculate, order placement, personal prices and the import of history, so a
price shown on a catalogue page is the price the order is charged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tonari.kit.money import BASIS_POINTS, Rounding, allocate, divide
from tonari.programs.schemas import EarnBase, ProductBonus, Programme, Tier
from tonari.rules.explain import Explanation
from tonari.rules.offers.context import ANONYMOUS_SNAPSHOT, CustomerSnapshot, PresentedCode
from tonari.rules.offers.engine import OffersOutcome, OfferTrace, apply_offers
from tonari.rules.offers.state import (
    EarnMode,
    Issued,
    OfferContext,
    OfferEffects,
    WorkingLine,
)


@dataclass(frozen=True, slots=True)
class CartLine:
    line_no: int
    product_id: str
    unit_price: int
    quantity: int
    category: str | None = None
    brand: str | None = None
    on_sale: bool = False

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity


# The buyer as the rules see it; kept under its old name for the callers that build it by hand.
CustomerView = CustomerSnapshot
ANONYMOUS = ANONYMOUS_SNAPSHOT


@dataclass(slots=True)
class LineResult:
    line_no: int
    product_id: str
    category: str | None
    unit_price: int
    quantity: int
    regular_total: int
    max_points: int
    discount: int = 0
    points_applied: int = 0
    price_to_pay: int = 0
    earn_rate_bp: int = 0
    bonus_points: int = 0
    points_to_earn: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "line_no": self.line_no,
            "product_id": self.product_id,
            "category": self.category,
            "unit_price": self.unit_price,
            "quantity": self.quantity,
            "regular_total": self.regular_total,
            "discount": self.discount,
            "max_points": self.max_points,
            "points_applied": self.points_applied,
            "price_to_pay": self.price_to_pay,
            "earn_rate_bp": self.earn_rate_bp,
            "bonus_points": self.bonus_points,
            "points_to_earn": self.points_to_earn,
        }


@dataclass(slots=True)
class CartCalculation:
    tier_code: str | None
    points_requested: int
    points_applied: int
    max_points_spendable: int
    lines: list[LineResult]
    explanations: list[Explanation] = field(default_factory=list)
    offers: OffersOutcome = field(default_factory=OffersOutcome)

    @property
    def total_regular(self) -> int:
        return sum(line.regular_total for line in self.lines)

    @property
    def discount_total(self) -> int:
        return sum(line.discount for line in self.lines)

    @property
    def total_to_pay(self) -> int:
        return sum(line.price_to_pay for line in self.lines)

    @property
    def points_to_earn(self) -> int:
        return sum(line.points_to_earn for line in self.lines)

    @property
    def issued(self) -> list[Issued]:
        return [item for effects in self.offers.applied for item in effects.issued]

    def stamps(self) -> dict[str, int]:
        """Net stamps per card this order adds (negative when it uses more than it adds)."""
        net: dict[str, int] = {}
        for effects in self.offers.applied:
            for card, count in effects.stamps_added.items():
                net[card] = net.get(card, 0) + count
            for card, count in effects.stamps_used.items():
                net[card] = net.get(card, 0) - count
        return net

    def as_dict(self) -> dict[str, object]:
        return {
            "tier": self.tier_code,
            "points_requested": self.points_requested,
            "points_applied": self.points_applied,
            "max_points_spendable": self.max_points_spendable,
            "total_regular": self.total_regular,
            "discount_total": self.discount_total,
            "total_to_pay": self.total_to_pay,
            "points_to_earn": self.points_to_earn,
            "lines": [line.as_dict() for line in self.lines],
            "offers": [trace.as_dict() for trace in self.offers.traces],
            "offers_not_in_play": self.offers.not_candidates,
            "issued": [
                {"offer": i.offer_code, "kind": i.kind, "name": i.name, "quantity": i.quantity}
                | ({"days": i.days} if i.days is not None else {})
                for i in self.issued
            ],
            "stamps": self.stamps(),
            "explanations": [item.as_dict() for item in self.explanations],
        }


def may_spend_points(programme: Programme, customer: CustomerView) -> bool:
    return not customer.anonymous and customer.customer_type not in programme.no_personal_price_for


def line_points_cap(programme: Programme, line_total: int) -> int:
    """Most points one line may take: its price × the programme's share, in whole points."""
    money_cap = line_total * programme.max_points_share_bp
    return money_cap // (BASIS_POINTS * programme.point_value_minor)


def product_bonus(
    programme: Programme, product_id: str, category: str | None
) -> ProductBonus | None:
    """The bonus a line gets: a product's own beats its category's (first entry of each)."""
    if not programme.product_bonuses:
        return None
    bonus = None
    for candidate in programme.product_bonuses:
        if candidate.product_id is not None and candidate.product_id == product_id:
            return candidate
        if bonus is None and candidate.category is not None and candidate.category == category:
            bonus = candidate
    return bonus


def bonus_rate(tier: Tier, bonus: ProductBonus | None) -> int:
    if bonus is None:
        return tier.earn_rate_bp
    if bonus.replaces_tier_rate:
        return max(bonus.earn_rate_bp, tier.earn_rate_bp)
    return bonus.earn_rate_bp + tier.earn_rate_bp


def explain_rate(
    tier: Tier, bonus: ProductBonus | None, product_id: str, category: str | None
) -> str:
    rate = bonus_rate(tier, bonus)
    if bonus is None:
        return f"{tier.name} earns {rate / 100:g}%"
    target = f"product {product_id}" if bonus.product_id else f"category {category}"
    if bonus.replaces_tier_rate:
        return f"{target} earns {rate / 100:g}% whatever the tier"
    return f"{target} earns {bonus.earn_rate_bp / 100:g}% on top of {tier.name}"


def earn_rate(
    programme: Programme, tier: Tier, product_id: str, category: str | None
) -> tuple[int, str]:
    """The rate a line earns at, and why: a product bonus beats a category bonus beats the tier."""
    bonus = product_bonus(programme, product_id, category)
    return bonus_rate(tier, bonus), explain_rate(tier, bonus, product_id, category)


def points_for_amount(programme: Programme, amount: int, rate_bp: int) -> int:
    """Points earned on ``amount`` minor units at ``rate_bp``, by the programme's rounding."""
    rounding: Rounding = programme.rounding
    return divide(amount * rate_bp, BASIS_POINTS * programme.point_value_minor, rounding)


def _working_lines(lines: list[CartLine]) -> list[WorkingLine]:
    return [
        WorkingLine(
            line_no=line.line_no,
            product_id=line.product_id,
            category=line.category,
            brand=line.brand,
            on_sale=line.on_sale,
            unit_price=line.unit_price,
            quantity=line.quantity,
        )
        for line in lines
    ]


def _changed_rate(rate: int, mode: EarnMode, change_bp: int) -> int:
    if mode is EarnMode.SET:
        return change_bp
    if mode is EarnMode.REPLACE_IF_HIGHER:
        return max(rate, change_bp)
    if mode is EarnMode.ADD:
        return rate + change_bp
    return rate * change_bp // BASIS_POINTS


def _earn(
    programme: Programme,
    tier: Tier,
    results: list[LineResult],
    working: list[WorkingLine] | None,
    applied: dict[str, OfferEffects],
    explanations: list[Explanation],
    partner_rate: int | None = None,
) -> None:
    """Points per line: the tier (or product bonus) rate — or a coalition partner's own rate
    for a purchase made there — then each offer's change in the order the offers applied, then
    fixed bonus points. Each offer's share is credited to it."""
    for effects in applied.values():
        effects.earn_points = 0
    lines: list[WorkingLine | None] = (
        list(working) if working is not None else [None] * len(results)
    )
    for result, line in zip(results, lines, strict=True):
        special = None
        if partner_rate is not None:
            rate = partner_rate
        else:
            special = product_bonus(programme, result.product_id, result.category)
            rate = bonus_rate(tier, special)
        base = (
            result.price_to_pay
            if programme.earn_base is EarnBase.PAID_AMOUNT
            else result.regular_total
        )
        points = points_for_amount(programme, base, rate)
        bonus = 0
        if line is not None:
            for change in line.earn_changes:
                offer = applied.get(change.offer_code)
                if offer is None:
                    continue
                rate = _changed_rate(rate, change.mode, change.rate_bp)
                changed = points_for_amount(programme, base, rate)
                offer.earn_points += changed - points
                points = changed
            bonus = sum(amount for code, amount in line.bonus_by_offer.items() if code in applied)
        result.earn_rate_bp = rate
        result.bonus_points = bonus
        result.points_to_earn = points + bonus
        changed_by_offers = line is not None and bool(line.earn_changes)
        if special is not None and rate != tier.earn_rate_bp and not changed_by_offers:
            why = explain_rate(tier, special, result.product_id, result.category)
            explanations.append(Explanation("product_bonus", True, why, line_no=result.line_no))


def _within_points_budgets(
    programme: Programme,
    outcome: OffersOutcome,
    applied: dict[str, OfferEffects],
    budgets_remaining: Mapping[str, int],
) -> bool:
    """Withdraw the offers whose points would overrun their budget; False if any was."""
    within = True
    for offer in programme.offer_index().needs.budget_offers:
        budget = offer.limits.budget_points
        effects = applied.get(offer.code)
        if budget is None or effects is None:
            continue
        left = budgets_remaining.get(offer.code, budget)
        if effects.points <= left:
            continue
        within = False
        del applied[offer.code]
        outcome.applied = [item for item in outcome.applied if item.offer_code != offer.code]
        outcome.traces = [
            OfferTrace(
                trace.code,
                trace.name,
                False,
                f"points budget: {left:,} left, the offer would give {effects.points:,}",
            )
            if trace.code == offer.code
            else trace
            for trace in outcome.traces
        ]
    return within


def _line_result(
    programme: Programme, line: CartLine | WorkingLine, regular_total: int, discount: int
) -> LineResult:
    return LineResult(
        line_no=line.line_no,
        product_id=line.product_id,
        category=line.category,
        unit_price=line.unit_price,
        quantity=line.quantity,
        regular_total=regular_total,
        discount=discount,
        max_points=line_points_cap(programme, regular_total - discount),
    )


def calculate_cart(
    programme: Programme,
    lines: list[CartLine],
    customer: CustomerSnapshot,
    points_requested: int = 0,
    *,
    at: datetime | None = None,
    codes: Sequence[PresentedCode] = (),
    channel: str | None = None,
    partner: str | None = None,
    budgets_remaining: Mapping[str, int] | None = None,
) -> CartCalculation:
    """Offers first (discounts lower what points may pay and what earns), then points spent,
    then points earned. ``at`` is the transaction's moment; offers need it."""
    outcome = OffersOutcome()
    budgets = budgets_remaining or {}
    working: list[WorkingLine] | None = None
    if programme.offers:
        working = _working_lines(lines)
        if at is None:
            raise ValueError("calculate_cart needs the transaction moment when offers exist")
        context = OfferContext(
            programme=programme,
            customer=customer,
            at=at,
            lines=working,
            codes=codes,
            channel=channel,
            partner=partner,
            budgets_remaining=budgets,
        )
        outcome = apply_offers(context, programme.offer_index())
    results = (
        [_line_result(programme, line, line.regular_total, line.discount) for line in working]
        if working is not None
        else [_line_result(programme, line, line.total, 0) for line in lines]
    )
    explanations: list[Explanation] = []
    applied = _spend_points(programme, results, customer, points_requested, explanations)
    if customer.anonymous:
        explanations.append(Explanation("earn", False, "anonymous customer earns no points"))
        return CartCalculation(None, points_requested, 0, 0, results, explanations, outcome)
    tier = programme.tier(customer.tier_code)
    explanations.append(
        Explanation("tier", True, f"tier {tier.name} earns {tier.earn_rate_bp / 100:g}%")
    )
    by_offer = {effects.offer_code: effects for effects in outcome.applied}
    at_partner = programme.partner(partner)
    partner_rate = at_partner.earn_rate_bp if at_partner is not None else None
    if at_partner is not None and partner_rate is not None:
        explanations.append(
            Explanation(
                "partner", True, f"bought at {at_partner.name}: earns {partner_rate / 100:g}%"
            )
        )
    _earn(programme, tier, results, working, by_offer, explanations, partner_rate)
    if not _within_points_budgets(programme, outcome, by_offer, budgets):
        _earn(programme, tier, results, working, by_offer, explanations, partner_rate)
    max_spendable = min(
        sum(result.max_points for result in results), max(customer.available_points, 0)
    )
    return CartCalculation(
        tier.code,
        points_requested,
        applied,
        max_spendable,
        results,
        explanations,
        outcome,
    )


def _share_text(programme: Programme) -> str:
    return f"{programme.max_points_share_bp / 100:g}%"


def _spend_points(
    programme: Programme,
    results: list[LineResult],
    customer: CustomerSnapshot,
    points_requested: int,
    explanations: list[Explanation],
) -> int:
    """Spread the points the buyer asked to spend over the lines; returns the points applied."""
    spending_allowed = may_spend_points(programme, customer)
    if not spending_allowed:
        for result in results:
            result.max_points = 0
        who = (
            "anonymous customer"
            if customer.anonymous
            else f"customer type {customer.customer_type}"
        )
        explanations.append(Explanation("pay_with_points", False, f"{who} cannot pay with points"))
    cap_total = sum(result.max_points for result in results)
    max_spendable = min(cap_total, max(customer.available_points, 0))
    applied = min(points_requested, max_spendable)
    if points_requested > 0 and applied < points_requested:
        if points_requested > max(customer.available_points, 0) and spending_allowed:
            why = f"only {max(customer.available_points, 0)} points available"
        elif spending_allowed:
            why = (
                f"points may pay at most {_share_text(programme)} of each line ({cap_total} points)"
            )
        else:
            why = "paying with points is not allowed for this customer"
        explanations.append(
            Explanation(
                "pay_with_points",
                applied > 0,
                f"requested {points_requested} points, applied {applied}: {why}",
            )
        )
    shares = allocate(applied, [r.max_points for r in results]) if applied else [0] * len(results)
    for result, share in zip(results, shares, strict=True):
        result.points_applied = share
        result.price_to_pay = (
            result.regular_total - result.discount - share * programme.point_value_minor
        )
        if share and share == result.max_points:
            explanations.append(
                Explanation(
                    "max_points_share",
                    True,
                    f"points capped at {_share_text(programme)} of line "
                    f"({result.max_points} points)",
                    line_no=result.line_no,
                )
            )
    return applied
