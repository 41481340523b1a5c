"""Simulator speed: orders replayed per second in memory, against a bare loop over the same orders.

The history is synthetic (``tonari.imports.synthetic``, about eight orders per customer over
three years) and parsed before any clock starts: what is timed is the replay through the
Panasonic programme (tiers, points spent up to the 50% cap, pending and expiring lots), once in
one process and once split over ``workers`` forked processes. The baseline, measured in the same
run, iterates the same parsed orders and sums their line totals: the floor any replay stands on.

    python -m bench.bench_simulator [ORDERS] [--workers N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import Latencies, Result, render_table
from tonari.imports.synthetic import synthetic_history
from tonari.programs.service import load_programme_file, parse_programme
from tonari.rules.cart import CartLine
from tonari.simulator import replay as replay_module
from tonari.simulator.history import HistoryOrder, history_from_records
from tonari.simulator.parallel import replay_in_parallel
from tonari.simulator.prepared import PreparedHistory, RedemptionPolicy, prepare
from tonari.simulator.replay import Replayer

PANASONIC = Path(__file__).resolve().parent.parent / "examples" / "programmes" / "panasonic.yaml"
START = datetime(2022, 1, 1, tzinfo=UTC)
END = datetime(2024, 12, 31, tzinfo=UTC)
TARGET_PER_SECOND = 50_000


def make_history(orders: int, *, seed: int = 42) -> PreparedHistory:
    records = [
        {**order.record(), "points_spent": 300} if number % 5 == 0 else order.record()
        for number, order in enumerate(
            synthetic_history(
                orders=orders, customers=max(orders // 8, 1), start=START, end=END, seed=seed
            )
        )
    ]
    history = history_from_records(records, zone=parse_programme(_document()).zone)
    if history.rejects:
        raise RuntimeError(f"synthetic history has bad rows: {history.rejects[:3]}")
    return prepare(history.orders)


def _document() -> dict[str, Any]:
    return load_programme_file(PANASONIC)


def bare_loop(history: PreparedHistory) -> tuple[float, int]:
    """Seconds to walk every order and line once, summing totals; and the sum."""
    started = time.perf_counter()
    total = 0
    for order, cart in zip(history.orders, history.carts, strict=True):
        if order.customer_id is not None:
            for line in cart:
                total += line.unit_price * line.quantity
    return time.perf_counter() - started, total


class TimedReplayer(Replayer):
    """Records how long each order takes (a second run: the timer costs a little)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seconds: list[float] = []

    def _place(
        self, position: int, order: HistoryOrder, number: int, cart: list[CartLine], total: int
    ) -> None:
        started = time.perf_counter()
        super()._place(position, order, number, cart, total)
        self.seconds.append(time.perf_counter() - started)


def _cart_share(programme: Any, history: PreparedHistory, policy: RedemptionPolicy) -> float:
    """Share of a replay's time spent inside ``calculate_cart`` (timed around each call)."""
    original = replay_module.calculate_cart
    inside = [0.0]

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            inside[0] += time.perf_counter() - started

    replay_module.calculate_cart = timed  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        Replayer(programme, history, policy=policy).run()
        return inside[0] / (time.perf_counter() - started)
    finally:
        replay_module.calculate_cart = original


def _best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs: other work on the machine only ever adds time."""
    best, outcome = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        outcome = run()
        best = min(best, time.perf_counter() - started)
    return best, outcome


def bench_simulator(orders: int = 100_000, *, workers: int = 2, repeat: int = 3) -> dict[str, Any]:
    """Measure and return the figures (also what ``simulator_results`` turns into rows).

    Each figure is the best of ``repeat`` runs, the bare loop's too.
    """
    programme = parse_programme(_document())
    policy = RedemptionPolicy()
    history = make_history(orders)
    Replayer(programme, history, policy=policy).run()  # warm caches and the allocator
    loop_seconds, _ = _best_of(repeat, lambda: bare_loop(history))
    one_process, result = _best_of(
        repeat, lambda: Replayer(programme, history, policy=policy).run()
    )
    many_processes, parallel = _best_of(
        repeat, lambda: replay_in_parallel(programme, history, policy=policy, workers=workers)
    )
    if parallel.series != result.series:
        raise RuntimeError("the parallel replay differs from the single-process one")
    timed = TimedReplayer(programme, history, policy=policy)
    timed.run()
    latencies = Latencies.of([seconds * 1e6 for seconds in timed.seconds])
    return {
        "orders": len(history),
        "customers": len(history.customer_ids),
        "workers": workers,
        "repeat": repeat,
        "bare_loop_per_s": len(history) / loop_seconds,
        "replay_per_s": len(history) / one_process,
        "parallel_per_s": len(history) / many_processes,
        "order_p50_us": latencies.p50,
        "order_p95_us": latencies.p95,
        "order_p99_us": latencies.p99,
        "calculate_cart_share": _cart_share(programme, history, policy),
        "points_issued": result.total("points_issued"),
    }


def simulator_results(orders: int = 100_000, *, workers: int = 2, repeat: int = 3) -> list[Result]:
    """Rows for ``bench/report.py``'s table (``bench/cli.py`` can append them)."""
    figures = bench_simulator(orders, workers=workers, repeat=repeat)
    baseline = figures["bare_loop_per_s"]
    label = "bare loop over the same orders, orders/s"
    notes = [
        f"{figures['orders']:,} orders of {figures['customers']:,} customers through Panasonic, "
        f"best of {figures['repeat']} runs each; "
        f"per order p50 {figures['order_p50_us']:.1f} µs, p95 {figures['order_p95_us']:.1f} µs, "
        f"p99 {figures['order_p99_us']:.1f} µs",
        f"calculate_cart is {figures['calculate_cart_share']:.0%} of the replay's time",
    ]
    rows = []
    for name, key in (
        ("simulator replay, 1 process", "replay_per_s"),
        (f"simulator replay, {figures['workers']} processes", "parallel_per_s"),
    ):
        rate = figures[key]
        rows.append(
            Result(
                name=name,
                result=rate,
                unit="/s",
                baseline=baseline,
                baseline_label=label,
                higher_is_better=True,
                p50_ms=figures["order_p50_us"] / 1000,
                p95_ms=figures["order_p95_us"] / 1000,
                target=f"≥ {TARGET_PER_SECOND:,}/s",
                target_met=rate >= TARGET_PER_SECOND,
                notes=notes if key == "replay_per_s" else [],
                details=figures,
            )
        )
    return rows


def profile(orders: int, *, limit: int = 25) -> str:
    """cProfile of one replay, by own time: where the replay and ``calculate_cart`` spend it."""
    programme = parse_programme(_document())
    history = make_history(orders)
    profiler = cProfile.Profile()
    profiler.enable()
    Replayer(programme, history).run()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def main(argv: list[str] | None = None, echo: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_simulator", description=__doc__)
    parser.add_argument("orders", nargs="?", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one replay")
    args = parser.parse_args(argv)
    if args.profile:
        echo(profile(args.orders))
        return 0
    render_table(simulator_results(args.orders, workers=args.workers, repeat=args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
