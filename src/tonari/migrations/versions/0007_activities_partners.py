"""activity rewards, temporary points, partner accruals

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 19:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _created_at() -> sa.Column[Any]:
    return sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        server_default=sa.text("now()"),
        nullable=False,
    )


def _tenant(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.add_column(
        "point_lots", sa.Column("reserved_for_order_ref", sa.String(length=128), nullable=True)
    )
    op.add_column("orders", sa.Column("partner", sa.String(length=40), nullable=True))
    op.create_table(
        "activity_reports",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("activity_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("quantity", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        _created_at(),
        *_tenant("activity_reports"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_activity_reports_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_reports")),
        sa.UniqueConstraint(
            "tenant_id", "activity_id", name=op.f("uq_activity_reports_tenant_id_activity_id")
        ),
    )
    op.create_index(
        "ix_activity_reports_customer",
        "activity_reports",
        ["tenant_id", "customer_id", "id"],
        unique=False,
    )
    op.create_table(
        "activity_rewards",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_code", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("counted_actions", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rewards", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("voucher_pool", sa.String(length=40), nullable=True),
        sa.Column("entitlement", sa.String(length=200), nullable=True),
        sa.Column("partner_code", sa.String(length=40), nullable=True),
        sa.Column("once_key", sa.String(length=220), nullable=True),
        sa.Column("lot_id", sa.BigInteger(), nullable=True),
        _created_at(),
        *_tenant("activity_rewards"),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["activity_reports.id"],
            name=op.f("fk_activity_rewards_report_id_activity_reports"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_activity_rewards_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["point_lots.id"], name=op.f("fk_activity_rewards_lot_id_point_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_rewards")),
    )
    op.create_index(
        "uq_activity_rewards_once",
        "activity_rewards",
        ["tenant_id", "customer_id", "rule_code", "once_key"],
        unique=True,
        postgresql_where=sa.text("once_key IS NOT NULL"),
    )
    op.create_index(
        "ix_activity_rewards_customer_rule",
        "activity_rewards",
        ["tenant_id", "customer_id", "rule_code", "occurred_at"],
        unique=False,
    )
    op.create_index("ix_activity_rewards_report", "activity_rewards", ["report_id"], unique=False)
    op.create_table(
        "activity_budgets",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("rule_code", sa.String(length=40), nullable=False),
        sa.Column("points_given", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rewards_given", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        *_tenant("activity_budgets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_budgets")),
        sa.UniqueConstraint(
            "tenant_id", "rule_code", name=op.f("uq_activity_budgets_tenant_id_rule_code")
        ),
    )
    op.create_table(
        "partner_holders",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("holder_key", sa.String(length=100), nullable=False),
        sa.Column("card_number", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("first_partner", sa.String(length=40), nullable=False),
        sa.Column("claimed_by_customer_id", sa.BigInteger(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_entry_id", sa.BigInteger(), nullable=True),
        _created_at(),
        *_tenant("partner_holders"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_partner_holders_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by_customer_id"],
            ["customers.id"],
            name=op.f("fk_partner_holders_claimed_by_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_partner_holders_claim_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_holders")),
        sa.UniqueConstraint(
            "tenant_id", "holder_key", name=op.f("uq_partner_holders_tenant_id_holder_key")
        ),
    )
    op.create_index(
        "ix_partner_holders_unclaimed_card",
        "partner_holders",
        ["tenant_id", "card_number"],
        unique=False,
        postgresql_where=sa.text("claimed_at IS NULL AND card_number IS NOT NULL"),
    )
    op.create_index(
        "ix_partner_holders_unclaimed_phone",
        "partner_holders",
        ["tenant_id", "phone"],
        unique=False,
        postgresql_where=sa.text("claimed_at IS NULL AND phone IS NOT NULL"),
    )
    op.create_index(
        "ix_partner_holders_claimed_by",
        "partner_holders",
        ["claimed_by_customer_id"],
        unique=False,
        postgresql_where=sa.text("claimed_by_customer_id IS NOT NULL"),
    )
    op.create_table(
        "partner_accruals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("partner_code", sa.String(length=40), nullable=False),
        sa.Column("transaction_id", sa.String(length=128), nullable=False),
        sa.Column("card_number", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("purchase_type", sa.String(length=16), nullable=False),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("holder_id", sa.BigInteger(), nullable=True),
        sa.Column("lot_id", sa.BigInteger(), nullable=True),
        sa.Column("source_file", sa.String(length=300), nullable=False),
        _created_at(),
        *_tenant("partner_accruals"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_partner_accruals_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["partner_holders.id"],
            name=op.f("fk_partner_accruals_holder_id_partner_holders"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["point_lots.id"], name=op.f("fk_partner_accruals_lot_id_point_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_accruals")),
        sa.UniqueConstraint(
            "tenant_id",
            "partner_code",
            "transaction_id",
            name=op.f("uq_partner_accruals_tenant_id_partner_code_transaction_id"),
        ),
    )
    op.create_index(
        "ix_partner_accruals_partner_time",
        "partner_accruals",
        ["tenant_id", "partner_code", "purchased_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_partner_accruals_partner_time", table_name="partner_accruals")
    op.drop_table("partner_accruals")
    op.drop_index("ix_partner_holders_claimed_by", table_name="partner_holders")
    op.drop_index("ix_partner_holders_unclaimed_phone", table_name="partner_holders")
    op.drop_index("ix_partner_holders_unclaimed_card", table_name="partner_holders")
    op.drop_table("partner_holders")
    op.drop_table("activity_budgets")
    op.drop_index("ix_activity_rewards_report", table_name="activity_rewards")
    op.drop_index("ix_activity_rewards_customer_rule", table_name="activity_rewards")
    op.drop_index("uq_activity_rewards_once", table_name="activity_rewards")
    op.drop_table("activity_rewards")
    op.drop_index("ix_activity_reports_customer", table_name="activity_reports")
    op.drop_table("activity_reports")
    op.drop_column("orders", "partner")
    op.drop_column("point_lots", "reserved_for_order_ref")
