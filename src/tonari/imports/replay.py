"""Replay one customer's past orders in memory through the same pure rules as the API.

For each order, in time order, exactly what ``orders.service.place_order`` does with
``paid=True`` and no points spent: re-evaluate the tier at the order's moment, price the cart
at that tier, earn one lot per line (available at once when the programme has no pending
period), add the spend to the aggregates and re-evaluate the tier again. Then what the ledger
jobs would do at ``now``: release lots whose return window is over and expire lots past their
expiry. No I/O here: the writer turns the plan into rows.

The spend windows mirror ``orders.tiering``: a window ends *before* the moment evaluated, so
the order being placed (and any other order at the very same instant) is not yet in it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tonari.imports.reader import ImportedOrder
from tonari.programs.schemas import CustomerType, Programme, QualificationBasis
from tonari.rules.calendar import months_ago, previous_month_bounds
from tonari.rules.cart import CartCalculation, CustomerView, calculate_cart
from tonari.rules.lots import expires_at, pending_until
from tonari.rules.tiers import SpendSnapshot, TierDecision, evaluate_tier

PENDING = "pending"
AVAILABLE = "available"
EXPIRED = "expired"


class ProgrammeBook:
    """Every programme version of a tenant, to find the one in force at any moment."""

    def __init__(self, versions: list[tuple[int, datetime, Programme]]) -> None:
        # Same choice as programme_in_force: latest effective_from, then highest version.
        ordered = sorted(versions, key=lambda item: (item[1], item[0]))
        self._starts = [effective for _, effective, _ in ordered]
        self._versions = [(version, programme) for version, _, programme in ordered]

    def __bool__(self) -> bool:
        return bool(self._versions)

    def in_force(self, at: datetime) -> tuple[int, Programme] | None:
        index = bisect.bisect_right(self._starts, at)
        return self._versions[index - 1] if index else None

    @property
    def needs_order_history(self) -> bool:
        return any(
            programme.qualification.basis is not QualificationBasis.LIFETIME
            for _, programme in self._versions
        )


@dataclass(slots=True)
class PlannedLot:
    """A lot to write (``lot_id`` None) or an existing lot the jobs would touch at ``now``."""

    amount: int
    remaining: int
    state: str
    earned_at: datetime
    pending_until: datetime
    expires_at: datetime | None
    order_index: int | None = None
    line_no: int | None = None
    lot_id: int | None = None
    state_at_earn: str = PENDING
    released_amount: int = 0
    expired_amount: int = 0


@dataclass(slots=True)
class PlannedOrder:
    order: ImportedOrder
    version: int
    programme: Programme
    calculation: CartCalculation
    tier_after: str
    lots: list[PlannedLot]
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TierChange:
    at: datetime
    previous: str | None
    tier_code: str
    direction: str
    reason: str


@dataclass(slots=True)
class CustomerState:
    """What the rules need to know about a customer, kept current while replaying."""

    customer_id: int
    account_id: int
    external_id: str
    customer_type: CustomerType
    tier_code: str | None
    tier_since: datetime | None
    lifetime_spend: int
    orders_count: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    pending: int
    available: int
    debt: int
    created: bool = False
    history_at: list[datetime] = field(default_factory=list)
    history_spend: list[int] = field(default_factory=list)

    def record_spend(self, at: datetime, amount: int) -> None:
        position = bisect.bisect_right(self.history_at, at)
        self.history_at.insert(position, at)
        self.history_spend.insert(position, amount)

    def spend_between(self, start: datetime, end: datetime) -> int:
        low = bisect.bisect_left(self.history_at, start)
        high = bisect.bisect_left(self.history_at, end)
        return sum(self.history_spend[low:high]) if high > low else 0


@dataclass(slots=True)
class CustomerPlan:
    state: CustomerState
    orders: list[PlannedOrder] = field(default_factory=list)
    tier_changes: list[TierChange] = field(default_factory=list)
    released: list[PlannedLot] = field(default_factory=list)
    expired: list[PlannedLot] = field(default_factory=list)
    debt_before: int = 0

    @property
    def points_issued(self) -> int:
        return sum(lot.amount for order in self.orders for lot in order.lots)

    @property
    def points_expired(self) -> int:
        return sum(lot.expired_amount for lot in self.expired)


def _snapshot(programme: Programme, state: CustomerState, at: datetime) -> SpendSnapshot:
    basis = programme.qualification.basis
    rolling = previous = 0
    if basis is QualificationBasis.ROLLING_MONTHS:
        start = months_ago(at, programme.qualification.months or 0, programme.zone)
        rolling = state.spend_between(start, at)
    elif basis is QualificationBasis.PREVIOUS_CALENDAR_MONTH:
        start, end = previous_month_bounds(at, programme.zone)
        previous = state.spend_between(start, end)
    return SpendSnapshot(
        lifetime=state.lifetime_spend,
        rolling=rolling,
        previous_calendar_month=previous,
        last_purchase_at=state.last_purchase_at,
    )


def _reevaluate(plan: CustomerPlan, programme: Programme, at: datetime) -> TierDecision:
    """``reevaluate_tier`` + ``apply_tier_decision`` on the in-memory state."""
    state = plan.state
    decision = evaluate_tier(
        programme, current_code=state.tier_code, spend=_snapshot(programme, state, at), at=at
    )
    if decision.changed and state.tier_code != decision.tier_code:
        previous = state.tier_code
        old_index = programme.tier_index(previous) if previous else -1
        direction = "up" if programme.tier_index(decision.tier_code) > old_index else "down"
        plan.tier_changes.append(
            TierChange(at, previous, decision.tier_code, direction, decision.reason)
        )
        state.tier_code = decision.tier_code
        state.tier_since = at
    return decision


def _settle_debt(state: CustomerState, lots: list[PlannedLot]) -> None:
    """New available points pay an existing debt first (as ``settle_debt_from_lots``)."""
    for lot in lots:
        if state.debt <= 0:
            break
        paid = min(state.debt, lot.remaining)
        lot.remaining -= paid
        state.debt -= paid


def replay_customer(
    book: ProgrammeBook,
    state: CustomerState,
    orders: list[ImportedOrder],
    *,
    now: datetime,
    due_lots: list[PlannedLot] | None = None,
) -> CustomerPlan:
    """Place ``orders`` (sorted by time) for one customer, then run release and expiry at now.

    ``due_lots`` are the customer's existing lots the jobs would release or expire at ``now``.
    Every order must have a programme in force (the reader's caller checks that first).
    """
    plan = CustomerPlan(state=state, debt_before=state.debt)
    for index, order in enumerate(orders):
        at = order.placed_at
        found = book.in_force(at)
        if found is None:
            raise ValueError(f"no programme in force at {at.isoformat()}")
        version, programme = found
        decision = _reevaluate(plan, programme, at)
        view = CustomerView(
            state.customer_type,
            decision.tier_code,
            state.available,
            customer_id=state.customer_id,
            orders_count=state.orders_count,
            lifetime_spend=state.lifetime_spend,
        )
        # History carries no codes, memberships or budgets: only unconditional offers apply.
        calculation = calculate_cart(programme, list(order.lines), view, 0, at=at)
        earned_pending_until = pending_until(programme, at)
        earned_expiry = expires_at(programme, at)
        lot_state = PENDING if earned_pending_until > at else AVAILABLE
        lots = [
            PlannedLot(
                amount=line.points_to_earn,
                remaining=line.points_to_earn,
                state=lot_state,
                earned_at=at,
                pending_until=earned_pending_until,
                expires_at=earned_expiry,
                order_index=index,
                line_no=line.line_no,
                state_at_earn=lot_state,
            )
            for line in calculation.lines
            if line.points_to_earn > 0
        ]
        earned = sum(lot.amount for lot in lots)
        if lot_state == PENDING:
            state.pending += earned
        else:
            state.available += earned
            _settle_debt(state, lots)
        net_spend = calculation.total_regular - calculation.discount_total
        state.lifetime_spend += net_spend
        state.orders_count += 1
        state.last_purchase_at = max(state.last_purchase_at or at, at)
        state.first_purchase_at = min(state.first_purchase_at or at, at)
        state.record_spend(at, net_spend)
        after = _reevaluate(plan, programme, at)
        planned = PlannedOrder(order, version, programme, calculation, after.tier_code, lots)
        planned.result = {
            "order_id": order.order_id,
            "status": "paid",
            "customer": state.external_id,
            "currency": programme.currency,
            "programme_version": version,
            "placed_at": at.isoformat(),
            "tier_after": after.tier_code,
            **calculation.as_dict(),
        }
        plan.orders.append(planned)
    _run_jobs(plan, due_lots or [], now)
    return plan


def _run_jobs(plan: CustomerPlan, due_lots: list[PlannedLot], now: datetime) -> None:
    """``release_pending_batch`` then ``expire_batch`` at ``now``, for this customer's lots.

    Existing lots come first: they have lower ids, and the jobs work in lot id order.
    """
    state = plan.state
    lots = [*due_lots, *(lot for order in plan.orders for lot in order.lots)]
    released = [lot for lot in lots if lot.state == PENDING and lot.pending_until <= now]
    for lot in released:
        lot.state = AVAILABLE
        lot.released_amount = lot.remaining
        state.pending -= lot.remaining
        state.available += lot.remaining
    if state.debt > 0:
        _settle_debt(state, [lot for lot in released if lot.remaining])
    plan.released = released
    expired = [
        lot
        for lot in lots
        if lot.state == AVAILABLE
        and lot.remaining > 0
        and lot.expires_at is not None
        and lot.expires_at <= now
    ]
    for lot in expired:
        lot.expired_amount = lot.remaining
        state.available -= lot.remaining
        lot.remaining = 0
        lot.state = EXPIRED
    plan.expired = expired
