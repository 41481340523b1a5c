"""Run the ledger jobs to completion, one transaction per batch (used by CLI and worker)."""

from __future__ import annotations

from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.ledger.jobs import BatchResult, expire_batch, release_pending_batch


async def run_ledger_jobs(
    url: str, *, batch: int = 200, database: Database | None = None
) -> tuple[BatchResult, BatchResult]:
    db = database or Database(url, pool_size=1, max_overflow=1)
    released, expired = BatchResult(), BatchResult()
    try:
        for job, total in ((release_pending_batch, released), (expire_batch, expired)):
            while True:
                async with db.transaction() as session:
                    done = await job(session, now=utcnow(), limit=batch)
                total.add(done)
                if done.accounts == 0:
                    break
    finally:
        if database is None:
            await db.dispose()
    return released, expired
