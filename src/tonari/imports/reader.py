"""Read an order history file (CSV or JSON lines) row by row into validated orders.

Every row is checked on its own: a bad row becomes a :class:`RowReject` naming its row number
and what is wrong, and reading goes on. Row numbers are the file's line numbers where the row
starts (a CSV's header is line 1, so its first order is row 2), so a spreadsheet finds them.

Money must already be integer minor units: ``12.50`` or ``"1250"`` in JSON is refused rather
than guessed at, because a silently mis-scaled amount would mint the wrong points for years.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from tonari.kit.hashing import canonical_hash
from tonari.orders.schemas import MAX_LINES
from tonari.rules.cart import CartLine

COLUMNS = ("customer_id", "order_id", "placed_at", "amount", "lines")
REQUIRED = ("customer_id", "order_id", "placed_at")
LINE_KEYS = frozenset({"product_id", "category", "unit_price", "quantity"})
MAX_ID_LENGTH = 128
MAX_UNIT_PRICE = 10**13
MAX_QUANTITY = 100_000
AMOUNT_ONLY_PRODUCT = "import"


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


@dataclass(frozen=True, slots=True)
class ImportedOrder:
    """One valid row: an order as the shop would have sent it, placed_at in UTC."""

    row: int
    customer_id: str
    order_id: str
    placed_at: datetime
    lines: tuple[CartLine, ...]
    content_hash: str

    @property
    def amount(self) -> int:
        return sum(line.total for line in self.lines)


@dataclass(frozen=True, slots=True)
class RowReject:
    row: int
    reason: str
    order_id: str | None = None
    customer_id: str | None = None


class RowError(ValueError):
    """What is wrong with a row, in words for the report."""


ZoneForDate = Callable[[date], ZoneInfo]


def detect_format(path: Path, explicit: str | None = None) -> FileFormat:
    if explicit:
        try:
            return FileFormat(explicit.lower())
        except ValueError:
            raise ValueError(f"unknown format {explicit!r}: use csv or jsonl") from None
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return FileFormat.JSONL
    if suffix in (".csv", ".txt", ".tsv"):
        return FileFormat.CSV
    raise ValueError(f"cannot tell the format of {path.name}: pass --format csv or jsonl")


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """``["amount=total", ...]`` → ``{"amount": "total"}``: which file column feeds which field."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        target, sep, source = pair.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise ValueError(f"--map {pair!r}: write it as target=source, e.g. amount=total")
        if target not in COLUMNS:
            raise ValueError(f"--map {pair!r}: {target!r} is not one of {', '.join(COLUMNS)}")
        mapping[target] = source
    return mapping


