"""Tiers while replaying: ``evaluate_tier`` wherever a tier can change, counts per tier, and
the scheduled re-evaluation of tiers that fall without a purchase.

Evaluating every customer before and after every order is what the API does, and costs more
than pricing the cart. Here the rule is called only where its answer can differ from the tier
held (the test suite replays with ``exact=True`` too and gets the same months): with lifetime
qualification spend only grows with orders, so a tier can rise only past the next threshold,
and only inactivity lowers it, never before ``inactive_months`` without a purchase.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta

from tonari.programs.schemas import DowngradeRule, Programme, QualificationBasis
from tonari.rules.calendar import months_ago, previous_month_bounds
from tonari.rules.tiers import SpendSnapshot, evaluate_tier
from tonari.simulator.calendar import MonthCalendar
from tonari.simulator.wallet import Member, spend_between


class TierKeeper:
    """The tiers of one replay; customers are known by their number in the history."""

    def __init__(self, programme: Programme, calendar: MonthCalendar, *, exact: bool) -> None:
        self.programme = programme
        self.calendar = calendar
        self.exact = exact
        self.zone = programme.zone
        self.codes = [tier.code for tier in programme.tiers]
        self.index_of = {code: index for index, code in enumerate(self.codes)}
        thresholds = [tier.threshold for tier in programme.tiers]
        self.next_threshold: list[int | None] = [*thresholds[1:], None]
        basis = programme.qualification.basis
        rule = programme.downgrade.rule
        self.lifetime_basis = basis is QualificationBasis.LIFETIME
        self.rolling_basis = basis is QualificationBasis.ROLLING_MONTHS
        self.after_inactivity = rule is DowngradeRule.AFTER_INACTIVITY
        # months_between(last, at) >= N needs at least N short months between the two.
        self.idle_floor = timedelta(days=28 * (programme.downgrade.inactive_months or 0) - 1)
        self.falls = rule is not DowngradeRule.NONE or not self.lifetime_basis
        self.scheduled = self.after_inactivity or not self.lifetime_basis
        self.counts = [0] * len(self.codes)
        self.elevated: set[int] = set()
        self.touched: set[int] = set()
        # (a moment at or before the last purchase, customer) of customers above the first
        # tier, oldest first: who may have gone idle. An entry is checked against the
        # customer's real last purchase when its moment comes, and pushed back if they bought.
        self.idle_queue: list[tuple[datetime, int]] = []
        self.watch_idle = self.after_inactivity and self.lifetime_basis and not exact
        self._previous_bounds: dict[int, tuple[datetime, datetime]] = {}

    def spend(self, member: Member, at: datetime) -> SpendSnapshot:
        rolling = previous = 0
        if self.rolling_basis:
            start = months_ago(at, self.programme.qualification.months or 0, self.zone)
            rolling = spend_between(member, start, at)
        elif not self.lifetime_basis:
            previous = spend_between(member, *self.previous_month(at))
        return SpendSnapshot(member.lifetime, rolling, previous, member.last_at)

    def previous_month(self, at: datetime) -> tuple[datetime, datetime]:
        month = self.calendar.index(at)
        bounds = self._previous_bounds.get(month)
        if bounds is None:
            bounds = previous_month_bounds(at, self.zone)
            self._previous_bounds[month] = bounds
        return bounds

    def evaluate(self, number: int, member: Member, at: datetime) -> None:
        current = self.codes[member.tier] if member.tier >= 0 else None
        decision = evaluate_tier(
            self.programme, current_code=current, spend=self.spend(member, at), at=at
        )
        self.set(number, member, self.index_of[decision.tier_code])

    def set(self, number: int, member: Member, tier: int) -> None:
        if tier == member.tier:
            return
        if member.tier >= 0:
            self.counts[member.tier] -= 1
        self.counts[tier] += 1
        member.tier = tier
        if tier:
            if self.watch_idle and number not in self.elevated:
                heapq.heappush(self.idle_queue, (member.last_at or self.calendar.starts[0], number))
            self.elevated.add(number)
        else:
            self.elevated.discard(number)

    def may_have_fallen(self, member: Member, at: datetime) -> bool:
        """Whether the tier held at ``at`` can differ from the one last evaluated."""
        if self.exact or not self.lifetime_basis:
            return True
        return (
            self.after_inactivity
            and member.tier > 0
            and member.last_at is not None
            and at - member.last_at >= self.idle_floor
        )

    def before_purchase(self, number: int, member: Member, at: datetime) -> None:
        """The tier the buyer holds at ``at``: the first tier for a newcomer."""
        if member.tier < 0:
            self.set(number, member, 0)
        elif self.falls and self.may_have_fallen(member, at):
            self.evaluate(number, member, at)

    def after_purchase(self, number: int, member: Member, at: datetime) -> None:
        """Re-evaluate once the purchase is in the spend: only a threshold crossed matters."""
        if not self.lifetime_basis:
            self.touched.add(number)
        if self.exact or not self.lifetime_basis:
            self.evaluate(number, member, at)
            return
        threshold = self.next_threshold[member.tier]
        if threshold is not None and member.lifetime >= threshold:
            self.evaluate(number, member, at)

    def scheduled_job(self, members: list[Member], at: datetime) -> None:
        """The nightly re-evaluation, as if it had run every day of the month that ended."""
        if self.watch_idle:
            candidates = self._gone_idle(members, at)
        elif self.lifetime_basis:
            candidates = sorted(self.elevated)
        else:
            candidates = sorted(self.elevated | self.touched)
        for number in candidates:
            member = members[number]
            if not self.may_have_fallen(member, at):
                continue
            for _ in self.codes:
                before = member.tier
                self.evaluate(number, member, at)
                if member.tier == before:
                    break
            if self.watch_idle and member.tier > 0 and member.last_at is not None:
                heapq.heappush(self.idle_queue, (member.last_at, number))
        self.touched = set()

    def _gone_idle(self, members: list[Member], at: datetime) -> list[int]:
        """Customers above the first tier whose last purchase is old enough to matter."""
        queue, oldest = self.idle_queue, at - self.idle_floor
        found: set[int] = set()
        later: list[tuple[datetime, int]] = []
        while queue and queue[0][0] <= oldest:
            _, number = heapq.heappop(queue)
            member = members[number]
            if member.tier <= 0 or member.last_at is None:
                continue
            if member.last_at > oldest:
                later.append((member.last_at, number))  # bought since: look again later
            else:
                found.add(number)
        for item in later:
            heapq.heappush(queue, item)
        return sorted(found)
