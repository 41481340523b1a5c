"""What the dashboard shows: per-day series over the last days, and the tenant's totals.

Days are calendar days in the programme's time zone (UTC for a tenant without one), so
"today" on the chart is the merchant's today. Revenue is what customers paid
(``total_paid``, minor units) on orders that were not cancelled, by the day they were placed.
Points *issued* are the points given to customers (earned on orders, activities and partner
accruals, and grants by hand); points *spent* are the points redeemed on orders. Both are
read from the ledger's postings against the tenant's system accounts, by the day of their
entry: a return that takes earned points back is not "negative issuing" here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import NotFound
from tonari.ledger.service import system_account
from tonari.models.customers import Customer
from tonari.models.ledger import LedgerEntry, LedgerPosting
from tonari.models.orders import Order
from tonari.segments.membership import zone_of


@dataclass(frozen=True, slots=True)
class DailyActivity:
    days: list[date]
    revenue: list[int]  # minor units
    orders: list[int]
    new_customers: list[int]
    points_issued: list[int]
    points_spent: list[int]
    zone: str


@dataclass(frozen=True, slots=True)
class Totals:
    customers: int  # live profiles (not merged into another, not erased)
    members: int  # live profiles enrolled in the programme (they have a tier)
    points_outstanding: int | None  # None: the tenant has no programme yet


def _by_day(rows: Sequence[Any], days: list[date]) -> list[int]:
    found = {row[0]: int(row[1] or 0) for row in rows}
    return [found.get(day, 0) for day in days]


async def daily_activity(
    session: AsyncSession, *, tenant_id: int, at: datetime, days: int = 30
) -> DailyActivity:
    """The last ``days`` calendar days up to and including today, oldest first."""
    zone = await zone_of(session, tenant_id, at)
    zone_name = getattr(zone, "key", "UTC")
    today = at.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=zone)
    calendar = [first + timedelta(days=n) for n in range(days)]

    def local_day(column: Any) -> Any:
        return cast(func.timezone(zone_name, column), Date)

    placed = local_day(Order.placed_at)
    sales = await session.execute(
        select(placed, func.sum(Order.total_paid), func.count())
        .where(Order.tenant_id == tenant_id, Order.status != "cancelled", Order.placed_at >= since)
        .group_by(placed)
    )
    sales_rows = sales.all()
    joined = local_day(Customer.created_at)
    signups = await session.execute(
        select(joined, func.count())
        .where(
            Customer.tenant_id == tenant_id,
            Customer.merged_into_id.is_(None),
            Customer.created_at >= since,
        )
        .group_by(joined)
    )
    givers = [
        await system_account(session, tenant_id, "points_issued"),
        await system_account(session, tenant_id, "adjustments"),
    ]
    redeemed = await system_account(session, tenant_id, "points_redeemed")
    day = local_day(LedgerEntry.occurred_at)
    postings = (
        select(day)
        .join(LedgerEntry, LedgerEntry.id == LedgerPosting.entry_id)
        .where(LedgerPosting.tenant_id == tenant_id, LedgerEntry.occurred_at >= since)
        .group_by(day)
    )
    issued = await session.execute(
        postings.add_columns(-func.sum(LedgerPosting.amount)).where(
            LedgerPosting.account_id.in_(givers), LedgerPosting.amount < 0
        )
    )
    spent = await session.execute(
        postings.add_columns(func.sum(LedgerPosting.amount)).where(
            LedgerPosting.account_id == redeemed, LedgerPosting.amount > 0
        )
    )
    return DailyActivity(
        days=calendar,
        revenue=_by_day([(row[0], row[1]) for row in sales_rows], calendar),
        orders=_by_day([(row[0], row[2]) for row in sales_rows], calendar),
        new_customers=_by_day(signups.all(), calendar),
        points_issued=_by_day(issued.all(), calendar),
        points_spent=_by_day(spent.all(), calendar),
        zone=zone_name,
    )


async def totals(session: AsyncSession, *, tenant_id: int, at: datetime) -> Totals:
    from tonari.simulator.liability import liability_report

    live = (
        Customer.tenant_id == tenant_id,
        Customer.merged_into_id.is_(None),
        Customer.erased_at.is_(None),
    )
    row = (
        await session.execute(select(func.count(), func.count(Customer.tier_code)).where(*live))
    ).one()
    try:
        outstanding: int | None = (
            await liability_report(session, tenant_id=tenant_id, at=at)
        ).points
    except NotFound:
        outstanding = None
    return Totals(customers=int(row[0]), members=int(row[1]), points_outstanding=outstanding)
