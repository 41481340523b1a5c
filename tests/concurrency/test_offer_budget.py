"""Four processes race for one offer's points budget; it is never overspent."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from tests.factories import TenantFixture, make_tenant, panasonic_document
from tests.processes import run_workers
from tonari.db import Database
from tonari.ledger.verify import verify_ledger
from tonari.models.offers import OfferApplication, OfferBudget

PROCESSES = 4
PER_PROCESS = 8
BUDGET = 1_000
BONUS = 70  # 1,000 / 70 = 14 orders fit, 32 try


def _programme() -> dict[str, object]:
    document = panasonic_document()
    document["offers"] = [
        {
            "code": "launch",
            "name": "70 bonus points while the budget lasts",
            "effects": [{"type": "bonus_points", "points": BONUS}],
            "limits": {"budget_points": BUDGET},
        }
    ]
    return document


async def _tenant(url: str) -> TenantFixture:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:
            return await make_tenant(session, programme=_programme())
    finally:
        await db.dispose()


async def _state(url: str, tenant_id: int) -> dict[str, object]:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:
            spent = await session.scalar(
                select(OfferBudget.spent).where(OfferBudget.tenant_id == tenant_id)
            )
            given = await session.scalar(
                select(func.coalesce(func.sum(OfferApplication.points), 0)).where(
                    OfferApplication.tenant_id == tenant_id
                )
            )
            report = await verify_ledger(session, tenant_id=tenant_id)
            return {"spent": spent, "given": given, "problems": report.problems}
    finally:
        await db.dispose()


def test_parallel_orders_never_overspend_a_points_budget(database_url: str) -> None:
    tenant = asyncio.run(_tenant(database_url))
    reports = run_workers(
        "tests.concurrency.budget_worker",
        [[database_url, tenant.id, PER_PROCESS, seed] for seed in range(PROCESSES)],
    )
    bonus = sum(report["bonus"] for report in reports)
    state = asyncio.run(_state(database_url, tenant.id))
    assert bonus == (BUDGET // BONUS) * BONUS == 980
    assert state["spent"] == state["given"] == bonus
    assert state["problems"] == []
