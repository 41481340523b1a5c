"""The benchmark's data, built through Tonari's own services, and the request bodies sent.

One tenant on the Panasonic programme, a catalogue, customers who all hold available points
(granted by the adjustments service), so calculated and placed spends are real.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import upsert_customer
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.ledger.adjustments import AdjustmentIn, adjust_points
from tonari.models.catalog import Product
from tonari.programs.service import apply_programme, load_programme_file
from tonari.tenants.service import SCOPES, Principal, create_api_key, create_tenant

PANASONIC = Path(__file__).resolve().parent.parent / "examples" / "programmes" / "panasonic.yaml"
EPOCH = datetime.fromisoformat("2020-01-01T00:00:00+00:00")
CATEGORIES = ("tv", "audio", "photo", "kitchen", "climate", "beauty", "accessories", "promo")
POINTS_PER_CUSTOMER = 1_000_000
CALCULATE_LINES = 20
PLACE_LINES = 5
PRICE_PRODUCTS = 48


@dataclass(frozen=True)
class CatalogueItem:
    product_id: str
    category: str
    price: int


@dataclass(frozen=True)
class BenchData:
    tenant_id: int
    api_key: str
    catalogue: list[CatalogueItem]
    customers: list[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_catalogue(count: int, rng: random.Random) -> list[CatalogueItem]:
    """Prices from 10 to 5,000 roubles, in kopecks; about one product in eight is promo."""
    return [
        CatalogueItem(f"p{index:05d}", rng.choice(CATEGORIES), rng.randint(10, 5_000) * 100)
        for index in range(count)
    ]


async def create_bench_tenant(session: AsyncSession) -> tuple[int, str]:
    slug = f"bench-{uuid.uuid4().hex[:10]}"
    tenant = await create_tenant(session, slug=slug, name=f"Benchmark {slug}")
    await apply_programme(
        session,
        tenant_id=tenant.id,
        document=load_programme_file(PANASONIC),
        applied_by="bench",
        effective_from=EPOCH,
    )
    _, raw_key = await create_api_key(
        session, tenant_id=tenant.id, name="bench", scopes=sorted(SCOPES)
    )
    return tenant.id, raw_key


async def seed_catalogue(
    session: AsyncSession, *, tenant_id: int, catalogue: list[CatalogueItem]
) -> None:
    """The same upsert the catalogue API does (there is no catalogue service to call)."""
    await session.execute(
        pg_insert(Product).on_conflict_do_nothing(),
        [
            {
                "tenant_id": tenant_id,
                "product_id": item.product_id,
                "name": f"Product {index}",
                "category": item.category,
                "price": item.price,
            }
            for index, item in enumerate(catalogue)
        ],
    )


async def seed_customers(
    session: AsyncSession, *, tenant_id: int, external_ids: list[str], points: int
) -> None:
    """Create customers and grant each ``points`` available at once (an adjustment)."""
    principal = Principal(tenant_id=tenant_id, actor="bench", scopes=frozenset({"admin"}))
    for external_id in external_ids:
        at = utcnow()
        await upsert_customer(
            session,
            tenant_id=tenant_id,
            external_id=external_id,
            fields=CustomerUpsert(),
            first_tier="silver",
            at=at,
        )
        await adjust_points(
            session,
            principal,
            external_id=external_id,
            body=AdjustmentIn(
                direction="grant",
                points=points,
                reason="benchmark grant",
                idempotency_key=f"bench-grant-{external_id}",
            ),
            at=at,
        )


async def build_dataset(
    database_url: str,
    *,
    products: int,
    customers: int,
    seed: int = 7,
    parallel: int = 4,
    chunk: int = 200,
) -> BenchData:
    rng = random.Random(seed)
    catalogue = make_catalogue(products, rng)
    external_ids = [f"c{index:06d}" for index in range(customers)]
    db = Database(database_url, pool_size=parallel, max_overflow=0)
    try:
        async with db.transaction() as session:
            tenant_id, api_key = await create_bench_tenant(session)
            await seed_catalogue(session, tenant_id=tenant_id, catalogue=catalogue)
        gate = asyncio.Semaphore(parallel)

        async def load(ids: list[str]) -> None:
            async with gate, db.transaction() as session:
                await seed_customers(
                    session, tenant_id=tenant_id, external_ids=ids, points=POINTS_PER_CUSTOMER
                )

        await asyncio.gather(
            *(
                load(external_ids[start : start + chunk])
                for start in range(0, len(external_ids), chunk)
            )
        )
    finally:
        await db.dispose()
    return BenchData(
        tenant_id=tenant_id, api_key=api_key, catalogue=catalogue, customers=external_ids
    )


# --- request bodies -------------------------------------------------------------------------


def cart_lines(
    catalogue: list[CatalogueItem], count: int, rng: random.Random
) -> list[dict[str, Any]]:
    return [
        {
            "product_id": item.product_id,
            "category": item.category,
            "unit_price": item.price,
            "quantity": rng.randint(1, 3),
        }
        for item in rng.sample(catalogue, count)
    ]


def spendable_cap(lines: list[dict[str, Any]]) -> int:
    """Points that may pay for these lines: Panasonic's 50% share, 1 point = 100 kopecks."""
    return sum(line["unit_price"] * line["quantity"] // 2 // 100 for line in lines)


def calculate_body(data: BenchData, rng: random.Random) -> dict[str, Any]:
    lines = cart_lines(data.catalogue, CALCULATE_LINES, rng)
    return {
        "customer": {"external_id": rng.choice(data.customers)},
        "lines": lines,
        "points_to_spend": min(rng.randint(100, 5_000), spendable_cap(lines)),
    }


def place_body(data: BenchData, rng: random.Random, order_id: str) -> dict[str, Any]:
    lines = cart_lines(data.catalogue, PLACE_LINES, rng)
    return {
        "order_id": order_id,
        "customer": {"external_id": rng.choice(data.customers)},
        "lines": lines,
        "points_to_spend": min(rng.randint(1, 300), spendable_cap(lines)),
        "paid": True,
    }


def prices_body(data: BenchData, rng: random.Random) -> dict[str, Any]:
    return {
        "customer": {"external_id": rng.choice(data.customers)},
        "products": [
            {"product_id": item.product_id} for item in rng.sample(data.catalogue, PRICE_PRODUCTS)
        ],
    }
