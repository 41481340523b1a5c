"""Sending webhooks: sign, POST, record. The boundary that owns the transactions.

Each step is its own short transaction (see :mod:`tonari.webhooks.service` for why a crash
anywhere loses nothing); the HTTP request happens with no transaction open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from standardwebhooks import Webhook

from tonari import __version__
from tonari.config import Settings, get_settings
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.models.outbox import WebhookDelivery
from tonari.webhooks.addresses import refusal_at_delivery
from tonari.webhooks.service import (
    DELIVERED,
    PENDING,
    AttemptOutcome,
    ClaimedDelivery,
    RelayResult,
    claim_due_deliveries,
    record_attempt,
    relay_outbox_batch,
)

logger = logging.getLogger(__name__)
Clock = Callable[[], datetime]
USER_AGENT = f"Tonari-Webhooks/{__version__}"


def webhook_body(delivery: ClaimedDelivery) -> str:
    """The JSON sent: ``{"type", "id", "timestamp", "data"}``, compact and key-sorted."""
    return json.dumps(
        {
            "type": delivery.event_type,
            "id": delivery.event_id,
            "timestamp": delivery.occurred_at.isoformat(),
            "data": delivery.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
        default=str,
    )


def signed_headers(delivery: ClaimedDelivery, body: str, *, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers. ``webhook-id`` is the event id, the same on every retry, so
    receivers can drop duplicates."""
    signature = Webhook(delivery.secret).sign(msg_id=delivery.event_id, timestamp=at, data=body)
    if delivery.previous_secret:
        # Standard Webhooks allows several space-separated signatures: during a rotation a
        # receiver still holding the old secret verifies the old one.
        old = Webhook(delivery.previous_secret)
        signature += " " + old.sign(msg_id=delivery.event_id, timestamp=at, data=body)
    return {
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


async def send_delivery(
    client: httpx.AsyncClient,
    delivery: ClaimedDelivery,
    *,
    at: datetime,
    allow_private: bool = False,
) -> AttemptOutcome:
    """POST one delivery. Never raises for the receiver's failures: they become the outcome."""
    body = webhook_body(delivery)
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = await refusal_at_delivery(delivery.url, allow_private=allow_private)
    if error is not None:
        return AttemptOutcome(
            started_at=at, duration_ms=0, status_code=None, error=f"refused: {error}"
        )
    try:
        headers = signed_headers(delivery, body, at=at)
        response = await client.post(delivery.url, content=body.encode(), headers=headers)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:500]}"
    except Exception as exc:
        # A bad URL or secret or an unreachable receiver is this delivery's failure, logged
        # as its attempt; it must not stop the worker's other deliveries.
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration_ms = int((time.perf_counter() - started) * 1000)
    return AttemptOutcome(
        started_at=at, duration_ms=duration_ms, status_code=status_code, error=error
    )


@dataclass(slots=True)
class DeliveryRunResult:
    relayed_events: int = 0
    created_deliveries: int = 0
    attempts: int = 0
    delivered: int = 0
    failed: int = 0
    retrying: int = 0
    statuses: dict[int, str | None] = field(default_factory=dict)


async def relay_all(db: Database, *, clock: Clock = utcnow, batch: int = 500) -> RelayResult:
    """Relay outbox events until none is left, one transaction per batch."""
    total = RelayResult()
    while True:
        async with db.transaction() as session:
            done = await relay_outbox_batch(session, now=clock(), limit=batch)
        total.events += done.events
        total.deliveries += done.deliveries
        if done.events == 0:
            return total


async def count_due_deliveries(db: Database, *, now: datetime) -> int:
    async with db.sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
            )
            or 0
        )


async def deliver_due(
    db: Database,
    *,
    settings: Settings | None = None,
    clock: Clock = utcnow,
    budget_seconds: float | None = None,
    client: httpx.AsyncClient | None = None,
) -> DeliveryRunResult:
    """Send due deliveries until none is due (or the time budget is spent).

    ``webhook_concurrency`` lanes each lease one delivery at a time, so a lease only has to
    cover one request, never a queue of them.
    """
    settings = settings or get_settings()
    lease = timedelta(
        seconds=max(settings.webhook_lease_seconds, settings.webhook_timeout_seconds + 5)
    )
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    result = DeliveryRunResult()
    own_client = client is None
    http = client or httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
    )

    async def lane() -> None:
        while deadline is None or time.monotonic() < deadline:
            async with db.transaction() as session:
                claimed = await claim_due_deliveries(session, now=clock(), limit=1, lease=lease)
            if not claimed:
                return
            delivery = claimed[0]
            outcome = await send_delivery(
                http,
                delivery,
                at=clock(),
                allow_private=settings.webhook_allow_private_addresses,
            )
            async with db.transaction() as session:
                status = await record_attempt(
                    session,
                    delivery,
                    outcome=outcome,
                    now=clock(),
                    max_attempts=settings.webhook_max_attempts,
                    retry_base_seconds=settings.webhook_retry_base_seconds,
                    retry_max_seconds=settings.webhook_retry_max_seconds,
                )
            result.attempts += 1
            result.statuses[delivery.id] = status
            if status == DELIVERED:
                result.delivered += 1
            elif status == PENDING:
                result.retrying += 1
            elif status is not None:
                result.failed += 1
                logger.warning(
                    "webhook delivery %s to %s failed for good: %s",
                    delivery.id,
                    delivery.url,
                    outcome.error,
                )

    try:
        async with asyncio.TaskGroup() as lanes:
            for _ in range(max(settings.webhook_concurrency, 1)):
                lanes.create_task(lane())
    finally:
        if own_client:
            await http.aclose()
    return result


async def process_webhooks(
    db: Database,
    *,
    settings: Settings | None = None,
    clock: Clock = utcnow,
    budget_seconds: float | None = None,
    client: httpx.AsyncClient | None = None,
) -> DeliveryRunResult:
    """Relay the outbox, then deliver what is due."""
    relayed = await relay_all(db, clock=clock)
    result = await deliver_due(
        db, settings=settings, clock=clock, budget_seconds=budget_seconds, client=client
    )
    result.relayed_events = relayed.events
    result.created_deliveries = relayed.deliveries
    return result


async def deliver_webhooks_once(
    url: str,
    *,
    settings: Settings | None = None,
    clock: Clock = utcnow,
    budget_seconds: float | None = None,
) -> DeliveryRunResult:
    """Relay and deliver everything due now, then return (for the CLI and tests)."""
    db = Database(url, pool_size=2, max_overflow=(settings or get_settings()).webhook_concurrency)
    try:
        return await process_webhooks(
            db, settings=settings, clock=clock, budget_seconds=budget_seconds
        )
    finally:
        await db.dispose()


def summary(result: DeliveryRunResult) -> dict[str, Any]:
    return {
        "relayed_events": result.relayed_events,
        "created_deliveries": result.created_deliveries,
        "attempts": result.attempts,
        "delivered": result.delivered,
        "retrying": result.retrying,
        "failed": result.failed,
    }
