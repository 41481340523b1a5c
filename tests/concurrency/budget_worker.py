"""A worker process for the offer-budget test: each places orders for its own customers.

Run as ``python -m tests.concurrency.budget_worker URL TENANT_ID COUNT SEED``; prints one JSON
line with the bonus points its orders received.
"""

from __future__ import annotations

import asyncio
import json
import sys

from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import upsert_customer
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.orders.schemas import OrderPlace
from tonari.orders.service import place_order

LINE = {"product_id": "kettle", "unit_price": 10_000, "quantity": 1}


async def place_many(db: Database, tenant_id: int, count: int, seed: int) -> dict[str, object]:
    bonus = 0
    for index in range(count):
        customer = f"buyer-{seed}-{index}"
        async with db.transaction() as session:
            await upsert_customer(
                session,
                tenant_id=tenant_id,
                external_id=customer,
                fields=CustomerUpsert(),
                first_tier="silver",
                at=utcnow(),
            )
        body = OrderPlace(
            order_id=f"order-{seed}-{index}",
            customer={"external_id": customer},  # type: ignore[arg-type]
            lines=[LINE],  # type: ignore[list-item]
            paid=True,
        )
        async with db.transaction() as session:
            result, _ = await place_order(
                session, tenant_id=tenant_id, body=body, actor="test", now=utcnow()
            )
        bonus += sum(line["bonus_points"] for line in result["lines"])
    return {"bonus": bonus}


async def main() -> None:
    url, tenant_id, count, seed = sys.argv[1:5]
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        report = await place_many(db, int(tenant_id), int(count), int(seed))
    finally:
        await db.dispose()
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
