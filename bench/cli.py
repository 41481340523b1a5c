"""``python -m bench [--quick] [--only NAME ...]``: set up, run, print, write JSON."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import platform
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from bench import baselines, http_bench
from bench.dataset import (
    CALCULATE_LINES,
    PLACE_LINES,
    PRICE_PRODUCTS,
    BenchData,
    build_dataset,
    calculate_body,
    prices_body,
)
from bench.infra import BenchDatabase, api_server, pgbench_init, pgbench_run, provision_database
from bench.report import Latencies, Result, render_table, write_json

BENCHMARKS = (
    "calculate",
    "prices",
    "place",
    "offers",
    "import",
    "codes",
    "simulator",
    "events",
    "segments",
    "sending",
    "journeys",
    "febrl",
    "identity",
)
ANCHORS_MS = {"Talon.One sub-50 ms": 50.0, "Voucherify p95 220 ms": 220.0, "Mindbox ~300 ms": 300.0}
CALCULATE_P95_TARGET_MS = 5.0
PRICES_P95_TARGET_MS = 10.0
PLACE_RATIO_TARGET = 0.5
IMPORT_RATIO_TARGET = 3.0


@dataclass(frozen=True)
class Plan:
    quick: bool
    requests: int
    warmup: int
    sequential_time_limit: float
    clients: int
    place_seconds: int
    workers: int
    stock_uvicorn: bool
    pgbench_scale: int
    import_orders: int
    import_baseline_seconds: int
    products: int
    customers: int
    identity_records: int

    @classmethod
    def build(cls, args: argparse.Namespace) -> Plan:
        quick = bool(args.quick)
        return cls(
            quick=quick,
            requests=args.requests or (200 if quick else 2_000),
            warmup=20 if quick else 100,
            sequential_time_limit=30 if quick else 180,
            clients=args.clients,
            place_seconds=args.seconds or (3 if quick else 15),
            workers=args.workers,
            stock_uvicorn=args.stock_uvicorn,
            pgbench_scale=1 if quick else 10,
            import_orders=args.import_orders or (1_000 if quick else 20_000),
            import_baseline_seconds=3 if quick else 15,
            products=100 if quick else 500,
            customers=100 if quick else 2_000,
            identity_records=args.identity_records,
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short runs and a small dataset: a smoke run, not a measurement",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument(
        "--clients", type=int, default=8, help="concurrent clients placing orders (default 8)"
    )
    parser.add_argument(
        "--seconds",
        type=int,
        default=0,
        help="duration of the place-order run and its pgbench baseline",
    )
    parser.add_argument(
        "--requests", type=int, default=0, help="measured requests for calculate and prices"
    )
    parser.add_argument(
        "--import-orders", type=int, default=0, help="orders for the history import benchmark"
    )
    parser.add_argument(
        "--stock-uvicorn",
        action="store_true",
        help="let uvicorn bind the socket itself (no TCP_NODELAY with --workers > 1)",
    )
    parser.add_argument(
        "--identity-records",
        type=int,
        default=0,
        help="records for the identity pipeline benchmark (default 1,000,000; 20,000 quick)",
    )
    parser.add_argument("--output", default=None, help="JSON path (default results/latest.json)")
    return parser.parse_args(argv)


# --- the benchmarks -------------------------------------------------------------------------


def _errors_note(run: http_bench.HttpRun) -> list[str]:
    if not run.errors:
        return []
    return [
        f"[red]{sum(run.errors.values())} failed requests {dict(run.errors)}[/red]: "
        + " | ".join(run.error_samples)
    ]


async def _endpoint_and_baseline(
    plan: Plan,
    database: BenchDatabase,
    data: BenchData,
    base_url: str,
    *,
    path: str,
    make_body: Callable[[random.Random], dict[str, Any]],
    seed: int,
    baseline: Callable[..., Awaitable[list[float]]],
) -> tuple[Any, Latencies, Latencies, Latencies]:
    """One endpoint's sequential latencies and its raw-SQL baseline, measured back to back."""
    run = await http_bench.sequential(
        base_url,
        data,
        path=path,
        make_body=make_body,
        requests=plan.requests,
        warmup=plan.warmup,
        time_limit=plan.sequential_time_limit,
        seed=seed,
    )
    sql = Latencies.of(
        await baseline(
            database.url,
            data,
            requests=plan.requests,
            warmup=plan.warmup,
            time_limit=plan.sequential_time_limit,
        )
    )
    return run, Latencies.of(run.server_ms), Latencies.of(run.client_ms), sql


