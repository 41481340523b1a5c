"""Queue a message in the send ledger, in the caller's transaction, at most once per key.

The row is written before anything is sent; its unique keys (journey instance + step +
channel, campaign + customer + channel, or an idempotency key) make a retried step, a
restarted campaign or two workers queue the same message only once. The dispatcher decides
(consent, caps, quiet hours, holdout) and sends later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import ValidationFailed
from tonari.models.messaging import MessageSend

CHANNELS = ("email", "sms", "push", "web_push")


async def queue_message(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    channel: str,
    template_key: str,
    at: datetime,
    topic: str = "marketing",
    transactional: bool = False,
    priority: int = 0,
    quiet_hours: str = "defer",
    holdout_bp: int = 0,
    journey_id: int | None = None,
    journey_instance_id: int | None = None,
    step_key: str | None = None,
    campaign_id: int | None = None,
    idempotency_key: str | None = None,
    context: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """The new ledger row's id, or ``None`` when this message was already queued."""
    if channel not in CHANNELS:
        raise ValidationFailed(
            f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}", field="channel"
        )
    if quiet_hours not in ("defer", "drop"):
        raise ValidationFailed("quiet_hours is 'defer' or 'drop'", field="quiet_hours")
    keys = {
        "journey": journey_instance_id is not None and step_key is not None,
        "campaign": campaign_id is not None,
        "idempotency": idempotency_key is not None,
    }
    if not any(keys.values()):
        raise ValidationFailed(
            "a message needs a journey step, a campaign or an idempotency key",
            field="idempotency_key",
        )
    statement = (
        insert(MessageSend)
        .values(
            tenant_id=tenant_id,
            customer_id=customer_id,
            channel=channel,
            template_key=template_key,
            topic=topic,
            transactional=transactional,
            priority=priority,
            quiet_hours=quiet_hours,
            holdout_bp=holdout_bp,
            journey_id=journey_id,
            journey_instance_id=journey_instance_id,
            step_key=step_key,
            campaign_id=campaign_id,
            idempotency_key=idempotency_key,
            context=context or {},
            not_before=not_before or at,
            created_at=at,
        )
        .on_conflict_do_nothing()
        .returning(MessageSend.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def notify_dispatcher(session: AsyncSession) -> None:
    """Wake idle dispatchers on commit instead of waiting for their next poll."""
    await session.execute(text("NOTIFY tonari_messages"))
