"""Webhook deliveries: relay outbox events to endpoints, claim due deliveries, record attempts.

The worker works in three short transactions per delivery and never holds one open across an
HTTP call:

1. **relay** (:func:`relay_outbox_batch`): unrelayed outbox events are locked with
   ``FOR UPDATE SKIP LOCKED``; one ``webhook_deliveries`` row is inserted per matching active
   endpoint of the event's tenant (``ON CONFLICT DO NOTHING``) and the event is marked relayed,
   all in one transaction. Several workers share the work; none repeats another's.
2. **claim** (:func:`claim_due_deliveries`): due pending deliveries are locked with ``SKIP
   LOCKED`` and *leased*: ``next_attempt_at`` moves forward by the lease and ``attempts`` goes
   up by one, then the transaction commits. No other worker sees the delivery as due until the
   lease runs out, so a worker killed with ``kill -9`` mid-send loses nothing: when its lease
   expires the delivery is simply due again (at-least-once; receivers dedupe on
   ``webhook-id``). A crash loop still counts towards the maximum number of attempts.
3. **record** (:func:`record_attempt`): the attempt is logged and the delivery becomes
   ``delivered``, ``failed`` or pending again with a backoff. The status only changes while the
   lease is still this worker's (``attempts`` unchanged since the claim): a worker whose lease
   ran out and was taken over cannot overwrite the newer attempt's outcome.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, any_, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import NotFound
from tonari.models.outbox import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
SECRET_PREFIX = "whsec_"
MAX_ERROR_LENGTH = 2000


def generate_endpoint_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + standard base64 of 32 random bytes.

    Standard (not URL-safe) base64, because receivers' libraries decode it with the standard
    alphabet: URL-safe characters would be dropped silently and weaken the key.
    """
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def retry_delay(attempts: int, *, base_seconds: float, max_seconds: float) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: base, 2×base, 4×base … capped."""
    exponent = max(attempts - 1, 0)
    seconds = base_seconds * (2 ** min(exponent, 32))
    return timedelta(seconds=min(seconds, max_seconds))


# --- relay -----------------------------------------------------------------------------------


@dataclass(slots=True)
class RelayResult:
    events: int = 0
    deliveries: int = 0


async def relay_outbox_batch(
    session: AsyncSession, *, now: datetime, limit: int = 500
) -> RelayResult:
    """Fan one batch of unrelayed outbox events out to the endpoints that want them."""
    batch = list(
        (
            await session.execute(
                select(OutboxEvent.id)
                .where(OutboxEvent.relayed_at.is_(None))
                .order_by(OutboxEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    if not batch:
        return RelayResult()
    matching = (
        select(
            OutboxEvent.tenant_id,
            WebhookEndpoint.id,
            OutboxEvent.id,
            literal(PENDING),
            literal(0),
            literal(now),
        )
        .join(
            WebhookEndpoint,
            and_(
                WebhookEndpoint.tenant_id == OutboxEvent.tenant_id,
                WebhookEndpoint.active.is_(True),
                or_(
                    OutboxEvent.event_type == any_(WebhookEndpoint.event_types),
                    literal("*") == any_(WebhookEndpoint.event_types),
                ),
            ),
        )
        .where(OutboxEvent.id.in_(batch))
    )
    inserted = await session.execute(
        pg_insert(WebhookDelivery)
        .from_select(
            ["tenant_id", "endpoint_id", "event_id", "status", "attempts", "next_attempt_at"],
            matching,
        )
        .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        .returning(WebhookDelivery.id)
    )
    deliveries = len(inserted.all())
    await session.execute(
        update(OutboxEvent).where(OutboxEvent.id.in_(batch)).values(relayed_at=now)
    )
    return RelayResult(events=len(batch), deliveries=deliveries)


# --- claim and record ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """Everything needed to send one delivery without touching the database again."""

    id: int
    tenant_id: int
    endpoint_id: int
    url: str
    secret: str
    attempts: int
    lease_until: datetime
    event_id: str
    event_type: str
    occurred_at: datetime
    payload: dict[str, Any]
    previous_secret: str | None = None
    """Still signed with during a rotation's overlap, so receivers can switch at leisure."""


def _previous_secret(endpoint: Any, now: datetime) -> str | None:
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return str(endpoint.previous_secret)
    return None


async def rotate_endpoint_secret(
    session: AsyncSession, *, tenant_id: int, endpoint_id: int, overlap: timedelta, now: datetime
) -> WebhookEndpoint:
    """A new secret; deliveries are signed with both for ``overlap`` (none when zero)."""
    endpoint = await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    endpoint.previous_secret = endpoint.secret if overlap > timedelta(0) else None
    endpoint.previous_secret_expires_at = now + overlap if overlap > timedelta(0) else None
    endpoint.secret = generate_endpoint_secret()
    await session.flush()
    return endpoint


