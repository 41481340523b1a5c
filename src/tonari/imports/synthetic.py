"""A synthetic order history, reproducible from a seed: for benchmarks, demos and tests.

Customers differ in how much they spend (a few cross the higher tiers, a few go quiet for
years), some orders carry lines with categories, some only an amount, and some give the day
only, so every path of the importer is exercised.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CATEGORIES = ("tv", "audio", "kitchen", "promo", "camera", None)


@dataclass(frozen=True, slots=True)
class SyntheticOrder:
    customer_id: str
    order_id: str
    placed_at: str
    amount: int
    lines: list[dict[str, Any]] | None

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "customer_id": self.customer_id,
            "order_id": self.order_id,
            "placed_at": self.placed_at,
            "amount": self.amount,
        }
        if self.lines is not None:
            record["lines"] = self.lines
        return record


def synthetic_history(
    *,
    orders: int,
    customers: int,
    start: datetime,
    end: datetime,
    seed: int = 7,
    prefix: str = "",
) -> list[SyntheticOrder]:
    """``orders`` orders spread over ``customers`` between ``start`` and ``end`` (UTC)."""
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    spenders = [rng.choice((1, 1, 2, 4, 12)) for _ in range(customers)]
    result: list[SyntheticOrder] = []
    for number in range(orders):
        who = number % customers if number < customers else rng.randrange(customers)
        moment = start + timedelta(seconds=int(rng.random() * span))
        if who % 17 == 3:
            # A customer who goes quiet: early purchases, then one very late.
            moment = start + timedelta(seconds=int(rng.random() * span * 0.05))
            if rng.random() < 0.2:
                moment = end - timedelta(days=rng.randint(0, 20))
        placed_at = (
            moment.astimezone(UTC).date().isoformat()
            if rng.random() < 0.15
            else moment.astimezone(UTC).isoformat(timespec="seconds")
        )
        scale = spenders[who]
        if rng.random() < 0.5:
            lines: list[dict[str, Any]] = [
                {
                    "product_id": f"p{rng.randrange(500)}",
                    "category": rng.choice(CATEGORIES),
                    "unit_price": rng.randrange(100, 400_000) * scale,
                    "quantity": rng.randint(1, 3),
                }
                for _ in range(rng.randint(1, 4))
            ]
            amount = sum(line["unit_price"] * line["quantity"] for line in lines)
            result.append(
                SyntheticOrder(f"{prefix}c{who}", f"{prefix}o{number}", placed_at, amount, lines)
            )
        else:
            amount = rng.randrange(1_000, 1_500_000) * scale
            result.append(
                SyntheticOrder(f"{prefix}c{who}", f"{prefix}o{number}", placed_at, amount, None)
            )
    return result


def write_history(path: Path, history: list[SyntheticOrder]) -> Path:
    """Write as CSV (``lines`` as a JSON cell) or JSON lines, by the file's extension."""
    if path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as stream:
            for order in history:
                stream.write(json.dumps(order.record()) + "\n")
        return path
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["customer_id", "order_id", "placed_at", "amount", "lines"])
        for order in history:
            writer.writerow(
                [
                    order.customer_id,
                    order.order_id,
                    order.placed_at,
                    order.amount,
                    json.dumps(order.lines) if order.lines is not None else "",
                ]
            )
    return path
