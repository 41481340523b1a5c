"""Consent per customer, channel and topic, with where and when it was given or withdrawn."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped

# The topic that stands for "all marketing on this channel".
ALL_MARKETING = "marketing"


class Consent(TenantScoped, Base):
    __tablename__ = "consents"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "customer_id", "channel", "topic"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # email, sms, push, web_push
    topic: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime]
