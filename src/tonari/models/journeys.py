"""Journeys (triggers), their durable per-customer instances and the step audit log.

``journey_instances`` is unique on (journey, customer, entity key, run): whatever a retry, a
restart or two workers do, one entry event makes one instance. ``run`` grows only when the
journey's re-entry policy lets a customer start again after a finished run, so the same
constraint also guards the second run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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


class Journey(TenantScoped, Base):
    __tablename__ = "journeys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        Index("ix_journeys_tenant_entry", "tenant_id", "entry_kind", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    # The shipped template it was enabled from (None for a custom journey).
    template: Mapped[str | None] = mapped_column(String(80))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # What starts it, for the lookup per reaction: an event kind, "segment.entered" or "date".
    entry_kind: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    priority: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    holdout_bp: Mapped[int] = mapped_column(Integer, server_default="0")
    quiet_hours: Mapped[str] = mapped_column(String(8), server_default="defer")
    reentry: Mapped[str] = mapped_column(String(16), server_default="never")
    reentry_days: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class JourneyInstance(TenantScoped, Base):
    __tablename__ = "journey_instances"
    __table_args__ = (
        UniqueConstraint("journey_id", "customer_id", "entity_key", "run"),
        # The due-instances worker's queue.
        Index(
            "ix_journey_instances_due",
            "wake_at",
            postgresql_where=text("status = 'waiting'"),
        ),
        # Events resolve the waits and goals of the customer's live instances.
        Index(
            "ix_journey_instances_live_customer",
            "tenant_id",
            "customer_id",
            postgresql_where=text("status IN ('active', 'waiting')"),
        ),
        Index("ix_journey_instances_journey_status", "journey_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    # The entity the instance is about (a cart id, "birthday:2026"); '' for one per customer.
    entity_key: Mapped[str] = mapped_column(Text, server_default="")
    run: Mapped[int] = mapped_column(Integer, server_default="1")
    # active → waiting ↔ active → completed | exited | converted
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    # The step being waited on (or None: not started, wake_at is the start).
    step_key: Mapped[str | None] = mapped_column(String(80))
    wake_at: Mapped[datetime | None]
    waiting_kind: Mapped[str | None] = mapped_column(String(80))
    waiting_key: Mapped[str | None] = mapped_column(Text)
    timeout_at: Mapped[datetime | None]
    # Variables: the chosen branches, the cart, the promo code issued, visits per step.
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    control_group: Mapped[str | None] = mapped_column(String(8))
    entered_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    converted_at: Mapped[datetime | None]
    attempt: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime] = created_at_column()


class JourneyStepLog(TenantScoped, Base):
    """One row per step an instance went through: the audit trail and per-step statistics."""

    __tablename__ = "journey_step_log"
    __table_args__ = (
        Index("ix_journey_step_log_journey_step", "journey_id", "step_key"),
        Index("ix_journey_step_log_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    journey_id: Mapped[int] = mapped_column(BigInteger)
    instance_id: Mapped[int] = mapped_column(ForeignKey("journey_instances.id", ondelete="CASCADE"))
    step_key: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
