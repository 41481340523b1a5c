"""Delivery configuration and mass mailings: channels per tenant, the messaging policy, campaigns.

A channel row says which adapter (SMTP, HTTP webhook, file, web push) carries a tenant's
email, SMS, push or web push, with the adapter's settings (secrets included: they are never
echoed back by the API). The policy row holds the caps, quiet hours and global holdout that
the dispatcher applies at send time. A campaign is a mass mailing to a segment; its messages
are rows of the send ledger (``message_sends.campaign_id``).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, Time, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class MessagingChannel(TenantScoped, Base):
    __tablename__ = "messaging_channels"
    __table_args__ = (UniqueConstraint("tenant_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | push | web_push
    adapter: Mapped[str] = mapped_column(String(16))  # smtp | webhook | file | webpush
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    sender: Mapped[str | None] = mapped_column(String(320))
    rate_per_second: Mapped[int | None] = mapped_column(Integer)
    # The provider's next free send slot under ``rate_per_second``, shared by every worker.
    next_send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    per_day: Mapped[int | None] = mapped_column(Integer)
    per_week: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class MessagingPolicy(TenantScoped, Base):
    """One row per tenant; a tenant without one has no caps, no quiet hours, no holdout."""

    __tablename__ = "messaging_policies"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    per_day: Mapped[int | None] = mapped_column(Integer)
    per_week: Mapped[int | None] = mapped_column(Integer)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    holdout_bp: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime] = created_at_column()


class Campaign(TenantScoped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    segment_key: Mapped[str | None] = mapped_column(String(80))
    definition: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    channel: Mapped[str] = mapped_column(String(16))
    template_key: Mapped[str] = mapped_column(String(80))
    topic: Mapped[str] = mapped_column(String(64), server_default="marketing")
    priority: Mapped[int] = mapped_column(Integer, server_default="0")
    # draft → scheduled → running ⇄ paused → finished; cancelled from any unfinished state
    status: Mapped[str] = mapped_column(String(16), server_default="draft")
    send_rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    holdout_bp: Mapped[int] = mapped_column(Integer, server_default="0")
    audience_size: Mapped[int] = mapped_column(Integer, server_default="0")
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
