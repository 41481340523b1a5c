"""What offers leave behind: who received which offer, budgets spent, stamps, memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class OfferApplication(TenantScoped, Base):
    """One offer applied to one order: counts toward per-customer limits and budgets."""

    __tablename__ = "offer_applications"
    __table_args__ = (
        UniqueConstraint("order_id", "offer_code"),
        Index("ix_offer_applications_customer", "tenant_id", "customer_id", "offer_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    offer_code: Mapped[str] = mapped_column(String(60))
    discount: Mapped[int]
    points: Mapped[int]
    applied_at: Mapped[datetime]
    reversed_at: Mapped[datetime | None]


class OfferBudget(TenantScoped, Base):
    """What an offer with a budget has given so far; its row lock serialises the spenders."""

    __tablename__ = "offer_budgets"
    __table_args__ = (UniqueConstraint("tenant_id", "offer_code"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    offer_code: Mapped[str] = mapped_column(String(60))
    spent: Mapped[int] = mapped_column(server_default="0")
    updated_at: Mapped[datetime] = created_at_column()


class StampMovement(TenantScoped, Base):
    """Stamps added or used on a customer's card; the count held is their sum."""

    __tablename__ = "stamp_movements"
    __table_args__ = (
        Index("ix_stamp_movements_customer", "tenant_id", "customer_id", "card"),
        UniqueConstraint("tenant_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    card: Mapped[str] = mapped_column(String(40))
    delta: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    order_line_no: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime]


class Membership(TenantScoped, Base):
    """A paid membership's term; a renewal adds a term starting when the last one ends."""

    __tablename__ = "memberships"
    __table_args__ = (
        Index("ix_memberships_customer", "tenant_id", "customer_id", "code", "ends_at"),
        Index("ix_memberships_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    code: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
