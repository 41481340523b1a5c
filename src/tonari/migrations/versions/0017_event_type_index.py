"""customer_events by (tenant, type, time), carrying customer and entity

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 02:25:00

Segment conditions on behaviour ("viewed these products in 30 days", "opened an email in 14
days", wishlist and cart contents) read one event type in a time window; with customer and
entity in the index they are index-only scans instead of reading every event of the
partitions in the window.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_customer_events_type_time",
        "customer_events",
        ["tenant_id", "event_type", "occurred_at"],
        postgresql_include=["customer_id", "entity_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_customer_events_type_time", table_name="customer_events")
