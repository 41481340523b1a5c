"""Calendar months of a replay in a programme's time zone, found by bisection, not by astimezone."""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tonari.rules.calendar import add_months

ONE_MICROSECOND = timedelta(microseconds=1)


class MonthCalendar:
    """Months from ``first``'s to ``last``'s, local time; ``ends[k]`` is where month k stops.

    Converting every order's moment to local time costs more than the rest of its bookkeeping;
    comparing with precomputed UTC month ends gives the same month.
    """

    def __init__(self, zone: ZoneInfo, first: datetime, last: datetime) -> None:
        start = first.astimezone(zone).date().replace(day=1)
        stop = last.astimezone(zone).date().replace(day=1)
        self.zone = zone
        self.labels: list[str] = []
        self.starts: list[datetime] = []
        self.ends: list[datetime] = []
        day = start
        while day <= stop:
            following = add_months(day, 1)
            self.labels.append(f"{day.year:04d}-{day.month:02d}")
            self.starts.append(_utc_midnight(day, zone))
            self.ends.append(_utc_midnight(following, zone))
            day = following

    def __len__(self) -> int:
        return len(self.labels)

    def index(self, at: datetime) -> int:
        """The month holding ``at`` (clamped to the calendar's range)."""
        return min(bisect.bisect_right(self.ends, at), len(self.ends) - 1)

    def expiry_index(self, expires_at: datetime) -> int:
        """The month of a lot's last valid instant: expiry at local midnight belongs before it."""
        return self.index(expires_at - ONE_MICROSECOND)


def _utc_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