async def bench_calculate(
    plan: Plan, database: BenchDatabase, data: BenchData, base_url: str
) -> list[Result]:
    run, server, client, sql = await _endpoint_and_baseline(
        plan,
        database,
        data,
        base_url,
        path="/v1/orders/calculate",
        make_body=lambda rng: calculate_body(data, rng),
        seed=21,
        baseline=baselines.calculate_sql,
    )
    label = f"raw SQL p95, {baselines.CALCULATE_STATEMENTS} selects"
    anchors = (
        ", ".join(f"{name} = {ms / server.p95:,.0f}× our p95" for name, ms in ANCHORS_MS.items())
        if server.count
        else "–"
    )
    details = {
        "server": server.__dict__,
        "client": client.__dict__,
        "raw_sql": sql.__dict__,
        "lines": CALCULATE_LINES,
        "errors": dict(run.errors),
    }
    return [
        Result(
            name=f"calculate, {CALCULATE_LINES} lines (server)",
            result=server.p95,
            unit="ms",
            baseline=sql.p95,
            baseline_label=label,
            higher_is_better=False,
            p50_ms=server.p50,
            p95_ms=server.p95,
            target=f"p95 ≤ {CALCULATE_P95_TARGET_MS:g} ms",
            target_met=server.count > 0 and server.p95 <= CALCULATE_P95_TARGET_MS,
            notes=[
                f"{server.count} requests; raw SQL p50 {sql.p50:.2f} ms; anchors: {anchors}",
                *_errors_note(run),
            ],
            details=details,
        ),
        Result(
            name=f"calculate, {CALCULATE_LINES} lines (client)",
            result=client.p95,
            unit="ms",
            baseline=sql.p95,
            baseline_label=label,
            higher_is_better=False,
            p50_ms=client.p50,
            p95_ms=client.p95,
            target="(round trip incl. httpx)",
            details=details,
        ),
    ]


async def bench_prices(
    plan: Plan, database: BenchDatabase, data: BenchData, base_url: str
) -> list[Result]:
    run, server, client, sql = await _endpoint_and_baseline(
        plan,
        database,
        data,
        base_url,
        path="/v1/prices",
        make_body=lambda rng: prices_body(data, rng),
        seed=23,
        baseline=baselines.prices_sql,
    )
    label = f"raw SQL p95, {baselines.PRICES_STATEMENTS} selects"
    details = {
        "server": server.__dict__,
        "client": client.__dict__,
        "raw_sql": sql.__dict__,
        "products": PRICE_PRODUCTS,
        "errors": dict(run.errors),
    }
    rows = []
    for side, figures in (("server", server), ("client", client)):
        rows.append(
            Result(
                name=f"personal prices, {PRICE_PRODUCTS} products ({side})",
                result=figures.p95,
                unit="ms",
                baseline=sql.p95,
                baseline_label=label,
                higher_is_better=False,
                p50_ms=figures.p50,
                p95_ms=figures.p95,
                target=f"p95 ≤ {PRICES_P95_TARGET_MS:g} ms",
                target_met=figures.count > 0 and figures.p95 <= PRICES_P95_TARGET_MS,
                notes=(
                    [f"{figures.count} requests; raw SQL p50 {sql.p50:.2f} ms", *_errors_note(run)]
                    if side == "server"
                    else []
                ),
                details=details,
            )
        )
    return rows


