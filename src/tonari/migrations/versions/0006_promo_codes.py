"""promo codes and vouchers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_pools",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("max_uses_per_code", sa.BigInteger(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("shareable", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("value_points", sa.BigInteger(), nullable=True),
        sa.Column("prefix", sa.String(length=16), server_default="", nullable=False),
        sa.Column("code_length", sa.Integer(), server_default="8", nullable=False),
        sa.Column("reissue_every_days", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_code_pools_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "kind IN ('public', 'personal', 'gift', 'bonus')", name=op.f("ck_code_pools_kind")
        ),
        sa.CheckConstraint("status IN ('active', 'paused')", name=op.f("ck_code_pools_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_pools")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_code_pools_tenant_id_code")),
    )
    op.create_table(
        "code_batches",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("issue_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("customers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("codes", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_code_batches_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["code_pools.id"],
            name=op.f("fk_code_batches_pool_id_code_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_batches")),
    )
    op.create_index("ix_code_batches_pool", "code_batches", ["pool_id", "id"], unique=False)
    op.create_index(
        "uq_code_batches_key",
        "code_batches",
        ["tenant_id", "pool_id", "issue_key"],
        unique=True,
        postgresql_where=sa.text("issue_key IS NOT NULL"),
    )
    op.create_table(
        "codes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("owner_customer_id", sa.BigInteger(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("max_uses", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_codes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)", name=op.f("ck_codes_uses")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["code_batches.id"],
            name=op.f("fk_codes_batch_id_code_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_customer_id"],
            ["customers.id"],
            name=op.f("fk_codes_owner_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["code_pools.id"],
            name=op.f("fk_codes_pool_id_code_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_codes")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_codes_tenant_id_code")),
    )
    op.create_index("ix_codes_pool", "codes", ["pool_id", "id"], unique=False)
    op.create_index(
        "ix_codes_owner",
        "codes",
        ["owner_customer_id", "pool_id", "issued_at"],
        unique=False,
        postgresql_where=sa.text("owner_customer_id IS NOT NULL"),
    )
    op.create_table(
        "code_redemptions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("code_id", sa.BigInteger(), nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("order_external_id", sa.String(length=128), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_code_redemptions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["code_id"],
            ["codes.id"],
            name=op.f("fk_code_redemptions_code_id_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_code_redemptions_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["code_pools.id"],
            name=op.f("fk_code_redemptions_pool_id_code_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_redemptions")),
        sa.UniqueConstraint(
            "tenant_id",
            "code_id",
            "order_external_id",
            name=op.f("uq_code_redemptions_tenant_id_code_id_order_external_id"),
        ),
    )
    op.create_index(
        "ix_code_redemptions_order",
        "code_redemptions",
        ["tenant_id", "order_external_id"],
        unique=False,
    )
    op.create_index(
        "ix_code_redemptions_customer",
        "code_redemptions",
        ["pool_id", "customer_id"],
        unique=False,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_index(
        "uq_code_redemptions_credit",
        "code_redemptions",
        ["tenant_id", "code_id", "customer_id"],
        unique=True,
        postgresql_where=sa.text("order_external_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_code_redemptions_credit",
        table_name="code_redemptions",
        postgresql_where=sa.text("order_external_id IS NULL"),
    )
    op.drop_index(
        "ix_code_redemptions_customer",
        table_name="code_redemptions",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.drop_index("ix_code_redemptions_order", table_name="code_redemptions")
    op.drop_table("code_redemptions")
    op.drop_index(
        "ix_codes_owner",
        table_name="codes",
        postgresql_where=sa.text("owner_customer_id IS NOT NULL"),
    )
    op.drop_index("ix_codes_pool", table_name="codes")
    op.drop_table("codes")
    op.drop_index(
        "uq_code_batches_key",
        table_name="code_batches",
        postgresql_where=sa.text("issue_key IS NOT NULL"),
    )
    op.drop_index("ix_code_batches_pool", table_name="code_batches")
    op.drop_table("code_batches")
    op.drop_table("code_pools")
