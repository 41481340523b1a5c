"""A worker process importing a partner file, for the concurrency test.

Run as ``python -m tests.partners.worker URL TENANT_ID FILE START``. Waits for START (a
Unix time) so that all workers import at once; prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from tests.partners.support import bank
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.partners.accruals import import_partner_accruals
from tonari.programs.service import programme_in_force


async def main() -> None:
    url, tenant_id, path, start = sys.argv[1:5]
    db = Database(url, pool_size=1, max_overflow=1)
    try:
        async with db.transaction() as session:
            _, programme = await programme_in_force(session, tenant_id=int(tenant_id), at=utcnow())
        await asyncio.sleep(max(float(start) - time.time(), 0))
        report = await import_partner_accruals(
            db.transaction,
            tenant_id=int(tenant_id),
            partner=bank(),
            programme=programme,
            path=Path(path),
            actor="worker",
            now=utcnow(),
            chunk_rows=50,
        )
    finally:
        await db.dispose()
    print(
        json.dumps(
            {"credited": report.credited, "skipped": report.skipped, "points": report.points}
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
