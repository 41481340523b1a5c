"""The order history a simulation replays: read from a file, a request body or the database.

The file format is the history import's (``tonari.imports.reader``: ``customer_id``,
``order_id``, ``placed_at``, ``amount`` and/or ``lines``), read by the same reader, plus
optional columns only a what-if needs:

* ``points_spent`` – points the customer chose to spend on the order (for ``--redeem recorded``);
* ``customer_type`` – ``person`` (default), ``legal_entity`` or ``employee``;
* ``birth_date`` – the customer's birthday (``YYYY-MM-DD``), for birthday offers;
* ``channel`` and ``partner`` – where the order was placed, for offers that ask;
* in ``lines``, besides the import's keys, ``brand`` and ``on_sale`` (true/false);
* ``returned_at`` and ``returned_lines`` – a return: when, and a JSON array of
  ``{"line_no": 1, "quantity": 1}`` (empty: every line of the order in full).

A bad row is reported with its line number and the reason, and the rest is replayed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tonari.imports.reader import (
    FileFormat,
    RowError,
    RowReject,
    detect_format,
    iter_records,
    parse_amount,
    parse_moment,
    parse_record,
)
from tonari.programs.schemas import CustomerType
from tonari.rules.cart import CartLine

MAX_POINTS_SPENT = 10**12


@dataclass(frozen=True, slots=True)
class HistoryReturn:
    """Units of an order's lines handed back at one moment: ``((line_no, quantity), ...)``."""

    at: datetime
    quantities: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class HistoryOrder:
    """One past order. ``customer_id`` ``None`` is an anonymous buyer (from the database)."""

    row: int
    customer_id: str | None
    order_id: str
    placed_at: datetime
    lines: tuple[CartLine, ...]
    points_spent: int | None = None
    customer_type: CustomerType = CustomerType.PERSON
    returns: tuple[HistoryReturn, ...] = ()
    birth_date: date | None = None
    channel: str | None = None
    partner: str | None = None

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)


@dataclass(slots=True)
class History:
    """Valid orders and the rows refused, each with its row number and reason."""

    orders: list[HistoryOrder] = field(default_factory=list)
    rejects: list[RowReject] = field(default_factory=list)


def zone_for(zone: ZoneInfo) -> Any:
    """The reader asks which zone a bare date is in; a simulation has one: the programme's."""

    def _zone(_: date) -> ZoneInfo:
        return zone

    return _zone


def _points_spent(record: dict[str, Any], *, from_text: bool) -> int | None:
    value = record.get("points_spent")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    points = parse_amount(value, from_text=from_text, field="points_spent")
    if points > MAX_POINTS_SPENT:
        raise RowError(f"points_spent is above {MAX_POINTS_SPENT}")
    return points


def _customer_type(record: dict[str, Any]) -> CustomerType:
    value = record.get("customer_type")
    if value is None or (isinstance(value, str) and not value.strip()):
        return CustomerType.PERSON
    try:
        return CustomerType(str(value).strip().lower())
    except ValueError:
        known = ", ".join(item.value for item in CustomerType)
        raise RowError(f"customer_type {value!r} is not one of {known}") from None


def _short_text(record: dict[str, Any], name: str, limit: int = 40) -> str | None:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise RowError(f"{name} must be text of at most {limit} characters")
    return value.strip()


def _birth_date(record: dict[str, Any]) -> date | None:
    text = _short_text(record, "birth_date", 10)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowError(f"birth_date {text!r} is not a date (YYYY-MM-DD)") from None


LineExtras = list[tuple[str | None, bool]]


def _split_line_extras(
    record: dict[str, Any], *, from_text: bool
) -> tuple[dict[str, Any], LineExtras | None]:
    """Take ``brand`` and ``on_sale`` out of the lines, which the import reader does not know."""
    value = record.get("lines")
    if from_text and isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return record, None  # the reader says what is wrong with it
    if not isinstance(value, list) or not any(
        isinstance(item, dict) and ("brand" in item or "on_sale" in item) for item in value
    ):
        return record, None
    cleaned: list[Any] = []
    extras: LineExtras = []
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            cleaned.append(item)
            extras.append((None, False))
            continue
        rest = dict(item)
        brand, on_sale = rest.pop("brand", None), rest.pop("on_sale", False)
        if brand is not None and (not isinstance(brand, str) or len(brand) > 120):
            raise RowError(f"lines[{number}].brand must be text of at most 120 characters")
        if not isinstance(on_sale, bool):
            raise RowError(f"lines[{number}].on_sale must be true or false")
        cleaned.append(rest)
        extras.append((brand, on_sale))
    return {**record, "lines": cleaned}, extras


def _returned_lines(value: Any, lines: tuple[CartLine, ...], *, from_text: bool) -> list[Any]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return [{"line_no": line.line_no, "quantity": line.quantity} for line in lines]
    if from_text and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowError(f"returned_lines is not a JSON array: {exc.msg}") from None
    if not isinstance(value, list):
        raise RowError("returned_lines must be a JSON array of {line_no, quantity} objects")
    return value


