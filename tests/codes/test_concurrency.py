"""Four real processes redeem the same single-use codes at once: each is used exactly once."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from tests.codes.support import T0, make_pool
from tests.factories import TenantFixture
from tests.processes import run_workers
from tonari.codes.service import generate_codes
from tonari.db import Database
from tonari.models.codes import CodeRedemption, PromoCode

PROCESSES = 4
CODES = 60


async def _codes(url: str, tenant_id: int, pool: str) -> list[str]:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:
            await make_pool(session, tenant_id, code=pool, kind="personal")
            await generate_codes(session, tenant_id=tenant_id, pool=pool, count=CODES, at=T0)
            return list(
                await session.scalars(
                    select(PromoCode.code)
                    .where(PromoCode.tenant_id == tenant_id)
                    .order_by(PromoCode.id)
                )
            )
    finally:
        await db.dispose()


def _race(url: str, tenant_id: int, mode: str, pool: str, codes: list[str]) -> list[dict[str, int]]:
    start = time.time() + 3
    reports = run_workers(
        "tests.codes.redeem_worker",
        [
            [url, str(tenant_id), mode, str(seed), str(start), pool, *codes]
            for seed in range(PROCESSES)
        ],
        timeout=300,
    )
    return reports


async def _state(url: str, tenant_id: int) -> tuple[list[int], int]:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:
            uses = list(
                await session.scalars(
                    select(PromoCode.uses).where(PromoCode.tenant_id == tenant_id)
                )
            )
            redemptions = await session.scalar(
                select(func.count()).where(CodeRedemption.tenant_id == tenant_id)
            )
            return uses, redemptions or 0
    finally:
        await db.dispose()


def test_four_processes_use_a_single_use_code_exactly_once(
    database_url: str, committed_tenant: TenantFixture
) -> None:
    codes = asyncio.run(_codes(database_url, committed_tenant.id, "race"))
    reports = _race(database_url, committed_tenant.id, "orders", "race", codes)
    assert sum(r["redeemed"] for r in reports) == CODES, "every code was used once"
    assert sum(r["used_up"] for r in reports) == CODES * (PROCESSES - 1), "and only once"
    assert sum(r["replayed"] for r in reports) == 0
    uses, redemptions = asyncio.run(_state(database_url, committed_tenant.id))
    assert uses == [1] * CODES
    assert redemptions == CODES


def test_one_order_retried_by_four_processes_uses_a_code_once(
    database_url: str, committed_tenant: TenantFixture
) -> None:
    codes = asyncio.run(_codes(database_url, committed_tenant.id, "retries"))
    reports = _race(database_url, committed_tenant.id, "retries", "retries", codes)
    assert sum(r["redeemed"] for r in reports) == CODES
    assert sum(r["replayed"] for r in reports) == CODES * (PROCESSES - 1)
    assert sum(r["used_up"] for r in reports) == 0, "a retry is never refused"
    uses, redemptions = asyncio.run(_state(database_url, committed_tenant.id))
    assert uses == [1] * CODES
    assert redemptions == CODES
