"""A worker process for the activity concurrency tests.

Run as ``python -m tests.activities.worker URL TENANT_ID MODE COUNT SEED CUSTOMER_IDS START``;
prints one JSON line. All workers wait for the same START (a Unix time) so they really run
side by side; each report is its own transaction, as it is through the API.

Modes: ``share`` reports shares against one budgeted rule, spread over the customers;
``reviews`` has every process review the same products for the first customer, each review
twice (once under an activity id all processes share, once under its own).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from tonari.activities.outcomes import ActivityResult
from tonari.activities.schemas import parse_activity_rules
from tonari.activities.service import report_activity
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.programs.service import programme_in_force

BUDGET = 1_000
POINTS = 10
REVIEW_POINTS = 500
CUSTOMERS = 8
RULES = parse_activity_rules(
    [
        {"code": "share", "action": "social_share", "points": POINTS, "budget_points": BUDGET},
        {
            "code": "review",
            "action": "review_written",
            "points": REVIEW_POINTS,
            "frequency": {"once": "subject"},
        },
    ]
)


async def _report(
    db: Database,
    tenant_id: int,
    customer_id: int,
    action: str,
    activity_id: str,
    subject: str | None,
    seed: int,
) -> ActivityResult:
    async with db.transaction() as session:
        now = utcnow()
        _, programme = await programme_in_force(session, tenant_id=tenant_id, at=now)
        return await report_activity(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            action=action,
            activity_id=activity_id,
            subject=subject,
            occurred_at=now,
            rules=RULES,
            programme=programme,
            actor=f"worker-{seed}",
        )


async def run(
    db: Database, tenant_id: int, mode: str, customer_ids: list[int], count: int, seed: int
) -> dict[str, float]:
    rewarded = refused = 0
    started = time.time()
    for index in range(count):
        if mode == "share":
            customer_id = customer_ids[(index + seed) % len(customer_ids)]
            reports = [("social_share", f"share-{seed}-{index}", None)]
        else:
            customer_id = customer_ids[0]
            subject = f"product-{index}"
            reports = [
                ("review_written", f"shared-{index}", subject),
                ("review_written", f"own-{seed}-{index}", subject),
            ]
        for action, activity_id, subject in reports:
            result = await _report(db, tenant_id, customer_id, action, activity_id, subject, seed)
            if result.points and not result.replayed:
                rewarded += 1
            else:
                refused += 1
    return {"rewarded": rewarded, "refused": refused, "started": started, "finished": time.time()}


async def main() -> None:
    url, tenant_id, mode, count, seed, ids, start = sys.argv[1:8]
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:  # connect before the start line
            await programme_in_force(session, tenant_id=int(tenant_id), at=utcnow())
        await asyncio.sleep(max(float(start) - time.time(), 0))
        report = await run(
            db, int(tenant_id), mode, [int(i) for i in ids.split(",")], int(count), int(seed)
        )
    finally:
        await db.dispose()
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