async def bench_place(
    plan: Plan, database: BenchDatabase, data: BenchData, base_url: str
) -> list[Result]:
    baseline = None
    label = pg_note = "pgbench not found"
    if database.pgbench:
        pgbench_init(database, scale=plan.pgbench_scale)
        threads = min(2, plan.clients)
        pg = pgbench_run(
            database, clients=plan.clients, threads=threads, seconds=plan.place_seconds
        )
        baseline, label = pg.tps, "pgbench -N TPS"
        pg_note = (
            f"baseline: pgbench {pg.command} (scale {plan.pgbench_scale}) = "
            f"{pg.tps:,.0f} TPS, latency avg {pg.latency_avg_ms} ms"
        )
    run = await http_bench.concurrent_place(
        base_url,
        data,
        clients=plan.clients,
        seconds=plan.place_seconds,
        run_id=f"bench-{uuid.uuid4().hex[:8]}",
    )
    rate = run.ok / run.seconds if run.seconds else 0.0
    client, server = Latencies.of(run.client_ms), Latencies.of(run.server_ms)
    result = Result(
        name=f"place order, {PLACE_LINES} lines, {plan.clients} clients",
        result=rate,
        unit="/s",
        baseline=baseline,
        baseline_label=label,
        higher_is_better=True,
        p50_ms=client.p50,
        p95_ms=client.p95,
        target=f"ratio ≥ {PLACE_RATIO_TARGET:g}",
        notes=[
            f"{run.ok} orders in {run.seconds:.1f} s on uvicorn --workers {plan.workers}; "
            f"client p50/p95 {client.p50:.1f}/{client.p95:.1f} ms, server-side p50/p95 "
            f"{server.p50:.1f}/{server.p95:.1f} ms",
            pg_note,
            *_errors_note(run),
        ],
        details={
            "orders": run.ok,
            "seconds": run.seconds,
            "client": client.__dict__,
            "server": server.__dict__,
            "workers": plan.workers,
            "clients": plan.clients,
            "errors": dict(run.errors),
        },
    )
    result.target_met = None if result.ratio is None else result.ratio >= PLACE_RATIO_TARGET
    return [result]


def _load_import_benchmark() -> Callable[..., Any] | None:
    try:
        from bench.bench_import import bench_import  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return bench_import  # type: ignore[no-any-return,unused-ignore]


def _import_rate(outcome: Any) -> tuple[float | None, dict[str, Any]]:
    """Orders per second out of whatever bench_import returns (a number, dict or object)."""
    if isinstance(outcome, int | float):
        return float(outcome), {}
    if not isinstance(outcome, dict):
        outcome = (
            {k: v for k, v in vars(outcome).items() if not k.startswith("_")}
            if hasattr(outcome, "__dict__")
            else {}
        )
    for key in ("orders_per_second", "orders_per_s", "orders_per_sec", "rate", "throughput"):
        if isinstance(outcome.get(key), int | float):
            return float(outcome[key]), outcome
    orders, seconds = outcome.get("orders"), outcome.get("seconds") or outcome.get("elapsed")
    if isinstance(orders, int | float) and isinstance(seconds, int | float) and seconds:
        return orders / seconds, outcome
    return None, outcome


