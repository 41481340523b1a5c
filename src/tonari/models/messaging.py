"""Message templates and the send ledger: one row per message decided, before it is sent.

The ledger's partial unique indexes are what make "never the same message twice" hold: a
journey step, a campaign or a transactional idempotency key can queue its message only once,
whatever retries, restarts or parallel workers do. ``campaign_id`` and ``journey_instance_id``
carry no foreign key because their tables belong to the campaigns and journeys modules; the
send ledger must outlive a deleted journey anyway, as the record of what was sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class MessageTemplate(TenantScoped, Base):
    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "key", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(64), server_default="marketing")
    transactional: Mapped[bool] = mapped_column(Boolean, server_default="false")
    subject: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class MessageSend(TenantScoped, Base):
    __tablename__ = "message_sends"
    __table_args__ = (
        Index(
            "uq_message_sends_journey_step",
            "journey_instance_id",
            "step_key",
            "channel",
            unique=True,
            postgresql_where=text("journey_instance_id IS NOT NULL"),
        ),
        Index(
            "uq_message_sends_campaign_customer",
            "campaign_id",
            "customer_id",
            "channel",
            unique=True,
            postgresql_where=text("campaign_id IS NOT NULL"),
        ),
        Index(
            "uq_message_sends_idempotency",
            "tenant_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        # The dispatcher's queue: what is due, oldest first.
        Index(
            "ix_message_sends_due",
            "not_before",
            "id",
            postgresql_where=text("status IN ('queued', 'sending')"),
        ),
        # Frequency caps count a customer's recent sends.
        Index("ix_message_sends_customer_sent", "tenant_id", "customer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    template_key: Mapped[str] = mapped_column(String(80))
    topic: Mapped[str] = mapped_column(String(64), server_default="marketing")
    transactional: Mapped[bool] = mapped_column(Boolean, server_default="false")
    priority: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    quiet_hours: Mapped[str] = mapped_column(String(8), server_default="defer")  # or "drop"
    holdout_bp: Mapped[int] = mapped_column(Integer, server_default="0")
    journey_id: Mapped[int | None] = mapped_column(BigInteger)
    journey_instance_id: Mapped[int | None] = mapped_column(BigInteger)
    step_key: Mapped[str | None] = mapped_column(String(80))
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # Extra template variables fixed when queued (the cart, the promo code just issued).
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # queued → sending → sent | skipped | failed
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    reason: Mapped[str | None] = mapped_column(String(40))
    control_group: Mapped[str | None] = mapped_column(String(8))  # treated | holdout
    not_before: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    decided_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
