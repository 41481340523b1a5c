"""Turn replayed customers into rows and write them with ``COPY``, ids reserved up front.

Ids come from each table's own sequence (``nextval`` in bulk), so orders, entries and lots can
be referenced by their children before anything is sent, and each table is one ``COPY``.
Every row costs its foreign-key checks, which is what makes summed postings worth having.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tonari.imports.replay import AVAILABLE, PENDING, CustomerPlan
from tonari.ledger.service import SYSTEM

# JSONB re-parses the text anyway: skip the pretty separators, ASCII escaping and cycle checks.
_json = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class WriteContext:
    tenant_id: int
    issued_account: int
    expired_account: int
    now: datetime
    actor: str
    posting_per_lot: bool


UPDATE_CUSTOMERS = """
UPDATE customers AS c
SET tier_code = u.tier_code, tier_since = u.tier_since, lifetime_spend = u.lifetime_spend,
    orders_count = u.orders_count, first_purchase_at = u.first_purchase_at,
    last_purchase_at = u.last_purchase_at
FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[],
            $6::timestamptz[], $7::timestamptz[])
     AS u(id, tier_code, tier_since, lifetime_spend, orders_count, first_purchase_at,
          last_purchase_at)
WHERE c.id = u.id
"""

UPDATE_ACCOUNTS = """
UPDATE ledger_accounts AS a
SET pending = u.pending, available = u.available, debt = u.debt
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])
     AS u(id, pending, available, debt)
WHERE a.id = u.id
"""

UPDATE_LOTS = """
UPDATE point_lots AS l SET state = u.state, remaining = u.remaining
FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS u(id, state, remaining)
WHERE l.id = u.id
"""


async def _reserve_ids(driver: Any, table: str, count: int) -> list[int]:
    """Ids from the table's own sequence, so rows can reference each other before COPY."""
    if count == 0:
        return []
    rows = await driver.fetch(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id FROM generate_series(1, $2)",
        table,
        count,
    )
    return [row["id"] for row in rows]


@dataclass(slots=True)
class _Rows:
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    lots: list[tuple[Any, ...]] = field(default_factory=list)
    postings: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    lot_updates: list[tuple[int, str, int]] = field(default_factory=list)


COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": (
        "id",
        "tenant_id",
        "external_id",
        "customer_id",
        "status",
        "channel",
        "request_hash",
        "currency",
        "programme_version",
        "tier_code",
        "total_regular",
        "points_spent",
        "total_paid",
        "points_earned",
        "net_spend",
        "discount_total",
        "placed_at",
        "paid_at",
        "result",
    ),
    "order_lines": (
        "tenant_id",
        "order_id",
        "line_no",
        "product_id",
        "category",
        "unit_price",
        "quantity",
        "line_total",
        "discount",
        "points_spent",
        "amount_paid",
        "points_earned",
    ),
    "ledger_entries": (
        "id",
        "tenant_id",
        "kind",
        "customer_id",
        "order_id",
        "reason",
        "actor",
        "occurred_at",
    ),
    "point_lots": (
        "id",
        "tenant_id",
        "account_id",
        "customer_id",
        "order_id",
        "order_line_no",
        "source",
        "amount",
        "remaining",
        "state",
        "earned_at",
        "pending_until",
        "expires_at",
    ),
    "ledger_postings": ("tenant_id", "entry_id", "account_id", "bucket", "amount", "lot_id"),
    "outbox_events": (
        "tenant_id",
        "event_id",
        "event_type",
        "subject",
        "payload",
        "occurred_at",
    ),
}


async def write_plans(driver: Any, context: WriteContext, plans: list[CustomerPlan]) -> None:
    order_count = sum(len(plan.orders) for plan in plans)
    lot_count = sum(len(order.lots) for plan in plans for order in plan.orders)
    entry_count = sum(
        sum(1 for order in plan.orders if order.lots)
        + (1 if plan.released else 0)
        + (1 if plan.expired else 0)
        for plan in plans
    )
    order_ids = iter(await _reserve_ids(driver, "orders", order_count))
    entry_ids = iter(await _reserve_ids(driver, "ledger_entries", entry_count))
    # Lots need their ids up front only when postings name them.
    lot_ids = iter(
        await _reserve_ids(driver, "point_lots", lot_count) if context.posting_per_lot else []
    )
    rows = _Rows()
    for plan in plans:
        _plan_rows(rows, context, plan, order_ids, lot_ids, entry_ids)
    lot_columns = COLUMNS["point_lots"] if context.posting_per_lot else COLUMNS["point_lots"][1:]
    # Parents before children: the foreign keys are checked row by row.
    for table, columns, records in (
        ("orders", COLUMNS["orders"], rows.orders),
        ("order_lines", COLUMNS["order_lines"], rows.lines),
        ("ledger_entries", COLUMNS["ledger_entries"], rows.entries),
        ("point_lots", lot_columns, rows.lots),
        ("ledger_postings", COLUMNS["ledger_postings"], rows.postings),
        ("outbox_events", COLUMNS["outbox_events"], rows.events),
    ):
        if records:
            await driver.copy_records_to_table(table, records=records, columns=columns)
    if rows.lot_updates:
        ids, states, remaining = zip(*rows.lot_updates, strict=True)
        await driver.execute(UPDATE_LOTS, list(ids), list(states), list(remaining))
    if plans:
        customers = [plan.state for plan in plans]
        await driver.execute(
            UPDATE_CUSTOMERS,
            [s.customer_id for s in customers],
            [s.tier_code for s in customers],
            [s.tier_since for s in customers],
            [s.lifetime_spend for s in customers],
            [s.orders_count for s in customers],
            [s.first_purchase_at for s in customers],
            [s.last_purchase_at for s in customers],
        )
        await driver.execute(
            UPDATE_ACCOUNTS,
            [s.account_id for s in customers],
            [s.pending for s in customers],
            [s.available for s in customers],
            [s.debt for s in customers],
        )


