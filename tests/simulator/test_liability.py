"""The finance team's liability report against hand-counted lots on real PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture, make_tenant
from tonari.ledger import jobs
from tonari.ledger import service as ledger
from tonari.models.customers import Customer
from tonari.models.ledger import LedgerAccount
from tonari.simulator.liability import liability_report

AT = datetime.fromisoformat("2025-06-15T12:00:00+03:00")
EARNED = datetime.fromisoformat("2025-01-10T12:00:00+03:00")


def moscow(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+03:00")


async def _customer(
    client: httpx.AsyncClient, session: AsyncSession, tenant: TenantFixture, name: str
) -> int:
    response = await client.put(f"/v1/customers/{name}", json={}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    customer_id = await session.scalar(
        select(Customer.id).where(Customer.tenant_id == tenant.id, Customer.external_id == name)
    )
    assert customer_id is not None
    return int(customer_id)


async def _earn(
    session: AsyncSession,
    tenant: TenantFixture,
    customer_id: int,
    amount: int,
    expires: datetime | None,
    *,
    pending_until: datetime = EARNED,
) -> ledger.LockedAccount:
    account = await ledger.lock_account(session, tenant_id=tenant.id, customer_id=customer_id)
    await ledger.earn_lots(
        session,
        account,
        [ledger.LotToEarn(amount, EARNED, pending_until, expires, source="test")],
        reason="test",
        actor="tests",
        occurred_at=EARNED,
    )
    return account


async def test_liability_by_expiry_month_from_hand_counted_lots(
    client: httpx.AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    z = await _customer(client, session, tenant, "z")
    spent = await _earn(session, tenant, z, 80, moscow("2025-03-01T00:00:00"))
    await ledger.draw_points(
        session, spent, [ledger.LineSpend(None, 80)], reserve=False, reason="spent all",
        actor="tests", occurred_at=EARNED,
    )  # fmt: skip
    x = await _customer(client, session, tenant, "x")
    await _earn(session, tenant, x, 70, moscow("2025-04-10T00:00:00"))  # expired below
    await jobs.expire_batch(session, now=moscow("2025-04-30T00:00:00"), tenant_id=tenant.id)
    # The end of June is local midnight of 1 July: June's row. One second later is July's.
    await _earn(session, tenant, x, 100, moscow("2025-07-01T00:00:00"))
    await _earn(session, tenant, x, 200, moscow("2025-07-01T00:00:01"))
    await _earn(
        session, tenant, x, 300, moscow("2025-07-15T00:00:00"),
        pending_until=moscow("2025-07-01T00:00:00"),
    )  # fmt: skip
    await _earn(session, tenant, x, 400, None)
    account = await _earn(session, tenant, x, 50, moscow("2025-05-20T00:00:00"))
    # 30 points held for an unpaid order, drawn from the lot expiring soonest (May's)
    await ledger.draw_points(
        session, account, [ledger.LineSpend(None, 30)], reserve=True, reason="held",
        actor="tests", occurred_at=EARNED,
    )  # fmt: skip
    y = await _customer(client, session, tenant, "y")
    await _earn(session, tenant, y, 1_000, moscow("2025-06-30T10:00:00"))
    await session.execute(
        update(LedgerAccount).where(LedgerAccount.customer_id == y).values(debt=25)
    )  # a debt a return left behind (allow_negative); owed by the customer
    other = await make_tenant(session)
    stranger = await _customer(client, session, other, "x")
    await _earn(session, other, stranger, 5_000, moscow("2025-06-20T00:00:00"))

    report = await liability_report(session, tenant_id=tenant.id, at=AT)
    rows = {row.month: row for row in report.rows}
    assert [row.month for row in report.rows] == ["2025-05", "2025-06", "2025-07", None]
    assert (rows["2025-05"].available, rows["2025-05"].reserved) == (20, 30)
    assert rows["2025-05"].past_expiry and not rows["2025-06"].past_expiry
    assert (rows["2025-06"].available, rows["2025-06"].lots) == (100 + 1_000, 2)
    assert (rows["2025-07"].available, rows["2025-07"].pending) == (200, 300)
    assert rows[None].points == 400
    assert report.points == 50 + 1_100 + 500 + 400
    assert report.customers == 2
    assert report.debt_points == 25 and report.customers_in_debt == 1
    answer = report.as_dict()
    assert answer["total"] == {"points": 2_050, "value_minor": 205_000}  # 1 point = 1 RUB
    assert answer["net"] == {"points": 2_025, "value_minor": 202_500}
    assert answer["months"][-1]["never_expires"] is True
    assert answer["months"][1]["value_minor"] == 110_000

    response = await client.get(
        "/v1/reports/liability", params={"at": AT.isoformat()}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == answer
    theirs = await client.get("/v1/reports/liability", headers=other.headers)
    assert theirs.json()["total"]["points"] == 5_000
