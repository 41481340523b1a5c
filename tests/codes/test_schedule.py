"""Every buyer gets a new personal code every 14 days; running twice issues nothing more."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.codes.support import T0, events, make_customer, make_pool
from tonari.codes.jobs import issue_scheduled_codes
from tonari.models.codes import PromoCode
from tonari.models.customers import Customer
from tonari.worker import create_worker_app

DAY = timedelta(days=1)


async def _bought(session, customer_id: int, at) -> None:
    await session.execute(
        update(Customer).where(Customer.id == customer_id).values(last_purchase_at=at)
    )


async def _run(session, tenant, at, **kwargs):
    return await issue_scheduled_codes(
        session, tenant_id=tenant.id, pool="biweekly", now=at, **kwargs
    )


async def _codes_of(session, customer_id: int) -> list[PromoCode]:
    return list(
        await session.scalars(
            select(PromoCode)
            .where(PromoCode.owner_customer_id == customer_id)
            .order_by(PromoCode.id)
        )
    )


async def test_buyers_get_a_code_every_14_days(session, tenant) -> None:
    await make_pool(
        session, tenant.id, code="biweekly", kind="personal", reissue_every_days=14, valid_days=14
    )
    buyer = await make_customer(session, tenant.id, "buyer")
    browser = await make_customer(session, tenant.id, "browser")  # never bought
    await _bought(session, buyer, T0 - DAY)

    first = await _run(session, tenant, T0)
    assert first.issued == 1 and first.next_after is None
    again = await _run(session, tenant, T0)
    assert again.issued == 0, "the same moment twice issues nothing more"
    [code] = await _codes_of(session, buyer)
    assert (code.source, code.issued_at, code.expires_at) == ("scheduled", T0, T0 + 14 * DAY)
    assert await _codes_of(session, browser) == []

    await _bought(session, buyer, T0 + 3 * DAY)
    assert (await _run(session, tenant, T0 + 13 * DAY)).issued == 0, "last code is 13 days old"
    assert (await _run(session, tenant, T0 + 14 * DAY)).issued == 1, "14 days and a purchase"
    assert (await _run(session, tenant, T0 + 30 * DAY)).issued == 0, "no purchase since"
    await _bought(session, buyer, T0 + 31 * DAY)
    assert (await _run(session, tenant, T0 + 31 * DAY)).issued == 1
    assert len(await _codes_of(session, buyer)) == 3
    assert await _codes_of(session, browser) == []

    issued = await events(session, tenant.id, "code.issued")
    assert len(issued) == 3
    assert issued[0].subject == "buyer"
    assert issued[0].payload["pool"] == "biweekly"
    assert issued[0].payload["reason"] == "every 14 days"


async def test_a_recent_code_of_the_pool_counts_too(session, tenant) -> None:
    from tonari.codes.service import issue_personal_code

    await make_pool(session, tenant.id, code="biweekly", kind="personal", reissue_every_days=14)
    buyer = await make_customer(session, tenant.id, "buyer")
    await _bought(session, buyer, T0)
    await issue_personal_code(
        session, tenant_id=tenant.id, pool="biweekly", customer_id=buyer, at=T0, reason="offer"
    )
    assert (await _run(session, tenant, T0 + 5 * DAY)).issued == 0
    assert (await _run(session, tenant, T0 + 14 * DAY)).issued == 1


async def test_schedule_runs_in_batches(session, tenant) -> None:
    await make_pool(session, tenant.id, code="biweekly", kind="personal", reissue_every_days=14)
    for index in range(5):
        customer = await make_customer(session, tenant.id, f"c{index}")
        await _bought(session, customer, T0 - DAY)
    cursor, issued, rounds = 0, 0, 0
    while cursor is not None:
        run = await _run(session, tenant, T0, after_customer_id=cursor, limit=2)
        issued, cursor, rounds = issued + run.issued, run.next_after, rounds + 1
    assert (issued, rounds) == (5, 3)
    assert (await _run(session, tenant, T0)).issued == 0


async def test_paused_pool_issues_nothing(client, session, tenant) -> None:
    await make_pool(session, tenant.id, code="biweekly", kind="personal", reissue_every_days=14)
    buyer = await make_customer(session, tenant.id, "buyer")
    await _bought(session, buyer, T0 - DAY)
    await client.post("/v1/code-pools/biweekly/pause", headers=tenant.headers)
    assert (await _run(session, tenant, T0)).issued == 0


def test_the_worker_runs_the_schedule(database_url: str) -> None:
    app = create_worker_app(database_url)
    assert "tonari.codes.reissue" in app.tasks
    periodic = [task.task.name for task in app.periodic_registry.periodic_tasks.values()]
    assert "tonari.codes.reissue" in periodic