def _post(
    rows: _Rows,
    context: WriteContext,
    entry_id: int,
    postings: list[tuple[int, str, int, int | None]],
) -> None:
    """An entry's postings (account, bucket, amount, lot): per lot, or summed per bucket."""
    tenant_id = context.tenant_id
    if context.posting_per_lot:
        rows.postings.extend(
            (tenant_id, entry_id, account, bucket, amount, lot_id)
            for account, bucket, amount, lot_id in postings
            if amount
        )
        return
    sums: dict[tuple[int, str], int] = {}
    for account, bucket, amount, _ in postings:
        sums[(account, bucket)] = sums.get((account, bucket), 0) + amount
    rows.postings.extend(
        (tenant_id, entry_id, account, bucket, amount, None)
        for (account, bucket), amount in sums.items()
        if amount
    )


def _plan_rows(
    rows: _Rows,
    context: WriteContext,
    plan: CustomerPlan,
    order_ids: Iterator[int],
    lot_ids: Iterator[int],
    entry_ids: Iterator[int],
) -> None:
    tenant_id = context.tenant_id
    state = plan.state
    account = state.account_id
    issued = context.issued_account
    for planned in plan.orders:
        order = planned.order
        calculation = planned.calculation
        order_id = next(order_ids)
        rows.orders.append(
            (
                order_id,
                tenant_id,
                order.order_id,
                state.customer_id,
                "paid",
                "import",
                order.content_hash,
                planned.programme.currency,
                planned.version,
                calculation.tier_code,
                calculation.total_regular,
                calculation.points_applied,
                calculation.total_to_pay,
                calculation.points_to_earn,
                calculation.total_regular - calculation.discount_total,
                calculation.discount_total,
                order.placed_at,
                order.placed_at,
                _json(planned.result),
            )
        )
        for line in calculation.lines:
            rows.lines.append(
                (
                    tenant_id,
                    order_id,
                    line.line_no,
                    line.product_id,
                    line.category,
                    line.unit_price,
                    line.quantity,
                    line.regular_total,
                    line.discount,
                    line.points_applied,
                    line.price_to_pay,
                    line.points_to_earn,
                )
            )
        if not planned.lots:
            continue
        entry_id = next(entry_ids)
        rows.entries.append(
            (
                entry_id,
                tenant_id,
                "earn",
                state.customer_id,
                order_id,
                f"order {order.order_id} at {calculation.tier_code}",
                context.actor,
                order.placed_at,
            )
        )
        postings: list[tuple[int, str, int, int | None]] = []
        for lot in planned.lots:
            row: tuple[Any, ...] = (
                tenant_id,
                account,
                state.customer_id,
                order_id,
                lot.line_no,
                "order",
                lot.amount,
                lot.remaining,
                lot.state,
                lot.earned_at,
                lot.pending_until,
                lot.expires_at,
            )
            if context.posting_per_lot:
                lot.lot_id = next(lot_ids)
                row = (lot.lot_id, *row)
            rows.lots.append(row)
            postings.append((account, lot.state_at_earn, lot.amount, lot.lot_id))
            postings.append((issued, SYSTEM, -lot.amount, None))
        _post(rows, context, entry_id, postings)
    _job_rows(rows, context, plan, entry_ids)
    for change in plan.tier_changes:
        payload = {
            "customer": state.external_id,
            "from": change.previous,
            "to": change.tier_code,
            "direction": change.direction,
            "reason": change.reason,
            "at": change.at.isoformat(),
            "source": "import",
        }
        rows.events.append(
            (
                tenant_id,
                f"evt_{uuid.uuid4().hex}",
                "customer.tier_changed",
                state.external_id,
                _json(payload),
                change.at,
            )
        )


def _job_rows(
    rows: _Rows, context: WriteContext, plan: CustomerPlan, entry_ids: Iterator[int]
) -> None:
    """The release and expiry entries the ledger jobs would write at ``now``."""
    tenant_id = context.tenant_id
    state = plan.state
    account = state.account_id
    if plan.released:
        entry_id = next(entry_ids)
        rows.entries.append(
            (
                entry_id,
                tenant_id,
                "release",
                state.customer_id,
                None,
                "return window over: points are spendable",
                "system:release",
                context.now,
            )
        )
        postings: list[tuple[int, str, int, int | None]] = []
        for lot in plan.released:
            postings.append((account, PENDING, -lot.released_amount, lot.lot_id))
            postings.append((account, AVAILABLE, lot.released_amount, lot.lot_id))
        _post(rows, context, entry_id, postings)
    if plan.expired:
        entry_id = next(entry_ids)
        rows.entries.append(
            (
                entry_id,
                tenant_id,
                "expire",
                state.customer_id,
                None,
                "points expired",
                "system:expiry",
                context.now,
            )
        )
        postings = []
        for lot in plan.expired:
            postings.append((account, AVAILABLE, -lot.expired_amount, lot.lot_id))
            postings.append((context.expired_account, SYSTEM, lot.expired_amount, None))
        _post(rows, context, entry_id, postings)
    touched = {id(lot): lot for lot in (*plan.released, *plan.expired)}
    for lot in touched.values():
        if lot.lot_id is not None and lot.order_index is None:  # an existing lot
            rows.lot_updates.append((lot.lot_id, lot.state, lot.remaining))
