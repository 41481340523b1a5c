"""A proposal against a baseline: the figures a marketer and the finance team read.

Every figure is an integer (minor units or points). Points are valued at their programme's
``point_value_minor``. Shares are :class:`~fractions.Fraction`; the JSON gives them as exact
``"numerator/denominator"`` text plus a rounded percentage for people.

* **cash cost** = discounts + the value of points redeemed: money the shop did not collect;
* **liability** = points still outstanding at the end × point value: what may still be spent;
* **programme cost** = cash cost + liability (the cost if every outstanding point is spent);
* **gross profit** = sales at regular prices × the margin rate, before any loyalty cost;
* **cost share of profit** = programme cost ÷ gross profit (the seed's "16.7% of the profit");
* **sales uplift to stand still** = how much more must be sold for the proposal to earn what
  the baseline earns, costs growing with sales (see ``economics.uplift_to_stand_still``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from tonari.programs.schemas import CURRENCY_MINOR_UNITS
from tonari.simulator.economics import gross_profit, percent, share_of, uplift_to_stand_still
from tonari.simulator.prepared import RedemptionPolicy, ReplayResult

FIGURES: tuple[tuple[str, str, str], ...] = (
    ("orders", "orders replayed", "count"),
    ("customers", "customers", "count"),
    ("sales", "sales at regular prices", "money"),
    ("discounts", "discounts given", "money"),
    ("revenue", "revenue (what customers paid)", "money"),
    ("points_issued", "points issued", "points"),
    ("points_taken_back", "points taken back by returns", "points"),
    ("points_redeemed", "points redeemed", "points"),
    ("redeemed_value", "value of points redeemed", "money"),
    ("points_expired", "points expired (breakage)", "points"),
    ("expired_value", "value of points expired", "money"),
    ("points_outstanding", "points outstanding at the end", "points"),
    ("liability_value", "liability at the end", "money"),
    ("items_handed_out", "codes, vouchers and perks handed out", "count"),
    ("cash_cost", "cash cost (discounts + points redeemed)", "money"),
    ("programme_cost", "programme cost (cash cost + liability)", "money"),
    ("gross_profit", "gross profit before loyalty costs", "money"),
    ("profit_after", "profit after the programme", "money"),
)


@dataclass(frozen=True, slots=True)
class Figures:
    """Totals of one replay, valued."""

    name: str | None
    values: dict[str, int]
    cost_share_of_profit: Fraction | None
    breakage_rate: Fraction | None

    def __getitem__(self, key: str) -> int:
        return self.values[key]


def figures_of(result: ReplayResult, *, margin_bp: int) -> Figures:
    value = result.point_value_minor
    total = result.total
    sales = total("sales")
    discounts = total("discounts")
    redeemed = total("points_redeemed")
    outstanding = result.outstanding_points
    cash_cost = discounts + redeemed * value
    liability = outstanding * value
    profit = gross_profit(sales, margin_bp)
    issued_net = total("points_issued") - total("points_taken_back")
    values = {
        "orders": result.orders,
        "customers": result.customers,
        "sales": sales,
        "discounts": discounts,
        "revenue": total("revenue"),
        "points_issued": total("points_issued"),
        "points_taken_back": total("points_taken_back"),
        "points_redeemed": redeemed,
        "redeemed_value": redeemed * value,
        "points_expired": total("points_expired"),
        "expired_value": total("points_expired") * value,
        "points_outstanding": outstanding,
        "liability_value": liability,
        "items_handed_out": total("items_handed_out"),
        "cash_cost": cash_cost,
        "programme_cost": cash_cost + liability,
        "gross_profit": profit,
        "profit_after": profit - cash_cost - liability,
    }
    return Figures(
        name=result.programme_name,
        values=values,
        cost_share_of_profit=share_of(cash_cost + liability, profit),
        breakage_rate=share_of(total("points_expired"), issued_net),
    )


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: str
    proposal: dict[str, int]
    baseline: dict[str, int]


def _monthly(result: ReplayResult) -> dict[str, dict[str, int]]:
    value = result.point_value_minor
    series = result.series
    rows: dict[str, dict[str, int]] = {}
    for index, month in enumerate(result.months):
        discounts = series["discounts"][index]
        redeemed = series["points_redeemed"][index] * value
        accrued = (
            series["points_issued"][index]
            - series["points_taken_back"][index]
            - series["points_expired"][index]
        ) * value
        rows[month] = {
            "orders": series["orders"][index],
            "sales": series["sales"][index],
            "revenue": series["revenue"][index],
            "discounts": discounts,
            "points_issued": series["points_issued"][index],
            "points_redeemed": series["points_redeemed"][index],
            "points_expired": series["points_expired"][index],
            "cash_cost": discounts + redeemed,
            "accrued_cost": discounts + accrued,
            "liability_points": result.liability_points[index],
            "liability_value": result.liability_points[index] * value,
        }
    return rows


@dataclass(slots=True)
class Comparison:
    """The proposal, the baseline (a programme or none) and their difference."""

    proposal: ReplayResult
    baseline: ReplayResult
    margin_bp: int
    policy: RedemptionPolicy
    rejected: int = 0
    rejects: tuple[dict[str, Any], ...] = ()

    @property
    def currency(self) -> str:
        # The "no programme" baseline has no currency; the proposal always has one.
        currency = self.proposal.currency or self.baseline.currency
        if currency is None:
            raise ValueError("a comparison needs a programme with a currency")
        return currency

    @property
    def proposal_figures(self) -> Figures:
        return figures_of(self.proposal, margin_bp=self.margin_bp)

    @property
    def baseline_figures(self) -> Figures:
        return figures_of(self.baseline, margin_bp=self.margin_bp)

    @property
    def sales_uplift_to_stand_still(self) -> Fraction | None:
        proposal, baseline = self.proposal_figures, self.baseline_figures
        return uplift_to_stand_still(
            profit_before_costs=proposal["gross_profit"],
            cost_before=baseline["programme_cost"],
            cost_after=proposal["programme_cost"],
        )

    def months(self) -> list[MonthRow]:
        proposal, baseline = _monthly(self.proposal), _monthly(self.baseline)
        empty = dict.fromkeys(next(iter(proposal.values())), 0)
        labels = sorted(set(proposal) | set(baseline))
        return [
            MonthRow(label, proposal.get(label, empty), baseline.get(label, empty))
            for label in labels
        ]

    def tier_distribution(self, result: ReplayResult) -> list[dict[str, Any]]:
        return [
            {"month": month, "tiers": dict(zip(result.tier_codes, counts, strict=True))}
            for month, counts in zip(result.months, result.tier_counts, strict=True)
        ]

    def as_dict(self) -> dict[str, Any]:
        proposal, baseline = self.proposal_figures, self.baseline_figures
        uplift = self.sales_uplift_to_stand_still
        return {
            "currency": self.currency,
            "margin_bp": self.margin_bp,
            "redemption": {
                "mode": self.policy.mode.value,
                "min_balance": self.policy.min_balance,
                "meaning": self.policy.describe(),
            },
            "period": {
                "from": self.proposal.months[0],
                "to": self.proposal.months[-1],
                "until": _iso(self.proposal.until),
            },
            "proposal": {"programme": proposal.name, **proposal.values},
            "baseline": {"programme": baseline.name, **baseline.values},
            "difference": {
                key: proposal[key] - baseline[key]
                for key, _, kind in FIGURES
                if kind != "count" or key == "items_handed_out"
            },
            "ratios": {
                "cost_share_of_profit": {
                    "proposal": _ratio(proposal.cost_share_of_profit),
                    "baseline": _ratio(baseline.cost_share_of_profit),
                },
                "breakage_rate": {
                    "proposal": _ratio(proposal.breakage_rate),
                    "baseline": _ratio(baseline.breakage_rate),
                },
                "sales_uplift_to_stand_still": _ratio(uplift),
            },
            "months": [
                {"month": row.month, "proposal": row.proposal, "baseline": row.baseline}
                for row in self.months()
            ],
            "tier_distribution": {
                "proposal": self.tier_distribution(self.proposal),
                "baseline": self.tier_distribution(self.baseline),
            },
            "end_state": {
                "proposal": {
                    "points_pending": self.proposal.pending_points,
                    "points_debt": self.proposal.debt_points,
                },
                "baseline": {
                    "points_pending": self.baseline.pending_points,
                    "points_debt": self.baseline.debt_points,
                },
            },
            "rejected": self.rejected,
            "rejects": list(self.rejects),
        }


def _ratio(share: Fraction | None) -> dict[str, str] | None:
    if share is None:
        return None
    return {"exact": f"{share.numerator}/{share.denominator}", "percent": percent(share, 2)}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def money_text(amount: int, currency: str) -> str:
    """``123456`` RUB → ``"1,234.56"``: display only, integers all the way to here."""
    digits = CURRENCY_MINOR_UNITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**digits)
    return f"{sign}{whole:,}" + (f".{minor:0{digits}d}" if digits else "")


def figure_text(amount: int, kind: str, currency: str) -> str:
    if kind == "money":
        return money_text(amount, currency)
    return f"{amount:,}"
