"""Three processes importing and resolving the same brand at once make each person once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from tests.factories import TenantFixture
from tests.identity.seven import import_seven
from tests.processes import run_workers
from tonari.db import Database


def _state(database_url: str, tenant_id: int) -> tuple[int, int, int, int]:
    async def read() -> tuple[int, int, int, int]:
        db = Database(database_url, pool_size=1, max_overflow=0)
        try:
            async with db.transaction() as session:
                row = (
                    await session.execute(
                        text(
                            "SELECT (SELECT count(*) FROM source_records WHERE tenant_id = :t), "
                            "(SELECT count(*) FROM source_records WHERE tenant_id = :t "
                            " AND profile_id IS NULL), "
                            "(SELECT count(DISTINCT profile_id) FROM source_records "
                            " WHERE tenant_id = :t), "
                            "(SELECT count(*) FROM customers c WHERE tenant_id = :t AND NOT "
                            " EXISTS (SELECT 1 FROM source_records r WHERE r.profile_id = c.id))"
                        ),
                        {"t": tenant_id},
                    )
                ).one()
                return int(row[0]), int(row[1]), int(row[2]), int(row[3])
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_concurrent_imports_and_resolutions_make_each_person_once(
    database_url: str, committed_tenant: TenantFixture, tmp_path: Path
) -> None:
    folders = []
    for index in range(3):
        folder = tmp_path / f"worker-{index}"
        folder.mkdir()
        folders.append(folder)
    reports = run_workers(
        "tests.identity.resolve_worker",
        [(database_url, committed_tenant.id, folder, 3, "import") for folder in folders],
    )
    records, unassigned, people, orphans = _state(database_url, committed_tenant.id)
    assert (records, unassigned, orphans) == (20, 0, 0)
    # However the runs interleaved, every profile made is a person that exists.
    assert sum(report["created"] for report in reports) == people


def test_resolutions_started_together_never_make_a_person_twice(
    database_url: str, committed_tenant: TenantFixture, tmp_path: Path
) -> None:
    """The first run of a brand, started by three processes at the same moment."""

    async def import_only() -> None:
        db = Database(database_url, pool_size=1, max_overflow=0)
        try:
            async with db.transaction() as session:
                await import_seven(session, committed_tenant.id, tmp_path)
        finally:
            await db.dispose()

    asyncio.run(import_only())
    reports = run_workers(
        "tests.identity.resolve_worker",
        [(database_url, committed_tenant.id, tmp_path, 1, "resolve") for _ in range(3)],
    )
    records, unassigned, people, orphans = _state(database_url, committed_tenant.id)
    assert (records, unassigned, orphans) == (20, 0, 0)
    assert sum(report["created"] for report in reports) == people
