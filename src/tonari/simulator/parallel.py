"""Replay on several CPUs: customers split into shards, one forked process per shard.

Customers never affect one another in a replay (their points, tiers, offer usage and spend are
their own), so each shard replays its customers' orders and the monthly figures simply add up.
The one exception is an offer budget, shared by every buyer: a programme with budgeted offers
is replayed in one process. Processes are forked, so they read the prepared history from the
parent's memory instead of receiving a copy; where fork is not available, one process it is.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from dataclasses import replace

from tonari.programs.schemas import Programme
from tonari.simulator.prepared import (
    PreparedHistory,
    RedemptionPolicy,
    ReplayResult,
    liability_by_month,
)
from tonari.simulator.replay import Replayer

MIN_ORDERS_PER_SHARD = 20_000
"""Below this a process costs more to start than it saves."""

_shared: tuple[Programme, PreparedHistory, RedemptionPolicy, int] | None = None


def can_shard(programme: Programme) -> bool:
    return not (programme.offers and programme.offer_index().needs.budget_offers)


def shard_of(history: PreparedHistory, index: int, shards: int) -> PreparedHistory:
    """The orders of every ``shards``-th customer (anonymous orders by position), renumbered;
    the period is the whole history's, so every shard has the same months."""
    positions = [
        position
        for position, number in enumerate(history.members)
        if (number if number >= 0 else position) % shards == index
    ]
    renumber: dict[int, int] = {}
    members: list[int] = []
    for position in positions:
        number = history.members[position]
        if number < 0:
            members.append(-1)
        else:
            members.append(renumber.setdefault(number, len(renumber)))
    new_position = {old: new for new, old in enumerate(positions)}
    kept = list(renumber)
    return replace(
        history,
        orders=[history.orders[position] for position in positions],
        carts=[history.carts[position] for position in positions],
        totals=[history.totals[position] for position in positions],
        members=members,
        customer_ids=[history.customer_ids[number] for number in kept],
        customer_types=[history.customer_types[number] for number in kept],
        birth_dates=[history.birth_dates[number] for number in kept],
        returns=[
            (at, new_position[position], returned)
            for at, position, returned in history.returns
            if position in new_position
        ],
    )


def _replay_shard(index: int) -> ReplayResult:
    assert _shared is not None, "shards run in processes forked by replay_in_parallel"
    programme, history, policy, shards = _shared
    return Replayer(programme, shard_of(history, index, shards), policy=policy).run()


def merge(results: list[ReplayResult]) -> ReplayResult:
    """Add shards up: every figure is a sum over customers."""
    first = results[0]
    series = {
        name: [
            sum(values) for values in zip(*(result.series[name] for result in results), strict=True)
        ]
        for name in first.series
    }
    tier_counts = [
        [sum(counts) for counts in zip(*month, strict=True)]
        for month in zip(*(result.tier_counts for result in results), strict=True)
    ]
    return replace(
        first,
        series=series,
        tier_counts=tier_counts,
        customers=sum(result.customers for result in results),
        orders=sum(result.orders for result in results),
        anonymous_orders=sum(result.anonymous_orders for result in results),
        pending_points=sum(result.pending_points for result in results),
        debt_points=sum(result.debt_points for result in results),
        liability_points=liability_by_month(series),
    )


def workers_for(history: PreparedHistory, requested: int) -> int:
    """``requested`` processes (0: one per CPU), fewer when shards would be too small."""
    wanted = requested or os.cpu_count() or 1
    return max(1, min(wanted, len(history) // MIN_ORDERS_PER_SHARD))


def replay_in_parallel(
    programme: Programme,
    history: PreparedHistory,
    *,
    policy: RedemptionPolicy,
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """The same result as ``Replayer(...).run()``, computed by ``workers`` forked processes."""
    global _shared
    methods = multiprocessing.get_all_start_methods()
    if workers <= 1 or "fork" not in methods or not can_shard(programme):
        return Replayer(programme, history, policy=policy).run(progress)
    _shared = (programme, history, policy, workers)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            results: list[ReplayResult] = []
            done = 0
            for result in pool.imap(_replay_shard, range(workers)):
                results.append(result)
                done += result.orders
                if progress is not None:
                    progress(done)
    finally:
        _shared = None
    return merge(results)
