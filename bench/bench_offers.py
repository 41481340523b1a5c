"""Calculate with offers: 50 active offers, then 2,000 (Odoo's cart took over 3 s there).

The bench tenant gets a new programme version with the offers, the same 20-line carts are
priced through the HTTP API, and the p95 is compared with the raw SQL of calculate (50 offers)
and with the 50-offer p95 (2,000 offers). The Panasonic programme is put back at the end.

The offers are a realistic mix: ten that every cart meets or nearly meets (basket thresholds,
tiers, weekends, happy hours, birthdays, first order, buy-2-get-1) and the rest product offers
(discount, 30% earning, bonus points per unit) spread over an assortment of 10,000 SKUs, of
which the bench catalogue sells the first ones, as a large retailer's promotions calendar is.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from bench import baselines, http_bench
from bench.dataset import CALCULATE_LINES, PANASONIC, BenchData, calculate_body
from bench.report import Latencies, Result
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.programs.service import apply_programme, load_programme_file

ASSORTMENT = 10_000
SMALL, LARGE = 50, 2_000
P95_TARGET_MS = 5.0
GROWTH_TARGET = 2.0


def general_offers() -> list[dict[str, Any]]:
    return [
        {
            "code": "basket-5000",
            "name": "3% off baskets of 5,000+",
            "group": "basket",
            "conditions": [{"type": "cart_subtotal", "min": 500_000}],
            "effects": [{"type": "discount_percent", "percent_bp": 300}],
        },
        {
            "code": "basket-20000",
            "name": "5% off baskets of 20,000+",
            "group": "basket",
            "priority": 1,
            "conditions": [{"type": "cart_subtotal", "min": 2_000_000}],
            "effects": [{"type": "discount_percent", "percent_bp": 500}],
        },
        {
            "code": "gold-extra",
            "name": "Gold earns 2% more",
            "conditions": [{"type": "customer_tier", "tiers": ["gold", "premium"]}],
            "effects": [{"type": "earn_rate", "mode": "add", "rate_bp": 200}],
        },
        {
            "code": "weekend",
            "name": "Weekend bonus",
            "conditions": [{"type": "weekday", "days": ["sat", "sun"]}],
            "effects": [{"type": "bonus_points", "points": 100}],
        },
        {
            "code": "happy-hours",
            "name": "Kitchen 2% off 10–14",
            "conditions": [{"type": "hours", "start": "10:00", "end": "14:00"}],
            "effects": [
                {
                    "type": "discount_percent",
                    "percent_bp": 200,
                    "filter": {"categories": ["kitchen"]},
                }
            ],
        },
        {
            "code": "birthday",
            "name": "Birthday 10%",
            "conditions": [{"type": "birthday", "days_before": 3, "days_after": 3}],
            "effects": [{"type": "discount_percent", "percent_bp": 1_000}],
        },
        {
            "code": "first-order",
            "name": "First order bonus",
            "conditions": [{"type": "order_number", "equals": 1}],
            "effects": [{"type": "bonus_points", "points": 500}],
        },
        {
            "code": "full-price",
            "name": "Nothing on sale: earn 10% more",
            "conditions": [{"type": "not_on_sale"}],
            "effects": [{"type": "earn_rate", "mode": "multiply", "rate_bp": 11_000}],
        },
        {
            "code": "premium-tv",
            "name": "Premium: cheapest TV 10% off",
            "conditions": [
                {"type": "customer_tier", "tiers": ["premium"]},
                {"type": "cart_contains", "filter": {"categories": ["tv"]}},
            ],
            "effects": [
                {
                    "type": "discount_cheapest",
                    "count": 1,
                    "percent_bp": 1_000,
                    "filter": {"categories": ["tv"]},
                }
            ],
        },
        {
            "code": "accessories-3-for-2",
            "name": "Accessories 3 for 2",
            "conditions": [
                {
                    "type": "cart_contains",
                    "filter": {"categories": ["accessories"]},
                    "min_quantity": 3,
                }
            ],
            "effects": [
                {
                    "type": "buy_x_get_y",
                    "buy": 2,
                    "get": 1,
                    "filter": {"categories": ["accessories"]},
                }
            ],
        },
    ]


def product_offer(index: int, product_id: str) -> dict[str, Any]:
    effects = [
        {"type": "discount_percent", "percent_bp": 500, "filter": {"products": [product_id]}},
        {
            "type": "earn_rate",
            "mode": "replace_if_higher",
            "rate_bp": 3_000,
            "filter": {"products": [product_id]},
        },
        {
            "type": "bonus_points",
            "points": 50,
            "per_unit": True,
            "filter": {"products": [product_id]},
        },
    ]
    return {
        "code": f"sku-{index}",
        "name": f"Promotion {index} on {product_id}",
        "conditions": [{"type": "cart_contains", "filter": {"products": [product_id]}}],
        "effects": [effects[index % len(effects)]],
    }


def offers_document(count: int, seed: int = 5) -> dict[str, Any]:
    rng = random.Random(seed)
    general = general_offers()
    products = [f"p{rng.randrange(ASSORTMENT):05d}" for _ in range(count - len(general))]
    document = load_programme_file(PANASONIC)
    document["name"] = f"Panasonic Club with {count} offers"
    document["offers"] = general + [product_offer(i, p) for i, p in enumerate(products)]
    return document


async def apply_version(url: str, tenant_id: int, document: dict[str, Any]) -> None:
    database = Database(url, pool_size=1, max_overflow=0)
    try:
        async with database.transaction() as session:
            await apply_programme(
                session,
                tenant_id=tenant_id,
                document=document,
                applied_by="bench",
                effective_from=utcnow() - timedelta(seconds=1),
            )
    finally:
        await database.dispose()


async def measure(
    base_url: str, data: BenchData, *, requests: int, warmup: int, time_limit: float
) -> tuple[Latencies, Latencies, dict[str, int]]:
    run = await http_bench.sequential(
        base_url,
        data,
        path="/v1/orders/calculate",
        make_body=lambda rng: calculate_body(data, rng),
        requests=requests,
        warmup=warmup,
        time_limit=time_limit,
        seed=31,
    )
    return Latencies.of(run.server_ms), Latencies.of(run.client_ms), dict(run.errors)


async def bench_offers(
    requests: int, warmup: int, time_limit: float, database_url: str, data: BenchData, base_url: str
) -> list[Result]:
    sql = Latencies.of(
        await baselines.calculate_sql(
            database_url, data, requests=requests, warmup=warmup, time_limit=time_limit
        )
    )
    figures: dict[int, tuple[Latencies, Latencies, dict[str, int]]] = {}
    try:
        for count in (SMALL, LARGE):
            await apply_version(database_url, data.tenant_id, offers_document(count))
            figures[count] = await measure(
                base_url, data, requests=requests, warmup=warmup, time_limit=time_limit
            )
    finally:
        await apply_version(database_url, data.tenant_id, load_programme_file(PANASONIC))
    small, small_client, small_errors = figures[SMALL]
    large, large_client, large_errors = figures[LARGE]
    return [
        Result(
            name=f"calculate, {CALCULATE_LINES} lines, {SMALL} offers (server)",
            result=small.p95,
            unit="ms",
            baseline=sql.p95,
            baseline_label=f"raw SQL p95, {baselines.CALCULATE_STATEMENTS} selects",
            higher_is_better=False,
            p50_ms=small.p50,
            p95_ms=small.p95,
            target=f"p95 ≤ {P95_TARGET_MS:g} ms",
            target_met=small.count > 0 and small.p95 <= P95_TARGET_MS,
            notes=[
                f"{small.count} requests; client p50/p95 {small_client.p50:.2f}/"
                f"{small_client.p95:.2f} ms; errors {small_errors or 'none'}"
            ],
            details={"server": small.__dict__, "client": small_client.__dict__},
        ),
        Result(
            name=f"calculate, {CALCULATE_LINES} lines, {LARGE:,} offers (server)",
            result=large.p95,
            unit="ms",
            baseline=small.p95,
            baseline_label=f"p95 with {SMALL} offers",
            higher_is_better=False,
            p50_ms=large.p50,
            p95_ms=large.p95,
            target=f"≤ {GROWTH_TARGET:g}× the {SMALL}-offer p95",
            target_met=large.count > 0 and large.p95 <= GROWTH_TARGET * small.p95,
            notes=[
                f"{large.count} requests; client p50/p95 {large_client.p50:.2f}/"
                f"{large_client.p95:.2f} ms; errors {large_errors or 'none'}"
            ],
            details={"server": large.__dict__, "client": large_client.__dict__},
        ),
    ]
