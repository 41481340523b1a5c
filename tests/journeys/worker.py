"""A process that enters journeys or advances due instances (for the concurrency tests).

``enter``: replays the same cart event for every customer, one transaction each, exactly as
a redelivered reaction would arrive; ``due``: runs process_due_instances.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import datetime

from sqlalchemy import text

from tonari.db import Database
from tonari.journeys.reactions import react_to_reactions
from tonari.journeys.runner import process_due_instances
from tonari.reactions.dispatcher import Reaction


async def _barrier(db: Database, name: str, workers: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            text("INSERT INTO test_journey_ready (worker) VALUES (:w)"), {"w": name}
        )
    deadline = time.time() + 120
    while time.time() < deadline:
        async with db.transaction() as session:
            ready = (
                await session.execute(text("SELECT count(*) FROM test_journey_ready"))
            ).scalar_one()
        if ready >= workers:
            return
        await asyncio.sleep(0.02)


async def main(url: str, name: str, workers: int, mode: str, tenant_id: int, at: str) -> None:
    moment = datetime.fromisoformat(at)
    db = Database(url, pool_size=2, max_overflow=0)
    try:
        await _barrier(db, name, workers)
        done = 0
        if mode == "enter":
            async with db.transaction() as session:
                customers = list(
                    (
                        await session.execute(
                            text("SELECT id FROM customers WHERE tenant_id = :t ORDER BY id"),
                            {"t": tenant_id},
                        )
                    ).scalars()
                )
            for customer_id in customers:
                reaction = Reaction(
                    id=customer_id,
                    tenant_id=tenant_id,
                    customer_id=customer_id,
                    kind="cart_updated",
                    entity_id="cart-1",
                    payload={},
                    occurred_at=moment,
                )
                async with db.transaction() as session:
                    await react_to_reactions(session, tenant_id, [reaction], moment)
                done += 1
        else:
            done = await process_due_instances(db, at=moment, batch=50)
    finally:
        await db.dispose()
    print(json.dumps({"worker": name, "pid": os.getpid(), "done": done}))


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], int(args[2]), args[3], int(args[4]), args[5]))
