"""A worker process for the concurrency tests: places orders against one shared account.

Run as ``python -m tests.concurrency.worker URL TENANT_ID MODE COUNT SEED``; prints one JSON
line with what it saw. Each order is its own transaction, as it is through the API.
"""

from __future__ import annotations

import asyncio
import json
import sys

from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.kit.errors import InsufficientPoints
from tonari.kit.hashing import canonical_hash
from tonari.orders.schemas import OrderPlace
from tonari.orders.service import place_order

LINE = {"product_id": "cable", "category": "accessories", "unit_price": 10_000, "quantity": 1}


async def spend(db: Database, tenant_id: int, count: int, seed: int) -> dict[str, object]:
    placed = refused = 0
    for index in range(count):
        body = OrderPlace(
            order_id=f"spend-{seed}-{index}",
            customer={"external_id": "shared"},  # type: ignore[arg-type]
            lines=[LINE],  # type: ignore[list-item]
            points_to_spend=10,
            paid=True,
        )
        try:
            async with db.transaction() as session:
                await place_order(
                    session, tenant_id=tenant_id, body=body, actor="test", now=utcnow()
                )
            placed += 1
        except InsufficientPoints:
            refused += 1
    return {"placed": placed, "refused": refused}


async def same_ids(db: Database, tenant_id: int, count: int) -> dict[str, object]:
    answers = {}
    created = 0
    for index in range(count):
        body = OrderPlace(
            order_id=f"twin-{index}",
            customer={"external_id": "shared"},  # type: ignore[arg-type]
            lines=[LINE],  # type: ignore[list-item]
            paid=True,
        )
        async with db.transaction() as session:
            result, was_created = await place_order(
                session, tenant_id=tenant_id, body=body, actor="test", now=utcnow()
            )
        created += int(was_created)
        answers[body.order_id] = canonical_hash(result)
    return {"created": created, "answers": answers}


async def main() -> None:
    url, tenant_id, mode, count, seed = sys.argv[1:6]
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        if mode == "spend":
            report = await spend(db, int(tenant_id), int(count), int(seed))
        else:
            report = await same_ids(db, int(tenant_id), int(count))
    finally:
        await db.dispose()
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
