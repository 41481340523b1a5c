"""Per-tenant delivery configuration: which adapter carries each channel, and the policy.

The channel row holds the adapter's settings, secrets included; views returned to callers
mask every secret field (``secret_fields`` of the adapter class) and a PUT that leaves a
secret out (or sends the mask back) keeps the stored one, so a panel can round-trip a form
without ever seeing a password. The policy (caps, quiet hours, global holdout) is one row per
tenant; no row means no caps, no quiet hours and no holdout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import NotFound, ValidationFailed
from tonari.messaging.channels import ADAPTERS
from tonari.messaging.queue import CHANNELS
from tonari.messaging.rules import Caps, QuietHours
from tonari.models.delivery import MessagingChannel, MessagingPolicy

SECRET_MASK = "********"
MAX_HOLDOUT_BP = 10_000


def _check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise ValidationFailed(
            f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}", field="channel"
        )


def adapters_for(channel: str) -> list[str]:
    return sorted(name for name, klass in ADAPTERS.items() if channel in klass.channels)


def _validated_settings(adapter: str, settings: dict[str, Any]) -> dict[str, Any]:
    klass = ADAPTERS[adapter]
    try:
        parsed = klass.Settings.model_validate(settings)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise ValidationFailed(
            f"settings.{place}: {first['msg']}",
            field=f"settings.{place}" if place else "settings",
            details={"errors": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()]},
        ) from None
    return parsed.model_dump(mode="json")


def _check_limit(value: int | None, name: str) -> None:
    if value is not None and not 0 <= value <= 1_000_000:
        raise ValidationFailed(f"{name} is between 0 and 1000000", field=name)


async def configure_channel(
    session: AsyncSession,
    *,
    tenant_id: int,
    channel: str,
    adapter: str,
    settings: dict[str, Any],
    at: datetime,
    sender: str | None = None,
    rate_per_second: int | None = None,
    per_day: int | None = None,
    per_week: int | None = None,
    allow_private_addresses: bool = False,
) -> MessagingChannel:
    """Create or replace the tenant's configuration of one channel."""
    _check_channel(channel)
    if adapter not in adapters_for(channel):
        raise ValidationFailed(
            f"adapter {adapter!r} cannot carry {channel}; use one of "
            f"{', '.join(adapters_for(channel))}",
            field="adapter",
        )
    if rate_per_second is not None and not 1 <= rate_per_second <= 100_000:
        raise ValidationFailed("rate_per_second is between 1 and 100000", field="rate_per_second")
    _check_limit(per_day, "per_day")
    _check_limit(per_week, "per_week")
    existing = await _channel_row(session, tenant_id=tenant_id, channel=channel)
    merged = dict(settings)
    for secret in ADAPTERS[adapter].secret_fields:
        if merged.get(secret) in (None, SECRET_MASK):
            merged.pop(secret, None)
            kept = existing is not None and existing.adapter == adapter
            if kept and existing is not None and existing.settings.get(secret) is not None:
                merged[secret] = existing.settings[secret]
    stored = _validated_settings(adapter, merged)
    if adapter == "webhook":
        from tonari.webhooks.addresses import check_endpoint_url

        try:
            check_endpoint_url(stored["url"], allow_private=allow_private_addresses)
        except ValidationFailed as error:
            error.field = "settings.url"
            raise
    values = {
        "adapter": adapter,
        "settings": stored,
        "sender": sender,
        "rate_per_second": rate_per_second,
        "per_day": per_day,
        "per_week": per_week,
        "updated_at": at,
    }
    await session.execute(
        insert(MessagingChannel)
        .values(tenant_id=tenant_id, channel=channel, created_at=at, **values)
        .on_conflict_do_update(index_elements=["tenant_id", "channel"], set_=values)
    )
    row = await _channel_row(session, tenant_id=tenant_id, channel=channel)
    assert row is not None
    return row


async def _channel_row(
    session: AsyncSession, *, tenant_id: int, channel: str
) -> MessagingChannel | None:
    return await session.scalar(
        select(MessagingChannel)
        .where(MessagingChannel.tenant_id == tenant_id, MessagingChannel.channel == channel)
        .execution_options(populate_existing=True)
    )


async def get_channel(session: AsyncSession, *, tenant_id: int, channel: str) -> MessagingChannel:
    _check_channel(channel)
    row = await _channel_row(session, tenant_id=tenant_id, channel=channel)
    if row is None:
        raise NotFound(f"the {channel} channel is not configured", field="channel")
    return row


