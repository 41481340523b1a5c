from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class Product(TenantScoped, Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("tenant_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    product_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(120))
    price: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()
