"""Re-imports change nothing, bad rows are reported (and write nothing), --map renames columns."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture
from tests.imports.support import CUSTOMER_STATE, counts, rows, savepoints, utc
from tonari.imports.orders import import_orders
from tonari.imports.reader import parse_mapping
from tonari.imports.synthetic import synthetic_history, write_history
from tonari.ledger.verify import verify_ledger

NOW = utc("2024-03-20T09:00:00+00:00")


async def test_importing_the_same_file_twice_changes_nothing(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    history = synthetic_history(
        orders=150,
        customers=20,
        start=utc("2022-06-01T00:00:00+00:00"),
        end=utc("2024-03-10T00:00:00+00:00"),
        seed=3,
    )
    path = write_history(tmp_path / "history.csv", history)
    first = await import_orders(
        savepoints(session), tenant_id=tenant.id, path=path, now=NOW, chunk_orders=40
    )
    assert (first.imported, first.skipped, first.rejected) == (150, 0, 0)
    assert first.customers_created == 20
    before = await counts(session, tenant.id)
    balances = await rows(session, CUSTOMER_STATE, tenant.id)

    again = await import_orders(savepoints(session), tenant_id=tenant.id, path=path, now=NOW)
    assert (again.imported, again.skipped, again.rejected) == (0, 150, 0)
    assert again.customers_created == 0
    assert await counts(session, tenant.id) == before
    assert await rows(session, CUSTOMER_STATE, tenant.id) == balances
    assert (await verify_ledger(session, tenant_id=tenant.id)).ok


async def test_bad_rows_are_reported_with_row_and_reason_and_nothing_is_written_for_them(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    lines = [
        {
            "customer_id": "ok-1",
            "order_id": "good-1",
            "placed_at": "2023-05-01T10:00:00+03:00",
            "amount": 100_000,
        },
        {"customer_id": "ok-1", "order_id": "float", "placed_at": "2023-05-02", "amount": 12.5},
        {"customer_id": "ok-1", "order_id": "text", "placed_at": "2023-05-02", "amount": "1250"},
        {"order_id": "nobody", "placed_at": "2023-05-02", "amount": 100},
        {"customer_id": "ghost", "order_id": "bad-date", "placed_at": "2023-13-45", "amount": 100},
        {
            "customer_id": "ok-1",
            "order_id": "naive",
            "placed_at": "2023-05-02T10:00:00",
            "amount": 100,
        },
        {"customer_id": "ok-1", "order_id": "negative", "placed_at": "2023-05-02", "amount": -5},
        {"customer_id": "ok-2", "order_id": "good-1", "placed_at": "2023-05-03", "amount": 777},
        {
            "customer_id": "ok-1",
            "order_id": "good-1",
            "placed_at": "2023-05-01T10:00:00+03:00",
            "amount": 100_000,
        },
        {
            "customer_id": "ok-1",
            "order_id": "sum",
            "placed_at": "2023-05-02",
            "amount": 10,
            "lines": [{"product_id": "a", "unit_price": 5, "quantity": 1}],
        },
        {"customer_id": "ok-1", "order_id": "too-early", "placed_at": "2019-05-02", "amount": 1},
    ]
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{broken\n")
    report = await import_orders(savepoints(session), tenant_id=tenant.id, path=path, now=NOW)

    reasons = {reject.row: reject.reason for reject in report.rejects}
    assert "float" in reasons[2] and "12.5" in reasons[2]
    assert "string" in reasons[3]
    assert "customer_id is missing" in reasons[4]
    assert "not an ISO timestamp" in reasons[5] or "not a date" in reasons[5]
    assert "no offset" in reasons[6]
    assert "negative" in reasons[7]
    assert "repeats row 1 with other content" in reasons[8]
    assert "differs from the lines' total" in reasons[10]
    assert "no programme in force" in reasons[11]
    assert "not valid JSON" in reasons[12]
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 10, 11, 12]
    assert (report.imported, report.skipped) == (1, 1)  # row 9 repeats row 1 exactly

    customers = (
        (
            await session.execute(
                text("SELECT external_id FROM customers WHERE tenant_id = :t ORDER BY 1"),
                {"t": tenant.id},
            )
        )
        .scalars()
        .all()
    )
    assert customers == ["ok-1"]
    orders = (
        (
            await session.execute(
                text("SELECT external_id FROM orders WHERE tenant_id = :t"), {"t": tenant.id}
            )
        )
        .scalars()
        .all()
    )
    assert orders == ["good-1"]

    # The same order id later with other content is refused against the database too.
    path.write_text(
        json.dumps(
            {"customer_id": "ok-1", "order_id": "good-1", "placed_at": "2023-05-01", "amount": 5}
        )
        + "\n"
    )
    again = await import_orders(savepoints(session), tenant_id=tenant.id, path=path, now=NOW)
    assert again.imported == 0
    assert [reject.row for reject in again.rejects] == [1]
    assert "already exists with other content" in again.rejects[0].reason


async def test_csv_amounts_must_be_integer_minor_units(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_id,placed_at,amount\n"
        "c1,o1,2023-01-05,12.50\n"
        "c1,o2,2023-01-05,abc\n"
        "c1,o3,2023-01-05,1250\n"
    )
    report = await import_orders(savepoints(session), tenant_id=tenant.id, path=path, now=NOW)
    assert report.imported == 1
    reasons = {reject.row: reject.reason for reject in report.rejects}
    assert "fraction" in reasons[2]
    assert "not an integer" in reasons[3]


async def test_map_reads_other_column_names(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "client,receipt,date,total,items\n"
        "c-1,r-1,2023-02-01T12:00:00+03:00,1000000,\n"
        'c-1,r-2,2023-02-03,,"[{""product_id"": ""tv"", ""category"": ""promo"", '
        '""unit_price"": 500000, ""quantity"": 2}]"\n'
    )
    mapping = parse_mapping(
        ["customer_id=client", "order_id=receipt", "placed_at=date", "amount=total", "lines=items"]
    )
    report = await import_orders(
        savepoints(session), tenant_id=tenant.id, path=path, now=NOW, mapping=mapping
    )
    assert report.rejects == []
    assert report.imported == 2
    # Silver 5% of 10,000 roubles, then the promo category's 30% of 10,000 roubles.
    assert report.points_issued == 500 + 3_000
    [customer] = await rows(session, CUSTOMER_STATE, tenant.id)
    assert customer["external_id"] == "c-1"
    assert customer["lifetime_spend"] == 2_000_000
    # Released after the return window, then expired at the end of February 2024.
    assert (customer["pending"], customer["available"], customer["expired"]) == (0, 0, 3_500)


def test_map_refuses_unknown_targets() -> None:
    import pytest

    with pytest.raises(ValueError, match="not one of"):
        parse_mapping(["price=total"])
    with pytest.raises(ValueError, match="target=source"):
        parse_mapping(["amount"])
