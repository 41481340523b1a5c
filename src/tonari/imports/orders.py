"""Import a brand's order history: replay it through the same rules, written in bulk.

The file is read once, row by row (bad rows go to the report, never stop the import), and its
orders are grouped by customer. Customers are then taken a few thousand orders at a time, one
transaction per chunk: their account rows are locked (``FOR UPDATE``, account id order, the
same lock order as the API), their state is read once, every order is replayed in memory by
``imports.replay`` and everything is written with ``COPY`` into ids reserved from the tables'
sequences. The result is what placing each order through the API on its date (``paid=True``,
no points spent) and then running the ledger jobs at ``now`` would leave behind.

Idempotent by the order's business key: an order whose id the tenant already has is skipped
when it is the same order, and reported as a reject when the id was used for another one.
The service never commits: the caller hands it ``transactions``, a factory of units of work
(``Database.transaction`` in the CLI) and owns what a unit of work is.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.imports.reader import (
    FileFormat,
    ImportedOrder,
    RowReject,
    detect_format,
    read_orders,
)
from tonari.imports.replay import (
    CustomerPlan,
    CustomerState,
    PlannedLot,
    ProgrammeBook,
    replay_customer,
)
from tonari.imports.writer import WriteContext, write_plans
from tonari.kit.driver import driver_in_transaction
from tonari.kit.errors import NotFound
from tonari.ledger.service import system_account
from tonari.models.programs import ProgrammeRecord
from tonari.programs.schemas import CustomerType, Programme

Transactions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
# (stage, done, total): stage "reading" counts rows (total 0: unknown), "writing" orders.
ProgressCallback = Callable[[str, int, int], None]

DEFAULT_CHUNK_ORDERS = 5_000
PROGRESS_EVERY_ROWS = 5_000


@dataclass(slots=True)
class ImportReport:
    rows_read: int = 0
    imported: int = 0
    skipped: int = 0
    customers_created: int = 0
    points_issued: int = 0
    points_expired: int = 0
    tier_changes: int = 0
    seconds: float = 0.0
    rejects: list[RowReject] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    @property
    def orders_per_second(self) -> float:
        return self.imported / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "imported": self.imported,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "customers_created": self.customers_created,
            "points_issued": self.points_issued,
            "points_expired": self.points_expired,
            "tier_changes": self.tier_changes,
            "seconds": round(self.seconds, 3),
            "orders_per_s": round(self.orders_per_second, 1),
        }


@dataclass(frozen=True, slots=True)
class _Context:
    tenant_id: int
    book: ProgrammeBook
    now: datetime
    write: WriteContext


async def import_orders(
    transactions: Transactions,
    *,
    tenant_id: int,
    path: Path,
    now: datetime,
    mapping: dict[str, str] | None = None,
    file_format: FileFormat | str | None = None,
    actor: str = "import",
    chunk_orders: int = DEFAULT_CHUNK_ORDERS,
    writers: int = 1,
    posting_per_lot: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Replay the orders in ``path`` for one tenant; returns what was done and what refused.

    ``writers`` chunks are written at once, each in its own unit of work (the chunks hold
    different customers, so they never wait for each other's locks); ``transactions`` must
    then hand out independent sessions. Each ledger entry is the API's (one earn per order,
    one release and one expiry per customer), but its postings are summed per account and
    bucket unless ``posting_per_lot``: the lots themselves keep the per-line detail, and
    every posting row costs its foreign-key checks.
    """
    started = time.perf_counter()
    report = ImportReport()
    fmt = file_format if isinstance(file_format, FileFormat) else detect_format(path, file_format)
    async with transactions() as session:
        context = await _load_context(
            session, tenant_id=tenant_id, now=now, actor=actor, posting_per_lot=posting_per_lot
        )
    groups = _read_groups(path, fmt, mapping or {}, context.book, report, progress)
    total = sum(len(orders) for orders in groups.values())
    done = 0
    if progress:
        progress("writing", 0, total)
    chunks = iter(_chunks(groups, chunk_orders))

    async def writer() -> None:
        nonlocal done
        for chunk in chunks:
            size = sum(len(orders) for orders in chunk.values())
            async with transactions() as session:
                await _import_chunk(session, context, chunk, report)
            done += size
            if progress:
                progress("writing", done, total)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(writers, 1)):
            group.create_task(writer())
    report.seconds = time.perf_counter() - started
    return report


