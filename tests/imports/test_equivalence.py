"""Importing history ends exactly where placing each order through the API would have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_tenant, panasonic_document
from tests.imports.support import (
    CUSTOMER_STATE,
    LOTS,
    ORDERS,
    TIER_EVENTS,
    counts,
    moment,
    place_through_api,
    rows,
    run_jobs,
    savepoints,
    utc,
)
from tonari.imports.orders import import_orders
from tonari.imports.synthetic import synthetic_history, write_history
from tonari.ledger.verify import verify_ledger

NOW = utc("2024-03-20T09:00:00+00:00")
START = utc("2022-01-01T00:00:00+00:00")
END = utc("2024-03-15T00:00:00+00:00")

PROGRAMMES: dict[str, dict[str, Any]] = {
    "panasonic": {},
    "rolling_reevaluate": {
        "qualification": {"basis": "rolling_months", "months": 6},
        "downgrade": {"rule": "reevaluate"},
        "pending_days": 0,
        "expiry": {"mode": "after_days", "days": 400},
        "earn_base": "full_price",
        "rounding": "half_up",
    },
    "previous_month": {
        "qualification": {"basis": "previous_calendar_month"},
        "downgrade": {"rule": "reevaluate"},
        "tiers": [
            {"code": "silver", "name": "Silver", "threshold": 0, "earn_rate_bp": 300},
            {"code": "gold", "name": "Gold", "threshold": 1_000_000, "earn_rate_bp": 700},
        ],
        "pending_days": 30,
        "expiry": {"mode": "end_of_month_after_months", "months": 3},
    },
}


def _strip_events(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["subject"], e["from"], e["to"], utc(e["at"])) for e in events]


def _by_customer(state: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row.pop("external_id"): row for row in state}


def _orders(state: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row.pop("external_id"): row for row in state}


@pytest.mark.parametrize(
    ("variant", "file_name", "posting_per_lot"),
    [(name, "history.csv", False) for name in sorted(PROGRAMMES)]
    + [("panasonic", "history.jsonl", False), ("panasonic", "history.csv", True)],
)
async def test_import_equals_placing_each_order_through_the_api(
    session: AsyncSession, tmp_path: Path, variant: str, file_name: str, posting_per_lot: bool
) -> None:
    document = panasonic_document(**PROGRAMMES[variant])
    imported = await make_tenant(session, programme=document)
    placed = await make_tenant(session, programme=document)
    history = synthetic_history(orders=320, customers=30, start=START, end=END, seed=11)
    path = write_history(tmp_path / file_name, history)
    zone = document["timezone"]

    # Some customers already have their first orders in the importing tenant, placed live
    # (no ledger jobs run since): the import continues their history.
    early = [
        order
        for customer in ("c1", "c2", "c4")
        for order in sorted(
            (o for o in history if o.customer_id == customer),
            key=lambda o: moment(o.placed_at, zone),
        )[:2]
    ]
    await place_through_api(session, imported.id, early, zone)
    report = await import_orders(
        savepoints(session),
        tenant_id=imported.id,
        path=path,
        now=NOW,
        chunk_orders=70,
        posting_per_lot=posting_per_lot,
    )
    assert report.rejects == []
    assert report.skipped == len(early)
    assert report.imported == len(history) - len(early)

    await place_through_api(session, placed.id, history, zone)
    await run_jobs(session, placed.id, NOW)

    expected = _by_customer(await rows(session, CUSTOMER_STATE, placed.id))
    actual = _by_customer(await rows(session, CUSTOMER_STATE, imported.id))
    assert actual == expected
    assert sum(row["expired"] for row in expected.values()) > 0
    assert len({row["tier_code"] for row in expected.values()}) > 1
    assert await rows(session, LOTS, imported.id) == await rows(session, LOTS, placed.id)
    expected_orders = _orders(await rows(session, ORDERS, placed.id))
    actual_orders = _orders(await rows(session, ORDERS, imported.id))
    assert actual_orders.keys() == expected_orders.keys()
    for order_id, row in expected_orders.items():
        assert actual_orders[order_id] == row, order_id
    assert _strip_events(await rows(session, TIER_EVENTS, imported.id)) == _strip_events(
        await rows(session, TIER_EVENTS, placed.id)
    )
    assert report.points_issued == sum(
        row["points_earned"]
        for order_id, row in expected_orders.items()
        if order_id not in {order.order_id for order in early}
    )
    # The same entries (an earn per order, a release and an expiry per customer); postings
    # are the API's one per lot and side, or summed per account and bucket.
    imported_counts = await counts(session, imported.id)
    placed_counts = await counts(session, placed.id)
    assert imported_counts["entries"] == placed_counts["entries"]
    if posting_per_lot:
        assert imported_counts["postings"] == placed_counts["postings"]
    else:
        assert imported_counts["postings"] < placed_counts["postings"]
    for tenant_id in (imported.id, placed.id):
        verification = await verify_ledger(session, tenant_id=tenant_id)
        assert verification.ok, verification.problems
