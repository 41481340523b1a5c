"""The message dispatcher: claim due ledger rows, decide them in chunks, send, record.

Three steps, none of them holding a transaction open across the network:

1. **Claim** (one transaction per batch): due rows (``queued`` and ``not_before`` passed, or
   ``sending`` whose lease ``claimed_until`` ran out because a worker died) are taken
   ``FOR UPDATE SKIP LOCKED``, highest priority first, and marked ``sending`` with a lease.
   Several workers on several machines never take the same row; rows of a campaign that is
   not running (paused, scheduled) are left queued.
2. **Decide** (one transaction per chunk of up to ``DECIDE_CHUNK`` messages, whole customers,
   under advisory locks on the chunk's customers so two lanes or workers never count a
   customer's caps at once; ``tonari.messaging.deciding``): consent and address → frequency
   caps counted in the customer's local day and week → quiet hours (defer moves
   ``not_before`` to the next allowed time and re-queues; drop skips) → holdout (the
   journey's or campaign's holdout and the tenant's global holdout, by hashing the customer
   id): a held-out message is recorded ``skipped``/``holdout``, a "would have sent". A
   customer's messages are decided in priority order, so when the caps leave room for only
   some of them the higher priority wins and the others are skipped ``capped``. Then the
   template is rendered with the customer's current data, and every outcome of the chunk is
   written in one statement. The next chunk is decided while this one is being sent, at
   most ``PREFETCH_CHUNKS`` ahead of the senders.
3. **Send** through the channel on ``concurrency`` lanes (one connection each) with no
   transaction open, then **record** ``sent`` (or the failure): ``sent`` rows are committed
   by ``tonari.messaging.sent_records``, several per UPDATE under load.

The duplicate window: a crash after a provider accepted a message and before its ``sent``
was committed leaves that row ``sending``; when its lease expires another worker sends it
again. A send takes one of ``concurrency`` slots before it reaches the provider and frees it
only once its record is committed, so at most ``concurrency`` messages of a worker are ever
accepted-but-unrecorded: a worker killed at the worst moment duplicates at most
``concurrency`` messages (one per lane), never a batch. Every other claimed row was either
recorded or not yet sent, and is sent exactly once. Receivers can still tell the resend: its
``Message-ID`` / ``webhook-id`` is the same.

Temporary failures are retried with exponential backoff up to ``max_attempts`` sends;
permanent ones (a refused address, a 4xx from a gateway, a template that does not render)
are recorded ``failed`` with the error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
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
from tonari.messaging.channels import (
    Channel,
    PermanentFailure,
    TemporaryFailure,
    build_channel,
)
from tonari.messaging.deciding import (
    MAX_ERROR_LENGTH,
    ChunkDecider,
    ClaimedMessage,
    DecidedChunk,
    ReadyMessage,
    TenantDeliveries,
)
from tonari.messaging.sent_records import SentRecorder, SentRow

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 60.0
RETRY_MAX_SECONDS = 3600.0
# Messages decided per transaction: larger chunks cost fewer statements per message, smaller
# ones hold the customers' locks for less time and start sending sooner.
DECIDE_CHUNK = 50
# Decided chunks waiting for a lane: enough to keep the lanes busy while the next is decided.
PREFETCH_CHUNKS = 1

__all__ = [
    "ClaimedMessage",
    "DispatchReport",
    "SessionTransactions",
    "claim_due_messages",
    "dispatch_due_messages",
]


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

    def add(self, chunk: DecidedChunk) -> None:
        self.failed += chunk.failed
        self.deferred += chunk.deferred
        self.errors += chunk.errors
        self.skipped.update(chunk.skipped)

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


# --- steps 2 and 3: decide, send, record ---------------------------------------------------------

_FINISH = text(
    "UPDATE message_sends SET status = :status, reason = :reason, control_group = :group, "
    "decided_at = :at, claimed_until = NULL, error = :error WHERE id = :id"
)
_SENT = text(
    """
    UPDATE message_sends m SET status = 'sent', reason = 'sent', provider_message_id = v.provider,
        sent_at = v.sent_at, claimed_until = NULL, error = NULL
    FROM unnest(CAST(:ids AS bigint[]), CAST(:providers AS text[]),
                CAST(:sent_ats AS timestamptz[])) AS v(id, provider, sent_at)
    WHERE m.id = v.id AND m.status = 'sending'
    """
)
_RETRY = text(
    "UPDATE message_sends SET status = 'queued', reason = 'retrying', not_before = :until, "
    "claimed_until = NULL, error = :error WHERE id = :id AND status = 'sending'"
)

# The next free slot of a rate-limited channel, and the seconds until it comes.
_RESERVE_SLOT = text(
    """
    UPDATE messaging_channels
    SET next_send_at = greatest(next_send_at, clock_timestamp()) + make_interval(secs => :gap)
    WHERE tenant_id = :tenant AND channel = :channel
    RETURNING extract(epoch FROM next_send_at - make_interval(secs => :gap) - clock_timestamp())
    """
)

# Work for the lanes: one customer's decided messages, or None (no more work).
_LaneWork = asyncio.Queue[list[tuple[ReadyMessage, float]] | None]


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
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self.channel_factory = channel_factory
        self.on_progress = on_progress
        self.report = DispatchReport()
        self.campaigns_touched: set[int] = set()
        self.deliveries = TenantDeliveries()
        self.decider = ChunkDecider(
            deliveries=self.deliveries,
            max_attempts=max_attempts,
            base_url=base_url,
            secret=get_settings().messaging_secret,
        )
        self._stopped = False
        self._autocommit: AsyncEngine | None = (
            database.engine.execution_options(isolation_level="AUTOCOMMIT")
            if isinstance(database, Database)
            else None
        )

    def now(self) -> datetime:
        return self.fixed_at or utcnow()

    async def run_batch(self, claimed: Sequence[ClaimedMessage]) -> None:
        """Decide a claimed batch chunk by chunk while the lanes send what is decided."""
        by_customer: dict[tuple[int, int], list[ClaimedMessage]] = {}
        for message in claimed:
            by_customer.setdefault((message.tenant_id, message.customer_id), []).append(message)
            if message.campaign_id is not None:
                self.campaigns_touched.add(message.campaign_id)
        chunks = _chunks(list(by_customer.values()), DECIDE_CHUNK)
        lane_count = max(1, min(self.concurrency, len(by_customer)))
        self.report.lanes = max(self.report.lanes, lane_count)
        work: _LaneWork = asyncio.Queue(maxsize=max(PREFETCH_CHUNKS * DECIDE_CHUNK, lane_count))
        recorder = SentRecorder(self._record_sent, limit=lane_count)
        lanes = [asyncio.create_task(self._lane(work, recorder)) for _ in range(lane_count)]
        try:
            for chunk in chunks:
                if self._stopped:
                    break
                started = time.perf_counter()
                decided = await self._decide(chunk)
                for ready in decided.ready:
                    await work.put([(item, started) for item in ready])
                if self.on_progress is not None:
                    self.on_progress(self.report)
        finally:
            for _ in lanes:
                await work.put(None)
            outcomes = await asyncio.gather(*lanes, return_exceptions=True)
            await recorder.close()
        self.report.latencies.extend(recorder.latencies)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _decide(self, chunk: Sequence[Sequence[ClaimedMessage]]) -> DecidedChunk:
        at = self.now()
        try:
            async with self.database.transaction() as session:
                decided = await self.decider.decide(
                    session,
                    chunk,
                    at=at,
                    lease_until=self.now() + timedelta(seconds=self.lease_seconds),
                )
        except Exception:
            # A bug or a lost database: the rows keep their lease and are taken again when it
            # runs out; the other chunks of the batch go on.
            logger.exception("deciding a chunk of %d customers failed", len(chunk))
            self.report.errors += sum(len(group) for group in chunk)
            return DecidedChunk()
        self.report.add(decided)
        return decided

    async def _lane(self, work: _LaneWork, recorder: SentRecorder) -> None:
        channels: dict[tuple[int, str], Channel] = {}
        failure: Exception | None = None
        try:
            while (items := await work.get()) is not None:
                if failure is not None:
                    continue  # drained unsent: the rows keep their lease and go out later
                try:
                    for ready, started in items:
                        await self._send(ready, started, channels, recorder)
                except Exception as error:  # the ledger or a channel is gone: stop this run
                    failure = error
                    self._stopped = True
                if self.on_progress is not None:
                    self.on_progress(self.report)
        finally:
            for channel in channels.values():
                try:
                    await channel.close()
                except Exception:  # closing must never lose the records already written
                    logger.exception("closing a channel failed")
        if failure is not None:
            raise failure

    async def _send(
        self,
        ready: ReadyMessage,
        started: float,
        channels: dict[tuple[int, str], Channel],
        recorder: SentRecorder,
    ) -> None:
        message = ready.claimed
        config = self.deliveries[message.tenant_id].channels[message.channel]
        key = (message.tenant_id, message.channel)
        channel = channels.get(key)
        if channel is None:
            channel = self.channel_factory(config.adapter, config.settings, config.sender)
            await channel.open()
            channels[key] = channel
        await self._pace_for(key, config.rate_per_second)
        await recorder.reserve()
        try:
            result = await channel.send(ready.outgoing)
        except Exception as error:
            try:
                await self._failed_send(message, error)
            finally:
                recorder.release()
            return
        recorder.sent(SentRow(message.id, result.provider_message_id, self.now(), started))
        self.report.sent += 1

    async def _failed_send(self, message: ClaimedMessage, error: Exception) -> None:
        if isinstance(error, TemporaryFailure):
            await self._retry_or_fail(message, str(error))
        elif isinstance(error, PermanentFailure):
            await self._finish(message, "failed", "permanent_failure", "treated", str(error))
        else:  # an adapter bug: retried with backoff, never lost
            logger.error("sending message %s failed", message.id, exc_info=error)
            await self._retry_or_fail(message, f"{type(error).__name__}: {error}")

    async def _record_sent(self, rows: Sequence[SentRow]) -> None:
        """``sent`` for these rows, committed: one UPDATE, atomic on its own.

        On a real database it runs in autocommit (one round trip instead of BEGIN, UPDATE,
        COMMIT); it is durable once it returns, as a commit is.
        """
        params = {
            "ids": [row.send_id for row in rows],
            "providers": [row.provider_message_id for row in rows],
            "sent_ats": [row.sent_at for row in rows],
        }
        if self._autocommit is not None:
            async with self._autocommit.connect() as connection:
                await connection.execute(_SENT, params)
            return
        async with self.database.transaction() as session:
            await session.execute(_SENT, params)

    async def _pace_for(self, key: tuple[int, str], rate_per_second: int | None) -> None:
        """A channel's provider limit, for the whole cluster: each send reserves the next slot
        of the channel's row (``next_send_at`` moves on by 1/rate, on the database's clock, so
        workers on machines with skewed clocks share one schedule) and waits for it."""
        if not rate_per_second:
            return
        params = {"tenant": key[0], "channel": key[1], "gap": 1.0 / rate_per_second}
        if self._autocommit is not None:
            async with self._autocommit.connect() as connection:
                wait = (await connection.execute(_RESERVE_SLOT, params)).scalar()
        else:
            async with self.database.transaction() as session:
                wait = (await session.execute(_RESERVE_SLOT, params)).scalar()
        if wait is not None and wait > 0:
            await asyncio.sleep(float(wait))

    async def _finish(
        self,
        message: ClaimedMessage,
        status: str,
        reason: str,
        group: str | None,
        error: str | None = None,
    ) -> None:
        async with self.database.transaction() as session:
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


def _chunks(groups: list[list[ClaimedMessage]], size: int) -> list[list[list[ClaimedMessage]]]:
    """Whole customers per chunk, about ``size`` messages each (a customer is never split)."""
    chunks: list[list[list[ClaimedMessage]]] = []
    current: list[list[ClaimedMessage]] = []
    count = 0
    for group in groups:
        if current and count + len(group) > size:
            chunks.append(current)
            current, count = [], 0
        current.append(group)
        count += len(group)
    if current:
        chunks.append(current)
    return chunks


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
