"""A channel's provider rate holds for the whole cluster, not per worker process."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.messaging.parallel_support import dispatch_in_processes, drop_reactions, queue_news
from tests.messaging.smtp_sink import SmtpSink, make_email_template, make_subscriber
from tonari.db import Database, libpq_dsn
from tonari.kit.clock import utcnow
from tonari.messaging.delivery import configure_channel

MESSAGES = 60
RATE = 20  # per second: 60 messages take at least 59 / 20 = 2.95 s whoever sends them


async def _prepare(url: str, tenant_id: int, sink: SmtpSink) -> None:
    db = Database(url, pool_size=1, max_overflow=0)
    at = utcnow()
    try:
        async with db.transaction() as session:
            await configure_channel(
                session,
                tenant_id=tenant_id,
                channel="email",
                adapter="smtp",
                settings=sink.settings,
                sender="Panasonic Club <club@panasonic.example>",
                rate_per_second=RATE,
                at=at,
            )
            await make_email_template(session, tenant_id=tenant_id, at=at)
            for n in range(MESSAGES):
                customer_id = await make_subscriber(
                    session, tenant_id=tenant_id, external_id=f"r{n}", at=at
                )
                await queue_news(
                    session, tenant_id=tenant_id, customer_id=customer_id, key=f"rate-{n}", at=at
                )
    finally:
        await db.dispose()


def test_two_dispatcher_processes_share_the_channels_rate(
    database_url: str, committed_tenant
) -> None:
    sink = SmtpSink().start()
    dsn = libpq_dsn(database_url)
    try:
        asyncio.run(_prepare(database_url, committed_tenant.id, sink))
        # Each process claims its own batch of 30 and sends it on four lanes at once.
        reports = dispatch_in_processes(database_url, 2)
        sink.wait_for(MESSAGES)
        arrivals = sorted(sink.received_at)
        received = Counter(sink.recipients())
    finally:
        sink.stop()
        drop_reactions(dsn, committed_tenant.id)

    assert all(int(r["sent"]) > 0 for r in reports), "both processes sent part of the queue"
    assert len(received) == MESSAGES and set(received.values()) == {1}
    # A lower bound only: a slow machine can only stretch it. Paced per process, the two
    # would have finished in about half the time.
    span = arrivals[-1] - arrivals[0]
    assert span >= 0.95 * (MESSAGES - 1) / RATE, f"{MESSAGES} messages in {span:.2f} s"