async def bench_history_import(plan: Plan, database: BenchDatabase) -> list[Result]:
    bench_import = _load_import_benchmark()
    if bench_import is None:
        return [
            Result(
                name="history import",
                result=float("nan"),
                unit="/s",
                baseline=None,
                baseline_label="–",
                higher_is_better=True,
                target=f"ratio ≥ {IMPORT_RATIO_TARGET:g}",
                notes=["import benchmark not available (bench/bench_import.py missing)"],
            )
        ]
    baseline, label = None, "pgbench not found"
    notes: list[str] = []
    if database.pgbench:
        pg = pgbench_run(database, clients=1, threads=1, seconds=plan.import_baseline_seconds)
        baseline, label = pg.tps, "pgbench -N -c 1 TPS"
        notes.append(f"baseline: pgbench {pg.command} = {pg.tps:,.0f} TPS")
    outcome = bench_import(database.url, orders=plan.import_orders)
    if inspect.isawaitable(outcome):
        outcome = await outcome
    rate, details = _import_rate(outcome)
    result = Result(
        name=f"history import, {plan.import_orders:,} orders",
        result=rate or float("nan"),
        unit="/s",
        baseline=baseline,
        baseline_label=label,
        higher_is_better=True,
        p50_ms=_float(details.get("p50_ms")),
        p95_ms=_float(details.get("p95_ms")),
        target=f"ratio ≥ {IMPORT_RATIO_TARGET:g}",
        details=_jsonable(details),
        notes=notes if rate is not None else [*notes, f"no rate in {outcome!r:.300}"],
    )
    result.target_met = None if result.ratio is None else result.ratio >= IMPORT_RATIO_TARGET
    return [result]


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, int | float | str | bool | None | list | dict) else repr(v)
        for k, v in details.items()
    }


async def bench_code_generation(plan: Plan, database: BenchDatabase) -> list[Result]:
    from bench.bench_codes import bench_codes, codes_results

    return codes_results(await bench_codes(database.url, codes=10_000 if plan.quick else 100_000))


def bench_simulator_rows(plan: Plan) -> list[Result]:
    from bench.bench_simulator import simulator_results

    return simulator_results(
        10_000 if plan.quick else 100_000, workers=2, repeat=1 if plan.quick else 3
    )


async def bench_event_ingest(plan: Plan, database: BenchDatabase) -> list[Result]:
    from bench.bench_events import bench_events, events_results

    return events_results(
        await bench_events(database.url, events=10_000 if plan.quick else 100_000)
    )


async def bench_segment_rows(plan: Plan, database: BenchDatabase) -> list[Result]:
    from bench.bench_segments import bench_segments, segments_results

    return segments_results(
        await bench_segments(
            database.url,
            customers=20_000 if plan.quick else 1_000_000,
            events=200_000 if plan.quick else 10_000_000,
            reactions=2_000 if plan.quick else 20_000,
        )
    )


async def bench_sending_rows(plan: Plan, database: BenchDatabase) -> list[Result]:
    from bench.bench_sending import bench_sending, sending_results

    return sending_results(
        await bench_sending(
            database.url,
            messages=200 if plan.quick else 5_000,
            processes=1 if plan.quick else 2,
        )
    )


async def bench_journey_rows(plan: Plan, database: BenchDatabase) -> list[Result]:
    from bench.bench_journeys import bench_journeys, journeys_results

    return journeys_results(
        await bench_journeys(database.url, carts=2_000 if plan.quick else 100_000)
    )


# --- the run --------------------------------------------------------------------------------


Runner = Callable[[Plan, BenchDatabase, BenchData, str], Awaitable[list[Result]]]


async def bench_offers(
    plan: Plan, database: BenchDatabase, data: BenchData, base_url: str
) -> list[Result]:
    from bench.bench_offers import bench_offers as run_offers

    return await run_offers(
        plan.requests, plan.warmup, plan.sequential_time_limit, database.url, data, base_url
    )


HTTP_BENCHMARKS: dict[str, Runner] = {
    "calculate": bench_calculate,
    "prices": bench_prices,
    "place": bench_place,
    "offers": bench_offers,
}


