"""Messaging content owned by the brand: its site (for magic links), on-site blocks, and the
login tokens already exchanged (so each magic-link login works once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, PrimaryKeyConstraint, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class MessagingSite(TenantScoped, Base):
    """Where a magic link lands: the brand's site URL that exchanges the login token."""

    __tablename__ = "messaging_sites"
    __table_args__ = (PrimaryKeyConstraint("tenant_id"),)

    site_url: Mapped[str] = mapped_column(String(500))
    login_parameter: Mapped[str] = mapped_column(String(40), server_default="tonari_login")
    updated_at: Mapped[datetime] = created_at_column()


class UsedLoginToken(TenantScoped, Base):
    """A login token id exchanged once; the primary key refuses a second exchange."""

    __tablename__ = "used_login_tokens"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "token_id"),)

    token_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int]
    used_at: Mapped[datetime]
    # Rows past this can be deleted: the token itself is refused after it anyway.
    expires_at: Mapped[datetime]


class OnsiteBlock(TenantScoped, Base):
    """A banner or popup the brand's site shows, with the rule deciding who sees it."""

    __tablename__ = "onsite_blocks"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    placement: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # banner | popup
    priority: Mapped[int] = mapped_column(Integer, server_default="0")
    # {"expiring_within_days": 30, "min_balance": 1000, "tiers": [...], "max_to_next_tier": N}
    rule: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    title: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
