"""Segments: a compound segment's size on 1,000,000 customers and 10,000,000 events, and
incremental membership throughput.

1. **Size.** ``preview_size`` (the definition validated, compiled by ``compile_segment`` and
   counted, with the programme lookup, in a transaction) against a hand-written SQL query
   for the same set sent with bare asyncpg on the same connection; alternating runs, p50 /
   p95 of each, and the two counts must be equal. Target: ratio ≤ 1.5 and ≤ 2 s.
2. **Incremental membership.** Reactions queued for random customers (views, cart and
   wishlist events, orders) drained by ``process_reactions`` with five active segments
   re-evaluated, against the bare drain of as many reactions with no handler (claim,
   lock, delete, commit). Reactions/s of each and the ratio.

Data is made with ``generate_series`` in SQL (set-up is not measured). ``python -m
bench.bench_segments [--quick] [--customers N --events M]`` runs it alone on a fresh
database (see bench/README.md).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from bench.report import Result, percentile
from tonari.db import Database
from tonari.events.partitions import ensure_event_partitions
from tonari.kit.clock import utcnow
from tonari.models.segments import Segment
from tonari.programs.service import apply_programme, load_programme_file
from tonari.reactions.dispatcher import process_reactions
from tonari.segments.reactions import react_to_reactions
from tonari.segments.service import preview_size, rebuild_segment
from tonari.tenants.service import create_tenant

SIZE_RATIO_TARGET = 1.5
SIZE_SECONDS_TARGET = 2.0
CITIES = ("Moscow", "Kazan", "Tula", "Omsk", "Perm", "Sochi", "Ufa", "Kursk", "Orel", "Tver")
CAMERAS = [f"p{n}" for n in range(0, 50)]
COMPOUND = {
    "all": [
        {"field": "city", "values": ["Moscow", "Kazan", "Tula"]},
        {"field": "gender", "values": ["female"]},
        {"field": "viewed", "days": 30, "products": CAMERAS},
        {"not": {"field": "orders_count", "days": 90, "min": 1}},
    ]
}
HAND_WRITTEN = """
SELECT count(*) FROM customers AS c
WHERE c.tenant_id = $1 AND c.merged_into_id IS NULL AND c.erased_at IS NULL
  AND c.city = ANY($2::text[]) AND c.gender = 'female'
  AND EXISTS (
    SELECT 1 FROM customer_events AS e
    WHERE e.tenant_id = $1 AND e.customer_id = c.id AND e.event_type = 'product_viewed'
      AND e.occurred_at > $3::timestamptz - interval '30 days' AND e.occurred_at <= $3
      AND e.entity_id = ANY($4::text[]))
  AND NOT EXISTS (
    SELECT 1 FROM orders AS o
    WHERE o.tenant_id = $1 AND o.customer_id = c.id AND o.status <> 'cancelled'
      AND o.placed_at > $3::timestamptz - interval '90 days' AND o.placed_at <= $3)
