from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class Order(TenantScoped, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        Index("ix_orders_customer_placed", "tenant_id", "customer_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(24))
    request_hash: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    programme_version: Mapped[int] = mapped_column(Integer)
    tier_code: Mapped[str | None] = mapped_column(String(40))
    total_regular: Mapped[int]
    points_spent: Mapped[int]
    total_paid: Mapped[int]
    points_earned: Mapped[int]
    net_spend: Mapped[int]
    discount_total: Mapped[int] = mapped_column(server_default="0")
    placed_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    result: Mapped[dict[str, object]] = mapped_column(JSONB)
    partner: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_at_column()


class OrderLine(TenantScoped, Base):
    __tablename__ = "order_lines"
    __table_args__ = (UniqueConstraint("order_id", "line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(String(128))
    category: Mapped[str | None] = mapped_column(String(120))
    unit_price: Mapped[int]
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int]
    points_spent: Mapped[int]
    amount_paid: Mapped[int]
    points_earned: Mapped[int]
    discount: Mapped[int] = mapped_column(server_default="0")
    brand: Mapped[str | None] = mapped_column(String(120))
    on_sale: Mapped[bool] = mapped_column(Boolean, server_default="false")
    returned_quantity: Mapped[int] = mapped_column(Integer, server_default="0")
    points_taken_back: Mapped[int] = mapped_column(server_default="0")
    points_restored: Mapped[int] = mapped_column(server_default="0")


class OrderReturn(TenantScoped, Base):
    __tablename__ = "order_returns"
    __table_args__ = (UniqueConstraint("tenant_id", "order_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    external_id: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, object]] = mapped_column(JSONB)
    returned_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at_column()
