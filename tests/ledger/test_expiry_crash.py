"""Release and expiry killed with ``kill -9`` mid-run: every due lot handled exactly once.

Many customers each get one lot from an order placed 10 days ago (return window 1 day,
expiry after 2 days), so every lot is due for release and then for expiry. The jobs run in
another OS process one account per transaction; that process is killed during the release
phase and again during the expiry phase, then a fresh one finishes the work.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import REPO_ROOT
from tests.factories import make_tenant, panasonic_document
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import upsert_customer
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.ledger.verify import verify_ledger
from tonari.models.ledger import LedgerAccount, LedgerEntry, LedgerPosting, PointLot
from tonari.orders.schemas import OrderPlace
from tonari.orders.service import place_order

CUSTOMERS = 240
RUN_JOBS = (
    "import asyncio, sys\n"
    "from tonari.ledger.runner import run_ledger_jobs\n"
    "asyncio.run(run_ledger_jobs(sys.argv[1], batch=1))\n"
)


async def _seed(database: Database) -> int:
    placed_at = utcnow() - timedelta(days=10)
    async with database.transaction() as session:
        tenant = await make_tenant(
            session,
            programme=panasonic_document(expiry={"mode": "after_days", "days": 2}, pending_days=1),
        )
    for start in range(0, CUSTOMERS, 60):
        async with database.transaction() as session:
            for n in range(start, min(start + 60, CUSTOMERS)):
                await upsert_customer(
                    session,
                    tenant_id=tenant.id,
                    external_id=f"c{n}",
                    fields=CustomerUpsert(),
                    first_tier="silver",
                    at=placed_at,
                )
                body = OrderPlace(
                    order_id=f"o{n}",
                    customer={"external_id": f"c{n}"},  # type: ignore[arg-type]
                    lines=[
                        {
                            "product_id": "kettle",
                            "unit_price": 10_000 * (n % 7 + 1),  # type: ignore[list-item]
                            "quantity": 1,
                        }
                    ],
                    paid=True,
                    placed_at=placed_at,
                )
                await place_order(
                    session, tenant_id=tenant.id, body=body, actor="test", now=placed_at
                )
    return tenant.id


async def _count_lots(database: Database, tenant_id: int, state: str) -> int:
    async with database.sessions() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(PointLot)
                .where(PointLot.tenant_id == tenant_id, PointLot.state == state)
            )
            or 0
        )


def _start(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN_JOBS, url],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _kill_when(process: subprocess.Popen[str], ready: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + 120
    while not await ready():
        assert process.poll() is None, "the jobs finished before they could be killed"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(process.wait)
    assert process.returncode == -signal.SIGKILL


async def test_kill_9_during_release_and_expiry_handles_each_lot_once(
    database: Database, database_url: str
) -> None:
    tenant_id = await _seed(database)
    lots = await _count_lots(database, tenant_id, "pending")
    assert lots == CUSTOMERS

    async def some_released() -> bool:
        return await _count_lots(database, tenant_id, "available") > 0

    async def some_expired() -> bool:
        return await _count_lots(database, tenant_id, "expired") > 0

    await _kill_when(_start(database_url), some_released)
    assert await _count_lots(database, tenant_id, "pending") > 0, "killed mid-release"
    await _kill_when(_start(database_url), some_expired)
    assert await _count_lots(database, tenant_id, "available") > 0, "killed mid-expiry"

    finisher = _start(database_url)
    _, err = await asyncio.to_thread(finisher.communicate, timeout=300)
    assert finisher.returncode == 0, err[-3000:]

    async with database.sessions() as s:
        states = dict(
            (
                await s.execute(
                    select(PointLot.state, func.count())
                    .where(PointLot.tenant_id == tenant_id)
                    .group_by(PointLot.state)
                )
            ).all()
        )
        assert states == {"expired": CUSTOMERS}
        lot_total = int(
            await s.scalar(select(func.sum(PointLot.amount)).where(PointLot.tenant_id == tenant_id))
            or 0
        )
        assert lot_total > 0
        assert (
            await s.scalar(
                select(func.sum(PointLot.remaining)).where(PointLot.tenant_id == tenant_id)
            )
            == 0
        )
        expired_account = await s.scalar(
            select(LedgerAccount.id).where(
                LedgerAccount.tenant_id == tenant_id,
                LedgerAccount.kind == "points_expired",
                LedgerAccount.customer_id.is_(None),
            )
        )
        burnt = await s.scalar(
            select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(
                LedgerPosting.account_id == expired_account
            )
        )
        assert burnt == lot_total, "the expired account got each lot's points exactly once"
        per_lot = dict(
            (
                await s.execute(
                    select(LedgerPosting.lot_id, func.count())
                    .join(LedgerEntry, LedgerEntry.id == LedgerPosting.entry_id)
                    .where(
                        LedgerPosting.tenant_id == tenant_id,
                        LedgerEntry.kind == "expire",
                        LedgerPosting.lot_id.is_not(None),
                    )
                    .group_by(LedgerPosting.lot_id)
                )
            ).all()
        )
        assert len(per_lot) == CUSTOMERS and set(per_lot.values()) == {1}
        released = dict(
            (
                await s.execute(
                    select(LedgerPosting.lot_id, func.count())
                    .join(LedgerEntry, LedgerEntry.id == LedgerPosting.entry_id)
                    .where(
                        LedgerPosting.tenant_id == tenant_id,
                        LedgerEntry.kind == "release",
                        LedgerPosting.lot_id.is_not(None),
                    )
                    .group_by(LedgerPosting.lot_id)
                )
            ).all()
        )
        assert len(released) == CUSTOMERS and set(released.values()) == {2}  # pending→available
        report = await verify_ledger(s, tenant_id=tenant_id)
        assert report.ok, report.problems
