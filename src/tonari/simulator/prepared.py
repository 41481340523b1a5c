"""The history as a replay reads it, the redemption policy, and what a replay answers.

A history is prepared once (sorted, customers numbered, returns queued) and replayed through
each programme compared, so the proposal and the baseline see exactly the same orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from tonari.programs.schemas import CustomerType
from tonari.rules.cart import CartLine
from tonari.simulator.calendar import MonthCalendar
from tonari.simulator.history import HistoryOrder, HistoryReturn

SERIES = (
    "orders",
    "sales",
    "discounts",
    "revenue",
    "points_issued",
    "points_taken_back",
    "points_not_recovered",
    "points_redeemed",
    "points_expired",
    "items_handed_out",
)
"""Per-month figures: money in minor units, points in points, all net of returns.

``sales`` is at regular prices; ``revenue`` is what customers paid (after discounts and
points); ``items_handed_out`` counts codes, vouchers, memberships and perks offers gave.
"""


class RedemptionMode(StrEnum):
    MAX = "max"
    RECORDED = "recorded"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class RedemptionPolicy:
    """How many points each buyer asks to spend; the programme's caps then apply.

    ``max``: everything allowed once the balance reaches ``min_balance`` (the cautious choice:
    it prices the programme as if every point were used). ``recorded``: the ``points_spent``
    the history shows. ``none``: nobody spends, so every point ends as breakage or liability.
    """

    mode: RedemptionMode = RedemptionMode.MAX
    min_balance: int = 0

    def describe(self) -> str:
        if self.mode is RedemptionMode.MAX:
            return f"spend the most allowed when the balance is at least {self.min_balance}"
        if self.mode is RedemptionMode.RECORDED:
            return "spend the points the history records"
        return "never spend points"


@dataclass(slots=True)
class PreparedHistory:
    """Orders in time order with dense customer numbers, shared by every programme replayed."""

    orders: list[HistoryOrder]
    carts: list[list[CartLine]]
    totals: list[int]
    members: list[int]
    customer_ids: list[str]
    customer_types: list[CustomerType]
    birth_dates: list[date | None]
    returns: list[tuple[datetime, int, HistoryReturn]]
    first_at: datetime
    last_at: datetime

    def __len__(self) -> int:
        return len(self.orders)


def prepare(orders: Iterable[HistoryOrder], *, until: datetime | None = None) -> PreparedHistory:
    """Sort by moment (then row), number the customers, queue the returns.

    Orders and returns after ``until`` are left out, and ``until`` is where the replay stops
    (by default the last order or return). A customer's type is the one of their first order,
    their birthday the first one given. Raises ``ValueError`` when nothing is left to replay.
    """
    chosen = sorted(
        (order for order in orders if until is None or order.placed_at <= until),
        key=lambda order: (order.placed_at, order.row),
    )
    if not chosen:
        raise ValueError("the history has no orders to replay")
    numbers: dict[str, int] = {}
    members: list[int] = []
    types: list[CustomerType] = []
    birthdays: list[date | None] = []
    returns: list[tuple[datetime, int, HistoryReturn]] = []
    last = chosen[-1].placed_at
    for position, order in enumerate(chosen):
        if order.customer_id is None:
            members.append(-1)
        else:
            number = numbers.setdefault(order.customer_id, len(numbers))
            if number == len(types):
                types.append(order.customer_type)
                birthdays.append(order.birth_date)
            elif birthdays[number] is None and order.birth_date is not None:
                birthdays[number] = order.birth_date
            members.append(number)
        for returned in order.returns:
            if until is None or returned.at <= until:
                returns.append((returned.at, position, returned))
                last = max(last, returned.at)
    returns.sort(key=lambda item: (item[0], item[1]))
    return PreparedHistory(
        orders=chosen,
        carts=[list(order.lines) for order in chosen],
        totals=[order.total for order in chosen],
        members=members,
        customer_ids=list(numbers),
        customer_types=types,
        birth_dates=birthdays,
        returns=returns,
        first_at=chosen[0].placed_at,
        last_at=max(last, until) if until is not None else last,
    )


@dataclass(slots=True)
class ReplayResult:
    """What one programme did to the history, month by month, in its own time zone."""

    programme_name: str | None
    currency: str | None
    point_value_minor: int
    months: list[str]
    series: dict[str, list[int]]
    tier_codes: list[str]
    tier_counts: list[list[int]]
    customers: int
    orders: int
    anonymous_orders: int
    pending_points: int
    debt_points: int
    until: datetime
    liability_points: list[int] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(self.series[name])

    @property
    def outstanding_points(self) -> int:
        """Points still owed at the end: pending plus available, less debts."""
        return self.liability_points[-1] if self.liability_points else 0


def liability_by_month(series: dict[str, list[int]]) -> list[int]:
    """Outstanding points at each month's end: everything issued less what left the books."""
    liability: list[int] = []
    outstanding = 0
    for issued, taken_back, redeemed, expired in zip(
        series["points_issued"],
        series["points_taken_back"],
        series["points_redeemed"],
        series["points_expired"],
        strict=True,
    ):
        outstanding += issued - taken_back - redeemed - expired
        liability.append(outstanding)
    return liability


def replay_without_programme(history: PreparedHistory, zone: ZoneInfo) -> ReplayResult:
    """The "no programme" baseline: full prices, no discounts, no points, no cost."""
    calendar = MonthCalendar(zone, history.first_at, history.last_at)
    series = {name: [0] * len(calendar) for name in SERIES}
    for order, total in zip(history.orders, history.totals, strict=True):
        month = calendar.index(order.placed_at)
        series["orders"][month] += 1
        series["sales"][month] += total
        series["revenue"][month] += total
    for at, position, returned in history.returns:
        month = calendar.index(at)
        lines = {line.line_no: line for line in history.orders[position].lines}
        back = sum(lines[line_no].unit_price * units for line_no, units in returned.quantities)
        series["sales"][month] -= back
        series["revenue"][month] -= back
    return ReplayResult(
        programme_name=None,
        currency=None,
        point_value_minor=1,
        months=list(calendar.labels),
        series=series,
        tier_codes=[],
        tier_counts=[[] for _ in calendar.labels],
        customers=len(history.customer_ids),
        orders=len(history),
        anonymous_orders=sum(1 for number in history.members if number < 0),
        pending_points=0,
        debt_points=0,
        until=history.last_at,
        liability_points=[0] * len(calendar),
    )
