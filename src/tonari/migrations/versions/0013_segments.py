"""segment boundaries (time-based re-evaluation) and the lots-by-customer index

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segment_boundaries",
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_segment_boundaries_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_boundaries_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_segment_boundaries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "customer_id", name=op.f("pk_segment_boundaries")),
    )
    op.create_index("ix_segment_boundaries_due", "segment_boundaries", ["due_at"], unique=False)
    op.create_index(
        "ix_point_lots_customer_live",
        "point_lots",
        ["tenant_id", "customer_id", "expires_at"],
        unique=False,
        postgresql_where=sa.text("state = 'available' AND remaining > 0"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_point_lots_customer_live",
        table_name="point_lots",
        postgresql_where=sa.text("state = 'available' AND remaining > 0"),
    )
    op.drop_index("ix_segment_boundaries_due", table_name="segment_boundaries")
    op.drop_table("segment_boundaries")
