"""Bulk code generation: ``generate_codes`` for N personal codes vs a raw ``COPY`` of N rows.

Both write the same number of rows into the same ``codes`` table, each in a fresh tenant and
pool, each committed. The baseline's rows are generated before its clock starts, so the ratio
is what the service adds to the bare write: drawing the texts, the staging table and the
``INSERT ... ON CONFLICT`` that makes collisions harmless. Best of ``rounds`` for each side.

``python -m bench.bench_codes [N]`` runs it alone on a fresh database (see bench/README.md).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.report import Result
from tonari.codes.generator import unique_random_codes
from tonari.codes.pools import create_pool
from tonari.codes.schemas import CodePoolCreate
from tonari.codes.service import generate_codes
from tonari.db import Database
from tonari.models.codes import CodeBatch
from tonari.tenants.service import create_tenant

NOW = datetime(2026, 3, 1, tzinfo=UTC)
COLUMNS = ("tenant_id", "pool_id", "batch_id", "code", "source", "max_uses")
RATIO_TARGET = 3.0
SECONDS_TARGET = 5.0


async def _fresh_pool(database: Database, label: str) -> tuple[int, int, int]:
    """A new tenant with one personal pool and a batch row; their ids."""
    async with database.transaction() as session:
        tenant = await create_tenant(
            session, slug=f"bench-codes-{label}-{uuid.uuid4().hex[:8]}", name="Codes benchmark"
        )
        pool, _ = await create_pool(
            session,
            tenant_id=tenant.id,
            definition=CodePoolCreate(code="bench", name="Benchmark", kind="personal"),
            at=NOW,
        )
        batch = CodeBatch(tenant_id=tenant.id, pool_id=pool.id, kind="generate")
        session.add(batch)
        await session.flush()
        return tenant.id, pool.id, batch.id


async def _service_seconds(database: Database, codes: int) -> float:
    tenant_id, _, _ = await _fresh_pool(database, "service")
    started = time.perf_counter()
    async with database.transaction() as session:
        await generate_codes(session, tenant_id=tenant_id, pool="bench", count=codes, at=NOW)
    return time.perf_counter() - started


async def _copy_seconds(database: Database, codes: int) -> float:
    tenant_id, pool_id, batch_id = await _fresh_pool(database, "copy")
    rows = [
        (tenant_id, pool_id, batch_id, text, "generated", 1)
        for text in unique_random_codes(codes, length=8)
    ]
    started = time.perf_counter()
    async with database.transaction() as session:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.copy_records_to_table("codes", records=rows, columns=COLUMNS)
    return time.perf_counter() - started


async def bench_codes(
    database_url: str, codes: int = 100_000, *, rounds: int = 3
) -> dict[str, Any]:
    """Generate ``codes`` codes through the service and COPY as many raw rows, ``rounds``
    times each, alternating; the database must be migrated."""
    database = Database(database_url, pool_size=1, max_overflow=1)
    service: list[float] = []
    copy: list[float] = []
    try:
        for _ in range(max(rounds, 1)):
            copy.append(await _copy_seconds(database, codes))
            service.append(await _service_seconds(database, codes))
    finally:
        await database.dispose()
    best_service, best_copy = min(service), min(copy)
    return {
        "codes": codes,
        "rounds": len(service),
        "service_seconds": round(best_service, 3),
        "copy_seconds": round(best_copy, 3),
        "ratio": round(best_service / best_copy, 2),
        "codes_per_s": round(codes / best_service),
        "all_service_seconds": [round(s, 3) for s in service],
        "all_copy_seconds": [round(s, 3) for s in copy],
    }


def codes_results(outcome: dict[str, Any]) -> list[Result]:
    """The benchmark as a row of the bench table (``bench/report.py``)."""
    result = Result(
        name=f"generate {outcome['codes']:,} personal codes",
        result=outcome["service_seconds"],
        unit="s",
        baseline=outcome["copy_seconds"],
        baseline_label="raw COPY of as many rows",
        higher_is_better=False,
        target=f"≤ {SECONDS_TARGET:g} s per 100,000; ratio ≤ {RATIO_TARGET:g}",
        notes=[
            f"{outcome['codes_per_s']:,} codes/s; best of {outcome['rounds']}: service "
            f"{outcome['all_service_seconds']} s, COPY {outcome['all_copy_seconds']} s"
        ],
        details=outcome,
    )
    per_100k = outcome["service_seconds"] * 100_000 / outcome["codes"]
    result.target_met = per_100k <= SECONDS_TARGET and (result.ratio or 0) <= RATIO_TARGET
    return [result]


if __name__ == "__main__":
    import sys

    from rich.console import Console

    from bench.infra import provision_database
    from bench.report import render_table

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with provision_database() as provisioned:
        figures = asyncio.run(bench_codes(provisioned.url, count))
    render_table(codes_results(figures), Console())
