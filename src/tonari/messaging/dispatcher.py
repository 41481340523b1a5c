"""The message dispatcher: claim due ledger rows, decide, render, send, record.

Three short steps per message, none of them holding a transaction open across the network:

1. **Claim** (one transaction per batch): due rows (``queued`` and ``not_before`` passed, or
   ``sending`` whose lease ``claimed_until`` ran out because a worker died) are taken
   ``FOR UPDATE SKIP LOCKED``, highest priority first, and marked ``sending`` with a lease.
   Several workers on several machines never take the same row; rows of a campaign that is
   not running (paused, scheduled) are left queued.
2. **Decide** (one transaction per message, under an advisory lock on the customer so two
   lanes never count a customer's caps at once): consent and address → frequency caps
   counted in the customer's local day and week → quiet hours (defer moves ``not_before`` to
   the next allowed time and re-queues; drop skips) → holdout (the journey's or campaign's
   holdout and the tenant's global holdout, by hashing the customer id): a held-out message
   is recorded ``skipped``/``holdout``, a "would have sent". A customer's due
   messages of one batch are decided in priority order, so when the caps leave room for only
   some of them the higher priority wins and the others are skipped ``capped``. Then the
   template is rendered with the customer's current data; the row is marked decided. What
   is read, and in how many statements, is in ``tonari.messaging.delivery_rules``.
3. **Send** through the channel with no transaction open, then **record** ``sent`` (or the
   failure) immediately: ``sent`` is one UPDATE committed on its own (autocommit), before
   the lane decides its next message.

The duplicate window: a crash after the provider accepted a message and before step 3's
commit leaves that row ``sending``; when its lease expires another worker sends it again.
Because every message is recorded right after its own send, that window holds at most one
message per send lane (one SMTP connection) of the crashed worker, never a batch: a worker
with ``concurrency`` lanes killed at the worst moment can duplicate at most ``concurrency``
messages. Every other claimed row was either recorded or not yet sent, and is sent exactly
once. Receivers can still tell the resend: its ``Message-ID`` / ``webhook-id`` is the same.

Temporary failures are retried with exponential backoff up to ``max_attempts`` sends;
permanent ones (a refused address, a 4xx from a gateway, a template that does not render)
are recorded ``failed`` with the error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tonari.config import get_settings
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.kit.errors import TonariError
from tonari.messaging.channels import (
    Channel,
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    build_channel,
)
from tonari.messaging.delivery import TenantDelivery, load_tenant_delivery
from tonari.messaging.delivery_rules import (
    in_holdout,
    lock_and_read_customer,
    read_rules_state,
)
from tonari.messaging.rules import SentCounts, decide

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 60.0
RETRY_MAX_SECONDS = 3600.0
MAX_ERROR_LENGTH = 2000


class Transactions(Protocol):
    """What the dispatcher needs of a database: units of work (``tonari.db.Database``)."""

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]: ...


class SessionTransactions:
    """Units of work as savepoints of one enclosing session (tests, a rolled-back dry run).

    One session cannot run statements concurrently, so units of work are serialised.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._lock, self.session.begin_nested():
            yield self.session


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    id: int
    tenant_id: int
    customer_id: int
    channel: str
    template_key: str
    topic: str
    transactional: bool
    priority: int
    quiet_hours: str
    holdout_bp: int
    journey_id: int | None
    campaign_id: int | None
    context: dict[str, Any]
    attempts: int
    claimed_until: datetime


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    errors: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    lanes: int = 0
    # Seconds from the decision to "sent" recorded, one per message sent (benchmarks).
    latencies: list[float] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.sent + self.failed + sum(self.skipped.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "deferred": self.deferred,
            "retried": self.retried,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
        }


ProgressCallback = Callable[[DispatchReport], None]
ChannelFactory = Callable[[str, dict[str, Any], str | None], Channel]


