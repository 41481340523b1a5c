"""A dispatcher process for the crash tests: dispatch until a campaign has nothing left.

``python -m tests.messaging.dispatch_worker URL NAME CAMPAIGN_ID WORKERS LEASE_SECONDS``
checks in, waits until WORKERS processes have (a database barrier: a loaded machine can take
longer than any fixed delay to start a process), then dispatches with one send lane until no
row of the campaign is queued or sending, and prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from sqlalchemy import text

from tonari.db import Database
from tonari.messaging.dispatcher import dispatch_due_messages


async def main(url: str, name: str, campaign_id: int, workers: int, lease: float) -> None:
    db = Database(url, pool_size=2, max_overflow=2)
    async with db.transaction() as session:
        await session.execute(
            text("INSERT INTO test_dispatch_ready (worker) VALUES (:w)"), {"w": name}
        )
    deadline = time.time() + 120
    while time.time() < deadline:
        async with db.transaction() as session:
            ready = await session.scalar(text("SELECT count(*) FROM test_dispatch_ready"))
        if (ready or 0) >= workers:
            break
        await asyncio.sleep(0.02)
    sent = 0
    try:
        while time.time() < deadline:
            report = await dispatch_due_messages(
                db, batch=20, concurrency=1, lease_seconds=lease, base_url="https://club.example"
            )
            sent += report.sent
            async with db.transaction() as session:
                left = await session.scalar(
                    text(
                        "SELECT count(*) FROM message_sends WHERE campaign_id = :c "
                        "AND status IN ('queued', 'sending')"
                    ),
                    {"c": campaign_id},
                )
            if not left:
                break
            # What is left is leased by another (or a killed) worker: look again soon.
            await asyncio.sleep(0.2)
    finally:
        await db.dispose()
    print(json.dumps({"worker": name, "pid": os.getpid(), "sent": sent}))


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    )
