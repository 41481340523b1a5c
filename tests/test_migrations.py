"""The migrations build exactly the tables the models describe (no drift either way)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from tonari.models import Base

# Tables that belong to the job queue's own schema (migration 0002), not to our models.
# The monthly and DEFAULT partitions of customer_events (migration 0010) are made at run time
# by tonari.events.partitions; the partitioned parent itself is compared like any table.
FOREIGN_PREFIXES = ("procrastinate", "customer_events_")


def _foreign(diff: Any) -> bool:
    item = diff[1] if isinstance(diff, tuple) and len(diff) > 1 else None
    name = getattr(item, "name", None) or getattr(getattr(item, "table", None), "name", "")
    table = getattr(item, "table", None)
    table_name = getattr(table, "name", "") if table is not None else name
    return any(str(n or "").startswith(FOREIGN_PREFIXES) for n in (name, table_name))


def test_models_and_migrations_agree(database_url: str) -> None:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            diffs = [
                diff for diff in compare_metadata(context, Base.metadata) if not _foreign(diff)
            ]
    finally:
        engine.dispose()
    assert diffs == []
