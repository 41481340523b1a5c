"""What the multi-process dispatcher tests share: queueing, the processes, the clean-up."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import psycopg

from tests.processes import run_workers
from tonari.messaging.queue import queue_message

BATCH = 30  # parallel_dispatch_worker's claim batch


async def queue_news(
    session: Any, *, tenant_id: int, customer_id: int, key: str, at: datetime
) -> None:
    """One marketing email of the ``news`` template (make_email_template's default)."""
    await queue_message(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        channel="email",
        template_key="news",
        at=at,
        idempotency_key=key,
    )


def dispatch_in_processes(database_url: str, processes: int) -> list[dict[str, Any]]:
    """``processes`` dispatcher processes started together, each until nothing is due."""
    start_at = time.time() + 4  # every process has imported Tonari by then
    return run_workers(
        "tests.messaging.parallel_dispatch_worker",
        [[database_url, start_at] for _ in range(processes)],
        timeout=300,
    )


def drop_reactions(dsn: str, tenant_id: int) -> None:
    """The subscribers' own registration reactions are not these tests' business: leave no
    backlog for the reaction tests that share the database."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM customer_reactions WHERE tenant_id = %s", (tenant_id,))
