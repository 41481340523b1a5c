"""stamps remember the order line that earned them

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stamp_movements", sa.Column("order_line_no", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("stamp_movements", "order_line_no")