"""
OTHER_SEGMENTS = {
    "moscow": {"field": "city", "values": ["Moscow"]},
    "recent-buyers": {"field": "orders_count", "days": 30, "min": 1},
    "camera-lookers": {"field": "viewed", "days": 7, "products": CAMERAS},
    "open-carts": {"field": "cart", "min_age_minutes": 60},
}
REACTION_KINDS = ("product_viewed", "added_to_cart", "wishlist_added", "order.placed")


async def _sql(database: Database, statement: str, **params: Any) -> None:
    async with database.transaction() as session:
        await session.execute(text(statement), params)


async def build_data(database: Database, *, customers: int, events: int, log: Any) -> int:
    """A tenant (Panasonic programme) with customers, orders (one per two customers) and
    events over the last 90 days; returns the tenant id."""
    from pathlib import Path

    programme = Path(__file__).resolve().parent.parent / "examples/programmes/panasonic.yaml"
    async with database.transaction() as session:
        tenant = await create_tenant(
            session, slug=f"bench-seg-{uuid.uuid4().hex[:8]}", name="Segments benchmark"
        )
        await apply_programme(
            session,
            tenant_id=tenant.id,
            document=load_programme_file(programme),
            applied_by="bench",
            effective_from=utcnow() - timedelta(days=3650),
        )
        tenant_id = tenant.id
    started = time.perf_counter()
    await _sql(
        database,
        "INSERT INTO customers (tenant_id, external_id, gender, city, birth_date, created_at) "
        "SELECT :t, 'c' || g, CASE WHEN g % 2 = 0 THEN 'female' ELSE 'male' END, "
        "(CAST(:cities AS text[]))[1 + g % 10], "
        "DATE '1960-01-01' + CAST((g * 7919) % 16000 AS int), "
        "now() - interval '2 years' FROM generate_series(1, CAST(:n AS bigint)) AS g",
        t=tenant_id,
        cities=list(CITIES),
        n=customers,
    )
    async with database.transaction() as session:
        first = int(
            (
                await session.execute(
                    text("SELECT min(id) FROM customers WHERE tenant_id = :t"), {"t": tenant_id}
                )
            ).scalar_one()
        )
    await _sql(
        database,
        "INSERT INTO orders (tenant_id, external_id, customer_id, status, channel, request_hash, "
        "currency, programme_version, total_regular, points_spent, total_paid, points_earned, "
        "net_spend, placed_at, result) "
        "SELECT :t, 'o' || g, :first + (g * 7) % :n, 'paid', 'online', 'x', 'RUB', 1, "
        "1000 + g % 90000, 0, 1000 + g % 90000, 0, 1000 + g % 90000, "
        "now() - (g % 365) * interval '1 day', '{}'::jsonb "
        "FROM generate_series(1, CAST(:orders AS bigint)) AS g",
        t=tenant_id,
        first=first,
        n=customers,
        orders=customers // 2,
    )
    await _sql(
        database,
        "UPDATE customers AS c SET orders_count = o.n, lifetime_spend = o.spend, "
        "last_purchase_at = o.last FROM (SELECT customer_id, count(*) AS n, "
        "sum(net_spend) AS spend, max(placed_at) AS last FROM orders WHERE tenant_id = :t "
        "GROUP BY customer_id) AS o WHERE c.id = o.customer_id",
        t=tenant_id,
    )
    took = time.perf_counter() - started
    log(f"  {customers:,} customers, {customers // 2:,} orders in {took:.1f} s")
    # The months of the window have their partitions, as on a running system (the worker makes
    # each month's ahead of time), so the events do not all land in the DEFAULT partition.
    async with database.transaction() as session:
        today = utcnow().date()
        await ensure_event_partitions(session, through=today, since=today - timedelta(days=91))
    chunk = 1_000_000
    for start in range(0, events, chunk):
        await _sql(
            database,
            "INSERT INTO customer_events (tenant_id, customer_id, event_type, entity_id, "
            "event_id, occurred_at, received_at) "
            "SELECT :t, :first + (g * 104729) % :n, (CAST(:types AS text[]))[1 + g % 7], "
            "'p' || (g % 500), 'e' || g, now() - (g % 7776000) * interval '1 second', now() "
            "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g",
            t=tenant_id,
            first=first,
            n=customers,
            types=[
                "product_viewed",
                "product_viewed",
                "product_viewed",
                "added_to_cart",
                "wishlist_added",
                "email_opened",
                "login",
            ],
            lo=start + 1,
            hi=min(start + chunk, events),
        )
        log(f"  {min(start + chunk, events):,} events, {time.perf_counter() - started:.1f} s")
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        raw = await connection.get_raw_connection()
        assert raw.driver_connection is not None
        # What autovacuum does to an append-only table soon after a load: statistics, and the
        # visibility map that lets index-only scans skip the heap.
        await raw.driver_connection.execute("VACUUM ANALYZE")
    log(f"  data ready in {time.perf_counter() - started:.1f} s")
    return tenant_id


async def measure_size(database: Database, tenant_id: int, *, runs: int) -> dict[str, Any]:
    at = utcnow()
    compiled: list[float] = []
    hand: list[float] = []
    counts: set[tuple[int, int]] = set()
    async with database.transaction() as session:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        for run in range(runs + 1):  # the first round warms the caches and is not counted
            started = time.perf_counter()
            size = await preview_size(session, tenant_id=tenant_id, definition=COMPOUND, at=at)
            took_compiled = time.perf_counter() - started
            started = time.perf_counter()
            expected = await driver.fetchval(
                HAND_WRITTEN, tenant_id, ["Moscow", "Kazan", "Tula"], at, CAMERAS
            )
            took_hand = time.perf_counter() - started
            counts.add((size, int(expected)))
            if run:
                compiled.append(took_compiled * 1000)
                hand.append(took_hand * 1000)
    [(size, expected)] = counts
    assert size == expected, f"compiled {size} ≠ hand-written {expected}"
    return {
        "size": size,
        "compiled_p50_ms": round(percentile(compiled, 50), 1),
        "compiled_p95_ms": round(percentile(compiled, 95), 1),
        "hand_p50_ms": round(percentile(hand, 50), 1),
        "hand_p95_ms": round(percentile(hand, 95), 1),
        "runs": runs,
    }


async def _queue_reactions(database: Database, tenant_id: int, count: int) -> None:
    """``count`` reactions of customers spread over the whole tenant (ids are consecutive:
    the customers were made by one INSERT)."""
    async with database.transaction() as session:
        low, customers = (
            await session.execute(
                text("SELECT min(id), count(*) FROM customers WHERE tenant_id = :t"),
                {"t": tenant_id},
            )
        ).one()
    await _sql(
        database,
        "INSERT INTO customer_reactions (tenant_id, customer_id, kind, entity_id, occurred_at) "
        "SELECT :t, :low + (g * 7907) % :customers, (CAST(:kinds AS text[]))[1 + g % 4], "
        "'p' || (g % 500), now() FROM generate_series(1, CAST(:n AS bigint)) AS g",
        t=tenant_id,
        low=int(low),
        kinds=list(REACTION_KINDS),
        n=count,
        customers=int(customers),
    )


async def measure_incremental(
    database: Database, tenant_id: int, *, reactions: int, log: Any
) -> dict[str, Any]:
    """Five segments active: the compound one (rebuilt once, timed) and four simpler ones."""
    at = utcnow()
    async with database.transaction() as session:
        segments = [
            Segment(
                tenant_id=tenant_id,
                key=key,
                name=key,
                definition=definition,
                status="active",
                created_at=at,
                updated_at=at,
            )
            for key, definition in {"compound": COMPOUND, **OTHER_SEGMENTS}.items()
        ]
        session.add_all(segments)
        await session.flush()
        started = time.perf_counter()
        rebuilt = await rebuild_segment(session, segment=segments[0], at=at, emit=False)
        rebuild_seconds = time.perf_counter() - started
    log(f"  compound segment rebuilt: {rebuilt.size:,} members in {rebuild_seconds:.1f} s")
    await _queue_reactions(database, tenant_id, reactions)
    started = time.perf_counter()
    bare = await process_reactions(database, handlers=())
    bare_seconds = time.perf_counter() - started
    await _queue_reactions(database, tenant_id, reactions)
    started = time.perf_counter()
    applied = await process_reactions(database, handlers=(react_to_reactions,))
    segment_seconds = time.perf_counter() - started
    async with database.transaction() as session:
        changes = (
            await session.execute(
                text(
                    "SELECT count(*) FROM outbox_events WHERE tenant_id = :t "
                    "AND event_type LIKE 'segment.%'"
                ),
                {"t": tenant_id},
            )
        ).scalar_one()
        await session.execute(
            text("DELETE FROM customer_reactions WHERE tenant_id = :t"), {"t": tenant_id}
        )
    # Both rates count the reactions queued here; the segment run also drains the
    # segment.entered / exited reactions it queued itself (for journeys), which is its cost.
    return {
        "reactions": reactions,
        "drained_with_segment_events": applied,
        "bare_reactions": bare,
        "segments": len(segments),
        "per_s": round(reactions / segment_seconds),
        "bare_per_s": round(reactions / bare_seconds),
        "segment_changes": int(changes),
        "rebuild_seconds": round(rebuild_seconds, 2),
        "rebuild_members": rebuilt.size,
    }


async def bench_segments(
    database_url: str,
    *,
    customers: int = 1_000_000,
    events: int = 10_000_000,
    reactions: int = 20_000,
    runs: int = 7,
    log: Any = print,
) -> dict[str, Any]:
    database = Database(database_url, pool_size=2, max_overflow=2)
    try:
        tenant_id = await build_data(database, customers=customers, events=events, log=log)
        size = await measure_size(database, tenant_id, runs=runs)
        incremental = await measure_incremental(database, tenant_id, reactions=reactions, log=log)
    finally:
        await database.dispose()
    return {"customers": customers, "events": events, **size, **incremental}


def segments_results(outcome: dict[str, Any]) -> list[Result]:
    size = Result(
        name=(
            f"segment size, {outcome['customers']:,} customers, {outcome['events']:,} events "
            "(compiled)"
        ),
        result=outcome["compiled_p50_ms"],
        unit="ms",
        baseline=outcome["hand_p50_ms"],
        baseline_label="hand-written SQL for the same set, p50",
        higher_is_better=False,
        p50_ms=outcome["compiled_p50_ms"],
        p95_ms=outcome["compiled_p95_ms"],
        target=f"ratio ≤ {SIZE_RATIO_TARGET:g}, ≤ {SIZE_SECONDS_TARGET:g} s",
        notes=[
            f"{outcome['size']:,} members (both queries agree); hand-written p95 "
            f"{outcome['hand_p95_ms']} ms; {outcome['runs']} runs each"
        ],
        details=outcome,
    )
    size.target_met = (
        size.ratio is not None
        and size.ratio <= SIZE_RATIO_TARGET
        and outcome["compiled_p95_ms"] <= SIZE_SECONDS_TARGET * 1000
    )
    incremental = Result(
        name=f"incremental membership, {outcome['segments']} segments",
        result=outcome["per_s"],
        unit="reactions/s",
        baseline=outcome["bare_per_s"],
        baseline_label="bare reaction drain, no handler",
        higher_is_better=True,
        target="reported",
        notes=[
            f"{outcome['reactions']:,} reactions, {outcome['segment_changes']:,} entered/exited; "
            f"compound segment full rebuild {outcome['rebuild_seconds']} s "
            f"({outcome['rebuild_members']:,} members)"
        ],
        details=outcome,
    )
    return [size, incremental]


if __name__ == "__main__":
    import argparse

    from rich.console import Console

    from bench.infra import provision_database
    from bench.report import render_table

    parser = argparse.ArgumentParser(prog="python -m bench.bench_segments")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--customers", type=int, default=0)
    parser.add_argument("--events", type=int, default=0)
    args = parser.parse_args()
    quick_customers, quick_events = 20_000, 200_000
    with provision_database() as provisioned:
        figures = asyncio.run(
            bench_segments(
                provisioned.url,
                customers=args.customers or (quick_customers if args.quick else 1_000_000),
                events=args.events or (quick_events if args.quick else 10_000_000),
                reactions=2_000 if args.quick else 20_000,
            )
        )
    render_table(segments_results(figures), Console(width=150))
    print(figures)
