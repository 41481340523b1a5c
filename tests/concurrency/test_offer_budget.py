"""Four processes race for one offer's points budget; it is never overspent."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from sqlalchemy import func, select

from tests.conftest import REPO_ROOT
from tests.factories import TenantFixture, make_tenant, panasonic_document
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
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.concurrency.budget_worker",
                database_url,
                str(tenant.id),
                str(PER_PROCESS),
                str(seed),
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(PROCESSES)
    ]
    bonus = 0
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        bonus += json.loads(out.strip().splitlines()[-1])["bonus"]
    state = asyncio.run(_state(database_url, tenant.id))
    assert bonus == (BUDGET // BONUS) * BONUS == 980
    assert state["spent"] == state["given"] == bonus
    assert state["problems"] == []
