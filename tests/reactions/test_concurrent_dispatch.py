"""Three worker processes drain one queue: every reaction applied once, customers in order."""

from __future__ import annotations

import psycopg

from tests.processes import run_workers
from tonari.db import libpq_dsn


def test_three_processes_apply_each_reaction_once_in_order(
    database_url: str, committed_tenant
) -> None:
    dsn = libpq_dsn(database_url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE test_reaction_log (seq bigserial PRIMARY KEY, reaction_id bigint, "
            "customer_id bigint, worker text)"
        )
        conn.execute("CREATE TABLE test_reaction_ready (worker text)")
        # This run's database is this test process's own and its earlier tests are over:
        # what they left queued would only dilute the work the three workers share.
        conn.execute("DELETE FROM customer_reactions")
        conn.execute(
            "INSERT INTO customers (tenant_id, external_id) "
            "SELECT %s, 'r-' || g FROM generate_series(1, 300) AS g",
            (committed_tenant.id,),
        )
        # Five reactions per customer, interleaved as they would arrive.
        conn.execute(
            "INSERT INTO customer_reactions (tenant_id, customer_id, kind, occurred_at) "
            "SELECT %s, c.id, 'product_viewed', now() "
            "FROM generate_series(1, 5) AS n, customers AS c "
            "WHERE c.tenant_id = %s ORDER BY n, c.id",
            (committed_tenant.id, committed_tenant.id),
        )
    try:
        reports = run_workers(
            "tests.reactions.worker", [[database_url, f"w{i}", 3] for i in range(3)]
        )
        with psycopg.connect(dsn, autocommit=True) as conn:
            left = conn.execute(
                "SELECT count(*) FROM customer_reactions WHERE tenant_id = %s",
                (committed_tenant.id,),
            ).fetchone()
            logged = conn.execute(
                "SELECT l.reaction_id, l.customer_id, l.worker FROM test_reaction_log AS l "
                "JOIN customers AS c ON c.id = l.customer_id WHERE c.tenant_id = %s "
                "ORDER BY l.seq",
                (committed_tenant.id,),
            ).fetchall()
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE test_reaction_log")
            conn.execute("DROP TABLE test_reaction_ready")
    assert left == (0,)
    assert sum(r["applied"] for r in reports) == 1_500
    ids = [row[0] for row in logged]
    assert len(ids) == 1_500 and len(set(ids)) == 1_500
    # Each customer's five reactions went to one worker, in the order they were queued.
    by_customer: dict[int, list[tuple[int, str]]] = {}
    for reaction_id, customer_id, worker in logged:
        by_customer.setdefault(customer_id, []).append((reaction_id, worker))
    for seen in by_customer.values():
        assert [r for r, _ in seen] == sorted(r for r, _ in seen)
        assert len({w for _, w in seen}) == 1
    assert len({worker for _, _, worker in logged}) >= 2
