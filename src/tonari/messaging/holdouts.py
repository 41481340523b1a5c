"""Control groups: what a campaign or a journey really changed, treated vs holdout.

A customer is *exposed* when the dispatcher decided a message of the campaign / journey would
go out (every rule said "send"): treated customers got it (``sent``), holdout customers were
recorded ``skipped``/``holdout`` instead. Both groups passed the same consent, caps and quiet
hours, so they are comparable. For each exposed customer we look at the orders placed (not
cancelled) from their first decision for ``window_days``: converted = at least one order;
revenue = what they paid (``total_paid``, minor units).

The comparison is pure (:func:`compare_groups`): the difference in conversion rate with a
normal-approximation 95% interval, and the difference in revenue per customer (ARPU) with a
Welch interval (unequal variances). Small groups give wide intervals; an interval that
contains 0 means "no measurable effect yet".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import NotFound, ValidationFailed

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class GroupOutcome:
    """Sufficient statistics of one group: sums, so SQL can aggregate them."""

    customers: int
    converted: int
    revenue: int  # minor units, the group's total
    revenue_squares: int  # sum over customers of (revenue of the customer)²

    @property
    def conversion_rate(self) -> float:
        return self.converted / self.customers if self.customers else 0.0

    @property
    def arpu(self) -> float:
        return self.revenue / self.customers if self.customers else 0.0

    @property
    def revenue_variance(self) -> float:
        """Sample variance of revenue per customer (n − 1)."""
        n = self.customers
        if n < 2:
            return 0.0
        return max((self.revenue_squares - n * self.arpu**2) / (n - 1), 0.0)


@dataclass(frozen=True)
class Interval:
    difference: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Comparison:
    conversion: Interval  # treated − holdout, as a rate (0.02 = 2 percentage points)
    arpu: Interval  # treated − holdout, minor units per customer
    comparable: bool  # both groups have at least two customers


def difference_interval(
    mean_a: float, variance_a: float, n_a: int, mean_b: float, variance_b: float, n_b: int
) -> Interval:
    """``mean_a − mean_b`` ± z·√(va/na + vb/nb): Welch's standard error, 95%."""
    difference = mean_a - mean_b
    if n_a == 0 or n_b == 0:
        return Interval(difference, -math.inf, math.inf)
    error = Z_95 * math.sqrt(variance_a / n_a + variance_b / n_b)
    return Interval(difference, difference - error, difference + error)


def compare_groups(treated: GroupOutcome, holdout: GroupOutcome) -> Comparison:
    pt, ph = treated.conversion_rate, holdout.conversion_rate
    conversion = difference_interval(
        pt, pt * (1 - pt), treated.customers, ph, ph * (1 - ph), holdout.customers
    )
    arpu = difference_interval(
        treated.arpu,
        treated.revenue_variance,
        treated.customers,
        holdout.arpu,
        holdout.revenue_variance,
        holdout.customers,
    )
    return Comparison(
        conversion=conversion,
        arpu=arpu,
        comparable=treated.customers >= 2 and holdout.customers >= 2,
    )


_OUTCOMES = """
WITH exposed AS (
    SELECT customer_id, control_group, min(decided_at) AS first_at
    FROM message_sends
    WHERE tenant_id = :tenant AND {subject}
      AND ((control_group = 'treated' AND status = 'sent')
           OR (control_group = 'holdout' AND status = 'skipped'))
    GROUP BY customer_id, control_group
), per_customer AS (
    SELECT e.customer_id, e.control_group, count(o.id) AS orders,
           coalesce(sum(o.total_paid), 0) AS revenue
    FROM exposed e
    LEFT JOIN orders o
      ON o.tenant_id = :tenant AND o.customer_id = e.customer_id AND o.status <> 'cancelled'
     AND o.placed_at >= e.first_at AND o.placed_at < e.first_at + :window AND o.placed_at <= :at
    GROUP BY e.customer_id, e.control_group
)
SELECT control_group, count(*) AS customers, count(*) FILTER (WHERE orders > 0) AS converted,
       coalesce(sum(revenue), 0) AS revenue,
       coalesce(sum(CAST(revenue AS numeric) * revenue), 0) AS squares
FROM per_customer GROUP BY control_group
"""


def _interval_view(interval: Interval, *, scale: float = 1.0, digits: int = 4) -> dict[str, Any]:
    def number(value: float) -> float | None:
        return None if math.isinf(value) else round(value * scale, digits)

    return {
        "difference": number(interval.difference),
        "low": number(interval.low),
        "high": number(interval.high),
        "significant": interval.excludes_zero,
    }


def _group_view(group: GroupOutcome) -> dict[str, Any]:
    return {
        "customers": group.customers,
        "converted": group.converted,
        "conversion_rate": round(group.conversion_rate, 4),
        "revenue": group.revenue,
        "arpu": round(group.arpu),
    }


async def holdout_report(
    session: AsyncSession,
    *,
    tenant_id: int,
    at: datetime,
    window_days: int = 14,
    campaign_key: str | None = None,
    journey_id: int | None = None,
) -> dict[str, Any]:
    """Treated vs holdout for one campaign (by key) or one journey (by id)."""
    if (campaign_key is None) == (journey_id is None):
        raise ValidationFailed("name a campaign or a journey", field="campaign_key")
    if not 1 <= window_days <= 365:
        raise ValidationFailed("window_days is between 1 and 365", field="window_days")
    params: dict[str, Any] = {
        "tenant": tenant_id,
        "window": timedelta(days=window_days),
        "at": at,
    }
    if campaign_key is not None:
        campaign_id = await session.scalar(
            text("SELECT id FROM campaigns WHERE tenant_id = :tenant AND key = :key"),
            {"tenant": tenant_id, "key": campaign_key},
        )
        if campaign_id is None:
            raise NotFound(f"no campaign {campaign_key!r}", field="key")
        subject, params["subject"] = "campaign_id = :subject", campaign_id
    else:
        subject, params["subject"] = "journey_id = :subject", journey_id
    rows = await session.execute(text(_OUTCOMES.format(subject=subject)), params)
    groups = {
        row.control_group: GroupOutcome(
            int(row.customers), int(row.converted), int(row.revenue), int(row.squares)
        )
        for row in rows
    }
    empty = GroupOutcome(0, 0, 0, 0)
    treated, holdout = groups.get("treated", empty), groups.get("holdout", empty)
    comparison = compare_groups(treated, holdout)
    return {
        "campaign": campaign_key,
        "journey_id": journey_id,
        "window_days": window_days,
        "at": at,
        "treated": _group_view(treated),
        "holdout": _group_view(holdout),
        "comparable": comparison.comparable,
        "conversion_difference": _interval_view(comparison.conversion),
        "arpu_difference": _interval_view(comparison.arpu, digits=1),
        "confidence": 0.95,
    }
