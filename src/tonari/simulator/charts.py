"""Charts of a comparison: PNG with matplotlib (no display needed), an HTML page, the JSON.

Money is drawn in major units (roubles, not kopecks): these are pictures, the integers stay in
the JSON beside them.
"""

from __future__ import annotations

import base64
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from tonari.kit.money import BASIS_POINTS
from tonari.programs.schemas import CURRENCY_MINOR_UNITS
from tonari.simulator.comparison import FIGURES, Comparison, figure_text
from tonari.simulator.economics import percent

PROPOSAL_COLOUR = "#1f77b4"
BASELINE_COLOUR = "#7f7f7f"
CHARTS = ("liability", "cost", "tiers")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: never look for a display
    import matplotlib.pyplot as plt

    return plt


def _thousands() -> Any:
    from matplotlib.ticker import StrMethodFormatter

    return StrMethodFormatter("{x:,.0f}")


def _major(amount: int, currency: str) -> float:
    """Chart axes only: a plotted point in roubles or dollars, never used in any sum."""
    return amount / 10 ** CURRENCY_MINOR_UNITS.get(currency, 2)


def _names(comparison: Comparison) -> tuple[str, str]:
    proposal = comparison.proposal.programme_name or "proposal"
    baseline = comparison.baseline.programme_name or "no programme"
    return f"proposal: {proposal}", f"baseline: {baseline}"


def _line_chart(
    comparison: Comparison, path: Path, key: str, title: str, extra: str | None = None
) -> None:
    plt = _pyplot()
    rows = comparison.months()
    currency = comparison.currency
    labels = [row.month for row in rows]
    proposal_name, baseline_name = _names(comparison)
    figure, axes = plt.subplots(figsize=(10, 4.5), dpi=100)
    try:
        axes.plot(
            labels,
            [_major(row.proposal[key], currency) for row in rows],
            color=PROPOSAL_COLOUR,
            marker="o",
            markersize=3,
            label=proposal_name,
        )
        axes.plot(
            labels,
            [_major(row.baseline[key], currency) for row in rows],
            color=BASELINE_COLOUR,
            marker="o",
            markersize=3,
            label=baseline_name,
        )
        if extra is not None:
            axes.plot(
                labels,
                [_major(row.proposal[extra], currency) for row in rows],
                color=PROPOSAL_COLOUR,
                linestyle="--",
                linewidth=1,
                label=f"{proposal_name} (cash only)",
            )
        axes.set_title(title)
        axes.set_ylabel(currency)
        axes.yaxis.set_major_formatter(_thousands())
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", fontsize=8)
        step = max(1, len(labels) // 12)
        axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)


def _tier_chart(comparison: Comparison, path: Path) -> None:
    plt = _pyplot()
    panels = [comparison.proposal]
    if comparison.baseline.tier_codes:
        panels.append(comparison.baseline)
    names = _names(comparison)
    figure, axes_list = plt.subplots(
        len(panels), 1, figsize=(10, 3.6 * len(panels)), dpi=100, squeeze=False
    )
    try:
        for position, (result, axes) in enumerate(zip(panels, axes_list[:, 0], strict=True)):
            labels = result.months
            stacks = [
                [counts[tier] for counts in result.tier_counts]
                for tier in range(len(result.tier_codes))
            ]
            axes.stackplot(range(len(labels)), stacks, labels=result.tier_codes, alpha=0.85)
            axes.set_title(f"customers by tier at month end — {names[position]}")
            axes.set_ylabel("customers")
            axes.yaxis.set_major_formatter(_thousands())
            axes.grid(alpha=0.3)
            axes.legend(loc="upper left", fontsize=8)
            step = max(1, len(labels) // 12)
            axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)


