"""What a cart costs a customer: points spent per line, price to pay, points to earn.

Used by order calculate, order placement, personal prices and the import of history, so a
price shown on a catalogue page is the price the order is charged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tonari.kit.money import BASIS_POINTS, Rounding, allocate, divide
from tonari.programs.schemas import CustomerType, EarnBase, Programme, Tier
from tonari.rules.explain import Explanation


@dataclass(frozen=True, slots=True)
class CartLine:
    line_no: int
    product_id: str
    unit_price: int
    quantity: int
    category: str | None = None

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class CustomerView:
    """What the rules need to know about the buyer; ``None`` tier means anonymous."""

    customer_type: CustomerType
    tier_code: str | None
    available_points: int

    @property
    def anonymous(self) -> bool:
        return self.tier_code is None


ANONYMOUS = CustomerView(customer_type=CustomerType.PERSON, tier_code=None, available_points=0)


@dataclass(slots=True)
class LineResult:
    line_no: int
    product_id: str
    category: str | None
    unit_price: int
    quantity: int
    regular_total: int
    max_points: int
    points_applied: int = 0
    price_to_pay: int = 0
    earn_rate_bp: int = 0
    points_to_earn: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "line_no": self.line_no,
            "product_id": self.product_id,
            "category": self.category,
            "unit_price": self.unit_price,
            "quantity": self.quantity,
            "regular_total": self.regular_total,
            "max_points": self.max_points,
            "points_applied": self.points_applied,
            "price_to_pay": self.price_to_pay,
            "earn_rate_bp": self.earn_rate_bp,
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

    @property
    def total_regular(self) -> int:
        return sum(line.regular_total for line in self.lines)

    @property
    def total_to_pay(self) -> int:
        return sum(line.price_to_pay for line in self.lines)

    @property
    def points_to_earn(self) -> int:
        return sum(line.points_to_earn for line in self.lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "tier": self.tier_code,
            "points_requested": self.points_requested,
            "points_applied": self.points_applied,
            "max_points_spendable": self.max_points_spendable,
            "total_regular": self.total_regular,
            "total_to_pay": self.total_to_pay,
            "points_to_earn": self.points_to_earn,
            "lines": [line.as_dict() for line in self.lines],
            "explanations": [item.as_dict() for item in self.explanations],
        }


def may_spend_points(programme: Programme, customer: CustomerView) -> bool:
    return not customer.anonymous and customer.customer_type not in programme.no_personal_price_for


def line_points_cap(programme: Programme, line_total: int) -> int:
    """Most points one line may take: its price × the programme's share, in whole points."""
    money_cap = line_total * programme.max_points_share_bp
    return money_cap // (BASIS_POINTS * programme.point_value_minor)


def earn_rate(
    programme: Programme, tier: Tier, product_id: str, category: str | None
) -> tuple[int, str]:
    """The rate a line earns at, and why: a product bonus beats a category bonus beats the tier."""
    bonus = None
    for candidate in programme.product_bonuses:
        if candidate.product_id is not None and candidate.product_id == product_id:
            bonus = candidate
            break
        if bonus is None and candidate.category is not None and candidate.category == category:
            bonus = candidate
    if bonus is None:
        return tier.earn_rate_bp, f"{tier.name} earns {tier.earn_rate_bp / 100:g}%"
    target = f"product {product_id}" if bonus.product_id else f"category {category}"
    if bonus.replaces_tier_rate:
        rate = max(bonus.earn_rate_bp, tier.earn_rate_bp)
        return rate, f"{target} earns {rate / 100:g}% whatever the tier"
    rate = bonus.earn_rate_bp + tier.earn_rate_bp
    return rate, f"{target} earns {bonus.earn_rate_bp / 100:g}% on top of {tier.name}"


def points_for_amount(programme: Programme, amount: int, rate_bp: int) -> int:
    """Points earned on ``amount`` minor units at ``rate_bp``, by the programme's rounding."""
    rounding: Rounding = programme.rounding
    return divide(amount * rate_bp, BASIS_POINTS * programme.point_value_minor, rounding)


def calculate_cart(
    programme: Programme,
    lines: list[CartLine],
    customer: CustomerView,
    points_requested: int = 0,
) -> CartCalculation:
    results = [
        LineResult(
            line_no=line.line_no,
            product_id=line.product_id,
            category=line.category,
            unit_price=line.unit_price,
            quantity=line.quantity,
            regular_total=line.total,
            max_points=line_points_cap(programme, line.total),
        )
        for line in lines
    ]
    explanations: list[Explanation] = []
    spending_allowed = may_spend_points(programme, customer)
    share_text = f"{programme.max_points_share_bp / 100:g}%"
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
            why = f"points may pay at most {share_text} of each line ({cap_total} points)"
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
        result.price_to_pay = result.regular_total - share * programme.point_value_minor
        if share and share == result.max_points:
            explanations.append(
                Explanation(
                    "max_points_share",
                    True,
                    f"points capped at {share_text} of line ({result.max_points} points)",
                    line_no=result.line_no,
                )
            )
    if customer.anonymous:
        for result in results:
            result.price_to_pay = result.regular_total
        explanations.append(Explanation("earn", False, "anonymous customer earns no points"))
        return CartCalculation(None, points_requested, 0, 0, results, explanations)
    tier = programme.tier(customer.tier_code)
    explanations.append(
        Explanation("tier", True, f"tier {tier.name} earns {tier.earn_rate_bp / 100:g}%")
    )
    for result in results:
        rate, why = earn_rate(programme, tier, result.product_id, result.category)
        base = (
            result.price_to_pay
            if programme.earn_base is EarnBase.PAID_AMOUNT
            else result.regular_total
        )
        result.earn_rate_bp = rate
        result.points_to_earn = points_for_amount(programme, base, rate)
        if rate != tier.earn_rate_bp:
            explanations.append(Explanation("product_bonus", True, why, line_no=result.line_no))
    return CartCalculation(
        tier.code, points_requested, applied, max_spendable, results, explanations
    )
