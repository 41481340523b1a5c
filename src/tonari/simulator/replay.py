"""Replay an order history through a programme in memory, with the engine the API uses.

Each order, in time order, goes through what ``orders.service.place_order`` does: the tier held
at that moment, the buyer's snapshot, ``calculate_cart`` (the same pure function the API calls)
with the offers' memory of earlier orders, points spent by the redemption policy, earned points
as lots with their pending and expiry dates, the net spend added to the customer's aggregates
and the tier re-evaluated. What the scheduled jobs do between orders (release pending points,
expire lots, re-evaluate tiers that can fall without a purchase) happens lazily, at the moment
it would have happened. Returns reverse the returned units as ``orders.changes`` does.

The history is assumed not to depend on the programme: the same customers buy the same
things. What the simulation answers is what each programme would have cost on that history.
Nothing here reads the clock or a database; integers throughout.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from tonari.kit.money import divide
from tonari.programs.schemas import ExpiryMode, NegativeBalanceRule, Programme
from tonari.rules.cart import CartCalculation, CartLine, LineResult, calculate_cart
from tonari.rules.lots import expires_at, pending_until
from tonari.rules.offers.context import ANONYMOUS_SNAPSHOT, CustomerSnapshot
from tonari.simulator import wallet
from tonari.simulator.calendar import MonthCalendar
from tonari.simulator.history import HistoryOrder, HistoryReturn
from tonari.simulator.offerbook import OfferBook, OfferMemory, OrderOffers
from tonari.simulator.prepared import (
    SERIES,
    PreparedHistory,
    RedemptionMode,
    RedemptionPolicy,
    ReplayResult,
    liability_by_month,
    replay_without_programme,
)
from tonari.simulator.tiering import TierKeeper
from tonari.simulator.wallet import Lot, Member, spend_between

PROGRESS_EVERY = 16_384
NO_SPEND: dict[int, int] = {}


class _OrderMemo:
    """What a later return of this order needs: its lines, their lots and what they drew."""

    __slots__ = ("booked", "draws", "history_index", "lines", "lots", "member", "undone", "year")

    def __init__(self, member: int, lines: list[LineResult], year: int) -> None:
        self.member = member
        self.lines = {line.line_no: line for line in lines}
        self.lots: dict[int, Lot] = {}
        self.draws: dict[int, list[tuple[Lot, int]]] = {}
        self.history_index = -1
        self.year = year
        self.booked: OrderOffers | None = None
        # per line: units returned, points taken back, points given back
        self.undone: dict[int, list[int]] = {}


def _share(amount: int, units: int, quantity: int) -> int:
    """``orders.changes``' share of a line for ``units`` of ``quantity``, rounded down."""
    return amount * units // quantity


