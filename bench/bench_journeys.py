"""Abandoned carts: the time from the 2-hour timeout to every cart's decision being made.

1. **Journeys.** N abandoned-cart instances (the shipped ``abandoned_cart`` template, enabled
   through the service) are bulk-inserted waiting on ``order.placed`` with ``wake_at`` = the
   timeout, as the reactions worker leaves them. Then ``advance_due_batch`` runs batch after
   batch (what ``process_due_instances`` and the ``tonari.journeys.tick`` task do): claim
   ``FOR UPDATE SKIP LOCKED``, take the timeout branch, queue the reminder in the send
   ledger (keyed by instance + step + channel), move to the next wait, log the steps.
2. **Baseline.** The same decisions for another N carts as two set-based statements by hand in
   one transaction: one ``INSERT ... SELECT`` of the reminders into the send ledger and one
   ``UPDATE`` of the instances to their next wait. No engine, no per-instance work: the floor.

Carts/s of both, the ratio (higher is better), and the p50/p95 of a batch.
``python -m bench.bench_journeys [--quick] [--carts N]`` runs it alone on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.report import Result, percentile
from tonari.db import Database
from tonari.journeys.runner import advance_due_batch
from tonari.journeys.service import enable_template
from tonari.programs.service import apply_programme, load_programme_file
from tonari.tenants.service import create_tenant

TIMEOUT_AT = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
BATCH = 500
PANASONIC = Path(__file__).resolve().parent.parent / "examples" / "programmes" / "panasonic.yaml"


async def _setup(db: Database, carts: int) -> tuple[int, int]:
    """A tenant with the abandoned-cart journey on and ``carts`` instances at their timeout."""
    async with db.transaction() as session:
        tenant = await create_tenant(
            session, slug=f"bench-carts-{uuid.uuid4().hex[:8]}", name="Journeys bench"
        )
        await apply_programme(
            session,
            tenant_id=tenant.id,
            document=load_programme_file(PANASONIC),
            applied_by="bench",
            effective_from=TIMEOUT_AT.replace(year=2020),
        )
        journey, _, _ = await enable_template(
            session, tenant_id=tenant.id, name="abandoned_cart", at=TIMEOUT_AT
        )
        await session.execute(
            text(
                "INSERT INTO customers (tenant_id, external_id, email, first_name) "
                "SELECT :t, 'c' || g, 'c' || g || '@mail.example', 'Anna' "
                "FROM generate_series(1, :n) AS g"
            ),
            {"t": tenant.id, "n": carts},
        )
        await session.execute(
            text(
                "INSERT INTO journey_instances (tenant_id, journey_id, customer_id, entity_key,"
                " run, status, step_key, wake_at, timeout_at, waiting_kind, waiting_key, state,"
                " entered_at, updated_at, attempt)"
                " SELECT :t, :j, c.id, 'cart-' || c.id, 1, 'waiting', 'wait_order', :due, :due,"
                " 'order.placed', 'cart-' || c.id,"
                " jsonb_build_object('entity', 'cart-' || c.id, 'cart_id', 'cart-' || c.id,"
                "   'visits', jsonb_build_object('wait_order', 1)),"
                " :entered, :entered, 1"
                " FROM customers AS c WHERE c.tenant_id = :t"
            ),
            {
                "t": tenant.id,
                "j": journey.id,
                "due": TIMEOUT_AT,
                "entered": TIMEOUT_AT - timedelta(hours=2),
            },
        )
    async with db.engine.connect() as connection:
        await connection.execute(text("ANALYZE journey_instances"))
    return tenant.id, journey.id


async def _journeys(db: Database) -> tuple[float, list[float], int]:
    batches: list[float] = []
    done = 0
    started = time.perf_counter()
    while True:
        batch_started = time.perf_counter()
        async with db.transaction() as session:
            advanced = await advance_due_batch(session, at=TIMEOUT_AT, batch=BATCH)
        if advanced:
            batches.append(time.perf_counter() - batch_started)
        done += advanced
        if advanced < BATCH:
            break
    return time.perf_counter() - started, batches, done


_BASELINE = (
    text(
        "INSERT INTO message_sends (tenant_id, customer_id, channel, template_key, topic,"
        " journey_id, journey_instance_id, step_key, context, not_before, created_at)"
        " SELECT i.tenant_id, i.customer_id, 'email', 'abandoned_cart.reminder', 'marketing',"
        " i.journey_id, i.id, 'remind', jsonb_build_object('cart', jsonb_build_object("
        " 'id', i.entity_key)), :at, :at"
        " FROM journey_instances AS i WHERE i.tenant_id = :t AND i.status = 'waiting'"
        " AND i.wake_at <= :at ON CONFLICT DO NOTHING"
    ),
    text(
        "UPDATE journey_instances SET step_key = 'wait_again', wake_at = :next,"
        " timeout_at = :next, updated_at = :at"
        " WHERE tenant_id = :t AND status = 'waiting' AND wake_at <= :at"
    ),
)


async def _baseline(db: Database, tenant_id: int) -> float:
    started = time.perf_counter()
    async with db.transaction() as session:
        params = {"t": tenant_id, "at": TIMEOUT_AT, "next": TIMEOUT_AT + timedelta(days=1)}
        for statement in _BASELINE:
            await session.execute(statement, params)
    return time.perf_counter() - started


async def _count(db: Database, sql: str, tenant_id: int) -> int:
    async with db.transaction() as session:
        return int((await session.execute(text(sql), {"t": tenant_id})).scalar_one())


async def bench_journeys(url: str, *, carts: int = 100_000) -> dict[str, Any]:
    db = Database(url, pool_size=2, max_overflow=2)
    try:
        setup_started = time.perf_counter()
        tenant_id, _ = await _setup(db, carts)
        setup_seconds = time.perf_counter() - setup_started
        seconds, batches, advanced = await _journeys(db)
        # The baseline's carts are inserted only now, so the journeys run never sees them.
        baseline_tenant, _ = await _setup(db, carts)
        baseline_seconds = await _baseline(db, baseline_tenant)
        reminders = await _count(
            db,
            "SELECT count(*) FROM message_sends WHERE tenant_id = :t AND step_key = 'remind'",
            tenant_id,
        )
        waiting_again = await _count(
            db,
            "SELECT count(*) FROM journey_instances WHERE tenant_id = :t"
            " AND step_key = 'wait_again' AND status = 'waiting'",
            tenant_id,
        )
    finally:
        await db.dispose()
    ordered = sorted(batches)
    return {
        "carts": carts,
        "advanced": advanced,
        "reminders_queued": reminders,
        "waiting_again": waiting_again,
        "seconds": round(seconds, 2),
        "carts_per_s": round(carts / seconds, 1),
        "batch": BATCH,
        "batches": len(batches),
        "batch_p50_ms": round(percentile(ordered, 50) * 1000, 1),
        "batch_p95_ms": round(percentile(ordered, 95) * 1000, 1),
        "baseline_seconds": round(baseline_seconds, 2),
        "baseline_per_s": round(carts / baseline_seconds, 1),
        "setup_seconds": round(setup_seconds, 1),
    }


def journeys_results(outcome: dict[str, Any]) -> list[Result]:
    result = Result(
        name=f"journeys, {outcome['carts']:,} abandoned carts: timeout → decisions made",
        result=outcome["carts_per_s"],
        unit="carts/s",
        baseline=outcome["baseline_per_s"],
        baseline_label="the same decisions as 2 set-based SQL statements",
        higher_is_better=True,
        p50_ms=outcome["batch_p50_ms"],
        p95_ms=outcome["batch_p95_ms"],
        target="all carts decided in seconds, not minutes (one worker)",
        notes=[
            f"{outcome['seconds']} s for all; {outcome['reminders_queued']:,} reminders queued, "
            f"{outcome['waiting_again']:,} waiting again; p50/p95 are per batch of "
            f"{outcome['batch']}; baseline {outcome['baseline_seconds']} s"
        ],
        details=outcome,
    )
    result.target_met = outcome["reminders_queued"] == outcome["carts"]
    return [result]


def main() -> None:
    from bench.infra import provision_database

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--carts", type=int, default=None)
    args = parser.parse_args()
    carts = args.carts or (2_000 if args.quick else 100_000)
    with provision_database() as database:
        outcome = asyncio.run(bench_journeys(database.url, carts=carts))
    for key, value in outcome.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