def channel_view(row: MessagingChannel) -> dict[str, Any]:
    """What the API shows: every secret replaced by the mask."""
    secrets = ADAPTERS[row.adapter].secret_fields
    settings = {
        name: (SECRET_MASK if name in secrets and value is not None else value)
        for name, value in row.settings.items()
    }
    return {
        "channel": row.channel,
        "adapter": row.adapter,
        "settings": settings,
        "sender": row.sender,
        "rate_per_second": row.rate_per_second,
        "per_day": row.per_day,
        "per_week": row.per_week,
        "updated_at": row.updated_at,
    }


async def set_policy(
    session: AsyncSession,
    *,
    tenant_id: int,
    at: datetime,
    per_day: int | None = None,
    per_week: int | None = None,
    quiet_start: time | None = None,
    quiet_end: time | None = None,
    holdout_bp: int = 0,
) -> MessagingPolicy:
    """Replace the tenant's messaging policy (caps, quiet hours, global holdout)."""
    _check_limit(per_day, "per_day")
    _check_limit(per_week, "per_week")
    if (quiet_start is None) != (quiet_end is None):
        field_name = "quiet_end" if quiet_end is None else "quiet_start"
        raise ValidationFailed("give both quiet_start and quiet_end, or neither", field=field_name)
    if quiet_start is not None and quiet_start == quiet_end:
        raise ValidationFailed("quiet hours must not start and end at once", field="quiet_end")
    if not 0 <= holdout_bp <= MAX_HOLDOUT_BP:
        raise ValidationFailed("holdout_bp is between 0 and 10000", field="holdout_bp")
    values = {
        "per_day": per_day,
        "per_week": per_week,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "holdout_bp": holdout_bp,
        "updated_at": at,
    }
    await session.execute(
        insert(MessagingPolicy)
        .values(tenant_id=tenant_id, **values)
        .on_conflict_do_update(index_elements=["tenant_id"], set_=values)
    )
    return await get_policy(session, tenant_id=tenant_id)


async def get_policy(session: AsyncSession, *, tenant_id: int) -> MessagingPolicy:
    row = await session.scalar(
        select(MessagingPolicy)
        .where(MessagingPolicy.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    )
    return row or MessagingPolicy(tenant_id=tenant_id, holdout_bp=0)


def policy_view(row: MessagingPolicy) -> dict[str, Any]:
    return {
        "per_day": row.per_day,
        "per_week": row.per_week,
        "quiet_start": row.quiet_start,
        "quiet_end": row.quiet_end,
        "holdout_bp": row.holdout_bp or 0,
    }


# --- what the dispatcher reads ----------------------------------------------------------------


@dataclass(frozen=True)
class ChannelConfig:
    adapter: str
    settings: dict[str, Any]
    sender: str | None
    rate_per_second: int | None
    per_day: int | None
    per_week: int | None


@dataclass(frozen=True)
class TenantDelivery:
    """One tenant's delivery rules, loaded once per dispatch run."""

    tenant_id: int
    zone: str
    per_day: int | None = None
    per_week: int | None = None
    quiet: QuietHours | None = None
    holdout_bp: int = 0
    channels: dict[str, ChannelConfig] = field(default_factory=dict)

    def caps_for(self, channel: str) -> Caps:
        config = self.channels.get(channel)
        return Caps(
            per_day=self.per_day,
            per_week=self.per_week,
            channel_per_day=config.per_day if config else None,
            channel_per_week=config.per_week if config else None,
        )


async def load_tenant_delivery(
    session: AsyncSession, *, tenant_id: int, at: datetime
) -> TenantDelivery:
    from tonari.programs.service import programme_in_force

    try:
        _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
        zone = programme.timezone
    except NotFound:
        zone = "UTC"
    policy = await get_policy(session, tenant_id=tenant_id)
    rows = await session.scalars(
        select(MessagingChannel).where(MessagingChannel.tenant_id == tenant_id)
    )
    channels = {
        row.channel: ChannelConfig(
            row.adapter,
            dict(row.settings),
            row.sender,
            row.rate_per_second,
            row.per_day,
            row.per_week,
        )
        for row in rows
    }
    quiet = None
    if policy.quiet_start is not None and policy.quiet_end is not None:
        quiet = QuietHours(start=policy.quiet_start, end=policy.quiet_end)
    return TenantDelivery(
        tenant_id=tenant_id,
        zone=zone,
        per_day=policy.per_day,
        per_week=policy.per_week,
        quiet=quiet,
        holdout_bp=policy.holdout_bp or 0,
        channels=channels,
    )
