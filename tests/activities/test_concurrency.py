"""Four OS processes report at once: budgets hold, and a review is rewarded once per product."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from tests.activities.worker import BUDGET, CUSTOMERS, POINTS, REVIEW_POINTS
from tests.factories import TenantFixture
from tests.processes import run_workers
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import upsert_customer
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.ledger.verify import verify_ledger
from tonari.models.activities import ActivityBudget, ActivityReport, ActivityReward
from tonari.models.ledger import LedgerAccount, PointLot

PROCESSES = 4
PER_PROCESS = 60  # 240 shares × 10 points = 2,400 points wanted from a budget of 1,000


async def _customers(url: str, tenant_id: int) -> list[int]:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:
            ids = []
            for index in range(CUSTOMERS):
                customer, _ = await upsert_customer(
                    session,
                    tenant_id=tenant_id,
                    external_id=f"sharer-{index}",
                    fields=CustomerUpsert(),
                    first_tier="silver",
                    at=utcnow(),
                )
                ids.append(customer.id)
            return ids
    finally:
        await db.dispose()


async def _state(url: str, tenant_id: int) -> dict:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:

            async def count(model: type, *where: object) -> int:
                query = select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
                return int(await session.scalar(query.where(*where)) or 0)

            lots = await session.scalar(
                select(func.coalesce(func.sum(PointLot.amount), 0)).where(
                    PointLot.tenant_id == tenant_id, PointLot.source == "activity"
                )
            )
            balances = await session.scalar(
                select(func.coalesce(func.sum(LedgerAccount.available), 0)).where(
                    LedgerAccount.tenant_id == tenant_id,
                    LedgerAccount.customer_id.is_not(None),
                )
            )
            budget = await session.scalar(
                select(ActivityBudget.points_given).where(ActivityBudget.tenant_id == tenant_id)
            )
            report = await verify_ledger(session, tenant_id=tenant_id)
            return {
                "lots": lots,
                "balances": balances,
                "rewarded": await count(ActivityReward, ActivityReward.outcome == "rewarded"),
                "reports": await count(ActivityReport),
                "budget": budget,
                "problems": report.problems,
            }
    finally:
        await db.dispose()


def _run_workers(url: str, tenant_id: int, mode: str, count: int, ids: list[int]) -> list[dict]:
    start = time.time() + 4  # every process connected and waiting by then
    reports = run_workers(
        "tests.activities.worker",
        [
            [url, str(tenant_id), mode, str(count), str(seed), ",".join(map(str, ids)), str(start)]
            for seed in range(PROCESSES)
        ],
    )
    assert max(r["started"] for r in reports) < min(r["finished"] for r in reports), (
        "the four processes really ran side by side"
    )
    return reports


def test_four_processes_never_overspend_a_budget_of_1000_points(
    database_url: str, committed_tenant: TenantFixture
) -> None:
    ids = asyncio.run(_customers(database_url, committed_tenant.id))
    reports = _run_workers(database_url, committed_tenant.id, "share", PER_PROCESS, ids)
    rewarded = sum(r["rewarded"] for r in reports)
    assert rewarded + sum(r["refused"] for r in reports) == PROCESSES * PER_PROCESS
    assert rewarded == BUDGET // POINTS, "every point of the budget was given, and not one more"
    state = asyncio.run(_state(database_url, committed_tenant.id))
    assert state == {
        "lots": BUDGET,
        "balances": BUDGET,
        "rewarded": BUDGET // POINTS,
        "reports": PROCESSES * PER_PROCESS,
        "budget": BUDGET,
        "problems": [],
    }


def test_four_processes_reviewing_the_same_products_are_rewarded_once_per_product(
    database_url: str, committed_tenant: TenantFixture
) -> None:
    ids = asyncio.run(_customers(database_url, committed_tenant.id))
    products = 30
    reports = _run_workers(database_url, committed_tenant.id, "reviews", products, ids)
    assert sum(r["rewarded"] for r in reports) == products
    state = asyncio.run(_state(database_url, committed_tenant.id))
    assert state == {
        "lots": products * REVIEW_POINTS,
        "balances": products * REVIEW_POINTS,
        "rewarded": products,
        "reports": products + PROCESSES * products,  # shared activity ids stored once
        "budget": None,
        "problems": [],
    }
