"""expiry reminders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "point_lots", sa.Column("expiry_reminded_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_point_lots_reminder_due",
        "point_lots",
        ["expires_at"],
        postgresql_where=sa.text(
            "state = 'available' AND remaining > 0 AND expiry_reminded_at IS NULL"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_point_lots_reminder_due", table_name="point_lots")
    op.drop_column("point_lots", "expiry_reminded_at")
