"""What a programme's offers remember between orders, kept in memory while replaying.

``orders.offers`` reads these facts from the database before an order (``complete_snapshot``,
``budgets_remaining``) and writes them after it (``record_offers``); a fully returned order
undoes them (``undo_offers``). This is the same bookkeeping on plain dictionaries: how often
each customer received each limited offer, what is left of each budget, stamps per card,
membership terms, units bought this year. Nothing is kept for a programme without offers.

Promo codes are not part of a history file, so offers that need a presented code never apply
in a simulation, and codes handed out are counted, not issued.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tonari.orders.offers import period_start
from tonari.programs.schemas import Programme
from tonari.rules.calendar import months_ago
from tonari.rules.cart import CartCalculation
from tonari.rules.offers.context import OfferUsage
from tonari.rules.offers.offer import Offer


@dataclass(slots=True)
class OfferMemory:
    """One customer's offer history: application times per offer, stamps, terms, units."""

    applied_at: dict[str, list[datetime]] = field(default_factory=dict)
    stamps: dict[str, int] = field(default_factory=dict)
    terms: dict[str, list[list[datetime]]] = field(default_factory=dict)
    units_by_year: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class OrderOffers:
    """What one order's offers left behind, to undo when the whole order comes back."""

    applied: list[tuple[str, int]] = field(default_factory=list)
    stamps: dict[str, int] = field(default_factory=dict)
    terms: list[tuple[str, list[datetime]]] = field(default_factory=list)


class OfferBook:
    """The offers' memory for one replay; ``active`` is false when the programme has none."""

    def __init__(self, programme: Programme) -> None:
        self.programme = programme
        self.active = bool(programme.offers)
        self.by_code: dict[str, Offer] = {offer.code: offer for offer in programme.offers}
        if not self.active:
            self.budgets: dict[str, int] = {}
            self.usage_offers: tuple[Offer, ...] = ()
            self.previous_month = self.units = self.memberships = self.stamps = False
            self.rolling_months: tuple[int, ...] = ()
            return
        needs = programme.offer_index().needs
        self.budgets = {offer.code: offer.limits.budget or 0 for offer in needs.budget_offers}
        self.usage_offers = needs.usage_offers
        self.previous_month = needs.previous_month_spend
        self.rolling_months = tuple(sorted(needs.rolling_months))
        self.units = needs.units_this_year
        self.memberships = needs.memberships
        self.stamps = needs.stamps

    def snapshot_fields(
        self, memory: OfferMemory, at: datetime, year: int, spend: Any
    ) -> dict[str, Any]:
        """The snapshot fields the offers read; ``spend(start, end)`` sums the buyer's spend."""
        fields: dict[str, Any] = {}
        zone = self.programme.zone
        if self.rolling_months:
            fields["spend_rolling_months"] = {
                months: spend(months_ago(at, months, zone), at) for months in self.rolling_months
            }
        if self.units:
            fields["units_this_year"] = memory.units_by_year.get(year, 0)
        if self.memberships:
            fields["memberships"] = frozenset(
                code
                for code, terms in memory.terms.items()
                if any(start <= at < end for start, end in terms)
            )
        if self.stamps:
            fields["stamps"] = dict(memory.stamps)
        if self.usage_offers:
            fields["offer_usage"] = {
                offer.code: self._usage(offer, memory.applied_at.get(offer.code, []), at)
                for offer in self.usage_offers
            }
        return fields

    def _usage(self, offer: Offer, times: list[datetime], at: datetime) -> OfferUsage:
        start = period_start(offer, at, self.programme)
        in_period = len(times) - bisect.bisect_left(times, start) if start else len(times)
        return OfferUsage(total=len(times), in_period=in_period)

    def record(
        self, memory: OfferMemory | None, calculation: CartCalculation, at: datetime
    ) -> tuple[OrderOffers, int]:
        """Book what the order's offers gave; returns it (for an undo) and items handed out."""
        booked = OrderOffers()
        handed_out = 0
        for effects in calculation.offers.applied:
            offer = self.by_code[effects.offer_code]
            cost = _budget_cost(offer, effects.discount, effects.points)
            if offer.code in self.budgets:
                self.budgets[offer.code] -= cost
            booked.applied.append((offer.code, cost))
            if memory is not None:
                memory.applied_at.setdefault(offer.code, []).append(at)
        if memory is None:
            return booked, sum(item.quantity for item in calculation.issued)
        for card, delta in calculation.stamps().items():
            if delta:
                memory.stamps[card] = memory.stamps.get(card, 0) + delta
                booked.stamps[card] = delta
        for item in calculation.issued:
            if item.kind == "membership" and item.days is not None:
                terms = memory.terms.setdefault(item.name, [])
                current_end = max((end for _, end in terms if end > at), default=at)
                term = [current_end, current_end + timedelta(days=item.days)]
                terms.append(term)
                booked.terms.append((item.name, term))
            handed_out += item.quantity
        return booked, handed_out

    def add_units(self, memory: OfferMemory, year: int, units: int) -> None:
        memory.units_by_year[year] = memory.units_by_year.get(year, 0) + units

    def undo(self, memory: OfferMemory | None, booked: OrderOffers, placed_at: datetime) -> None:
        """A fully returned order gives back usage, budget, stamps and membership terms."""
        for code, cost in booked.applied:
            if code in self.budgets:
                self.budgets[code] += cost
            if memory is not None and placed_at in memory.applied_at.get(code, ()):
                memory.applied_at[code].remove(placed_at)
        if memory is None:
            return
        for card, delta in booked.stamps.items():
            memory.stamps[card] = memory.stamps.get(card, 0) - delta
        for name, term in booked.terms:
            terms = memory.terms.get(name, [])
            if term in terms:
                terms.remove(term)


def _budget_cost(offer: Offer, discount: int, points: int) -> int:
    return discount if offer.limits.budget_money is not None else points
