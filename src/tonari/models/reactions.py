"""The queue of things that happened to a customer, which segments and journeys react to.

Ingested events and domain events (orders, tier changes, points expiring, segment entries)
that name a customer each add one row here in the transaction that made them. The reactions
worker claims rows with ``SKIP LOCKED`` and deletes them in the transaction that applies
their effects, so every reaction is applied exactly once however many workers run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class CustomerReaction(TenantScoped, Base):
    __tablename__ = "customer_reactions"
    __table_args__ = (Index("ix_customer_reactions_tenant_customer", "tenant_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    # An event type (product_viewed, cart_updated) or a domain event (order.placed).
    kind: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at_column()
