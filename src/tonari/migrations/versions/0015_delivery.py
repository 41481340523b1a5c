"""messaging delivery: channels, policy, campaigns

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _tenant_column(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
    ]


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "messaging_channels",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("adapter", sa.String(length=16), nullable=False),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column("rate_per_second", sa.Integer(), nullable=True),
        sa.Column("per_day", sa.Integer(), nullable=True),
        sa.Column("per_week", sa.Integer(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        *_tenant_column("messaging_channels"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_channels")),
        sa.UniqueConstraint(
            "tenant_id", "channel", name=op.f("uq_messaging_channels_tenant_id_channel")
        ),
    )
    op.create_table(
        "messaging_policies",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("per_day", sa.Integer(), nullable=True),
        sa.Column("per_week", sa.Integer(), nullable=True),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("holdout_bp", sa.Integer(), server_default="0", nullable=False),
        _now("updated_at"),
        *_tenant_column("messaging_policies"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_policies")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_messaging_policies_tenant_id")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("segment_key", sa.String(length=80), nullable=True),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template_key", sa.String(length=80), nullable=False),
        sa.Column("topic", sa.String(length=64), server_default="marketing", nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("send_rate_per_minute", sa.Integer(), nullable=True),
        sa.Column("holdout_bp", sa.Integer(), server_default="0", nullable=False),
        sa.Column("audience_size", sa.Integer(), server_default="0", nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _now("created_at"),
        *_tenant_column("campaigns"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_campaigns_tenant_id_key")),
    )


def downgrade() -> None:
    op.drop_table("campaigns")
    op.drop_table("messaging_policies")
    op.drop_table("messaging_channels")
