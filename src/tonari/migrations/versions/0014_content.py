"""messaging content: brand site for magic links, used login tokens, on-site blocks

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "messaging_sites",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("site_url", sa.String(length=500), nullable=False),
        sa.Column(
            "login_parameter", sa.String(length=40), server_default="tonari_login", nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        _tenant_fk("messaging_sites"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_messaging_sites"),
    )
    op.create_table(
        "used_login_tokens",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _tenant_fk("used_login_tokens"),
        sa.PrimaryKeyConstraint("tenant_id", "token_id", name="pk_used_login_tokens"),
    )
    op.create_table(
        "onsite_blocks",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "rule",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        _tenant_fk("onsite_blocks"),
        sa.PrimaryKeyConstraint("id", name="pk_onsite_blocks"),
        sa.UniqueConstraint("tenant_id", "key", name="uq_onsite_blocks_tenant_id_key"),
    )


def downgrade() -> None:
    op.drop_table("onsite_blocks")
    op.drop_table("used_login_tokens")
    op.drop_table("messaging_sites")
