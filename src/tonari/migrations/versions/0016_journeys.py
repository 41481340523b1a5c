"""journeys, journey instances, journey step log

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_NOW = sa.text("now()")
_EMPTY = sa.text("'{}'::jsonb")


def _tenant() -> list[sa.Column[int]]:
    return [sa.Column("tenant_id", sa.BigInteger(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("template", sa.String(length=80), nullable=True),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("entry_kind", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("holdout_bp", sa.Integer(), server_default="0", nullable=False),
        sa.Column("quiet_hours", sa.String(length=8), server_default="defer", nullable=False),
        sa.Column("reentry", sa.String(length=16), server_default="never", nullable=False),
        sa.Column("reentry_days", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        *_tenant(),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_journeys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journeys")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_journeys_tenant_id_key")),
    )
    op.create_index("ix_journeys_tenant_entry", "journeys", ["tenant_id", "entry_kind", "status"])
    op.create_table(
        "journey_instances",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("journey_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("entity_key", sa.Text(), server_default="", nullable=False),
        sa.Column("run", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("step_key", sa.String(length=80), nullable=True),
        sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_kind", sa.String(length=80), nullable=True),
        sa.Column("waiting_key", sa.Text(), nullable=True),
        sa.Column("timeout_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "state", postgresql.JSONB(astext_type=sa.Text()), server_default=_EMPTY, nullable=False
        ),
        sa.Column("control_group", sa.String(length=8), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        *_tenant(),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_journey_instances_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_instances_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_journey_instances_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_instances")),
        sa.UniqueConstraint(
            "journey_id",
            "customer_id",
            "entity_key",
            "run",
            name=op.f("uq_journey_instances_journey_id_customer_id_entity_key_run"),
        ),
    )
    op.create_index(
        "ix_journey_instances_due",
        "journey_instances",
        ["wake_at"],
        postgresql_where=sa.text("status = 'waiting'"),
    )
    op.create_index(
        "ix_journey_instances_live_customer",
        "journey_instances",
        ["tenant_id", "customer_id"],
        postgresql_where=sa.text("status IN ('active', 'waiting')"),
    )
    op.create_index(
        "ix_journey_instances_journey_status", "journey_instances", ["journey_id", "status"]
    )
    op.create_table(
        "journey_step_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("journey_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_id", sa.BigInteger(), nullable=False),
        sa.Column("step_key", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        *_tenant(),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["journey_instances.id"],
            name=op.f("fk_journey_step_log_instance_id_journey_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_journey_step_log_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_step_log")),
    )
    op.create_index(
        "ix_journey_step_log_journey_step", "journey_step_log", ["journey_id", "step_key"]
    )
    op.create_index("ix_journey_step_log_instance", "journey_step_log", ["instance_id"])


def downgrade() -> None:
    op.drop_table("journey_step_log")
    op.drop_table("journey_instances")
    op.drop_table("journeys")
