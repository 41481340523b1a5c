"""Several OS processes hammer one points account at once, on real PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from tests.factories import TenantFixture
from tests.processes import run_workers
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import upsert_customer
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.ledger.adjustments import AdjustmentIn, adjust_points
from tonari.ledger.verify import verify_ledger
from tonari.models.customers import Customer
from tonari.models.ledger import LedgerAccount, PointLot
from tonari.models.orders import Order
from tonari.tenants.service import Principal

PROCESSES = 4
GRANT = 20_000


async def _setup_shared_customer(url: str, tenant_id: int, grant: int) -> None:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:
            await upsert_customer(
                session,
                tenant_id=tenant_id,
                external_id="shared",
                fields=CustomerUpsert(),
                first_tier="silver",
                at=utcnow(),
            )
            if grant:
                principal = Principal(
                    tenant_id=tenant_id, actor="test", scopes=frozenset({"admin"})
                )
                await adjust_points(
                    session,
                    principal,
                    external_id="shared",
                    body=AdjustmentIn(
                        direction="grant",
                        points=grant,
                        reason="load test",
                        idempotency_key="grant-shared",
                    ),
                    at=utcnow(),
                )
    finally:
        await db.dispose()


def _run_workers(url: str, tenant_id: int, mode: str, count: int) -> list[dict]:
    return run_workers(
        "tests.concurrency.worker",
        [[url, tenant_id, mode, count, seed] for seed in range(PROCESSES)],
    )


async def _state(url: str, tenant_id: int) -> dict:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction() as session:
            customer = await session.scalar(
                select(Customer).where(
                    Customer.tenant_id == tenant_id, Customer.external_id == "shared"
                )
            )
            assert customer is not None
            account = await session.scalar(
                select(LedgerAccount).where(LedgerAccount.customer_id == customer.id)
            )
            assert account is not None
            orders = await session.scalar(
                select(func.count()).select_from(Order).where(Order.tenant_id == tenant_id)
            )
            spent = await session.scalar(
                select(func.coalesce(func.sum(Order.points_spent), 0)).where(
                    Order.tenant_id == tenant_id
                )
            )
            lots = await session.scalar(
                select(func.count())
                .select_from(PointLot)
                .where(PointLot.tenant_id == tenant_id, PointLot.source == "order")
            )
            report = await verify_ledger(session, tenant_id=tenant_id)
            return {
                "available": account.available,
                "pending": account.pending,
                "orders": orders,
                "spent": spent,
                "lots": lots,
                "orders_count": customer.orders_count,
                "problems": report.problems,
            }
    finally:
        await db.dispose()


def test_four_processes_spending_one_account_never_overspend(
    database_url: str, committed_tenant: TenantFixture
) -> None:
    asyncio.run(_setup_shared_customer(database_url, committed_tenant.id, GRANT))
    per_process = 650  # 4 × 650 orders × 10 points = 26,000 wanted from 20,000
    reports = _run_workers(database_url, committed_tenant.id, "spend", per_process)
    placed = sum(r["placed"] for r in reports)
    refused = sum(r["refused"] for r in reports)
    state = asyncio.run(_state(database_url, committed_tenant.id))
    assert placed + refused == PROCESSES * per_process
    assert placed == GRANT // 10, "every spendable point was spent, and not one more"
    assert refused == PROCESSES * per_process - GRANT // 10
    assert state["available"] == 0
    assert state["spent"] == GRANT
    assert state["orders"] == placed
    assert state["problems"] == []


def test_same_order_id_from_four_processes_counts_once(
    database_url: str, committed_tenant: TenantFixture
) -> None:
    asyncio.run(_setup_shared_customer(database_url, committed_tenant.id, 0))
    count = 150
    reports = _run_workers(database_url, committed_tenant.id, "twins", count)
    state = asyncio.run(_state(database_url, committed_tenant.id))
    assert sum(r["created"] for r in reports) == count
    assert state["orders"] == count
    assert state["orders_count"] == count
    assert state["lots"] == count
    assert state["pending"] == count * 5  # 100 roubles at Silver 5% = 5 points each
    for order_id in reports[0]["answers"]:
        assert len({r["answers"][order_id] for r in reports}) == 1, "same answer for every twin"
    assert state["problems"] == []
