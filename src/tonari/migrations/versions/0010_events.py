"""behavioural events, partitioned by month, with cross-partition idempotency and stitching

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 21:00:00
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _month_after(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def upgrade() -> None:
    op.create_table(
        "customer_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("anonymous_id", sa.String(length=128), nullable=True),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=True),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_events_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_customer_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "occurred_at", "id", name=op.f("pk_customer_events")),
        postgresql_partition_by="RANGE (occurred_at)",
    )
    op.create_index(
        "ix_customer_events_customer",
        "customer_events",
        ["tenant_id", "customer_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_customer_events_anonymous",
        "customer_events",
        ["tenant_id", "anonymous_id"],
        unique=False,
        postgresql_where=sa.text("anonymous_id IS NOT NULL"),
    )
    # Nothing is ever lost for want of a month: far past or future dates land here until
    # ensure_event_partitions creates their month and moves them over.
    op.execute("CREATE TABLE customer_events_default PARTITION OF customer_events DEFAULT")
    this_month = datetime.now(UTC).date().replace(day=1)
    for start in (this_month, _month_after(this_month)):
        end = _month_after(start)
        op.execute(
            f"CREATE TABLE customer_events_{start.year:04d}_{start.month:02d} "
            f"PARTITION OF customer_events FOR VALUES FROM ('{start}') TO ('{end}')"
        )
    op.create_table(
        "customer_event_ids",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        # No foreign key to tenants: a hot-path de-duplication index (see models/events.py).
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", name=op.f("pk_customer_event_ids")),
    )
    op.create_table(
        "anonymous_links",
        sa.Column("anonymous_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "linked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_anonymous_links_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_anonymous_links_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "anonymous_id", name=op.f("pk_anonymous_links")),
    )


def downgrade() -> None:
    op.drop_table("anonymous_links")
    op.drop_table("customer_event_ids")
    # Dropping the parent drops every partition with it.
    op.drop_table("customer_events")