def _default_channel_factory(adapter: str, settings: dict[str, Any], sender: str | None) -> Channel:
    return build_channel(adapter, settings, sender=sender)


# --- step 1: claim ------------------------------------------------------------------------------

_CLAIM = text(
    """
    WITH due AS (
        SELECT ms.id FROM message_sends ms
        WHERE ms.status IN ('queued', 'sending') AND ms.not_before <= :now
          AND (ms.status = 'queued' OR ms.claimed_until < :now)
          AND (ms.campaign_id IS NULL OR EXISTS (
                SELECT 1 FROM campaigns c WHERE c.id = ms.campaign_id AND c.status = 'running'))
        ORDER BY ms.priority DESC, ms.not_before, ms.id
        LIMIT :batch
        FOR UPDATE OF ms SKIP LOCKED
    )
    UPDATE message_sends m SET status = 'sending', claimed_until = :lease
    FROM due WHERE m.id = due.id
    RETURNING m.id, m.tenant_id, m.customer_id, m.channel, m.template_key, m.topic,
              m.transactional, m.priority, m.quiet_hours, m.holdout_bp, m.journey_id,
              m.campaign_id, m.context, m.attempts, m.claimed_until
    """
)


async def claim_due_messages(
    database: Transactions, *, now: datetime, batch: int, lease_seconds: float
) -> list[ClaimedMessage]:
    async with database.transaction() as session:
        rows = await session.execute(
            _CLAIM,
            {"now": now, "batch": batch, "lease": now + timedelta(seconds=lease_seconds)},
        )
        claimed = [ClaimedMessage(**row._asdict()) for row in rows]
    claimed.sort(key=lambda m: (-m.priority, m.id))
    return claimed


# --- step 2: decide ------------------------------------------------------------------------------

_FINISH = text(
    "UPDATE message_sends SET status = :status, reason = :reason, control_group = :group, "
    "decided_at = :at, claimed_until = NULL, error = :error WHERE id = :id"
)
_DEFER = text(
    "UPDATE message_sends SET status = 'queued', reason = 'deferred', not_before = :until, "
    "claimed_until = NULL WHERE id = :id"
)
# The lease starts again at the decision: the send that follows gets a whole lease, however
# long the message waited in its batch.
_DECIDED = text(
    "UPDATE message_sends SET control_group = 'treated', decided_at = :at, "
    "attempts = attempts + 1, reason = NULL, claimed_until = :lease WHERE id = :id"
)
_SENT = text(
    "UPDATE message_sends SET status = 'sent', reason = 'sent', provider_message_id = :provider, "
    "sent_at = :at, claimed_until = NULL, error = NULL WHERE id = :id AND status = 'sending'"
)
_RETRY = text(
    "UPDATE message_sends SET status = 'queued', reason = 'retrying', not_before = :until, "
    "claimed_until = NULL, error = :error WHERE id = :id AND status = 'sending'"
)


@dataclass(frozen=True)
class _Ready:
    """A decided message, rendered, waiting for its send."""

    claimed: ClaimedMessage
    outgoing: OutgoingMessage


