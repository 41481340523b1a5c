"""History import speed: a synthetic file of ``orders`` orders replayed into a fresh tenant."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tonari.db import Database
from tonari.imports.orders import import_orders
from tonari.imports.synthetic import synthetic_history, write_history
from tonari.programs.service import apply_programme, load_programme_file
from tonari.tenants.service import create_tenant

PANASONIC = Path(__file__).resolve().parent.parent / "examples" / "programmes" / "panasonic.yaml"
PROGRAMME_FROM = datetime(2021, 1, 1, tzinfo=UTC)
START = datetime(2022, 1, 1, tzinfo=UTC)
END = datetime(2024, 12, 31, tzinfo=UTC)
NOW = datetime(2025, 1, 20, tzinfo=UTC)


async def _fresh_tenant(database: Database) -> int:
    async with database.transaction() as session:
        tenant = await create_tenant(
            session, slug=f"bench-import-{uuid.uuid4().hex[:10]}", name="Import benchmark"
        )
        await apply_programme(
            session,
            tenant_id=tenant.id,
            document=load_programme_file(PANASONIC),
            applied_by="bench",
            effective_from=PROGRAMME_FROM,
        )
        return tenant.id


async def bench_import(
    database_url: str, orders: int = 20000, *, writers: int = 2
) -> dict[str, Any]:
    """Import ``orders`` synthetic orders (about 8 per customer) into a fresh tenant.

    The database must be migrated. Seconds cover reading the file, replaying and writing,
    not generating it.
    """
    database = Database(database_url, pool_size=writers + 1, max_overflow=1)
    try:
        tenant_id = await _fresh_tenant(database)
        with tempfile.TemporaryDirectory(prefix="tonari-bench-import-") as folder:
            history = synthetic_history(
                orders=orders,
                customers=max(orders // 8, 1),
                start=START,
                end=END,
                seed=42,
                prefix="b",
            )
            path = write_history(Path(folder) / "history.csv", history)
            started = time.perf_counter()
            report = await import_orders(
                database.transaction, tenant_id=tenant_id, path=path, now=NOW, writers=writers
            )
            seconds = time.perf_counter() - started
        if report.rejected or report.imported != orders:
            raise RuntimeError(f"benchmark import went wrong: {report.as_dict()}")
        return {
            "orders": report.imported,
            "seconds": round(seconds, 3),
            "orders_per_s": round(report.imported / seconds, 1),
            "writers": writers,
            "customers": report.customers_created,
            "points_issued": report.points_issued,
        }
    finally:
        await database.dispose()


if __name__ == "__main__":
    import sys

    from tonari.db import resolve_database_url

    print(
        asyncio.run(
            bench_import(resolve_database_url(), int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
        )
    )
