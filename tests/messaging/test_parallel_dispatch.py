"""Three dispatcher processes deciding the same customers' messages at once: the daily cap
holds across processes (the customers' decision locks), nobody deadlocks, nobody is skipped."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import psycopg

from tests.messaging.parallel_support import (
    BATCH,
    dispatch_in_processes,
    drop_reactions,
    queue_news,
)
from tests.messaging.smtp_sink import (
    SmtpSink,
    make_email_template,
    make_subscriber,
    send_email_to,
)
from tonari.db import Database, libpq_dsn
from tonari.kit.clock import utcnow
from tonari.messaging.delivery import set_policy

CUSTOMERS = 120
MESSAGES_EACH = 3


async def _prepare(url: str, tenant_id: int, sink: SmtpSink) -> None:
    """One email a day per customer. Queued per group of 30 customers (the workers' batch),
    round after round: the three processes starting together claim one round each of the same
    30 customers, and decide them at the same moment."""
    db = Database(url, pool_size=1, max_overflow=0)
    at = utcnow()
    try:
        async with db.transaction() as session:
            await send_email_to(sink, session, tenant_id=tenant_id, at=at)
            await make_email_template(session, tenant_id=tenant_id, at=at)
            await set_policy(session, tenant_id=tenant_id, per_day=1, at=at)
            customers = [
                await make_subscriber(session, tenant_id=tenant_id, external_id=f"p{n}", at=at)
                for n in range(CUSTOMERS)
            ]
            for start in range(0, CUSTOMERS, BATCH):
                for round_ in range(MESSAGES_EACH):
                    for customer_id in customers[start : start + BATCH]:
                        await queue_news(
                            session,
                            tenant_id=tenant_id,
                            customer_id=customer_id,
                            key=f"news-{round_}-{customer_id}",
                            at=at,
                        )
    finally:
        await db.dispose()


def test_three_processes_keep_the_daily_cap_and_decide_everything(
    database_url: str, committed_tenant
) -> None:
    sink = SmtpSink().start()
    dsn = libpq_dsn(database_url)
    try:
        asyncio.run(_prepare(database_url, committed_tenant.id, sink))
        reports = dispatch_in_processes(database_url, 3)
        with psycopg.connect(dsn, autocommit=True) as conn:
            statuses = Counter(
                conn.execute(
                    "SELECT status, reason FROM message_sends WHERE tenant_id = %s",
                    (committed_tenant.id,),
                ).fetchall()
            )
        sink.wait_for(CUSTOMERS)
        time.sleep(0.2)  # a message over the cap would arrive now
        received = Counter(sink.recipients())
    finally:
        sink.stop()
        drop_reactions(dsn, committed_tenant.id)

    assert sum(int(r["errors"]) for r in reports) == 0, reports
    # Every customer got exactly one message: the cap of one a day held across processes.
    assert len(received) == CUSTOMERS and set(received.values()) == {1}
    assert statuses == {
        ("sent", "sent"): CUSTOMERS,
        ("skipped", "capped"): CUSTOMERS * (MESSAGES_EACH - 1),
    }
    assert sum(int(r["sent"]) for r in reports) == CUSTOMERS