class Dispatcher:
    """One dispatch run: tenant configuration cached, channels opened per lane."""

    def __init__(
        self,
        database: Transactions,
        *,
        at: datetime | None,
        base_url: str | None,
        concurrency: int,
        max_attempts: int,
        lease_seconds: float,
        channel_factory: ChannelFactory,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.database = database
        self.fixed_at = at
        self.base_url = base_url
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self.channel_factory = channel_factory
        self.on_progress = on_progress
        self.report = DispatchReport()
        self.campaigns_touched: set[int] = set()
        self._tenants: dict[int, TenantDelivery] = {}
        self._pace: dict[tuple[int, str], float] = {}
        self._secret = get_settings().messaging_secret
        self._autocommit: AsyncEngine | None = (
            database.engine.execution_options(isolation_level="AUTOCOMMIT")
            if isinstance(database, Database)
            else None
        )

    def now(self) -> datetime:
        return self.fixed_at or utcnow()

    async def _tenant(self, session: AsyncSession, tenant_id: int, at: datetime) -> TenantDelivery:
        delivery = self._tenants.get(tenant_id)
        if delivery is None:
            delivery = await load_tenant_delivery(session, tenant_id=tenant_id, at=at)
            self._tenants[tenant_id] = delivery
        return delivery

    async def run_batch(self, claimed: Sequence[ClaimedMessage]) -> None:
        """Decide and send a claimed batch; a customer's messages stay in one lane, in order."""
        by_customer: dict[tuple[int, int], list[ClaimedMessage]] = defaultdict(list)
        for message in claimed:
            by_customer[(message.tenant_id, message.customer_id)].append(message)
            if message.campaign_id is not None:
                self.campaigns_touched.add(message.campaign_id)
        work: asyncio.Queue[list[ClaimedMessage]] = asyncio.Queue()
        for messages in by_customer.values():
            work.put_nowait(messages)
        lanes = [self._lane(work) for _ in range(min(self.concurrency, len(by_customer)))]
        self.report.lanes = max(self.report.lanes, len(lanes))
        await asyncio.gather(*lanes)

    async def _lane(self, work: asyncio.Queue[list[ClaimedMessage]]) -> None:
        channels: dict[tuple[int, str], Channel] = {}
        try:
            while not work.empty():
                for message in work.get_nowait():
                    await self._one(message, channels)
                if self.on_progress is not None:
                    self.on_progress(self.report)
        finally:
            for channel in channels.values():
                try:
                    await channel.close()
                except Exception:  # closing must never lose the records already written
                    logger.exception("closing a channel failed")

    async def _one(self, message: ClaimedMessage, channels: dict[tuple[int, str], Channel]) -> None:
        started = time.perf_counter()
        try:
            ready = await self._decide(message)
        except Exception:
            # A bug or a lost database: the row keeps its lease and is taken again when the
            # lease runs out; the other messages of the batch go on.
            logger.exception("deciding message %s failed", message.id)
            self.report.errors += 1
            return
        if ready is None:
            return
        config = self._tenants[message.tenant_id].channels[message.channel]
        key = (message.tenant_id, message.channel)
        channel = channels.get(key)
        if channel is None:
            channel = self.channel_factory(config.adapter, config.settings, config.sender)
            await channel.open()
            channels[key] = channel
        await self._pace_for(key, config.rate_per_second)
        try:
            result = await channel.send(ready.outgoing)
        except TemporaryFailure as error:
            await self._retry_or_fail(message, str(error))
            return
        except PermanentFailure as error:
            await self._finish(message, "failed", "permanent_failure", "treated", str(error))
            return
        except Exception as error:  # an adapter bug: retried with backoff, never lost
            logger.exception("sending message %s failed", message.id)
            await self._retry_or_fail(message, f"{type(error).__name__}: {error}")
            return
        await self._record_sent(message, result.provider_message_id)
        self.report.sent += 1
        self.report.latencies.append(time.perf_counter() - started)

    async def _record_sent(self, message: ClaimedMessage, provider_message_id: str) -> None:
        """``sent``, committed before the next message of the lane is decided.

        One UPDATE is atomic on its own: on a real database it runs in autocommit (one round
        trip instead of BEGIN, UPDATE, COMMIT); it is durable once it returns, as a commit is.
        """
        params = {"id": message.id, "provider": provider_message_id, "at": self.now()}
        if self._autocommit is not None:
            async with self._autocommit.connect() as connection:
                await connection.execute(_SENT, params)
            return
        async with self.database.transaction() as session:
            await session.execute(_SENT, params)

    async def _pace_for(self, key: tuple[int, str], rate_per_second: int | None) -> None:
        """A channel's provider limit, per worker process: sends spaced 1/rate apart."""
        if not rate_per_second:
            return
        now = time.monotonic()
        slot = max(self._pace.get(key, now), now)
        self._pace[key] = slot + 1.0 / rate_per_second
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _finish(
        self,
        message: ClaimedMessage,
        status: str,
        reason: str,
        group: str | None,
        error: str | None = None,
    ) -> None:
        async with self.database.transaction() as session:
            await self._finish_in(session, message, status, reason, group, error)

    async def _finish_in(
        self,
        session: AsyncSession,
        message: ClaimedMessage,
        status: str,
        reason: str,
        group: str | None,
        error: str | None = None,
    ) -> None:
        await session.execute(
            _FINISH,
            {
                "id": message.id,
                "status": status,
                "reason": reason,
                "group": group,
                "at": self.now(),
                "error": error[:MAX_ERROR_LENGTH] if error else None,
            },
        )
        if status == "failed":
            self.report.failed += 1
        elif status == "skipped":
            self.report.skipped[reason] += 1

    async def _retry_or_fail(self, message: ClaimedMessage, error: str) -> None:
        attempts = message.attempts + 1  # the decide step counted this send
        if attempts >= self.max_attempts:
            await self._finish(message, "failed", "gave_up", "treated", error)
            return
        delay = min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), RETRY_MAX_SECONDS)
        async with self.database.transaction() as session:
            await session.execute(
                _RETRY,
                {
                    "id": message.id,
                    "until": self.now() + timedelta(seconds=delay),
                    "error": error[:MAX_ERROR_LENGTH],
                },
            )
        self.report.retried += 1

    async def _decide(self, message: ClaimedMessage) -> _Ready | None:
        from tonari.messaging.consents import address_of, unsubscribe_headers
        from tonari.messaging.templates import render_message

        at = self.now()
        async with self.database.transaction() as session:
            customer = await lock_and_read_customer(
                session, tenant_id=message.tenant_id, customer_id=message.customer_id
            )
            delivery = await self._tenant(session, message.tenant_id, at)
            zone = (customer.time_zone if customer is not None else None) or delivery.zone
            state = await read_rules_state(
                session,
                send_id=message.id,
                claimed_until=message.claimed_until,
                tenant_id=message.tenant_id,
                customer_id=message.customer_id,
                channel=message.channel,
                topic=message.topic,
                at=at,
                zone=zone,
                count_caps=not message.transactional,
            )
            if not state.ours:  # our lease ran out and another worker took the row
                return None
            if message.attempts >= self.max_attempts:
                await self._finish_in(
                    session, message, "failed", "gave_up", "treated", "lease expired too often"
                )
                return None
            if message.channel not in delivery.channels:
                await self._finish_in(session, message, "skipped", "no_channel", None)
                return None
            address = address_of(customer, message.channel)
            if address is None:
                await self._finish_in(session, message, "skipped", "no_address", None)
                return None
            # Transactional mail needs only the address, which we have; marketing also needs
            # the consent rule (may_contact's, without reading the customer a second time).
            consented = message.transactional or state.consented
            decision = decide(
                consented=consented,
                transactional=message.transactional,
                at=at,
                zone=zone,
                caps=delivery.caps_for(message.channel),
                counts=SentCounts() if message.transactional else state.counts,
                quiet=delivery.quiet,
                quiet_policy=message.quiet_hours,
            )
            if decision.action == "skip":
                await self._finish_in(session, message, "skipped", decision.reason, None)
                return None
            if decision.action == "defer":
                await session.execute(_DEFER, {"id": message.id, "until": decision.defer_until})
                self.report.deferred += 1
                return None
            # Held out only once every rule said "send": the holdout is "would have been sent",
            # so treated and holdout groups are comparable (same consent, caps and hours).
            if in_holdout(
                tenant_id=message.tenant_id,
                customer_id=message.customer_id,
                transactional=message.transactional,
                holdout_bp=message.holdout_bp,
                campaign_id=message.campaign_id,
                journey_id=message.journey_id,
                template_key=message.template_key,
                delivery=delivery,
            ):
                await self._finish_in(session, message, "skipped", "holdout", "holdout")
                return None
            try:
                rendered = await render_message(
                    session,
                    tenant_id=message.tenant_id,
                    customer_id=message.customer_id,
                    template_key=message.template_key,
                    channel=message.channel,
                    context={**message.context, "send_id": message.id},
                    at=at,
                    base_url=self.base_url,
                    send_id=message.id,
                    customer=customer,
                )
            except TonariError as error:
                await self._finish_in(
                    session, message, "failed", "render_error", None, f"{error.field}: {error}"
                )
                return None
            headers: dict[str, str] = {}
            if message.channel == "email" and not message.transactional and self.base_url:
                headers = unsubscribe_headers(
                    tenant_id=message.tenant_id,
                    customer_id=message.customer_id,
                    channel=message.channel,
                    topic=message.topic,
                    base_url=self.base_url,
                    secret=self._secret,
                )
            lease = self.now() + timedelta(seconds=self.lease_seconds)
            await session.execute(_DECIDED, {"id": message.id, "at": at, "lease": lease})
        return _Ready(
            message,
            OutgoingMessage(
                send_id=message.id,
                tenant_id=message.tenant_id,
                customer_id=message.customer_id,
                channel=message.channel,
                to=address,
                text=rendered.text,
                subject=rendered.subject,
                html=rendered.html,
                topic=message.topic,
                transactional=message.transactional,
                headers=headers,
            ),
        )


