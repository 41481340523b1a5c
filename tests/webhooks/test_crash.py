"""A delivering worker killed with ``kill -9`` mid-request loses nothing.

The worker runs in another OS process against a slow receiver; it is killed while requests
are in flight, and a fresh process finishes the job once the dead worker's leases expire.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from sqlalchemy import func, select

from tests.conftest import REPO_ROOT
from tests.webhooks.conftest import register_endpoint
from tests.webhooks.receiver import Receiver
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.kit.outbox import record_event
from tonari.models.outbox import OutboxEvent, WebhookAttempt, WebhookDelivery

EVENTS = 40
DELIVER = (
    "import asyncio, sys\n"
    "from tonari.webhooks.delivery import deliver_webhooks_once\n"
    "asyncio.run(deliver_webhooks_once(sys.argv[1]))\n"
)
# A lease of timeout + 5 = 6 s: the dead worker's deliveries are due again after it.
WORKER_ENV = {
    "TONARI_WEBHOOK_TIMEOUT_SECONDS": "1",
    "TONARI_WEBHOOK_LEASE_SECONDS": "1",
    "TONARI_WEBHOOK_CONCURRENCY": "4",
    "TONARI_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
}


def _start_worker(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DELIVER, url],
        cwd=REPO_ROOT,
        env={**os.environ, **WORKER_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _state(database: Database, endpoint_id: int) -> dict[str, object]:
    async with database.sessions() as s:
        statuses = Counter(
            {
                status: n
                for status, n in (
                    await s.execute(
                        select(WebhookDelivery.status, func.count())
                        .where(WebhookDelivery.endpoint_id == endpoint_id)
                        .group_by(WebhookDelivery.status)
                    )
                ).all()
            }
        )
        started = await s.scalar(
            select(func.coalesce(func.sum(WebhookDelivery.attempts), 0)).where(
                WebhookDelivery.endpoint_id == endpoint_id
            )
        )
        logged = await s.scalar(
            select(func.count())
            .select_from(WebhookAttempt)
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
        )
    return {"statuses": statuses, "started": int(started or 0), "logged": int(logged or 0)}


async def test_kill_9_mid_delivery_loses_nothing(
    live_client, live_tenant, database, database_url, receiver: Receiver
) -> None:
    endpoint = await register_endpoint(live_client, live_tenant, receiver.url("crash"))
    route = receiver.route("crash")
    route.secret, route.delay = endpoint["secret"], 0.25
    async with database.transaction() as session:
        event_ids = {
            await record_event(
                session,
                tenant_id=live_tenant.id,
                event_type="order.placed",
                subject=f"o{n}",
                payload={"n": n},
                occurred_at=utcnow(),
            )
            for n in range(EVENTS)
        }

    doomed = _start_worker(database_url)
    deadline = time.monotonic() + 60
    while len(receiver.for_route("crash")) < 12:
        assert doomed.poll() is None, doomed.stderr.read() if doomed.stderr else ""
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    doomed.send_signal(signal.SIGKILL)
    await asyncio.to_thread(doomed.wait)
    assert doomed.returncode == -signal.SIGKILL

    crashed = await _state(database, endpoint["id"])
    statuses = crashed["statuses"]
    assert isinstance(statuses, Counter)
    assert 0 < statuses["delivered"] < EVENTS, "killed in the middle of the work"
    in_flight = int(crashed["started"]) - int(crashed["logged"])  # type: ignore[call-overload]
    assert in_flight >= 1, "some requests were in flight when the worker died"

    # Restart until everything is delivered; the dead worker's leases expire meanwhile.
    deadline = time.monotonic() + 90
    while True:
        survivor = _start_worker(database_url)
        _, err = await asyncio.to_thread(survivor.communicate, timeout=60)
        assert survivor.returncode == 0, err[-3000:]
        state = await _state(database, endpoint["id"])
        if state["statuses"] == Counter({"delivered": EVENTS}):
            break
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.5)

    async with database.sessions() as s:
        rows = (
            await s.execute(
                select(OutboxEvent.event_id, WebhookDelivery.id, WebhookDelivery.attempts)
                .join(WebhookDelivery, WebhookDelivery.event_id == OutboxEvent.id)
                .where(WebhookDelivery.endpoint_id == endpoint["id"])
            )
        ).all()
        successes = Counter(
            {
                delivery_id: n
                for delivery_id, n in (
                    await s.execute(
                        select(WebhookAttempt.delivery_id, func.count())
                        .where(
                            WebhookAttempt.delivery_id.in_([r.id for r in rows]),
                            WebhookAttempt.status_code.between(200, 299),
                        )
                        .group_by(WebhookAttempt.delivery_id)
                    )
                ).all()
            }
        )
    assert {r.event_id for r in rows} == event_ids, "one delivery per event, none lost"
    assert all(successes[r.id] == 1 for r in rows), "each delivery recorded delivered once"

    received = receiver.counts("crash")
    assert set(received) == event_ids, "the receiver got every event"
    duplicates = sum(received.values()) - len(received)
    # At-least-once: only requests cut off by the kill are sent twice (same webhook-id).
    assert duplicates <= in_flight
    assert all(hit.verified for hit in receiver.for_route("crash"))
