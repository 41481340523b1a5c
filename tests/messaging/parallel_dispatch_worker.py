"""A dispatcher process for the parallel tests: ``python -m ... URL START_AT``.

Waits until START_AT (epoch seconds, so the processes start deciding together), dispatches
small batches on four lanes until a run claims nothing, and prints its report as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from tonari.db import Database
from tonari.messaging.dispatcher import dispatch_due_messages


async def main(url: str, start_at: float) -> None:
    db = Database(url, pool_size=2, max_overflow=4)
    totals: dict[str, object] = {"sent": 0, "errors": 0, "skipped": {}}
    try:
        await asyncio.sleep(max(start_at - time.time(), 0))
        while True:
            report = await dispatch_due_messages(
                db, batch=30, concurrency=4, base_url="https://club.example"
            )
            if not report.claimed:
                break
            totals["sent"] = int(str(totals["sent"])) + report.sent
            totals["errors"] = int(str(totals["errors"])) + report.errors
            skipped = dict(totals["skipped"])  # type: ignore[call-overload]
            for reason, count in report.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + count
            totals["skipped"] = skipped
    finally:
        await db.dispose()
    print(json.dumps(totals))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