_FINISH_CAMPAIGNS = text(
    """
    UPDATE campaigns c SET status = 'finished', finished_at = :at
    WHERE c.id = ANY(CAST(:ids AS bigint[])) AND c.status = 'running'
      AND NOT EXISTS (SELECT 1 FROM message_sends ms
                      WHERE ms.campaign_id = c.id AND ms.status IN ('queued', 'sending'))
    """
)


def default_base_url() -> str:
    settings = get_settings()
    return settings.public_url or f"http://{settings.host}:{settings.port}"


async def dispatch_due_messages(
    database: Transactions,
    *,
    at: datetime | None = None,
    batch: int = 200,
    budget_seconds: float | None = None,
    base_url: str | None = None,
    concurrency: int | None = None,
    lease_seconds: float | None = None,
    max_attempts: int | None = None,
    channel_factory: ChannelFactory | None = None,
    on_progress: ProgressCallback | None = None,
) -> DispatchReport:
    """Send every due message (or until ``budget_seconds`` ran out), batch by batch.

    ``at`` fixes the clock for the whole run (tests, replays); otherwise each step takes the
    current time. Safe to run in any number of processes at once.
    """
    settings = get_settings()
    started = time.monotonic()
    lease = lease_seconds if lease_seconds is not None else settings.messaging_lease_seconds
    dispatcher = Dispatcher(
        database,
        at=at,
        base_url=base_url or default_base_url(),
        concurrency=concurrency or settings.messaging_concurrency,
        max_attempts=max_attempts or settings.messaging_max_attempts,
        lease_seconds=lease,
        channel_factory=channel_factory or _default_channel_factory,
        on_progress=on_progress,
    )
    if isinstance(database, SessionTransactions):
        dispatcher.concurrency = 1
    while True:
        claimed = await claim_due_messages(
            database, now=dispatcher.now(), batch=batch, lease_seconds=lease
        )
        if not claimed:
            break
        dispatcher.report.claimed += len(claimed)
        await dispatcher.run_batch(claimed)
        if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            break
    if dispatcher.campaigns_touched:
        async with database.transaction() as session:
            await session.execute(
                _FINISH_CAMPAIGNS,
                {"ids": sorted(dispatcher.campaigns_touched), "at": dispatcher.now()},
            )
    dispatcher.report.seconds = time.monotonic() - started
    return dispatcher.report
