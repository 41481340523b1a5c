"""Source records, the evidence between them, and the merges that made profiles of them.

A profile (``customers``) is what the brand sees; the records are what each source said. Every
record keeps the raw values it came with and the cleaned ones, so a profile can always be
recomputed from its records, and every merge can be undone from ``identity_merges``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class CustomerSource(TenantScoped, Base):
    """One of the brand's customer databases and how to read its files."""

    __tablename__ = "customer_sources"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    trust: Mapped[int] = mapped_column(SmallInteger, server_default="50")
    region: Mapped[str | None] = mapped_column(String(2))
    date_order: Mapped[str] = mapped_column(String(3), server_default="DMY")
    encoding: Mapped[str | None] = mapped_column(String(40))
    file_format: Mapped[str | None] = mapped_column(String(16))
    # Two different record ids of such a source are two people: never merged automatically.
    record_ids_are_people: Mapped[bool] = mapped_column(Boolean, server_default="false")
    columns: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class SourceRecord(TenantScoped, Base):
    """What one source said about one person, raw and cleaned, and which profile it is in."""

    __tablename__ = "source_records"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_id", "record_id"),
        Index("ix_source_records_profile", "tenant_id", "profile_id"),
        # Undo finds a folded profile's records by it (and deleting a profile checks it).
        Index("ix_source_records_home", "home_profile_id"),
        Index("ix_source_records_email", "tenant_id", "email_key"),
        Index("ix_source_records_phone", "tenant_id", "phone"),
        Index("ix_source_records_card", "tenant_id", "card_number"),
        Index("ix_source_records_external", "tenant_id", "external_id"),
        Index(
            "ix_source_records_unresolved",
            "tenant_id",
            "id",
            postgresql_where=text("needs_resolution"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("customer_sources.id"))
    record_id: Mapped[str] = mapped_column(String(200))
    # A digest of the raw values: the same row imported again is recognised and changes nothing.
    content_hash: Mapped[str] = mapped_column(String(32))
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    middle_name: Mapped[str | None] = mapped_column(String(120))
    birth_date: Mapped[date | None]
    gender: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(320))
    # The provider-aware matching key (gmail dots and +tags removed); null when not usable.
    email_key: Mapped[str | None] = mapped_column(String(320))
    email_status: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32))
    phone_status: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(300))
    postcode: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(120))
    card_number: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    anonymous_id: Mapped[str | None] = mapped_column(String(128))
    source_updated_at: Mapped[datetime | None]
    # Every value the cleaners refused or changed: [{field, code, reason, value}].
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # The profile this record first made or joined: an unmerge gives it back.
    home_profile_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    match_score: Mapped[float | None] = mapped_column(Float)
    match_rule: Mapped[str | None] = mapped_column(String(40))
    needs_resolution: Mapped[bool] = mapped_column(Boolean, server_default="true")
    first_seen_at: Mapped[datetime] = created_at_column()
    last_seen_at: Mapped[datetime] = created_at_column()
    changed_at: Mapped[datetime] = created_at_column()
    erased_at: Mapped[datetime | None]


class IdentityPair(TenantScoped, Base):
    """Fuzzy evidence that two records are one person, with the levels that explain it.

    ``status``: ``auto`` (above the auto-merge threshold), ``review`` (between the two
    thresholds, waiting for a person), ``confirmed`` or ``rejected`` (a person decided; a
    rejected pair is never merged again, a confirmed one always is).
    """

    __tablename__ = "identity_pairs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "left_record_id", "right_record_id"),
        Index("ix_identity_pairs_right", "tenant_id", "right_record_id"),
        Index("ix_identity_pairs_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    left_record_id: Mapped[int] = mapped_column(ForeignKey("source_records.id", ondelete="CASCADE"))
    right_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id", ondelete="CASCADE")
    )
    # Match probability and weight are model scores, not money: floats are what Splink gives.
    probability: Mapped[float | None] = mapped_column(Float)
    weight: Mapped[float | None] = mapped_column(Float)
    levels: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class IdentitySettings(Base):
    """Per tenant: thresholds, survivorship rules and the trained matching model."""

    __tablename__ = "identity_settings"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    auto_merge_probability: Mapped[float | None] = mapped_column(Float)
    review_probability: Mapped[float | None] = mapped_column(Float)
    survivorship: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    model: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    model_trained_at: Mapped[datetime | None]
    model_records: Mapped[int | None]
    updated_at: Mapped[datetime] = created_at_column()


class IdentityMerge(TenantScoped, Base):
    """One profile folded into another, with everything that moved, so it can be undone."""

    __tablename__ = "identity_merges"
    __table_args__ = (
        Index("ix_identity_merges_merged", "tenant_id", "merged_id"),
        Index("ix_identity_merges_survivor", "tenant_id", "survivor_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    merged_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    reason: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    # Rows that changed hands, by table: {"orders": [ids], "customer_events": [ids], ...}.
    moved: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    merged_at: Mapped[datetime]
    undone_at: Mapped[datetime | None]
    undo_ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))


class MergedLot(Base):
    """Which lot on the survivor came from which lot of the merged profile (undo moves it back)."""

    __tablename__ = "identity_merged_lots"
    __table_args__ = (PrimaryKeyConstraint("merge_id", "new_lot_id"),)

    merge_id: Mapped[int] = mapped_column(ForeignKey("identity_merges.id", ondelete="CASCADE"))
    new_lot_id: Mapped[int] = mapped_column(ForeignKey("point_lots.id"))
    old_lot_id: Mapped[int] = mapped_column(ForeignKey("point_lots.id"))