async def _load_context(
    session: AsyncSession, *, tenant_id: int, now: datetime, actor: str, posting_per_lot: bool
) -> _Context:
    rows = (
        await session.execute(
            select(
                ProgrammeRecord.version, ProgrammeRecord.effective_from, ProgrammeRecord.document
            ).where(ProgrammeRecord.tenant_id == tenant_id)
        )
    ).all()
    if not rows:
        raise NotFound(
            "this tenant has no programme yet: apply one with 'tonari program apply FILE' "
            "before importing history",
            code="no_programme",
        )
    book = ProgrammeBook(
        [
            (
                row.version,
                row.effective_from,
                Programme.model_validate_json(json.dumps(row.document)),
            )
            for row in rows
        ]
    )
    write = WriteContext(
        tenant_id=tenant_id,
        issued_account=await system_account(session, tenant_id, "points_issued"),
        expired_account=await system_account(session, tenant_id, "points_expired"),
        now=now,
        actor=actor,
        posting_per_lot=posting_per_lot,
    )
    return _Context(tenant_id=tenant_id, book=book, now=now, write=write)


def _zone_for_date(book: ProgrammeBook) -> Callable[[date], ZoneInfo]:
    first = book.in_force(datetime.max.replace(tzinfo=UTC))
    fallback = first[1].zone if first else ZoneInfo("UTC")

    def zone(day: date) -> ZoneInfo:
        found = book.in_force(datetime.combine(day, clock_time(12), tzinfo=UTC))
        return found[1].zone if found else fallback

    return zone


def _read_groups(
    path: Path,
    fmt: FileFormat,
    mapping: dict[str, str],
    book: ProgrammeBook,
    report: ImportReport,
    progress: ProgressCallback | None,
) -> dict[str, list[ImportedOrder]]:
    """Valid orders by customer, each list in time order (file order on equal times)."""
    groups: dict[str, list[ImportedOrder]] = {}
    seen: dict[str, tuple[str, int]] = {}
    for item in read_orders(
        path, file_format=fmt, mapping=mapping, zone_for_date=_zone_for_date(book)
    ):
        report.rows_read += 1
        if progress and report.rows_read % PROGRESS_EVERY_ROWS == 0:
            progress("reading", report.rows_read, 0)
        if isinstance(item, RowReject):
            report.rejects.append(item)
            continue
        reason = _refusal(item, book)
        previous = seen.get(item.order_id)
        if reason is None and previous is not None:
            if previous[0] == item.content_hash:
                report.skipped += 1
                continue
            reason = f"order_id {item.order_id!r} repeats row {previous[1]} with other content"
        if reason is not None:
            report.rejects.append(RowReject(item.row, reason, item.order_id, item.customer_id))
            continue
        seen[item.order_id] = (item.content_hash, item.row)
        groups.setdefault(item.customer_id, []).append(item)
    if progress:
        progress("reading", report.rows_read, report.rows_read)
    for orders in groups.values():
        orders.sort(key=lambda order: (order.placed_at, order.row))
    return groups


def _refusal(order: ImportedOrder, book: ProgrammeBook) -> str | None:
    """What the API would refuse about this order before writing anything."""
    found = book.in_force(order.placed_at)
    if found is None:
        return f"no programme in force at {order.placed_at.isoformat()}"
    programme = found[1]
    if len(order.lines) > programme.max_cart_lines:
        return f"{len(order.lines)} lines; the programme allows {programme.max_cart_lines}"
    return None