def _returns(
    record: dict[str, Any],
    lines: tuple[CartLine, ...],
    placed_at: datetime,
    zone: ZoneInfo,
    *,
    from_text: bool,
) -> tuple[HistoryReturn, ...]:
    raw_at = record.get("returned_at")
    raw_lines = record.get("returned_lines")
    if raw_at is None or (isinstance(raw_at, str) and not raw_at.strip()):
        if raw_lines not in (None, "", []):
            raise RowError("returned_lines is given but returned_at is missing")
        return ()
    try:
        at = parse_moment(raw_at, zone_for(zone))
    except RowError as exc:
        raise RowError(str(exc).replace("placed_at", "returned_at")) from None
    if at < placed_at:
        raise RowError(f"returned_at {at.isoformat()} is before placed_at {placed_at.isoformat()}")
    quantities: dict[int, int] = {}
    by_number = {line.line_no: line for line in lines}
    for number, item in enumerate(_returned_lines(raw_lines, lines, from_text=from_text), 1):
        where = f"returned_lines[{number}]"
        if not isinstance(item, dict) or set(item) - {"line_no", "quantity"}:
            raise RowError(f"{where} must be an object with line_no and quantity")
        line_no, quantity = item.get("line_no"), item.get("quantity")
        if isinstance(line_no, bool) or not isinstance(line_no, int) or line_no not in by_number:
            raise RowError(f"{where}.line_no {line_no!r} is not a line of the order")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise RowError(f"{where}.quantity must be a positive integer")
        quantities[line_no] = quantities.get(line_no, 0) + quantity
        if quantities[line_no] > by_number[line_no].quantity:
            raise RowError(
                f"{where}: {quantities[line_no]} units of line {line_no} returned but only "
                f"{by_number[line_no].quantity} bought"
            )
    return (HistoryReturn(at, tuple(sorted(quantities.items()))),)


def parse_history_record(
    record: dict[str, Any], *, row: int, zone: ZoneInfo, from_text: bool
) -> HistoryOrder:
    """One row as the import reads it, plus the simulator's columns; raises :class:`RowError`."""
    plain, extras = _split_line_extras(record, from_text=from_text)
    order = parse_record(
        plain, row=row, mapping={}, from_text=from_text, zone_for_date=zone_for(zone)
    )
    lines = order.lines
    if extras is not None:
        lines = tuple(
            replace(line, brand=brand, on_sale=on_sale)
            for line, (brand, on_sale) in zip(lines, extras, strict=True)
        )
    return HistoryOrder(
        row=row,
        customer_id=order.customer_id,
        order_id=order.order_id,
        placed_at=order.placed_at,
        lines=lines,
        points_spent=_points_spent(record, from_text=from_text),
        customer_type=_customer_type(record),
        returns=_returns(record, lines, order.placed_at, zone, from_text=from_text),
        birth_date=_birth_date(record),
        channel=_short_text(record, "channel"),
        partner=_short_text(record, "partner"),
    )


def _collect(
    records: Iterable[tuple[int, dict[str, Any] | RowError]], *, zone: ZoneInfo, from_text: bool
) -> History:
    history = History()
    first_row: dict[str, int] = {}
    for row, record in records:
        if isinstance(record, RowError):
            history.rejects.append(RowReject(row, str(record)))
            continue
        try:
            order = parse_history_record(record, row=row, zone=zone, from_text=from_text)
        except RowError as exc:
            order_id, customer_id = record.get("order_id"), record.get("customer_id")
            history.rejects.append(
                RowReject(
                    row,
                    str(exc),
                    order_id=str(order_id) if order_id not in (None, "") else None,
                    customer_id=str(customer_id) if customer_id not in (None, "") else None,
                )
            )
            continue
        seen = first_row.setdefault(order.order_id, row)
        if seen != row:
            history.rejects.append(
                RowReject(
                    row,
                    f"order_id {order.order_id!r} repeats the order of row {seen}",
                    order_id=order.order_id,
                    customer_id=order.customer_id,
                )
            )
            continue
        history.orders.append(order)
    return history


def read_history(path: Path, *, zone: ZoneInfo, file_format: str | None = None) -> History:
    """Read a CSV or JSON lines file; bare dates are local midnight in ``zone``."""
    fmt = detect_format(path, file_format)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return _collect(iter_records(stream, fmt), zone=zone, from_text=fmt is FileFormat.CSV)


def history_from_records(records: list[dict[str, Any]], *, zone: ZoneInfo) -> History:
    """Orders sent inline (JSON values); row numbers are 1-based positions in the list."""

    def numbered() -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        for position, record in enumerate(records, start=1):
            if isinstance(record, dict):
                yield position, record
            else:
                yield position, RowError("an order must be an object")

    return _collect(numbered(), zone=zone, from_text=False)
