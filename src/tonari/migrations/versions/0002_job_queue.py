"""Job queue schema (procrastinate) in the same database

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from importlib import resources

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema_sql = resources.files("procrastinate.sql").joinpath("schema.sql").read_text()
    # Run through the driver without parameters: the schema's own "%" signs are not placeholders.
    driver_connection = op.get_bind().connection.driver_connection
    assert driver_connection is not None
    driver_connection.execute(schema_sql)


def downgrade() -> None:
    for table in (
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_jobs",
        "procrastinate_workers",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
