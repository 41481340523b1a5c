from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class Customer(TenantScoped, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        Index(
            "uq_customers_tenant_card",
            "tenant_id",
            "card_number",
            unique=True,
            postgresql_where=text("card_number IS NOT NULL"),
        ),
        Index("ix_customers_tenant_phone", "tenant_id", "phone"),
        Index("ix_customers_tenant_email", "tenant_id", "email"),
        Index(
            "ix_customers_merged_into",
            "merged_into_id",
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    card_number: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    birth_date: Mapped[date | None]
    gender: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(120))
    middle_name: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(300))
    postcode: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(120))
    email_status: Mapped[str | None] = mapped_column(String(16))
    phone_status: Mapped[str | None] = mapped_column(String(16))
    # Which record gave each golden value and by which rule: {field: {source, record, ...}}.
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # A profile folded into another keeps its row (and its id) so an unmerge can revive it.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    erased_at: Mapped[datetime | None]
    customer_type: Mapped[str] = mapped_column(String(20), server_default="person")
    # IANA zone for quiet hours, caps and "until 10:00" waits; the tenant's zone when unset.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    registration_source: Mapped[str | None] = mapped_column(String(64))
    # Free attributes a marketer sets (journeys' "set attribute" step) and segments read.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    tier_code: Mapped[str | None] = mapped_column(String(40))
    tier_since: Mapped[datetime | None]
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None]
    lifetime_spend: Mapped[int] = mapped_column(server_default="0")
    orders_count: Mapped[int] = mapped_column(server_default="0")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
