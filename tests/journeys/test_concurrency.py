"""One instance per (journey, customer, entity) under retries and two real processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg

from tests.processes import run_workers
from tonari.db import Database, libpq_dsn
from tonari.journeys.schemas import JourneyCreate
from tonari.journeys.service import save_journey

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
HELLO_THEN_WAIT = {
    "entry": {"event": "cart_updated", "key": "entity"},
    "start": "hello",
    "steps": {
        "hello": {"type": "send", "template": "hello", "next": "later"},
        "later": {"type": "wait", "duration_seconds": 3600, "next": "bye"},
        "bye": {"type": "send", "template": "bye"},
    },
}


def _create_journey(database_url: str, tenant_id: int) -> None:
    async def create() -> None:
        db = Database(database_url, pool_size=1, max_overflow=0)
        try:
            async with db.transaction() as session:
                await save_journey(
                    session,
                    tenant_id=tenant_id,
                    body=JourneyCreate(key="hello", name="Hello", definition=HELLO_THEN_WAIT),
                    at=AT,
                )
        finally:
            await db.dispose()

    asyncio.run(create())


def _count(conn, sql: str, tenant_id: int) -> int:
    return int(conn.execute(sql, (tenant_id,)).fetchone()[0])


def test_two_processes_entering_the_same_events_make_one_instance_each(
    database_url: str, committed_tenant
) -> None:
    tenant_id = committed_tenant.id
    dsn = libpq_dsn(database_url)
    _create_journey(database_url, tenant_id)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE test_journey_ready (worker text)")
        conn.execute(
            "INSERT INTO customers (tenant_id, external_id) "
            "SELECT %s, 'j-' || g FROM generate_series(1, 200) AS g",
            (tenant_id,),
        )
    try:
        # Both processes replay the same cart event of all 200 customers at the same time.
        entered = run_workers(
            "tests.journeys.worker",
            [[database_url, f"w{i}", 2, "enter", tenant_id, AT.isoformat()] for i in range(2)],
        )
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM test_journey_ready")
            instances = _count(
                conn, "SELECT count(*) FROM journey_instances WHERE tenant_id = %s", tenant_id
            )
            hellos = _count(
                conn,
                "SELECT count(*) FROM message_sends WHERE tenant_id = %s AND step_key = 'hello'",
                tenant_id,
            )
        # An hour later both processes advance the 200 waiting instances together.
        later = datetime(2026, 3, 10, 10, 0, 1, tzinfo=UTC)
        advanced = run_workers(
            "tests.journeys.worker",
            [[database_url, f"d{i}", 2, "due", tenant_id, later.isoformat()] for i in range(2)],
        )
        with psycopg.connect(dsn, autocommit=True) as conn:
            byes = _count(
                conn,
                "SELECT count(*) FROM message_sends WHERE tenant_id = %s AND step_key = 'bye'",
                tenant_id,
            )
            completed = _count(
                conn,
                "SELECT count(*) FROM journey_instances WHERE tenant_id = %s "
                "AND status = 'completed'",
                tenant_id,
            )
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE test_journey_ready")
            # The 400 queued letters were counted: later dispatcher tests must not send them.
            conn.execute("DELETE FROM message_sends WHERE tenant_id = %s", (tenant_id,))
    assert [r["done"] for r in entered] == [200, 200]
    assert (instances, hellos) == (200, 200)
    # Other tests' committed instances may be due too; ours were each advanced once.
    assert sum(r["done"] for r in advanced) >= 200
    assert (byes, completed) == (200, 200)