def _chunks(
    groups: dict[str, list[ImportedOrder]], size: int
) -> Iterable[dict[str, list[ImportedOrder]]]:
    chunk: dict[str, list[ImportedOrder]] = {}
    count = 0
    for customer, orders in groups.items():
        chunk[customer] = orders
        count += len(orders)
        if count >= size:
            yield chunk
            chunk, count = {}, 0
    if chunk:
        yield chunk


PRESENT_ORDERS = """
SELECT o.external_id, o.request_hash, o.placed_at, o.total_regular, c.external_id AS customer
FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
WHERE o.tenant_id = $1 AND o.external_id = ANY($2::text[])
"""

CREATE_CUSTOMERS = """
INSERT INTO customers (tenant_id, external_id, tier_code, tier_since)
SELECT $1, u.external_id, u.tier_code, u.tier_since
FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS u(external_id, tier_code, tier_since)
ON CONFLICT (tenant_id, external_id) DO NOTHING
RETURNING id
"""

CREATE_ACCOUNTS = """
INSERT INTO ledger_accounts (tenant_id, kind, customer_id)
SELECT $1, 'customer', unnest($2::bigint[])
ON CONFLICT DO NOTHING
"""

LOCK_CUSTOMERS = """
SELECT c.id, c.external_id, c.customer_type, c.tier_code, c.tier_since, c.lifetime_spend,
       c.orders_count, c.first_purchase_at, c.last_purchase_at,
       a.id AS account_id, a.pending, a.available, a.debt
FROM ledger_accounts a JOIN customers c ON c.id = a.customer_id
WHERE c.tenant_id = $1 AND a.tenant_id = $1 AND c.external_id = ANY($2::text[])
ORDER BY a.id
FOR UPDATE
"""

ORDER_HISTORY = """
SELECT customer_id, placed_at, net_spend FROM orders
WHERE tenant_id = $1 AND customer_id = ANY($2::bigint[]) AND status <> 'cancelled'
ORDER BY placed_at, id
"""

DUE_LOTS = """
SELECT l.id, l.account_id, l.amount, l.remaining, l.state, l.earned_at, l.pending_until,
       l.expires_at
FROM point_lots l
WHERE l.tenant_id = $1 AND l.account_id = ANY($2::bigint[]) AND (
  (l.state = 'pending' AND l.pending_until <= $3 AND (l.order_id IS NULL OR EXISTS (
     SELECT 1 FROM orders o WHERE o.id = l.order_id AND o.paid_at IS NOT NULL)))
  OR (l.state = 'available' AND l.remaining > 0 AND l.expires_at <= $3))
ORDER BY l.id
"""


async def _present(
    driver: Any, tenant_id: int, chunk: dict[str, list[ImportedOrder]], report: ImportReport
) -> None:
    """Drop orders the tenant already has from ``chunk``: skipped if the same, else rejected."""
    order_ids = [order.order_id for orders in chunk.values() for order in orders]
    rows = await driver.fetch(PRESENT_ORDERS, tenant_id, order_ids)
    if not rows:
        return
    known = {row["external_id"]: row for row in rows}
    for customer in list(chunk):
        keep: list[ImportedOrder] = []
        for order in chunk[customer]:
            row = known.get(order.order_id)
            if row is None:
                keep.append(order)
            elif _same_order(order, row):
                report.skipped += 1
            else:
                report.rejects.append(
                    RowReject(
                        order.row,
                        f"order_id {order.order_id!r} already exists with other content "
                        f"(customer {row['customer']!r}, placed_at {row['placed_at'].isoformat()}, "
                        f"total {row['total_regular']})",
                        order.order_id,
                        order.customer_id,
                    )
                )
        if keep:
            chunk[customer] = keep
        else:
            del chunk[customer]