def write_charts(comparison: Comparison, folder: Path) -> dict[str, Path]:
    """``liability.png``, ``cost.png`` and ``tiers.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.png" for name in CHARTS}
    _line_chart(
        comparison,
        paths["liability"],
        "liability_value",
        "liability at month end (outstanding points × point value)",
    )
    _line_chart(
        comparison,
        paths["cost"],
        "accrued_cost",
        "programme cost per month (discounts + points issued − expired, at value)",
        extra="cash_cost",
    )
    _tier_chart(comparison, paths["tiers"])
    return paths


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>What-if: {{ proposal_name }} vs {{ baseline_name }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.negative { color: #b00020; } .note { color: #666; font-size: .9rem; }
img { max-width: 100%; margin: 1rem 0; }
</style></head><body>
<h1>{{ proposal_name }} <small>vs {{ baseline_name }}</small></h1>
<p class="note">{{ orders }} orders of {{ customers }} customers, {{ period }}; margin
{{ margin }}; redemption: {{ redemption }}; amounts in {{ currency }}.
{% if rejected %}Rows of the history refused: {{ rejected }} (listed below).{% endif %}</p>
<table>
<tr><th>figure</th><th>proposal</th><th>baseline</th><th>difference</th></tr>
{% for row in figures %}
<tr><td>{{ row.label }}</td><td>{{ row.proposal }}</td><td>{{ row.baseline }}</td>
<td class="{{ 'negative' if row.negative else '' }}">{{ row.difference }}</td></tr>
{% endfor %}
<tr><td>programme cost as a share of gross profit</td><td>{{ share.proposal }}</td>
<td>{{ share.baseline }}</td><td></td></tr>
<tr><td>breakage (expired ÷ points issued)</td><td>{{ breakage.proposal }}</td>
<td>{{ breakage.baseline }}</td><td></td></tr>
<tr><td>sales uplift needed to stand still</td><td colspan="3">{{ uplift }}</td></tr>
</table>
{% for chart in charts %}<img alt="{{ chart.name }}" src="data:image/png;base64,{{ chart.data }}">
{% endfor %}
<h2>By month</h2>
<table>
<tr><th>month</th><th>orders</th><th>cost (proposal)</th><th>cost (baseline)</th>
<th>liability (proposal)</th><th>liability (baseline)</th></tr>
{% for row in months %}
<tr><td>{{ row.month }}</td><td>{{ row.orders }}</td><td>{{ row.cost_proposal }}</td>
<td>{{ row.cost_baseline }}</td><td>{{ row.liability_proposal }}</td>
<td>{{ row.liability_baseline }}</td></tr>
{% endfor %}
</table>
{% if rejects %}<h2>Refused rows</h2>
<table><tr><th>row</th><th>order</th><th>reason</th></tr>
{% for reject in rejects %}<tr><td>{{ reject.row }}</td><td>{{ reject.order_id or '' }}</td>
<td style="text-align:left">{{ reject.reason }}</td></tr>{% endfor %}
</table>{% endif %}
<p class="note">Cost per month counts discounts and points issued (less expired and taken back)
at their value when they happen; the dashed line is the cash part (discounts and points
redeemed). See docs/simulator.md for what each figure means.</p>
</body></html>
"""


def render_html(comparison: Comparison, charts: dict[str, Path]) -> str:
    from jinja2 import Environment

    proposal, baseline = comparison.proposal_figures, comparison.baseline_figures
    currency = comparison.currency
    figures = []
    for key, label, kind in FIGURES:
        difference = proposal[key] - baseline[key]
        figures.append(
            {
                "label": label,
                "proposal": figure_text(proposal[key], kind, currency),
                "baseline": figure_text(baseline[key], kind, currency),
                "difference": figure_text(difference, kind, currency),
                "negative": difference < 0,
            }
        )
    months = [
        {
            "month": row.month,
            "orders": f"{row.proposal['orders']:,}",
            "cost_proposal": figure_text(row.proposal["accrued_cost"], "money", currency),
            "cost_baseline": figure_text(row.baseline["accrued_cost"], "money", currency),
            "liability_proposal": figure_text(row.proposal["liability_value"], "money", currency),
            "liability_baseline": figure_text(row.baseline["liability_value"], "money", currency),
        }
        for row in comparison.months()
    ]
    environment = Environment(autoescape=True)
    return environment.from_string(TEMPLATE).render(
        proposal_name=comparison.proposal.programme_name,
        baseline_name=comparison.baseline.programme_name or "no programme",
        orders=f"{comparison.proposal.orders:,}",
        customers=f"{comparison.proposal.customers:,}",
        period=f"{comparison.proposal.months[0]} to {comparison.proposal.months[-1]}",
        margin=percent(Fraction(comparison.margin_bp, BASIS_POINTS), 2),
        redemption=comparison.policy.describe(),
        currency=currency,
        rejected=comparison.rejected,
        figures=figures,
        share={
            "proposal": percent(proposal.cost_share_of_profit),
            "baseline": percent(baseline.cost_share_of_profit),
        },
        breakage={
            "proposal": percent(proposal.breakage_rate),
            "baseline": percent(baseline.breakage_rate),
        },
        uplift=percent(comparison.sales_uplift_to_stand_still),
        charts=[
            {"name": name, "data": base64.b64encode(path.read_bytes()).decode("ascii")}
            for name, path in charts.items()
        ],
        months=months,
        rejects=list(comparison.rejects[:200]),
    )


def write_report(comparison: Comparison, folder: Path) -> dict[str, Path]:
    """Everything into ``folder``: the PNGs, ``report.html`` (PNGs inlined), ``result.json``."""
    paths = write_charts(comparison, folder)
    html = folder / "report.html"
    html.write_text(render_html(comparison, paths), encoding="utf-8")
    result = folder / "result.json"
    result.write_text(json.dumps(comparison.as_dict(), indent=2) + "\n", encoding="utf-8")
    return {**paths, "html": html, "json": result}
