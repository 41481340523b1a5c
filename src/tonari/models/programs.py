from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class ProgrammeRecord(TenantScoped, Base):
    """One applied version of a tenant's programme; the newest whose time has come is in force."""

    __tablename__ = "programmes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        Index("ix_programmes_tenant_effective", "tenant_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, object]] = mapped_column(JSONB)
    effective_from: Mapped[datetime]
    applied_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()
