"""Partner accruals (the bank's daily file) and side accounts of card holders not yet known.

A side account is a placeholder customer row (``customer_type = 'partner_holder'``) with an
ordinary ledger account, so its points are lots and postings like any others: the expiry job,
``ledger verify`` and the lock order all apply unchanged. The card or phone that identifies
the holder lives here, not on the placeholder, so the real customer can register with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column

PARTNER_HOLDER = "partner_holder"


class PartnerHolder(TenantScoped, Base):
    __tablename__ = "partner_holders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "holder_key"),
        Index(
            "ix_partner_holders_unclaimed_card",
            "tenant_id",
            "card_number",
            postgresql_where=text("claimed_at IS NULL AND card_number IS NOT NULL"),
        ),
        Index(
            "ix_partner_holders_unclaimed_phone",
            "tenant_id",
            "phone",
            postgresql_where=text("claimed_at IS NULL AND phone IS NOT NULL"),
        ),
        Index(
            "ix_partner_holders_claimed_by",
            "claimed_by_customer_id",
            postgresql_where=text("claimed_by_customer_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    holder_key: Mapped[str] = mapped_column(String(100))
    card_number: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    first_partner: Mapped[str] = mapped_column(String(40))
    claimed_by_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    claimed_at: Mapped[datetime | None]
    claim_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = created_at_column()


class PartnerAccrual(TenantScoped, Base):
    """One row of a partner's file, credited once: the bank's transaction id is the key."""

    __tablename__ = "partner_accruals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "partner_code", "transaction_id"),
        Index("ix_partner_accruals_partner_time", "tenant_id", "partner_code", "purchased_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    partner_code: Mapped[str] = mapped_column(String(40))
    transaction_id: Mapped[str] = mapped_column(String(128))
    card_number: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[int]
    purchase_type: Mapped[str] = mapped_column(String(16))
    purchased_at: Mapped[datetime]
    rate_bp: Mapped[int] = mapped_column(Integer)
    points: Mapped[int]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("partner_holders.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("point_lots.id"))
    source_file: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = created_at_column()
