"""``/panel/``: daily sales, new customers and points issued vs spent, and the totals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tonari.analytics.dashboard import daily_activity, totals
from tonari.kit.clock import utcnow
from tonari.kit.errors import NotFound
from tonari.programs.schemas import CURRENCY_MINOR_UNITS
from tonari.programs.service import programme_in_force
from tonari.web import charts
from tonari.web.auth import PanelSessionDep, PanelUserDep
from tonari.web.rendering import money, render, svg

router = APIRouter()
DAYS = 30


async def currency_of(session: PanelSessionDep, tenant_id: int) -> tuple[str, int]:
    """The programme's currency and its minor units (none yet: no currency, 2 places)."""
    try:
        _, programme = await programme_in_force(session, tenant_id=tenant_id, at=utcnow())
    except NotFound:
        return "", 2
    return programme.currency, CURRENCY_MINOR_UNITS.get(programme.currency, 2)


@router.get("/", response_class=HTMLResponse, summary="Dashboard")
async def dashboard(request: Request, session: PanelSessionDep, user: PanelUserDep) -> HTMLResponse:
    user.principal.require("customers:read")
    at = utcnow()
    activity = await daily_activity(session, tenant_id=user.tenant_id, at=at, days=DAYS)
    summary = await totals(session, tenant_id=user.tenant_id, at=at)
    currency, minor_units = await currency_of(session, user.tenant_id)
    labels = [day.strftime("%d %b") for day in activity.days]
    scale = 10**minor_units

    def in_currency(value: float) -> str:
        return money(round(value * scale), minor_units, currency)

    figures: dict[str, Any] = {
        "revenue": sum(activity.revenue),
        "orders": sum(activity.orders),
        "new_customers": sum(activity.new_customers),
        "points_issued": sum(activity.points_issued),
        "points_spent": sum(activity.points_spent),
    }
    return render(
        request,
        "dashboard.html",
        user=user,
        active="dashboard",
        title="Dashboard",
        days=DAYS,
        zone=activity.zone,
        currency=currency,
        minor_units=minor_units,
        totals=summary,
        figures=figures,
        sales_chart=svg(
            charts.bar_chart(
                labels,
                [value / scale for value in activity.revenue],
                title=f"Sales per day ({currency or 'major units'})",
                value_format=in_currency,
            )
        ),
        customers_chart=svg(
            charts.bar_chart(
                labels, activity.new_customers, title="New customers per day", colour="#2e9d5b"
            )
        ),
        points_chart=svg(
            charts.line_chart(
                labels,
                [
                    charts.Series("Points issued", activity.points_issued, "#2f6fde"),
                    charts.Series("Points spent", activity.points_spent, "#e0782f"),
                ],
                title="Points issued vs spent per day",
            )
        ),
    )
