"""The benchmark code cannot rot: its data setup and request bodies work against the real API,
and its raw-SQL baselines still issue as many statements as the endpoints they stand for.

No timing is asserted anywhere: this is a smoke test, the figures come from ``make bench``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import psycopg
from bench import baselines
from bench.cli import _import_rate, parse_args
from bench.dataset import (
    CALCULATE_LINES,
    PRICE_PRODUCTS,
    BenchData,
    calculate_body,
    make_catalogue,
    place_body,
    prices_body,
    seed_catalogue,
    seed_customers,
)
from bench.report import Latencies, Result, percentile, render_table
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture
from tonari.db import libpq_dsn

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


@contextmanager
def statements(session: AsyncSession) -> Iterator[list[str]]:
    """The SQL statements sent on the test's connection, without transaction control."""
    seen: list[str] = []
    connection = session.bind.sync_connection  # type: ignore[union-attr]

    def record(*args: Any) -> None:
        sql = str(args[2]).lstrip()
        if not sql.upper().startswith(TRANSACTION_CONTROL):
            seen.append(sql)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


async def _bench_data(session: AsyncSession, tenant: TenantFixture) -> BenchData:
    catalogue = make_catalogue(PRICE_PRODUCTS + 12, random.Random(3))
    await seed_catalogue(session, tenant_id=tenant.id, catalogue=catalogue)
    customers = ["bench-1", "bench-2", "bench-3"]
    await seed_customers(session, tenant_id=tenant.id, external_ids=customers, points=50_000)
    return BenchData(
        tenant_id=tenant.id, api_key=tenant.api_key, catalogue=catalogue, customers=customers
    )


async def test_bench_setup_and_calculate_requests(
    session: AsyncSession, tenant: TenantFixture, client: httpx.AsyncClient
) -> None:
    data = await _bench_data(session, tenant)
    rng = random.Random(5)
    for _ in range(5):
        body = calculate_body(data, rng)
        with statements(session) as sent:
            response = await client.post("/v1/orders/calculate", json=body, headers=data.headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert len(answer["lines"]) == CALCULATE_LINES
        assert answer["points_applied"] == body["points_to_spend"] > 0  # a real spend
        assert len(sent) == baselines.CALCULATE_STATEMENTS, (
            "calculate now issues a different number of statements: update "
            "bench/baselines.py so the raw-SQL baseline matches\n" + "\n".join(sent)
        )


async def test_bench_prices_and_place_bodies(
    session: AsyncSession, tenant: TenantFixture, client: httpx.AsyncClient
) -> None:
    data = await _bench_data(session, tenant)
    rng = random.Random(7)
    with statements(session) as sent:
        response = await client.post(
            "/v1/prices", json=prices_body(data, rng), headers=data.headers
        )
    assert response.status_code == 200, response.text
    assert len(response.json()["products"]) == PRICE_PRODUCTS
    assert len(sent) == baselines.PRICES_STATEMENTS, (
        "personal prices now issue a different number of statements: update "
        "bench/baselines.py so the raw-SQL baseline matches\n" + "\n".join(sent)
    )
    body = place_body(data, rng, "bench-smoke-1")
    response = await client.post("/v1/orders", json=body, headers=data.headers)
    assert response.status_code == 201, response.text
    assert response.json()["points_applied"] == body["points_to_spend"] > 0


def test_report_and_cli_helpers() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
    assert Latencies.of([]).count == 0
    assert _import_rate({"orders": 100, "seconds": 2.0})[0] == 50.0
    assert _import_rate({"orders_per_s": 12.5})[0] == 12.5
    args = parse_args(["--quick", "--only", "calculate"])
    assert args.quick and args.only == ["calculate"]
    row = Result(
        name="x", result=2.0, unit="ms", baseline=1.0, baseline_label="b", higher_is_better=False
    )
    assert row.ratio == 2.0
    render_table([row])


def test_offer_bench_programmes_are_valid_and_price_a_cart() -> None:
    from bench.bench_offers import LARGE, SMALL, offers_document

    from tonari.programs.service import parse_programme
    from tonari.rules.cart import CartLine, CustomerView, calculate_cart
    from tonari.rules.offers.context import CustomerSnapshot

    catalogue = make_catalogue(50, random.Random(1))
    for count in (SMALL, LARGE):
        programme = parse_programme(offers_document(count))
        assert len(programme.offers) == count
        lines = [
            CartLine(n, item.product_id, item.price, 1, item.category)
            for n, item in enumerate(catalogue[:20], start=1)
        ]
        buyer: CustomerView = CustomerSnapshot(tier_code="gold", customer_id=1)
        calculation = calculate_cart(
            programme, lines, buyer, at=datetime.fromisoformat("2026-06-13T11:00:00+03:00")
        )
        assert calculation.offers.traces, "the general offers are always evaluated"


async def test_bench_codes_runs_tiny(database_url: str) -> None:
    from bench.bench_codes import bench_codes, codes_results

    outcome = await bench_codes(database_url, codes=300, rounds=1)
    assert outcome["codes"] == 300
    assert outcome["service_seconds"] > 0 and outcome["copy_seconds"] > 0
    [row] = codes_results(outcome)
    assert row.ratio is not None and row.target_met is not None
    render_table([row])


def test_simulator_benchmark_runs_on_a_small_history() -> None:
    from bench.bench_simulator import simulator_results

    rows = simulator_results(orders=600, workers=2, repeat=1)
    assert [row.name for row in rows] == [
        "simulator replay, 1 process",
        "simulator replay, 2 processes",
    ]
    assert all(row.result > 0 and row.ratio is not None for row in rows)
    assert rows[0].details["points_issued"] > 0
    render_table(rows)


async def test_bench_segments_runs_tiny(database_url: str) -> None:
    from bench.bench_segments import bench_segments, segments_results

    outcome = await bench_segments(
        database_url, customers=2_000, events=20_000, reactions=300, runs=2, log=lambda _: None
    )
    assert outcome["size"] > 0, "the compound segment must select someone"
    assert outcome["per_s"] > 0 and outcome["bare_per_s"] > 0
    rows = segments_results(outcome)
    assert all(row.ratio is not None for row in rows)
    render_table(rows)


async def test_bench_sending_runs_tiny(database_url: str) -> None:
    from bench.bench_sending import bench_sending, sending_results

    outcome = await bench_sending(database_url, messages=20, processes=1)
    assert outcome["sent"] == 20, "every queued message went through the whole pipeline"
    assert outcome["pipeline_per_s"] > 0 and outcome["bare_per_s"] > 0
    rows = sending_results(outcome)
    assert all(row.ratio is not None for row in rows)
    render_table(rows)


async def test_bench_journeys_runs_tiny(database_url: str) -> None:
    from bench.bench_journeys import bench_journeys, journeys_results

    outcome = await bench_journeys(database_url, carts=50)
    # The bench's carts wait on and its reminders stay queued (for a tenant with no channel):
    # this run's later journey and dispatcher tests must not pick them up.
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        conn.execute("DELETE FROM message_sends WHERE status = 'queued'")
        conn.execute("DELETE FROM journey_instances WHERE status IN ('active', 'waiting')")
    assert outcome["advanced"] >= 50
    assert outcome["reminders_queued"] == 50, "every timed-out cart got its reminder, once"
    assert outcome["waiting_again"] == 50
    rows = journeys_results(outcome)
    assert all(row.ratio is not None for row in rows)
    render_table(rows)
