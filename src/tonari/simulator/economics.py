"""What a discount or a bonus costs against the margin: the seeds' arithmetic, exactly.

Everything is integers (minor units, basis points) and :class:`~fractions.Fraction`; a share is
turned into a percentage only for display, by :func:`percent`, with the rounding written there.
The simulator reports its totals with the same functions, so a marketer can check one order
by hand and then trust the millions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tonari.kit.money import BASIS_POINTS, Rounding, apply_rate, divide


def percent(share: Fraction | None, decimals: int = 1) -> str:
    """``Fraction(1, 6)`` → ``"16.7%"``: half-up at the last shown decimal, for display only."""
    if share is None:
        return "–"
    scale = 100 * 10**decimals
    scaled = divide(share.numerator * scale, share.denominator, Rounding.HALF_UP)
    sign = "-" if scaled < 0 else ""
    whole, fraction = divmod(abs(scaled), 10**decimals)
    text = f"{whole}.{fraction:0{decimals}d}" if decimals else str(whole)
    return f"{sign}{text}%"


def share_of(part: int, whole: int) -> Fraction | None:
    """``part / whole``, or ``None`` when there is no whole to compare with."""
    return Fraction(part, whole) if whole else None


def gross_profit(amount: int, margin_bp: int) -> int:
    """The margin earned on ``amount`` of sales before any loyalty cost."""
    return apply_rate(amount, margin_bp)


@dataclass(frozen=True, slots=True)
class DiscountCost:
    """A discount given on one purchase, against that purchase's profit."""

    price: int
    profit: int
    cost: int
    share_of_profit: Fraction

    @property
    def profit_left(self) -> int:
        return self.profit - self.cost

    def explain(self) -> str:
        return (
            f"a purchase of {self.price} earns {self.profit} of profit; the discount gives away "
            f"{self.cost}, i.e. {percent(self.share_of_profit)} of that profit"
        )


def discount_cost(price: int, *, margin_bp: int, discount_bp: int) -> DiscountCost:
    """A discount comes straight out of the profit, so its true size is cost ÷ profit.

    The seed's example: a price of 9,000 at a 30% margin earns 2,700; a 5% discount costs 450,
    which is 1/6 = 16.7% of the profit. (The seed prints 17.5%: a rounding slip, since
    450 / 2,700 is exactly 16.67%.)
    """
    profit = gross_profit(price, margin_bp)
    cost = apply_rate(price, discount_bp)
    return DiscountCost(price, profit, cost, Fraction(cost, profit))


@dataclass(frozen=True, slots=True)
class BonusCost:
    """A bonus earned on a first purchase and spent on a second equal one."""

    price: int
    profit_of_both: int
    bonus: int
    share_of_profit: Fraction

    def explain(self) -> str:
        return (
            f"two purchases of {self.price} earn {self.profit_of_both} of profit together; the "
            f"bonus spent on the second costs {self.bonus}, i.e. {percent(self.share_of_profit)}"
        )


def bonus_cost_on_second_purchase(price: int, *, margin_bp: int, bonus_bp: int) -> BonusCost:
    """A bonus costs the shop only when it is spent, and it takes a second purchase to spend it.

    The seed's example: 5% of 9,000 is a bonus of 450; spent on a second purchase of 9,000 it is
    set against the profit of both (2 × 2,700 = 5,400): 450 / 5,400 = 1/12 = 8.3%, half the
    cost of the same 5% as a discount. (The seed prints 8.5%; exactly it is 8.33%.) A bonus
    never spent costs nothing, which is why the simulator counts breakage.
    """
    profit = gross_profit(price, margin_bp)
    bonus = apply_rate(price, bonus_bp)
    return BonusCost(price, 2 * profit, bonus, Fraction(bonus, 2 * profit))


@dataclass(frozen=True, slots=True)
class StandStill:
    """How much more has to be sold at a discount to earn the same profit as before."""

    margin_bp: int
    discount_bp: int
    margin_left_bp: int
    sales_increase: Fraction | None

    def explain(self) -> str:
        if self.sales_increase is None:
            return "the discount eats the whole margin: no volume of sales makes up for it"
        return (
            f"a {self.discount_bp / 100:g}% discount leaves {self.margin_left_bp / 100:g} of "
            f"every {self.margin_bp / 100:g} of margin, so sales must grow by "
            f"{percent(self.sales_increase)} to earn the same profit"
        )


def sales_increase_to_stand_still(*, margin_bp: int, discount_bp: int) -> StandStill:
    """``margin ÷ (margin − discount) − 1``: profit per sale falls, so volume must rise.

    The seed's example: at a 45% margin a 10% discount leaves 35 of 45, so sales must grow by
    45/35 − 1 = 2/7 = 28.6% just to stand still.
    """
    left = margin_bp - discount_bp
    increase = Fraction(discount_bp, left) if left > 0 else None
    return StandStill(margin_bp, discount_bp, left, increase)


def uplift_to_stand_still(
    *, profit_before_costs: int, cost_before: int, cost_after: int
) -> Fraction | None:
    """Extra sales (as a share) that make a costlier programme earn what the cheaper one did.

    Costs are assumed to grow with sales, as discounts and points do: with profit ``P`` before
    any loyalty cost, ``(1 + u) × (P − cost_after) = P − cost_before``. For a discount of ``d``
    at margin ``m`` and no programme before, this is :func:`sales_increase_to_stand_still`.
    ``None`` when the new programme costs the whole profit.
    """
    left = profit_before_costs - cost_after
    if left <= 0:
        return None
    return Fraction(cost_after - cost_before, left)


def basis_points(share: Fraction) -> int:
    """A share as whole basis points, half-even, for a JSON field that must stay an integer."""
    return divide(share.numerator * BASIS_POINTS, share.denominator)
