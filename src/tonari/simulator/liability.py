"""Points liability for the finance team: what the tenant owes in points, by expiry month.

Read straight from the lots: every lot still pending or available with points left, plus the
points held for unpaid orders (reserved draws, counted at their lot's expiry), grouped by the
calendar month of the lot's last valid instant in the programme's time zone. A lot expiring
"at the end of March" expires at local midnight of 1 April, so it belongs to March; lots that
never expire form their own row. Debts (allow_negative) are owed by customers and reduce the
net figure. Points are valued at the programme's ``point_value_minor``.

A month before the current one still listed holds lots past their expiry that the expiry job
has not burnt yet (``past_expiry``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.models.ledger import LedgerAccount, LotDraw, PointLot
from tonari.programs.service import programme_in_force

LIVE_STATES = ("available", "pending")
RESERVED = "reserved"
LAST_INSTANT = timedelta(microseconds=1)


@dataclass(slots=True)
class LiabilityRow:
    month: str | None
    available: int = 0
    pending: int = 0
    reserved: int = 0
    lots: int = 0
    past_expiry: bool = False

    @property
    def points(self) -> int:
        return self.available + self.pending + self.reserved


@dataclass(slots=True)
class LiabilityReport:
    currency: str
    point_value_minor: int
    timezone: str
    as_of: datetime
    rows: list[LiabilityRow] = field(default_factory=list)
    customers: int = 0
    debt_points: int = 0
    customers_in_debt: int = 0

    @property
    def points(self) -> int:
        return sum(row.points for row in self.rows)

    @property
    def net_points(self) -> int:
        return self.points - self.debt_points

    def value(self, points: int) -> int:
        return points * self.point_value_minor

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "point_value_minor": self.point_value_minor,
            "timezone": self.timezone,
            "as_of": self.as_of.isoformat(),
            "months": [
                {
                    "expiry_month": row.month,
                    "never_expires": row.month is None,
                    "past_expiry": row.past_expiry,
                    "available": row.available,
                    "pending": row.pending,
                    "reserved": row.reserved,
                    "points": row.points,
                    "value_minor": self.value(row.points),
                    "lots": row.lots,
                }
                for row in self.rows
            ],
            "total": {"points": self.points, "value_minor": self.value(self.points)},
            "debt": {
                "points": self.debt_points,
                "value_minor": self.value(self.debt_points),
                "customers": self.customers_in_debt,
            },
            "net": {"points": self.net_points, "value_minor": self.value(self.net_points)},
            "customers_holding_points": self.customers,
        }


def _expiry_month(zone: str) -> Any:
    """``YYYY-MM`` of a lot's last valid instant, local time; NULL for lots that never expire."""
    return func.to_char(func.timezone(zone, PointLot.expires_at - LAST_INSTANT), "YYYY-MM")


async def liability_report(
    session: AsyncSession, *, tenant_id: int, at: datetime
) -> LiabilityReport:
    """Outstanding points now, by expiry month, valued by the programme in force at ``at``."""
    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    month = _expiry_month(programme.timezone).label("month")
    rows: dict[str | None, LiabilityRow] = {}
    lots = await session.execute(
        select(
            month,
            func.coalesce(func.sum(PointLot.remaining).filter(PointLot.state == "available"), 0),
            func.coalesce(func.sum(PointLot.remaining).filter(PointLot.state == "pending"), 0),
            func.count(),
        )
        .where(
            PointLot.tenant_id == tenant_id,
            PointLot.state.in_(LIVE_STATES),
            PointLot.remaining > 0,
        )
        .group_by(month)
    )
    for label, available, pending, count in lots:
        rows[label] = LiabilityRow(label, int(available), int(pending), 0, int(count))
    reserved = await session.execute(
        select(month, func.sum(LotDraw.amount - LotDraw.restored))
        .join(PointLot, PointLot.id == LotDraw.lot_id)
        .where(
            LotDraw.tenant_id == tenant_id,
            LotDraw.status == RESERVED,
            LotDraw.amount > LotDraw.restored,
        )
        .group_by(month)
    )
    for label, points in reserved:
        rows.setdefault(label, LiabilityRow(label)).reserved = int(points)
    current = at.astimezone(programme.zone).strftime("%Y-%m")
    ordered = sorted(rows.values(), key=lambda row: (row.month is None, row.month or ""))
    for row in ordered:
        row.past_expiry = row.month is not None and row.month < current
    holders = await session.scalar(
        select(func.count(func.distinct(PointLot.customer_id))).where(
            PointLot.tenant_id == tenant_id,
            PointLot.state.in_(LIVE_STATES),
            PointLot.remaining > 0,
        )
    )
    debt, in_debt = (
        await session.execute(
            select(
                func.coalesce(func.sum(LedgerAccount.debt), 0),
                func.count().filter(LedgerAccount.debt > 0),
            ).where(
                LedgerAccount.tenant_id == tenant_id,
                LedgerAccount.customer_id.is_not(None),
            )
        )
    ).one()
    return LiabilityReport(
        currency=programme.currency,
        point_value_minor=programme.point_value_minor,
        timezone=programme.timezone,
        as_of=at.astimezone(UTC),
        rows=ordered,
        customers=int(holders or 0),
        debt_points=int(debt),
        customers_in_debt=int(in_debt),
    )
