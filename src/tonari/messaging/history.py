"""What was sent: one customer's messages, and a journey's sends by outcome.

Read from the send ledger (``message_sends``): one row per message decided or still queued,
with its status (queued, sending, sent, skipped, failed) and, when skipped, the reason
(no consent, frequency cap, holdout, quiet hours, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.models.delivery import Campaign
from tonari.models.journeys import Journey
from tonari.models.messaging import MessageSend


@dataclass(frozen=True, slots=True)
class SentMessage:
    channel: str
    template_key: str
    status: str
    reason: str | None
    campaign: str | None
    journey: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(slots=True)
class SendCounts:
    sent: int = 0
    queued: int = 0
    failed: int = 0
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)


async def customer_messages(
    session: AsyncSession, *, tenant_id: int, customer_id: int, limit: int = 20
) -> list[SentMessage]:
    """The customer's latest messages, newest first."""
    rows = await session.execute(
        select(
            MessageSend.channel,
            MessageSend.template_key,
            MessageSend.status,
            MessageSend.reason,
            Campaign.key,
            Journey.key,
            MessageSend.created_at,
            MessageSend.sent_at,
        )
        .outerjoin(Campaign, Campaign.id == MessageSend.campaign_id)
        .outerjoin(Journey, Journey.id == MessageSend.journey_id)
        .where(MessageSend.tenant_id == tenant_id, MessageSend.customer_id == customer_id)
        .order_by(MessageSend.created_at.desc(), MessageSend.id.desc())
        .limit(limit)
    )
    return [SentMessage(*row) for row in rows]


async def journey_send_counts(
    session: AsyncSession, *, tenant_id: int, journey_ids: Sequence[int]
) -> dict[int, SendCounts]:
    """Per journey: messages by status, and the skipped ones by reason."""
    counts = {journey_id: SendCounts() for journey_id in journey_ids}
    if not journey_ids:
        return counts
    rows = await session.execute(
        select(MessageSend.journey_id, MessageSend.status, MessageSend.reason, func.count())
        .where(MessageSend.tenant_id == tenant_id, MessageSend.journey_id.in_(list(journey_ids)))
        .group_by(MessageSend.journey_id, MessageSend.status, MessageSend.reason)
    )
    for journey_id, status, reason, count in rows:
        item = counts[int(journey_id or 0)]
        if status == "skipped":
            item.skipped += count
            label = reason or "unknown"
            item.skipped_by_reason[label] = item.skipped_by_reason.get(label, 0) + count
        elif status == "sent":
            item.sent += count
        elif status == "failed":
            item.failed += count
        else:  # queued, sending
            item.queued += count
    return counts
