"""A process that applies queued reactions with a handler logging what it saw (for tests)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.db import Database
from tonari.reactions.dispatcher import Reaction, process_reactions


async def main(url: str, name: str, workers: int) -> None:
    async def log(
        session: AsyncSession, tenant_id: int, reactions: Sequence[Reaction], at: datetime
    ) -> None:
        for reaction in reactions:
            await session.execute(
                text(
                    "INSERT INTO test_reaction_log (reaction_id, customer_id, worker) "
                    "VALUES (:r, :c, :w)"
                ),
                {"r": reaction.id, "c": reaction.customer_id, "w": name},
            )
        # Slow handlers make the workers overlap: a single worker would need 30 batches × 0.25 s,
        # long enough for a process the loaded machine scheduled late to take its share.
        await asyncio.sleep(0.25)

    db = Database(url, pool_size=2, max_overflow=0)
    # All workers start together once every process has imported Tonari and checked in: a
    # loaded machine may take longer than any fixed delay to start a process.
    async with db.transaction() as session:
        await session.execute(
            text("INSERT INTO test_reaction_ready (worker) VALUES (:w)"), {"w": name}
        )
    deadline = time.time() + 120
    while time.time() < deadline:
        async with db.transaction() as session:
            ready = (
                await session.execute(text("SELECT count(*) FROM test_reaction_ready"))
            ).scalar_one()
        if ready >= workers:
            break
        await asyncio.sleep(0.02)
    try:
        done = await process_reactions(db, customers_per_batch=10, handlers=(log,))
    finally:
        await db.dispose()
    print(json.dumps({"worker": name, "pid": os.getpid(), "applied": done}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
