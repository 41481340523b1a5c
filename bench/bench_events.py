"""Event ingest: ``ingest_events`` in batches of 1,000 vs a raw ``COPY`` of the same rows.

Both sides write the same events into the same partitioned ``customer_events`` table, one
committed transaction per batch of 1,000. The service also resolves each event's customer by
external id (or its anonymous link), claims the event ids in ``customer_event_ids`` (the
idempotency table) and builds the per-event report; the baseline's rows are resolved before
its clock starts, so the ratio (service events/s ÷ COPY events/s, higher is better) is what
all of that costs on top of the bare write. The events are validated ``EventIn`` objects
before either clock starts: request parsing is the API's, not the service's.

``python -m bench.bench_events [N]`` runs it alone on a fresh database (see bench/README.md).
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from bench.report import Result
from tonari.db import Database
from tonari.events.schemas import EventIn
from tonari.events.service import EVENT_COLUMNS, _json, ingest_events
from tonari.kit.clock import utcnow
from tonari.tenants.service import create_tenant

BATCH = 1_000
CUSTOMERS = 2_000
RATIO_TARGET = 0.5
TYPES = ("product_viewed", "added_to_cart", "cart_updated", "email_opened", "store_visit")


async def _tenant_with_customers(database: Database) -> tuple[int, dict[str, int]]:
    """A new tenant with ``CUSTOMERS`` bare customers (COPY: set-up is not measured)."""
    async with database.transaction() as session:
        tenant = await create_tenant(
            session, slug=f"bench-events-{uuid.uuid4().hex[:8]}", name="Events benchmark"
        )
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.copy_records_to_table(
            "customers",
            records=[(tenant.id, f"c{i}") for i in range(CUSTOMERS)],
            columns=("tenant_id", "external_id"),
        )
        rows = await driver.fetch(
            "SELECT external_id, id FROM customers WHERE tenant_id = $1", tenant.id
        )
        return tenant.id, {row["external_id"]: row["id"] for row in rows}


def _events(count: int, label: str, now: datetime) -> list[EventIn]:
    """Nine in ten by external id, one in ten an anonymous visitor; all in this month."""
    rng = random.Random(label)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max(int((now - month_start).total_seconds()), 1)
    events = []
    for i in range(count):
        anonymous = i % 10 == 9
        events.append(
            EventIn(
                event_id=f"{label}-{i}",
                event_type=TYPES[i % len(TYPES)],
                occurred_at=month_start + timedelta(seconds=rng.randrange(span)),
                customer=None if anonymous else {"external_id": f"c{rng.randrange(CUSTOMERS)}"},
                anonymous_id=f"dev-{rng.randrange(10_000)}" if anonymous else None,
                entity_id=f"p{rng.randrange(5_000)}",
                payload={"price": rng.randrange(100, 100_000), "source": "web"},
            )
        )
    return events


def _copy_rows(
    tenant_id: int, customers: dict[str, int], events: list[EventIn], now: datetime
) -> list[tuple[Any, ...]]:
    return [
        (
            tenant_id,
            customers[e.customer.external_id] if e.customer and e.customer.external_id else None,
            e.anonymous_id,
            e.event_type,
            e.entity_id,
            e.event_id,
            _json(e.payload),
            e.occurred_at,
            now,
        )
        for e in events
    ]


async def _service_batches(
    database: Database, tenant_id: int, events: list[EventIn], now: datetime
) -> list[float]:
    seconds = []
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        started = time.perf_counter()
        async with database.transaction() as session:
            report = await ingest_events(
                session, tenant_id=tenant_id, events=batch, received_at=now
            )
        seconds.append(time.perf_counter() - started)
        assert report.stored == len(batch), report.model_dump(exclude={"results"})
    return seconds


async def _copy_batches(database: Database, rows: list[tuple[Any, ...]]) -> list[float]:
    seconds = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        started = time.perf_counter()
        async with database.transaction() as session:
            connection = await session.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.copy_records_to_table(
                "customer_events", records=batch, columns=EVENT_COLUMNS
            )
        seconds.append(time.perf_counter() - started)
    return seconds


def _percentile_ms(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)


async def bench_events(
    database_url: str, events: int = 100_000, *, rounds: int = 3
) -> dict[str, Any]:
    """Ingest ``events`` events through the service and COPY as many raw rows, ``rounds``
    times each, alternating; the database must be migrated. Best round of each side."""
    database = Database(database_url, pool_size=1, max_overflow=1)
    now = utcnow()
    service: list[list[float]] = []
    copy: list[list[float]] = []
    try:
        tenant_id, customers = await _tenant_with_customers(database)
        for round_no in range(max(rounds, 1)):
            copied = _events(events, f"copy{round_no}", now)
            copy.append(
                await _copy_batches(database, _copy_rows(tenant_id, customers, copied, now))
            )
            ingested = _events(events, f"svc{round_no}", now)
            # The prepared events are this bench's own garbage-collector load (a server holds
            # one batch at a time, and freezes its start-up objects the same way, app.py).
            gc.collect()
            gc.freeze()
            service.append(await _service_batches(database, tenant_id, ingested, now))
    finally:
        gc.unfreeze()
        await database.dispose()
    best_service = min(service, key=sum)
    best_copy = min(copy, key=sum)
    service_rate = events / sum(best_service)
    copy_rate = events / sum(best_copy)
    return {
        "events": events,
        "batch": BATCH,
        "rounds": len(service),
        "service_events_per_s": round(service_rate),
        "copy_events_per_s": round(copy_rate),
        "ratio": round(service_rate / copy_rate, 2),
        "service_batch_p50_ms": _percentile_ms(best_service, 0.5),
        "service_batch_p95_ms": _percentile_ms(best_service, 0.95),
        "copy_batch_p50_ms": _percentile_ms(best_copy, 0.5),
        "copy_batch_p95_ms": _percentile_ms(best_copy, 0.95),
        "all_service_seconds": [round(sum(s), 3) for s in service],
        "all_copy_seconds": [round(sum(s), 3) for s in copy],
        "service_batch_mean_ms": round(statistics.fmean(best_service) * 1000, 2),
    }


def events_results(outcome: dict[str, Any]) -> list[Result]:
    """The benchmark as a row of the bench table (``bench/report.py``)."""
    result = Result(
        name=f"ingest {outcome['events']:,} events in batches of {outcome['batch']:,}",
        result=outcome["service_events_per_s"],
        unit="events/s",
        baseline=outcome["copy_events_per_s"],
        baseline_label="raw COPY of the same rows, same batches",
        higher_is_better=True,
        p50_ms=outcome["service_batch_p50_ms"],
        p95_ms=outcome["service_batch_p95_ms"],
        target=f"ratio ≥ {RATIO_TARGET:g}",
        notes=[
            f"per batch: service p50 {outcome['service_batch_p50_ms']} ms, p95 "
            f"{outcome['service_batch_p95_ms']} ms; COPY p50 {outcome['copy_batch_p50_ms']} "
            f"ms, p95 {outcome['copy_batch_p95_ms']} ms; best of {outcome['rounds']}: service "
            f"{outcome['all_service_seconds']} s, COPY {outcome['all_copy_seconds']} s"
        ],
        details=outcome,
    )
    result.target_met = (result.ratio or 0) >= RATIO_TARGET
    return [result]


if __name__ == "__main__":
    import sys

    from rich.console import Console

    from bench.infra import provision_database
    from bench.report import render_table

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with provision_database() as provisioned:
        figures = asyncio.run(bench_events(provisioned.url, count))
    render_table(events_results(figures), Console())
    print(
        f"ratio {figures['ratio']} (service {figures['service_events_per_s']:,} events/s vs "
        f"COPY {figures['copy_events_per_s']:,} events/s); per batch p50/p95: service "
        f"{figures['service_batch_p50_ms']}/{figures['service_batch_p95_ms']} ms, COPY "
        f"{figures['copy_batch_p50_ms']}/{figures['copy_batch_p95_ms']} ms"
    )