async def run(
    plan: Plan, selected: list[str], console: Console
) -> tuple[list[Result], dict[str, Any]]:
    results: list[Result] = []
    context: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "quick": plan.quick,
        "plan": plan.__dict__,
        "benchmarks": selected,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "platform": platform.platform(),
    }
    with provision_database() as database:
        context.update(
            database=database.origin,
            server_version=database.server_version,
            pgbench=database.pgbench,
        )
        console.print(
            f"database: {database.origin} (PostgreSQL {database.server_version}); "
            f"pgbench: {database.pgbench or 'not found'}; CPUs: {os.cpu_count()}; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        http_selected = [name for name in selected if name in HTTP_BENCHMARKS]
        if http_selected:
            started = time.perf_counter()
            data = await build_dataset(
                database.url, products=plan.products, customers=plan.customers
            )
            console.print(
                f"dataset: {len(data.catalogue)} products, {len(data.customers)} "
                f"customers with points, in {time.perf_counter() - started:.1f} s"
            )
            context["dataset"] = {"products": len(data.catalogue), "customers": len(data.customers)}
            with api_server(
                database.url, workers=plan.workers, stock_uvicorn=plan.stock_uvicorn
            ) as server:
                listener = "uvicorn's own" if plan.stock_uvicorn else "IPPROTO_TCP (TCP_NODELAY)"
                console.print(
                    f"server: uvicorn --workers {server.workers} on {server.base_url}, "
                    f"listener: {listener}"
                )
                for name in http_selected:
                    started = time.perf_counter()
                    results += await HTTP_BENCHMARKS[name](plan, database, data, server.base_url)
                    console.print(f"  {name} done in {time.perf_counter() - started:.1f} s")
        if "import" in selected:
            started = time.perf_counter()
            if plan.pgbench_scale and database.pgbench and "place" not in selected:
                pgbench_init(database, scale=plan.pgbench_scale)
            results += await bench_history_import(plan, database)
            console.print(f"  import done in {time.perf_counter() - started:.1f} s")
        if "codes" in selected:
            started = time.perf_counter()
            results += await bench_code_generation(plan, database)
            console.print(f"  codes done in {time.perf_counter() - started:.1f} s")
        if "simulator" in selected:
            started = time.perf_counter()
            results += bench_simulator_rows(plan)
            console.print(f"  simulator done in {time.perf_counter() - started:.1f} s")
        if "events" in selected:
            started = time.perf_counter()
            results += await bench_event_ingest(plan, database)
            console.print(f"  events done in {time.perf_counter() - started:.1f} s")
        if "segments" in selected:
            started = time.perf_counter()
            results += await bench_segment_rows(plan, database)
            console.print(f"  segments done in {time.perf_counter() - started:.1f} s")
        if "sending" in selected:
            started = time.perf_counter()
            results += await bench_sending_rows(plan, database)
            console.print(f"  sending done in {time.perf_counter() - started:.1f} s")
        if "journeys" in selected:
            started = time.perf_counter()
            results += await bench_journey_rows(plan, database)
            console.print(f"  journeys done in {time.perf_counter() - started:.1f} s")
    _identity_benchmarks(plan, selected, console)
    context["finished_at"] = datetime.now(UTC).isoformat()
    context["load_average_at_end"] = os.getloadavg()
    return results, context


def _identity_benchmarks(plan: Plan, selected: list[str], console: Console) -> None:
    """Matching accuracy on FEBRL and the seven-source pipeline: their own tables and JSON
    (their rows are precision/recall and stage timings, not latencies)."""
    if "febrl" in selected:
        from bench import bench_febrl

        started = time.perf_counter()
        bench_febrl.render(bench_febrl.run(quick=plan.quick), console)
        console.print(f"  febrl done in {time.perf_counter() - started:.1f} s")
    if "identity" in selected:
        from bench import bench_identity

        records = plan.identity_records or (20_000 if plan.quick else 1_000_000)
        started = time.perf_counter()
        bench_identity.run(records, bench_identity.default_data_dir(records), console=console)
        console.print(f"  identity done in {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan.build(args)
    selected = [name for name in BENCHMARKS if not args.only or name in args.only]
    console = Console(width=None if Console().is_terminal else 150)
    results, context = asyncio.run(run(plan, selected, console))
    render_table(results, console)
    from pathlib import Path

    path = write_json(results, context, Path(args.output) if args.output else None)
    load = context["load_average_at_end"]
    console.print(f"load average at the end: {load[0]:.2f} (on {os.cpu_count()} CPUs)")
    console.print(f"JSON: {path}")
    return 0
