"""Calendar arithmetic in the programme's time zone (end of month, months between)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def end_of_month_after(moment: datetime, months: int, zone: ZoneInfo) -> datetime:
    """The last instant of the month that is ``months`` after ``moment``'s month, local time."""
    local_day = moment.astimezone(zone).date()
    target = add_months(local_day.replace(day=1), months)
    last_day = calendar.monthrange(target.year, target.month)[1]
    next_midnight = datetime.combine(
        date(target.year, target.month, last_day) + timedelta(days=1), time(0), tzinfo=zone
    )
    return next_midnight.astimezone(UTC)


def months_between(start: datetime, end: datetime, zone: ZoneInfo) -> int:
    """Whole months from ``start`` to ``end`` in local time (0 when end < start)."""
    a = start.astimezone(zone)
    b = end.astimezone(zone)
    months = (b.year - a.year) * 12 + (b.month - a.month)
    if (b.day, b.time()) < (a.day, a.time()):
        months -= 1
    return max(months, 0)


def previous_month_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start and end (exclusive) of the calendar month before ``moment``'s, local time."""
    local = moment.astimezone(zone)
    this_month = datetime(local.year, local.month, 1, tzinfo=zone)
    start_day = add_months(this_month.date(), -1)
    start = datetime(start_day.year, start_day.month, 1, tzinfo=zone)
    return start.astimezone(UTC), this_month.astimezone(UTC)


def months_ago(moment: datetime, months: int, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    day = add_months(local.date(), -months)
    return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone).astimezone(UTC)
