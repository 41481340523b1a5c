"""Behavioural events (views, carts, logins, e-mail clicks) and what keeps them idempotent.

``customer_events`` is partitioned by month of ``occurred_at`` (see migration 0010 and
``tonari.events.partitions``): a partition's primary key must contain the partition key, so
a unique ``event_id`` cannot be enforced there across months. ``customer_event_ids`` is the
small unpartitioned table that holds that uniqueness instead; ingest claims ids there first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Identity,
    Index,
    PrimaryKeyConstraint,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class CustomerEvent(TenantScoped, Base):
    __tablename__ = "customer_events"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "occurred_at", "id"),
        # The timeline reads one customer's events newest first.
        Index("ix_customer_events_customer", "tenant_id", "customer_id", "occurred_at"),
        # Segment conditions read one event type in a time window (index-only).
        Index(
            "ix_customer_events_type_time",
            "tenant_id",
            "event_type",
            "occurred_at",
            postgresql_include=["customer_id", "entity_id"],
        ),
        # Stitching finds an anonymous visitor's events when they log in.
        Index(
            "ix_customer_events_anonymous",
            "tenant_id",
            "anonymous_id",
            postgresql_where=text("anonymous_id IS NOT NULL"),
        ),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    anonymous_id: Mapped[str | None] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str | None] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]


class CustomerEventId(Base):
    """One row per stored event: the caller's id is unique per tenant across all months.

    ``tenant_id`` has no foreign key here, unlike every other table: this is a pure
    de-duplication index written once per event on the ingest hot path, where the per-row
    foreign-key check cost about a tenth of a batch's time (bench/bench_events.py). The id
    always comes from the authenticated key, never from input; purging a tenant must delete
    its rows here too (``customer_events`` itself cascades).
    """

    __tablename__ = "customer_event_ids"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "event_id"),)

    tenant_id: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(128))
    # Where the event lives, so a duplicate can be found without scanning every partition.
    occurred_at: Mapped[datetime]


class AnonymousLink(TenantScoped, Base):
    """An anonymous visitor (cookie, device) known to be this customer since a login."""

    __tablename__ = "anonymous_links"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "anonymous_id"),)

    anonymous_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    linked_at: Mapped[datetime] = created_at_column()
