"""Promo codes and vouchers: pools, the codes in them, issue batches and redemptions.

A pool is one campaign: a public code everybody types (SKIDKA30), personal codes generated in
bulk, gift vouchers worth money or bonus vouchers worth points. Code texts are stored
upper-case and are unique per tenant, so a code typed in any case finds exactly one row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class CodePool(TenantScoped, Base):
    __tablename__ = "code_pools"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("kind IN ('public', 'personal', 'gift', 'bonus')", name="kind"),
        CheckConstraint("status IN ('active', 'paused')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    max_uses_per_code: Mapped[int | None]
    """``None``: unlimited (a public code); 1: single use."""
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    valid_days: Mapped[int | None] = mapped_column(Integer)
    """Each code lapses this many days after it is handed out (capped by ``valid_until``)."""
    shareable: Mapped[bool] = mapped_column(Boolean, server_default="false")
    value_minor: Mapped[int | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    value_points: Mapped[int | None]
    prefix: Mapped[str] = mapped_column(String(16), server_default="")
    code_length: Mapped[int] = mapped_column(Integer, server_default="8")
    reissue_every_days: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class CodeBatch(TenantScoped, Base):
    """One generation or issue run; its key makes a retried issue hand out nothing more."""

    __tablename__ = "code_batches"
    __table_args__ = (
        Index(
            "uq_code_batches_key",
            "tenant_id",
            "pool_id",
            "issue_key",
            unique=True,
            postgresql_where=text("issue_key IS NOT NULL"),
        ),
        Index("ix_code_batches_pool", "pool_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("code_pools.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    issue_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    customers: Mapped[int] = mapped_column(Integer, server_default="0")
    codes: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = created_at_column()


class PromoCode(TenantScoped, Base):
    __tablename__ = "codes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_codes_pool", "pool_id", "id"),
        Index(
            "ix_codes_owner",
            "owner_customer_id",
            "pool_id",
            "issued_at",
            postgresql_where=text("owner_customer_id IS NOT NULL"),
        ),
        CheckConstraint("uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)", name="uses"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("code_pools.id", ondelete="CASCADE"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("code_batches.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    owner_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    issued_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    uses: Mapped[int] = mapped_column(server_default="0")
    """Counted only for capped codes: an unlimited public code would be one hot row."""
    max_uses: Mapped[int | None]
    created_at: Mapped[datetime] = created_at_column()


class CodeRedemption(TenantScoped, Base):
    """One use of a code: by an order (released when it is cancelled) or a voucher credit."""

    __tablename__ = "code_redemptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code_id", "order_external_id"),
        Index(
            "uq_code_redemptions_credit",
            "tenant_id",
            "code_id",
            "customer_id",
            unique=True,
            postgresql_where=text("order_external_id IS NULL"),
        ),
        Index("ix_code_redemptions_order", "tenant_id", "order_external_id"),
        Index(
            "ix_code_redemptions_customer",
            "pool_id",
            "customer_id",
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"))
    pool_id: Mapped[int] = mapped_column(ForeignKey("code_pools.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    order_external_id: Mapped[str | None] = mapped_column(String(128))
    """``None`` for a bonus voucher credited to the customer's account outside an order."""
    redeemed_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