def iter_records(
    stream: TextIO, file_format: FileFormat
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(row number, raw record) per row, streamed; an unreadable row yields its error."""
    if file_format is FileFormat.JSONL:
        for number, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, RowError(f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(value, dict):
                yield number, RowError("a JSON line must hold an object")
                continue
            yield number, value
        return
    reader = csv.reader(stream)
    header: list[str] | None = None
    start = 1
    for record in reader:
        if header is None:
            header = [name.strip().lstrip("\ufeff") for name in record]
            start = reader.line_num + 1
            continue
        row_number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header):
            yield (
                row_number,
                RowError(f"{len(record)} cells but the header names {len(header)} columns"),
            )
            continue
        yield row_number, dict(zip(header, record, strict=False))


def _text(record: dict[str, Any], name: str, source: str) -> str:
    value = record.get(source)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowError(f"{name} is missing" + ("" if source == name else f" (column {source})"))
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RowError(f"{name} must be text, not {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_ID_LENGTH:
        raise RowError(f"{name} is longer than {MAX_ID_LENGTH} characters")
    return text


def parse_moment(value: Any, zone_for_date: ZoneForDate) -> datetime:
    """An ISO timestamp with offset, or a bare date meaning local midnight of the programme."""
    if not isinstance(value, str) or not value.strip():
        raise RowError(
            "placed_at is missing"
            if value in (None, "")
            else "placed_at must be an ISO date or timestamp text"
        )
    text = value.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise RowError(f"placed_at {text!r} is not a date (YYYY-MM-DD)") from None
        return datetime.combine(day, time(0), tzinfo=zone_for_date(day)).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(f"placed_at {text!r} is not an ISO timestamp") from None
    if moment.tzinfo is None:
        raise RowError(
            f"placed_at {text!r} has no offset: write e.g. 2024-01-31T12:00:00+03:00 or a date"
        )
    return moment.astimezone(UTC)


def parse_amount(value: Any, *, from_text: bool, field: str = "amount") -> int:
    """Integer minor units; a CSV cell is text of digits, a JSON value must be a JSON integer."""
    if from_text and isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if not digits.isdigit():
            if digits.replace(".", "", 1).replace(",", "", 1).isdigit():
                raise RowError(
                    f"{field} {text!r} has a fraction: give integer minor units (1250, not 12.50)"
                )
            raise RowError(f"{field} {text!r} is not an integer number of minor units")
        number = int(text)
    elif isinstance(value, bool):
        raise RowError(f"{field} must be an integer, not a boolean")
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        raise RowError(f"{field} {value!r} is a float: give integer minor units (1250, not 12.50)")
    elif isinstance(value, str):
        raise RowError(f"{field} {value!r} is a string: give a JSON integer of minor units")
    else:
        raise RowError(f"{field} must be an integer of minor units, not {type(value).__name__}")
    if number < 0:
        raise RowError(f"{field} {number} is negative: returns are not imported as orders")
    return number


def _parse_lines(value: Any, *, from_text: bool) -> list[CartLine]:
    if from_text and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowError(f"lines is not a JSON array: {exc.msg}") from None
    if not isinstance(value, list) or not value:
        raise RowError("lines must be a non-empty JSON array of line objects")
    if len(value) > MAX_LINES:
        raise RowError(f"lines has {len(value)} items; at most {MAX_LINES}")
    lines: list[CartLine] = []
    for number, item in enumerate(value, start=1):
        where = f"lines[{number}]"
        if not isinstance(item, dict):
            raise RowError(f"{where} must be an object")
        unknown = set(item) - LINE_KEYS
        if unknown:
            raise RowError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        product = item.get("product_id")
        if not isinstance(product, str) or not product.strip() or len(product) > MAX_ID_LENGTH:
            raise RowError(f"{where}.product_id must be text of 1-{MAX_ID_LENGTH} characters")
        category = item.get("category")
        if category is not None and (not isinstance(category, str) or len(category) > 120):
            raise RowError(f"{where}.category must be text of at most 120 characters")
        unit_price = parse_amount(
            item.get("unit_price"), from_text=False, field=f"{where}.unit_price"
        )
        if unit_price > MAX_UNIT_PRICE:
            raise RowError(f"{where}.unit_price is above {MAX_UNIT_PRICE}")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise RowError(f"{where}.quantity must be an integer")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise RowError(f"{where}.quantity must be between 1 and {MAX_QUANTITY}")
        lines.append(CartLine(number, product, unit_price, quantity, category))
    return lines


def parse_record(
    record: dict[str, Any],
    *,
    row: int,
    mapping: dict[str, str],
    from_text: bool,
    zone_for_date: ZoneForDate,
) -> ImportedOrder:
    """Validate one raw record; raises :class:`RowError` saying what is wrong."""
    source = {name: mapping.get(name, name) for name in COLUMNS}
    customer_id = _text(record, "customer_id", source["customer_id"])
    order_id = _text(record, "order_id", source["order_id"])
    placed_at = parse_moment(record.get(source["placed_at"]), zone_for_date)
    raw_amount = record.get(source["amount"])
    raw_lines = record.get(source["lines"])
    has_amount = raw_amount is not None and not (
        isinstance(raw_amount, str) and not raw_amount.strip()
    )
    has_lines = raw_lines is not None and not (isinstance(raw_lines, str) and not raw_lines.strip())
    if has_lines:
        lines = _parse_lines(raw_lines, from_text=from_text)
        if has_amount:
            amount = parse_amount(raw_amount, from_text=from_text)
            total = sum(line.total for line in lines)
            if amount != total:
                raise RowError(f"amount {amount} differs from the lines' total {total}")
    elif has_amount:
        amount = parse_amount(raw_amount, from_text=from_text)
        if amount > MAX_UNIT_PRICE:
            raise RowError(f"amount is above {MAX_UNIT_PRICE}")
        lines = [CartLine(1, AMOUNT_ONLY_PRODUCT, amount, 1, None)]
    else:
        raise RowError("amount is missing (give amount or lines)")
    content = {
        "customer": customer_id,
        "order_id": order_id,
        "placed_at": placed_at.isoformat(),
        "lines": [[ln.product_id, ln.category, ln.unit_price, ln.quantity] for ln in lines],
    }
    return ImportedOrder(
        row, customer_id, order_id, placed_at, tuple(lines), canonical_hash(content)
    )


def read_orders(
    path: Path,
    *,
    file_format: FileFormat,
    mapping: dict[str, str],
    zone_for_date: ZoneForDate,
) -> Iterator[ImportedOrder | RowReject]:
    """Stream the file: each row becomes an order or a reject (never an exception)."""
    from_text = file_format is FileFormat.CSV
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for row, record in iter_records(stream, file_format):
            if isinstance(record, RowError):
                yield RowReject(row, str(record))
                continue
            try:
                yield parse_record(
                    record,
                    row=row,
                    mapping=mapping,
                    from_text=from_text,
                    zone_for_date=zone_for_date,
                )
            except RowError as exc:
                order_id = record.get(mapping.get("order_id", "order_id"))
                customer_id = record.get(mapping.get("customer_id", "customer_id"))
                yield RowReject(
                    row,
                    str(exc),
                    order_id=str(order_id) if order_id not in (None, "") else None,
                    customer_id=str(customer_id) if customer_id not in (None, "") else None,
                )