async def claim_due_deliveries(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries to the caller. Commit right after calling this."""
    due = (
        select(WebhookDelivery.id)
        .join(
            WebhookEndpoint,
            and_(
                WebhookEndpoint.id == WebhookDelivery.endpoint_id,
                WebhookEndpoint.tenant_id == WebhookDelivery.tenant_id,
            ),
        )
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.active.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    lease_until = now + lease
    claimed = (
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=lease_until, attempts=WebhookDelivery.attempts + 1)
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.tenant_id,
                WebhookDelivery.endpoint_id,
                WebhookDelivery.event_id,
                WebhookDelivery.attempts,
            )
        )
    ).all()
    if not claimed:
        return []
    endpoints = {
        row.id: row
        for row in await session.execute(
            select(
                WebhookEndpoint.id,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
                WebhookEndpoint.previous_secret,
                WebhookEndpoint.previous_secret_expires_at,
            ).where(WebhookEndpoint.id.in_({c.endpoint_id for c in claimed}))
        )
    }
    events = {
        row.id: row
        for row in await session.execute(
            select(
                OutboxEvent.id,
                OutboxEvent.event_id,
                OutboxEvent.event_type,
                OutboxEvent.occurred_at,
                OutboxEvent.payload,
            ).where(OutboxEvent.id.in_({c.event_id for c in claimed}))
        )
    }
    return [
        ClaimedDelivery(
            id=c.id,
            tenant_id=c.tenant_id,
            endpoint_id=c.endpoint_id,
            url=endpoints[c.endpoint_id].url,
            secret=endpoints[c.endpoint_id].secret,
            attempts=c.attempts,
            lease_until=lease_until,
            event_id=events[c.event_id].event_id,
            event_type=events[c.event_id].event_type,
            occurred_at=events[c.event_id].occurred_at,
            payload=events[c.event_id].payload,
            previous_secret=_previous_secret(endpoints[c.endpoint_id], now),
        )
        for c in sorted(claimed, key=lambda c: c.id)
    ]


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def record_attempt(
    session: AsyncSession,
    delivery: ClaimedDelivery,
    *,
    outcome: AttemptOutcome,
    now: datetime,
    max_attempts: int,
    retry_base_seconds: float,
    retry_max_seconds: float,
) -> str | None:
    """Log the attempt and move the delivery on. Returns its new status, or ``None`` when the
    lease had been taken over by another worker (the attempt is logged, the status is not
    touched) or the delivery was deleted with its endpoint meanwhile."""
    # Locking the row first makes a concurrent delete of the endpoint (and, by cascade, of
    # this delivery) wait for us, or us see that it is gone.
    still_there = await session.scalar(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.tenant_id == delivery.tenant_id)
        .with_for_update()
    )
    if still_there is None:
        return None
    error = outcome.error[:MAX_ERROR_LENGTH] if outcome.error else None
    await session.execute(
        insert(WebhookAttempt).values(
            tenant_id=delivery.tenant_id,
            delivery_id=delivery.id,
            attempted_at=outcome.started_at,
            status_code=outcome.status_code,
            error=error,
            duration_ms=outcome.duration_ms,
        )
    )
    values: dict[str, Any] = {"last_status_code": outcome.status_code, "last_error": error}
    if outcome.succeeded:
        values.update(status=DELIVERED, delivered_at=now, last_error=None)
    elif delivery.attempts >= max_attempts:
        values.update(status=FAILED)
    else:
        values.update(
            next_attempt_at=now
            + retry_delay(
                delivery.attempts, base_seconds=retry_base_seconds, max_seconds=retry_max_seconds
            )
        )
    status = await session.scalar(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.tenant_id == delivery.tenant_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.attempts == delivery.attempts,
        )
        .values(**values)
        .returning(WebhookDelivery.status)
    )
    return status


# --- what the API shows and does -------------------------------------------------------------


async def get_endpoint(
    session: AsyncSession, *, tenant_id: int, endpoint_id: int
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id
        )
    )
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}", field="endpoint_id")
    return endpoint


def _delivery_view(
    delivery: WebhookDelivery, event: OutboxEvent, attempts: list[WebhookAttempt]
) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "subject": event.subject,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == PENDING else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
        "attempt_log": [
            {
                "attempted_at": a.attempted_at,
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ],
    }


async def list_deliveries(
    session: AsyncSession,
    *,
    tenant_id: int,
    endpoint_id: int,
    limit: int = 50,
    before_id: int | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """An endpoint's deliveries, newest first, each with its attempts, paged by ``before_id``."""
    await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    query = (
        select(WebhookDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    rows = (await session.execute(query)).all()
    attempts: dict[int, list[WebhookAttempt]] = {}
    if rows:
        for attempt in await session.scalars(
            select(WebhookAttempt)
            .where(
                WebhookAttempt.tenant_id == tenant_id,
                WebhookAttempt.delivery_id.in_([row[0].id for row in rows]),
            )
            .order_by(WebhookAttempt.id)
        ):
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return {
        "deliveries": [
            _delivery_view(delivery, event, attempts.get(delivery.id, []))
            for delivery, event in rows
        ],
        "next_before_id": rows[-1][0].id if len(rows) == limit else None,
    }


async def retry_delivery(
    session: AsyncSession, *, tenant_id: int, endpoint_id: int, delivery_id: int, now: datetime
) -> dict[str, Any]:
    """Make a delivery due now, whatever its status: one more attempt.

    A failed delivery gets one more try (it fails again at once if that one fails too); a
    delivered one is sent again, with the same ``webhook-id``; a pending one stops waiting
    for its backoff.
    """
    await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    delivery = await session.scalar(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.id == delivery_id,
        )
        .with_for_update()
    )
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id} for endpoint {endpoint_id}", field="delivery_id")
    delivery.status = PENDING
    delivery.next_attempt_at = now
    await session.flush()
    await session.refresh(delivery)
    event = await session.get_one(OutboxEvent, delivery.event_id)
    attempts = list(
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.tenant_id == tenant_id, WebhookAttempt.delivery_id == delivery.id)
            .order_by(WebhookAttempt.id)
        )
    )
    return _delivery_view(delivery, event, attempts)
