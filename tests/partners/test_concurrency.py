"""Three processes import the same bank file at once: every transaction is credited once."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from sqlalchemy import func, select

from tests.factories import TenantFixture
from tests.partners.support import HEADER
from tests.processes import run_workers
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import upsert_customer
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.ledger.verify import verify_ledger
from tonari.models.ledger import PointLot
from tonari.models.partners import PartnerAccrual, PartnerHolder

PROCESSES = 3
ROWS = 600


async def _setup(url: str, tenant_id: int) -> None:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:
            for index in range(50):
                await upsert_customer(
                    session,
                    tenant_id=tenant_id,
                    external_id=f"holder-{index}",
                    fields=CustomerUpsert(card_number=f"KNOWN-{index}"),
                    first_tier="silver",
                    at=utcnow(),
                )
    finally:
        await db.dispose()


async def _state(url: str, tenant_id: int) -> dict:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:

            async def total(query: object) -> int:
                return int(await session.scalar(query) or 0)  # type: ignore[call-overload]

            return {
                "accruals": await total(
                    select(func.count()).where(PartnerAccrual.tenant_id == tenant_id)
                ),
                "accrued": await total(
                    select(func.sum(PartnerAccrual.points)).where(
                        PartnerAccrual.tenant_id == tenant_id
                    )
                ),
                "lots": await total(
                    select(func.sum(PointLot.amount)).where(
                        PointLot.tenant_id == tenant_id, PointLot.source == "partner"
                    )
                ),
                "side_accounts": await total(
                    select(func.count()).where(PartnerHolder.tenant_id == tenant_id)
                ),
                "problems": (await verify_ledger(session, tenant_id=tenant_id)).problems,
            }
    finally:
        await db.dispose()


def test_three_processes_importing_one_file_credit_each_row_once(
    database_url: str, committed_tenant: TenantFixture, tmp_path: Path
) -> None:
    asyncio.run(_setup(database_url, committed_tenant.id))
    rng = random.Random(4)
    lines = []
    for index in range(ROWS):
        card = f"KNOWN-{rng.randrange(50)}" if index % 2 else f"NEW-{rng.randrange(100)}"
        kind = rng.choice(["anywhere", "brand_site"])
        lines.append(f"tx-{index},{card},,{rng.randrange(1_000, 500_000)},{kind},2025-03-10")
    path = tmp_path / "day.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n")
    start = time.time() + 4
    reports = run_workers(
        "tests.partners.worker",
        [[database_url, str(committed_tenant.id), str(path), str(start)] for _ in range(PROCESSES)],
    )
    assert sum(r["credited"] for r in reports) == ROWS
    assert sum(r["skipped"] for r in reports) == ROWS * (PROCESSES - 1)
    state = asyncio.run(_state(database_url, committed_tenant.id))
    points = sum(r["points"] for r in reports)
    assert state["accruals"] == ROWS
    assert state["accrued"] == state["lots"] == points
    new_cards = {line.split(",")[1] for line in lines if ",NEW-" in line}
    assert state["side_accounts"] == len(new_cards), "one side account per new card"
    assert state["problems"] == []
