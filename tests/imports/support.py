"""Helpers for the import tests: run the importer in the test's transaction, read state back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.schemas import CustomerReference
from tonari.customers.service import ensure_customer
from tonari.imports.synthetic import SyntheticOrder
from tonari.ledger.jobs import expire_batch, release_pending_batch
from tonari.orders.schemas import OrderLineIn, OrderPlace
from tonari.orders.service import place_order


def savepoints(session: AsyncSession) -> Any:
    """A ``transactions`` factory for the importer: one savepoint per chunk, rolled back later."""

    @asynccontextmanager
    async def unit() -> AsyncIterator[AsyncSession]:
        async with session.begin_nested():
            yield session

    def factory() -> AbstractAsyncContextManager[AsyncSession]:
        return unit()

    return factory


def moment(placed_at: str, zone: str) -> datetime:
    if len(placed_at) == 10:
        return datetime.combine(date.fromisoformat(placed_at), time(0), tzinfo=ZoneInfo(zone))
    return datetime.fromisoformat(placed_at)


async def place_through_api(
    session: AsyncSession, tenant_id: int, orders: list[SyntheticOrder], zone: str
) -> None:
    """Place ``orders`` one by one, in time order, as a shop would have (paid, no points spent)."""
    ordered = sorted(enumerate(orders), key=lambda item: (moment(item[1].placed_at, zone), item[0]))
    for _, order in ordered:
        at = moment(order.placed_at, zone)
        await ensure_customer(
            session, tenant_id=tenant_id, external_id=order.customer_id, first_tier="silver", at=at
        )
        lines = order.lines or [
            {"product_id": "import", "category": None, "unit_price": order.amount, "quantity": 1}
        ]
        body = OrderPlace(
            order_id=order.order_id,
            customer=CustomerReference(external_id=order.customer_id),
            lines=[OrderLineIn(**line) for line in lines],
            placed_at=at,
            paid=True,
        )
        await place_order(session, tenant_id=tenant_id, body=body, actor="tests", now=at)


async def run_jobs(session: AsyncSession, tenant_id: int, now: datetime) -> None:
    for job in (release_pending_batch, expire_batch):
        while (await job(session, now=now, tenant_id=tenant_id)).accounts:
            pass


CUSTOMER_STATE = """
SELECT c.external_id, c.tier_code, c.lifetime_spend, c.orders_count, c.first_purchase_at,
       c.last_purchase_at, a.pending, a.available, a.reserved, a.debt,
       COALESCE((SELECT -SUM(p.amount) FROM ledger_postings p
                 JOIN ledger_entries e ON e.id = p.entry_id
                 WHERE e.kind = 'expire' AND p.account_id = a.id), 0) AS expired
FROM customers c JOIN ledger_accounts a ON a.customer_id = c.id
WHERE c.tenant_id = :tenant_id ORDER BY c.external_id
"""

ORDERS = """
SELECT o.external_id, o.tier_code, o.total_regular, o.points_earned, o.net_spend, o.status,
       o.placed_at, o.paid_at, o.programme_version, o.result
FROM orders o WHERE o.tenant_id = :tenant_id ORDER BY o.external_id
"""

LOTS = """
SELECT o.external_id, l.order_line_no, l.amount, l.remaining, l.state, l.earned_at,
       l.pending_until, l.expires_at
FROM point_lots l JOIN orders o ON o.id = l.order_id
WHERE l.tenant_id = :tenant_id ORDER BY o.external_id, l.order_line_no
"""

TIER_EVENTS = """
SELECT subject, payload->>'from' AS "from", payload->>'to' AS "to", payload->>'at' AS at
FROM outbox_events WHERE tenant_id = :tenant_id AND event_type = 'customer.tier_changed'
ORDER BY subject, occurred_at, id
"""

COUNTS = """
SELECT (SELECT count(*) FROM orders WHERE tenant_id = :t) AS orders,
       (SELECT count(*) FROM order_lines WHERE tenant_id = :t) AS order_lines,
       (SELECT count(*) FROM customers WHERE tenant_id = :t) AS customers,
       (SELECT count(*) FROM ledger_accounts WHERE tenant_id = :t) AS accounts,
       (SELECT count(*) FROM ledger_entries WHERE tenant_id = :t) AS entries,
       (SELECT count(*) FROM ledger_postings WHERE tenant_id = :t) AS postings,
       (SELECT count(*) FROM point_lots WHERE tenant_id = :t) AS lots,
       (SELECT count(*) FROM outbox_events WHERE tenant_id = :t) AS events
"""


async def rows(session: AsyncSession, sql: str, tenant_id: int) -> list[dict[str, Any]]:
    result = await session.execute(text(sql), {"tenant_id": tenant_id})
    return [dict(row._mapping) for row in result]


async def counts(session: AsyncSession, tenant_id: int) -> dict[str, int]:
    return dict((await session.execute(text(COUNTS), {"t": tenant_id})).one()._mapping)


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)
