"""One customer's points in memory: lots with their pending and expiry dates, as the ledger keeps.

The ledger's behaviour, without its rows: spends draw from available lots soonest expiry first;
new available points pay a debt first (``allow_negative``); a return takes earned points back
from the line's own lot first, then from other available lots, and gives spent points back to
the lots they came from, re-expiring at once what has expired meanwhile.

Lots are kept in the order they were earned. Within one programme that is also the order of
their pending and expiry dates (both are the purchase moment plus a fixed rule), so releasing
and expiring only ever look at the front of two cursors, and a spend never sorts.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime

from tonari.programs.schemas import CustomerType
from tonari.simulator.offerbook import OfferMemory

PENDING = 0
AVAILABLE = 1
EXPIRED = 2


class Lot:
    """Points earned at one moment (one order, or one order line when it may be returned)."""

    __slots__ = ("expires_at", "index", "pending_until", "remaining", "state")

    def __init__(
        self,
        remaining: int,
        pending_until: datetime,
        expires_at: datetime | None,
        state: int,
        index: int,
    ) -> None:
        self.remaining = remaining
        self.pending_until = pending_until
        self.expires_at = expires_at
        self.state = state
        self.index = index


class Member:
    """A customer while replaying: tier, spend aggregates, balances and lots.

    ``available`` is net of ``debt`` (as the ledger's cached balance is under allow_negative);
    ``released`` is the index of the first lot still pending, ``head`` the first lot that may
    still hold available points.
    """

    __slots__ = (
        "available",
        "birth_date",
        "customer_type",
        "debt",
        "first_at",
        "head",
        "history_at",
        "history_spend",
        "last_at",
        "lifetime",
        "lots",
        "memory",
        "orders",
        "pending",
        "released",
        "tier",
    )

    def __init__(
        self, customer_type: CustomerType, birth_date: date | None, memory: OfferMemory | None
    ) -> None:
        self.customer_type = customer_type
        self.birth_date = birth_date
        self.memory = memory
        self.tier = -1
        self.lifetime = 0
        self.orders = 0
        self.first_at: datetime | None = None
        self.last_at: datetime | None = None
        self.available = 0
        self.pending = 0
        self.debt = 0
        self.lots: list[Lot] = []
        self.head = 0
        self.released = 0
        self.history_at: list[datetime] = []
        self.history_spend: list[int] = []

    @property
    def outstanding(self) -> int:
        """Points the shop still owes: pending plus available, less any debt."""
        return self.pending + self.available


def settle_debt(member: Member, lot: Lot) -> None:
    """New available points pay an existing debt first; the balance already shows the debt."""
    paid = min(member.debt, lot.remaining)
    lot.remaining -= paid
    member.debt -= paid


def add_lot(
    member: Member, amount: int, pending_until: datetime, expires_at: datetime | None, at: datetime
) -> Lot:
    lots = member.lots
    if pending_until > at:
        lot = Lot(amount, pending_until, expires_at, PENDING, len(lots))
        member.pending += amount
    else:
        lot = Lot(amount, pending_until, expires_at, AVAILABLE, len(lots))
        member.available += amount
        # A programme's pending period is fixed, so when this lot is available at once every
        # earlier one was too, and the released cursor simply moves past it.
        member.released = len(lots) + 1
        if member.debt:
            settle_debt(member, lot)
    lots.append(lot)
    return lot


def release_and_expire(member: Member, at: datetime) -> list[tuple[datetime, int]] | None:
    """What the ledger jobs would have done by ``at``: (expiry, points) of what expired, if any."""
    lots = member.lots
    count = len(lots)
    index = member.released
    while index < count:
        lot = lots[index]
        if lot.pending_until > at:
            break
        lot.state = AVAILABLE
        member.pending -= lot.remaining
        member.available += lot.remaining
        if member.debt:
            settle_debt(member, lot)
        index += 1
    member.released = index
    expired: list[tuple[datetime, int]] | None = None
    head = member.head
    while head < index:
        lot = lots[head]
        if lot.remaining == 0:
            head += 1
            continue
        expiry = lot.expires_at
        if expiry is None or expiry > at:
            break
        if expired is None:
            expired = []
        expired.append((expiry, lot.remaining))
        member.available -= lot.remaining
        lot.remaining = 0
        lot.state = EXPIRED
        head += 1
    member.head = head
    return expired


def draw(member: Member, points: int, taken: list[tuple[Lot, int]] | None = None) -> None:
    """Spend ``points`` from available lots, soonest expiry first (``points`` ≤ what is there)."""
    lots = member.lots
    member.available -= points
    index = member.head
    while points:
        lot = lots[index]
        take = lot.remaining if lot.remaining < points else points
        if take:
            lot.remaining -= take
            points -= take
            if taken is not None:
                taken.append((lot, take))
        if lot.remaining == 0:
            index += 1
    while member.head < member.released and member.lots[member.head].remaining == 0:
        member.head += 1


def take_back(member: Member, own: Lot | None, amount: int, *, allow_negative: bool) -> int:
    """Reverse earned points: own lot first, then available lots. Returns the shortfall."""
    left = amount
    if own is not None and own.state != EXPIRED and own.remaining:
        take = min(left, own.remaining)
        own.remaining -= take
        if own.state == PENDING:
            member.pending -= take
        else:
            member.available -= take
        left -= take
    index = member.head
    while left and index < member.released:
        lot = member.lots[index]
        if lot.state == AVAILABLE and lot.remaining:
            take = min(left, lot.remaining)
            lot.remaining -= take
            member.available -= take
            left -= take
        index += 1
    if left and allow_negative:
        member.available -= left
        member.debt += left
    return left


def give_back(member: Member, taken: list[tuple[Lot, int]], amount: int) -> int:
    """Return spent points to their lots, latest expiry first; returns the points re-expired.

    ``taken`` is the draw record and is reduced by what is given back.
    """
    reexpired = 0
    left = amount
    while left and taken:
        lot, drawn = taken[-1]
        give = min(left, drawn)
        left -= give
        if give == drawn:
            taken.pop()
        else:
            taken[-1] = (lot, drawn - give)
        if lot.state == EXPIRED:
            reexpired += give
            continue
        lot.remaining += give
        member.available += give
        member.head = min(member.head, lot.index)
    return reexpired


def spend_between(member: Member, start: datetime, end: datetime) -> int:
    """Net spend of purchases made in ``[start, end)`` (kept only when a window needs it)."""
    low = bisect.bisect_left(member.history_at, start)
    high = bisect.bisect_left(member.history_at, end)
    return sum(member.history_spend[low:high]) if high > low else 0
