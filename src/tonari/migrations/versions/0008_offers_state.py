"""offer usage, budgets, stamps, memberships, line discounts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "offer_applications",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("offer_code", sa.String(length=60), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_offer_applications_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_offer_applications_customer_id_customers"),
        ),
        _tenant_fk("offer_applications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_applications")),
        sa.UniqueConstraint(
            "order_id", "offer_code", name=op.f("uq_offer_applications_order_id_offer_code")
        ),
    )
    op.create_index(
        "ix_offer_applications_customer",
        "offer_applications",
        ["tenant_id", "customer_id", "offer_code"],
    )
    op.create_table(
        "offer_budgets",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("offer_code", sa.String(length=60), nullable=False),
        sa.Column("spent", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        _tenant_fk("offer_budgets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_budgets")),
        sa.UniqueConstraint(
            "tenant_id", "offer_code", name=op.f("uq_offer_budgets_tenant_id_offer_code")
        ),
    )
    op.create_table(
        "stamp_movements",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("card", sa.String(length=40), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_stamp_movements_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_stamp_movements_order_id_orders")
        ),
        _tenant_fk("stamp_movements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stamp_movements")),
        sa.UniqueConstraint(
            "tenant_id",
            "idempotency_key",
            name=op.f("uq_stamp_movements_tenant_id_idempotency_key"),
        ),
    )
    op.create_index(
        "ix_stamp_movements_customer", "stamp_movements", ["tenant_id", "customer_id", "card"]
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_memberships_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_memberships_order_id_orders")
        ),
        _tenant_fk("memberships"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
    )
    op.create_index(
        "ix_memberships_customer", "memberships", ["tenant_id", "customer_id", "code", "ends_at"]
    )
    op.create_index("ix_memberships_order", "memberships", ["order_id"])
    op.add_column(
        "orders",
        sa.Column("discount_total", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "order_lines", sa.Column("discount", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column("order_lines", sa.Column("brand", sa.String(length=120), nullable=True))
    op.add_column(
        "order_lines", sa.Column("on_sale", sa.Boolean(), server_default="false", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("order_lines", "on_sale")
    op.drop_column("order_lines", "brand")
    op.drop_column("order_lines", "discount")
    op.drop_column("orders", "discount_total")
    op.drop_table("memberships")
    op.drop_table("stamp_movements")
    op.drop_table("offer_budgets")
    op.drop_table("offer_applications")
