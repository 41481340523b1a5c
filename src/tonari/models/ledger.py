"""The points ledger: accounts, entries of balanced postings, lots and what spends drew from.

Only customer accounts keep a cached balance (updated under the account's row lock); the
system accounts (issued, redeemed, expired, adjustments) are summed from their postings on
demand, so every order does not queue behind one hot system row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class LedgerAccount(TenantScoped, Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        Index(
            "uq_ledger_accounts_customer",
            "tenant_id",
            "customer_id",
            unique=True,
            postgresql_where=text("customer_id IS NOT NULL"),
        ),
        Index(
            "uq_ledger_accounts_system",
            "tenant_id",
            "kind",
            unique=True,
            postgresql_where=text("customer_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    pending: Mapped[int] = mapped_column(server_default="0")
    available: Mapped[int] = mapped_column(server_default="0")
    reserved: Mapped[int] = mapped_column(server_default="0")
    debt: Mapped[int] = mapped_column(server_default="0")
    updated_at: Mapped[datetime] = created_at_column()


class LedgerEntry(TenantScoped, Base):
    """One business movement of points; its postings sum to zero."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index(
            "uq_ledger_entries_idempotency",
            "tenant_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index("ix_ledger_entries_customer", "tenant_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at_column()


class LedgerPosting(TenantScoped, Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (
        Index("ix_ledger_postings_account", "account_id", "bucket"),
        Index("ix_ledger_postings_entry", "entry_id"),
        CheckConstraint("amount <> 0", name="nonzero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    bucket: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int]
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("point_lots.id"))


class PointLot(TenantScoped, Base):
    """A batch of earned points with its own pending-until and expiry."""

    __tablename__ = "point_lots"
    __table_args__ = (
        Index("ix_point_lots_account_state", "account_id", "state", "expires_at"),
        Index(
            "ix_point_lots_pending_due",
            "pending_until",
            postgresql_where=text("state = 'pending'"),
        ),
        Index(
            "ix_point_lots_expiry_due",
            "expires_at",
            postgresql_where=text("state = 'available' AND remaining > 0"),
        ),
        Index(
            "ix_point_lots_reminder_due",
            "expires_at",
            postgresql_where=text(
                "state = 'available' AND remaining > 0 AND expiry_reminded_at IS NULL"
            ),
        ),
        Index("ix_point_lots_order", "order_id"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    order_line_no: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int]
    remaining: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    earned_at: Mapped[datetime]
    pending_until: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    expiry_reminded_at: Mapped[datetime | None]
    reserved_for_order_ref: Mapped[str | None] = mapped_column(String(128))
    """Temporary points for one cart: only an order with this id may spend them."""
    created_at: Mapped[datetime] = created_at_column()


class LotDraw(TenantScoped, Base):
    """Which lot a spend or reservation drew from, per order line."""

    __tablename__ = "lot_draws"
    __table_args__ = (
        Index("ix_lot_draws_order", "order_id", "order_line_no"),
        Index("ix_lot_draws_lot", "lot_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("point_lots.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    order_line_no: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int]
    restored: Mapped[int] = mapped_column(server_default="0")
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()


class PointsDebt(TenantScoped, Base):
    """Points a return should have taken back but could not (clamp rule): the recorded loss."""

    __tablename__ = "points_debts"
    __table_args__ = (UniqueConstraint("tenant_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    amount: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()
