"""messaging_channels.next_send_at: a rate-limited provider's next free send slot

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 03:15:00

Shared by every worker, so a channel's ``rate_per_second`` holds for the whole cluster.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "messaging_channels",
        sa.Column("next_send_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("messaging_channels", "next_send_at")