class Replayer:
    """One programme over one prepared history; :meth:`run` once."""

    def __init__(
        self,
        programme: Programme,
        history: PreparedHistory,
        *,
        policy: RedemptionPolicy = RedemptionPolicy(),
        exact_tiers: bool = False,
    ) -> None:
        self.programme = programme
        self.history = history
        self.policy = policy
        self.zone: ZoneInfo = programme.zone
        self.calendar = MonthCalendar(self.zone, history.first_at, history.last_at)
        self.years = [int(label[:4]) for label in self.calendar.labels]
        self.tiers = TierKeeper(programme, self.calendar, exact=exact_tiers)
        self.codes = self.tiers.codes
        self.allow_negative = programme.negative_balance is NegativeBalanceRule.ALLOW_NEGATIVE
        self.month_expiry = programme.expiry.mode is ExpiryMode.END_OF_MONTH_AFTER_MONTHS
        self.book = OfferBook(programme)
        self._expiry_by_month: dict[int, datetime | None] = {}
        self.members: list[Member] = []  # made in run(), where the collector is paused
        # Spend by purchase moment is needed for windows: rolling or last-month qualification,
        # offers that read them. Lifetime spend alone is one running total.
        self.keep_spend_history = (
            not self.tiers.lifetime_basis
            or self.book.previous_month
            or bool(self.book.rolling_months)
        )
        self.series = {name: [0] * len(self.calendar) for name in SERIES}
        self._orders = self.series["orders"]
        self._sales = self.series["sales"]
        self._revenue = self.series["revenue"]
        self._discounts = self.series["discounts"]
        self._redeemed = self.series["points_redeemed"]
        self._issued = self.series["points_issued"]
        self.tier_snapshots: list[list[int]] = []
        self.memos: dict[int, _OrderMemo] = {}
        self.returning = {position for _, position, _ in history.returns}
        self.anonymous_orders = 0
        self.month = 0

    # --- the engine, in one place ---------------------------------------------------------

    def _price(
        self, order: HistoryOrder, cart: list[CartLine], snapshot: CustomerSnapshot, points: int
    ) -> CartCalculation:
        """The one call into the pure engine: the same ``calculate_cart`` the API uses."""
        return calculate_cart(
            self.programme,
            cart,
            snapshot,
            points,
            at=order.placed_at,
            channel=order.channel,
            partner=order.partner,
            budgets_remaining=self.book.budgets,
        )

    def _snapshot_for_offers(self, number: int, member: Member, at: datetime) -> CustomerSnapshot:
        """The buyer as ``place_order`` sees them when the programme has offers: ``_buyer``
        plus what ``complete_snapshot`` reads for them (the plain case is built in _place)."""
        book = self.book
        assert member.memory is not None
        previous = (
            spend_between(member, *self.tiers.previous_month(at)) if book.previous_month else 0
        )
        return CustomerSnapshot(
            customer_type=member.customer_type,
            tier_code=self.codes[member.tier],
            available_points=member.available,
            customer_id=number,
            birth_date=member.birth_date,
            registered_at=member.first_at,
            orders_count=member.orders,
            lifetime_spend=member.lifetime,
            spend_previous_month=previous,
            **book.snapshot_fields(
                member.memory,
                at,
                self.years[self.month],
                lambda start, end: spend_between(member, start, end),
            ),
        )

    # --- time -----------------------------------------------------------------------------------

    def _advance(self, at: datetime) -> None:
        ends = self.calendar.ends
        while self.month < len(ends) - 1 and at >= ends[self.month]:
            self.tier_snapshots.append(list(self.tiers.counts))
            boundary = ends[self.month]
            self.month += 1
            if self.tiers.scheduled:
                self.tiers.scheduled_job(self.members, boundary)

    def _jobs(self, member: Member, at: datetime) -> None:
        expired = wallet.release_and_expire(member, at)
        if expired:
            points = self.series["points_expired"]
            for expiry, amount in expired:
                points[self.calendar.expiry_index(expiry)] += amount

    def _lot_dates(self, at: datetime) -> tuple[datetime, datetime | None]:
        if not self.month_expiry:
            return pending_until(self.programme, at), expires_at(self.programme, at)
        # The end-of-month rule depends on nothing but the local month of the purchase.
        month = self.month
        if month not in self._expiry_by_month:
            self._expiry_by_month[month] = expires_at(self.programme, at)
        return pending_until(self.programme, at), self._expiry_by_month[month]

    # --- orders and returns -----------------------------------------------------------------------

    def _place_anonymous(
        self, position: int, order: HistoryOrder, cart: list[CartLine], total: int
    ) -> None:
        calculation = self._price(order, cart, ANONYMOUS_SNAPSHOT, 0)
        month = self.month
        self._orders[month] += 1
        self._sales[month] += total
        self._revenue[month] += calculation.total_to_pay
        self._discounts[month] += calculation.discount_total
        self.anonymous_orders += 1
        memo = None
        if position in self.returning:
            memo = self.memos[position] = _OrderMemo(-1, calculation.lines, self.years[self.month])
        if calculation.offers.applied:
            booked, handed_out = self.book.record(None, calculation, order.placed_at)
            self.series["items_handed_out"][self.month] += handed_out
            if memo is not None:
                memo.booked = booked

    def _place(
        self, position: int, order: HistoryOrder, number: int, cart: list[CartLine], total: int
    ) -> None:
        """One named buyer's order; the hot path, so written with few calls and lookups."""
        at = order.placed_at
        member = self.members[number]
        if member.first_at is None:
            member.first_at = at
        self.tiers.before_purchase(number, member, at)
        lots = member.lots
        if lots:
            # Most orders find nothing due: look at the two cursors before calling the jobs.
            released, head = member.released, member.head
            due = released < len(lots) and lots[released].pending_until <= at
            if not due and head < released:
                first = lots[head]
                expiry = first.expires_at
                due = first.remaining == 0 or (expiry is not None and expiry <= at)
            if due:
                self._jobs(member, at)
        policy = self.policy
        if policy.mode is RedemptionMode.MAX:
            points = member.available
            if points <= 0 or points < policy.min_balance:
                points = 0
        elif policy.mode is RedemptionMode.RECORDED:
            points = order.points_spent or 0
        else:
            points = 0
        if self.book.active:
            snapshot = self._snapshot_for_offers(number, member, at)
        else:
            snapshot = CustomerSnapshot(
                customer_type=member.customer_type,
                tier_code=self.codes[member.tier],
                available_points=member.available,
                customer_id=number,
                birth_date=member.birth_date,
                registered_at=member.first_at,
                orders_count=member.orders,
                lifetime_spend=member.lifetime,
                spend_rolling_months=NO_SPEND,  # shared and never written: no dict per order
            )
        calculation = self._price(order, cart, snapshot, points)
        month = self.month
        discount = to_pay = earned = 0
        for line in calculation.lines:
            discount += line.discount
            to_pay += line.price_to_pay
            earned += line.points_to_earn
        self._orders[month] += 1
        self._sales[month] += total
        self._revenue[month] += to_pay
        if discount:
            self._discounts[month] += discount
        memo = None
        if position in self.returning:
            memo = self.memos[position] = _OrderMemo(number, calculation.lines, self.years[month])
        applied = calculation.points_applied
        if applied:
            self._redeemed[month] += applied
            if memo is None:
                wallet.draw(member, applied)
            else:
                for line in calculation.lines:
                    if line.points_applied:
                        taken = memo.draws[line.line_no] = []
                        wallet.draw(member, line.points_applied, taken)
        if earned:
            self._issued[month] += earned
            until, expiry = self._lot_dates(at)
            if memo is None:
                wallet.add_lot(member, earned, until, expiry, at)
            else:
                for line in calculation.lines:
                    if line.points_to_earn:
                        memo.lots[line.line_no] = wallet.add_lot(
                            member, line.points_to_earn, until, expiry, at
                        )
        if self.book.active:
            self._remember_offers(member, calculation, memo, at, position)
        net_spend = total - discount
        member.lifetime += net_spend
        member.orders += 1
        member.last_at = at
        if self.keep_spend_history:
            if memo is not None:
                memo.history_index = len(member.history_at)
            member.history_at.append(at)
            member.history_spend.append(net_spend)
        self.tiers.after_purchase(number, member, at)

    def _remember_offers(
        self,
        member: Member,
        calculation: CartCalculation,
        memo: _OrderMemo | None,
        at: datetime,
        position: int,
    ) -> None:
        assert member.memory is not None
        if self.book.units:
            units = sum(line.quantity for line in self.history.carts[position])
            self.book.add_units(member.memory, self.years[self.month], units)
        if not calculation.offers.applied:
            return
        booked, handed_out = self.book.record(member.memory, calculation, at)
        self.series["items_handed_out"][self.month] += handed_out
        if memo is not None:
            memo.booked = booked

    def _return(self, at: datetime, position: int, returned: HistoryReturn) -> None:
        memo = self.memos[position]
        member = self.members[memo.member] if memo.member >= 0 else None
        if member is not None:
            self._jobs(member, at)
        rounding = self.programme.rounding
        series, month = self.series, self.month
        spend_back = units_back = 0
        for line_no, quantity in returned.quantities:
            line = memo.lines[line_no]
            undone = memo.undone.setdefault(line_no, [0, 0, 0])
            before = undone[0]
            after = undone[0] = before + quantity
            units_back += quantity
            take = divide(line.points_to_earn * after, line.quantity, rounding) - undone[1]
            give = divide(line.points_applied * after, line.quantity, rounding) - undone[2]
            undone[1] += take
            undone[2] += give
            net_line = line.regular_total - line.discount
            spend_back += _share(net_line, after, line.quantity) - _share(
                net_line, before, line.quantity
            )
            series["sales"][month] -= line.unit_price * quantity
            series["discounts"][month] -= _share(line.discount, after, line.quantity) - _share(
                line.discount, before, line.quantity
            )
            series["revenue"][month] -= _share(line.price_to_pay, after, line.quantity) - _share(
                line.price_to_pay, before, line.quantity
            )
            if member is None:
                continue
            if take:
                short = wallet.take_back(
                    member, memo.lots.get(line_no), take, allow_negative=self.allow_negative
                )
                recovered = take if self.allow_negative else take - short
                series["points_taken_back"][month] += recovered
                series["points_not_recovered"][month] += take - recovered
            if give:
                reexpired = wallet.give_back(member, memo.draws.get(line_no, []), give)
                series["points_redeemed"][month] -= give
                series["points_expired"][month] += reexpired
        fully = all(
            memo.undone.get(line.line_no, (0,))[0] == line.quantity for line in memo.lines.values()
        )
        placed_at = self.history.orders[position].placed_at
        if fully and memo.booked is not None:
            self.book.undo(member.memory if member else None, memo.booked, placed_at)
        if member is None:
            return
        if self.book.units and member.memory is not None:
            self.book.add_units(member.memory, memo.year, -units_back)
        member.lifetime -= spend_back
        if memo.history_index >= 0:
            member.history_spend[memo.history_index] -= spend_back
        self.tiers.evaluate(memo.member, member, at)

    # --- the run ----------------------------------------------------------------------------

    def run(self, progress: Callable[[int], None] | None = None) -> ReplayResult:
        """Replay every order and return, then run the jobs up to the end of the period.

        The cyclic garbage collector is paused meanwhile: a replay makes no reference cycles
        (reference counting frees what it drops), and every collection would otherwise walk
        the whole prepared history again, a fifth of the replay's time.
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._run(progress)
        finally:
            if paused:
                gc.enable()

    def _run(self, progress: Callable[[int], None] | None) -> ReplayResult:
        history = self.history
        offers = self.book.active
        self.members = [
            Member(kind, born, OfferMemory() if offers else None)
            for kind, born in zip(history.customer_types, history.birth_dates, strict=True)
        ]
        returns = history.returns
        ends = self.calendar.ends
        next_return = 0
        next_return_at = returns[0][0] if returns else None
        count = len(history)
        place, place_anonymous = self._place, self._place_anonymous
        for start in range(0, count, PROGRESS_EVERY):
            stop = min(start + PROGRESS_EVERY, count)
            rows = zip(
                range(start, stop),
                history.orders[start:stop],
                history.members[start:stop],
                history.carts[start:stop],
                history.totals[start:stop],
                strict=True,
            )
            for position, order, number, cart, total in rows:
                at = order.placed_at
                if next_return_at is not None and next_return_at <= at:
                    while next_return < len(returns) and returns[next_return][0] <= at:
                        self._advance(returns[next_return][0])
                        self._return(*returns[next_return])
                        next_return += 1
                    next_return_at = returns[next_return][0] if next_return < len(returns) else None
                if at >= ends[self.month]:
                    self._advance(at)
                if number < 0:
                    place_anonymous(position, order, cart, total)
                else:
                    place(position, order, number, cart, total)
            if progress is not None:
                progress(stop)
        for item in returns[next_return:]:
            self._advance(item[0])
            self._return(*item)
        until = history.last_at
        self._advance(until)
        for member in self.members:
            if member.lots:
                self._jobs(member, until)
        self.tier_snapshots.append(list(self.tiers.counts))
        return ReplayResult(
            programme_name=self.programme.name,
            currency=self.programme.currency,
            point_value_minor=self.programme.point_value_minor,
            months=list(self.calendar.labels),
            series=self.series,
            tier_codes=list(self.codes),
            tier_counts=self.tier_snapshots,
            customers=len(self.members),
            orders=len(history),
            anonymous_orders=self.anonymous_orders,
            pending_points=sum(member.pending for member in self.members),
            debt_points=sum(member.debt for member in self.members),
            until=until,
            liability_points=liability_by_month(self.series),
        )


def replay(
    programme: Programme | None,
    history: PreparedHistory,
    *,
    policy: RedemptionPolicy = RedemptionPolicy(),
    zone: ZoneInfo | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay ``history`` through ``programme``, or through no programme at all (``None``)."""
    if programme is None:
        return replay_without_programme(history, zone or ZoneInfo("UTC"))
    return Replayer(programme, history, policy=policy).run(progress)
