"""Segments (a JSON definition compiled to one SQL query) and who is in each one now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, PrimaryKeyConstraint, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column
from tonari.models.ledger import PointLot


class Segment(TenantScoped, Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    rebuilt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class SegmentMembership(TenantScoped, Base):
    __tablename__ = "segment_memberships"
    __table_args__ = (
        PrimaryKeyConstraint("segment_id", "customer_id"),
        Index("ix_segment_memberships_customer", "tenant_id", "customer_id"),
    )

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    entered_at: Mapped[datetime]


class SegmentBoundary(TenantScoped, Base):
    """When a customer's membership of a segment may next change with the clock alone.

    One row per (segment, customer) whose definition has time-based conditions (birthday in N
    days, points expiring within N days, no purchase for N days...): the boundary worker
    re-evaluates just these customers when ``due_at`` comes, instead of rebuilding everyone.
    """

    __tablename__ = "segment_boundaries"
    __table_args__ = (
        PrimaryKeyConstraint("segment_id", "customer_id"),
        Index("ix_segment_boundaries_due", "due_at"),
    )

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]


# "Points expiring within N days" reads one customer's live lots: without this index every
# incremental evaluation would scan all lots (the ledger's own indexes go by account).
Index(
    "ix_point_lots_customer_live",
    PointLot.tenant_id,
    PointLot.customer_id,
    PointLot.expires_at,
    postgresql_where=text("state = 'available' AND remaining > 0"),
)