def _same_order(order: ImportedOrder, row: Any) -> bool:
    """The same order: same content hash, or (placed via the API) same buyer, time and total."""
    if row["request_hash"] == order.content_hash:
        return True
    return bool(
        row["customer"] == order.customer_id
        and row["placed_at"] == order.placed_at
        and row["total_regular"] == order.amount
    )


async def _import_chunk(
    session: AsyncSession,
    context: _Context,
    chunk: dict[str, list[ImportedOrder]],
    report: ImportReport,
) -> None:
    driver = await driver_in_transaction(session)
    tenant_id = context.tenant_id
    await _present(driver, tenant_id, chunk, report)
    if not chunk:
        return
    names = list(chunk)
    created_ids = await _create_customers(driver, context, chunk)
    states = {
        row["external_id"]: _state(row, created=row["id"] in created_ids)
        for row in await driver.fetch(LOCK_CUSTOMERS, tenant_id, names)
    }
    # Under the locks, the API cannot place any of these customers' orders meanwhile.
    await _present(driver, tenant_id, chunk, report)
    existing = [state for state in states.values() if not state.created]
    if existing and context.book.needs_order_history:
        by_id = {state.customer_id: state for state in existing}
        for row in await driver.fetch(ORDER_HISTORY, tenant_id, list(by_id)):
            by_id[row["customer_id"]].record_spend(row["placed_at"], row["net_spend"])
    due: dict[int, list[PlannedLot]] = {}
    if existing:
        accounts = [state.account_id for state in existing]
        for row in await driver.fetch(DUE_LOTS, tenant_id, accounts, context.now):
            due.setdefault(row["account_id"], []).append(
                PlannedLot(
                    amount=row["amount"],
                    remaining=row["remaining"],
                    state=row["state"],
                    earned_at=row["earned_at"],
                    pending_until=row["pending_until"],
                    expires_at=row["expires_at"],
                    lot_id=row["id"],
                    state_at_earn=row["state"],
                )
            )
    plans: list[CustomerPlan] = []
    for name, orders in chunk.items():
        state = states.get(name)
        if state is None:
            for order in orders:
                report.rejects.append(
                    RowReject(
                        order.row,
                        f"customer {name!r} has no points account",
                        order.order_id,
                        name,
                    )
                )
            continue
        plans.append(
            replay_customer(
                context.book, state, orders, now=context.now, due_lots=due.get(state.account_id)
            )
        )
    await write_plans(driver, context.write, plans)
    report.customers_created += len(created_ids)
    for plan in plans:
        report.imported += len(plan.orders)
        report.points_issued += plan.points_issued
        report.points_expired += plan.points_expired
        report.tier_changes += len(plan.tier_changes)


async def _create_customers(
    driver: Any, context: _Context, chunk: dict[str, list[ImportedOrder]]
) -> set[int]:
    """Create the customers the tenant does not know, at the first tier, with an account."""
    names, tiers, since = [], [], []
    for name, orders in chunk.items():
        first = orders[0].placed_at
        found = context.book.in_force(first)
        assert found is not None  # the reader refused orders without a programme
        names.append(name)
        tiers.append(found[1].tiers[0].code)
        since.append(first)
    rows = await driver.fetch(CREATE_CUSTOMERS, context.tenant_id, names, tiers, since)
    created = {int(row["id"]) for row in rows}
    if created:
        await driver.execute(CREATE_ACCOUNTS, context.tenant_id, list(created))
    return created


def _state(row: Any, *, created: bool) -> CustomerState:
    return CustomerState(
        customer_id=row["id"],
        account_id=row["account_id"],
        external_id=row["external_id"],
        customer_type=CustomerType(row["customer_type"]),
        tier_code=row["tier_code"],
        tier_since=row["tier_since"],
        lifetime_spend=row["lifetime_spend"],
        orders_count=row["orders_count"],
        first_purchase_at=row["first_purchase_at"],
        last_purchase_at=row["last_purchase_at"],
        pending=row["pending"],
        available=row["available"],
        debt=row["debt"],
        created=created,
    )
