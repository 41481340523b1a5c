"""Reading a history for the simulator: the import's reader plus the what-if columns, and every
bad row reported with its line number and the reason."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from tonari.simulator.history import history_from_records, read_history

MOSCOW = ZoneInfo("Europe/Moscow")
LINES = json.dumps([{"product_id": "p1", "unit_price": 1000, "quantity": 2}])


def test_malformed_rows_are_reported_with_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "customer_id,order_id,placed_at,amount,lines,points_spent,customer_type,returned_at,"
        "returned_lines\n"
        "c1,o1,2024-01-10T10:00:00+03:00,2000,,,,,\n"  # line 2: fine
        "c1,o2,2024-01-11,12.50,,,,,\n"  # line 3
        ",o3,2024-01-12,100,,,,,\n"  # line 4
        "c2,o4,yesterday,100,,,,,\n"  # line 5
        "c2,o5,2024-01-12,100,,-5,,,\n"  # line 6
        "c2,o6,2024-01-12,100,,,robot,,\n"  # line 7
        f'c2,o7,2024-02-01,,"{LINES.replace(chr(34), chr(34) * 2)}",,,2024-01-01,\n'  # line 8
        f'c2,o8,2024-02-01,,"{LINES.replace(chr(34), chr(34) * 2)}",,,2024-02-05,'
        '"[{""line_no"": 1, ""quantity"": 3}]"\n'  # line 9
        "c1,o1,2024-03-01,500,,,,,\n"  # line 10: a repeated order id
        f'c3,o9,2024-02-01,,"{LINES.replace(chr(34), chr(34) * 2)}",40,employee,'
        '2024-02-03T12:00:00+03:00,"[{""line_no"": 1, ""quantity"": 1}]"\n',  # line 11: fine
        encoding="utf-8",
    )
    history = read_history(path, zone=MOSCOW)
    assert [order.order_id for order in history.orders] == ["o1", "o9"]
    reasons = {reject.row: reject.reason for reject in history.rejects}
    assert "has a fraction" in reasons[3]
    assert "customer_id is missing" in reasons[4]
    assert "placed_at" in reasons[5] and "ISO" in reasons[5]
    assert "points_spent -5 is negative" in reasons[6]
    assert "customer_type 'robot'" in reasons[7]
    assert "returned_at" in reasons[8] and "before placed_at" in reasons[8]
    assert "3 units of line 1 returned but only 2 bought" in reasons[9]
    assert "repeats the order of row 2" in reasons[10]
    assert history.rejects[1].order_id == "o3" and history.rejects[1].customer_id is None
    kept = history.orders[1]
    assert kept.points_spent == 40 and kept.customer_type == "employee"
    assert kept.returns[0].quantities == ((1, 1),)
    assert kept.returns[0].at.isoformat() == "2024-02-03T09:00:00+00:00"
    first = history.orders[0]
    assert first.points_spent is None and first.lines[0].product_id == "import"


def test_inline_orders_take_brands_sale_flags_birthdays_and_full_returns() -> None:
    history = history_from_records(
        [
            {
                "customer_id": "c1",
                "order_id": "o1",
                "placed_at": "2024-05-01",
                "birth_date": "1990-05-03",
                "channel": "web",
                "lines": [
                    {"product_id": "p", "unit_price": 500, "quantity": 3, "brand": "Acme"},
                    {"product_id": "q", "unit_price": 100, "quantity": 1, "on_sale": True},
                ],
                "returned_at": "2024-05-02",
            },
            {"customer_id": "c1", "order_id": "o2", "placed_at": "2024-05-01", "amount": 1.5},
            "not an order",
            {
                "customer_id": "c1",
                "order_id": "o3",
                "placed_at": "2024-05-01",
                "lines": [{"product_id": "p", "unit_price": 5, "quantity": 1, "on_sale": "yes"}],
            },
        ],
        zone=MOSCOW,
    )
    order = history.orders[0]
    assert order.lines[0].brand == "Acme" and order.lines[1].on_sale is True
    assert order.birth_date.isoformat() == "1990-05-03" and order.channel == "web"
    assert order.returns[0].quantities == ((1, 3), (2, 1))  # no lines named: all of them
    reasons = {reject.row: reject.reason for reject in history.rejects}
    assert "is a float" in reasons[2]
    assert reasons[3] == "an order must be an object"
    assert "on_sale must be true or false" in reasons[4]
