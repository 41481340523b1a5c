"""Raw-SQL baselines: the statements an endpoint needs, sent with asyncpg and nothing else.

Each baseline runs the same statements, in one transaction, as the request path does (read
from the services: API-key lookup, programme in force, customer, account), so the ratio of
the endpoint to its baseline is the cost of everything Tonari adds around its SQL.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from bench.dataset import PRICE_PRODUCTS, BenchData
from tonari.db import libpq_dsn

API_KEY = (
    "SELECT id, tenant_id, scopes, name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
)
PROGRAMME_VERSION = (
    "SELECT version FROM programmes WHERE tenant_id = $1 AND effective_from <= $2 "
    "ORDER BY effective_from DESC, version DESC LIMIT 1"
)
PRODUCTS = (
    "SELECT product_id, price, category FROM products "
    "WHERE tenant_id = $1 AND product_id = ANY($2::text[])"
)
CUSTOMER_WITH_ACCOUNT = (
    "SELECT c.id, c.external_id, c.customer_type, c.tier_code, a.available FROM customers c "
    "JOIN ledger_accounts a ON a.customer_id = c.id "
    "WHERE c.tenant_id = $1 AND c.external_id = $2 LIMIT 2"
)

# Statements per request, besides BEGIN and COMMIT; tests/test_bench_smoke.py checks that the
# endpoints still issue this many, so a baseline cannot silently drift from its endpoint.
CALCULATE_STATEMENTS = 3
PRICES_STATEMENTS = 4


async def _connect(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(libpq_dsn(database_url), server_settings={"timezone": "UTC"})


async def _timed_iterations(
    database_url: str,
    *,
    requests: int,
    warmup: int,
    time_limit: float,
    iteration: Callable[[asyncpg.Connection], Awaitable[None]],
) -> list[float]:
    """Milliseconds of each ``iteration`` (one transaction), after ``warmup`` unmeasured ones."""
    conn = await _connect(database_url)
    timings: list[float] = []
    deadline = time.monotonic() + time_limit
    try:
        for index in range(warmup + requests):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            async with conn.transaction():
                await iteration(conn)
            if index >= warmup:
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    return timings


async def calculate_sql(
    database_url: str, data: BenchData, *, requests: int, warmup: int, time_limit: float
) -> list[float]:
    """Per-iteration milliseconds of the calculate endpoint's SQL, in one transaction."""
    key_hash = hashlib.sha256(data.api_key.encode()).hexdigest()
    rng = random.Random(11)

    async def iteration(conn: asyncpg.Connection) -> None:
        key = await conn.fetchrow(API_KEY, key_hash)
        assert key is not None
        tenant_id = key["tenant_id"]
        await conn.fetchrow(PROGRAMME_VERSION, tenant_id, datetime.now(UTC))
        customer = await conn.fetch(CUSTOMER_WITH_ACCOUNT, tenant_id, rng.choice(data.customers))
        assert len(customer) == 1

    return await _timed_iterations(
        database_url, requests=requests, warmup=warmup, time_limit=time_limit, iteration=iteration
    )


async def prices_sql(
    database_url: str, data: BenchData, *, requests: int, warmup: int, time_limit: float
) -> list[float]:
    """Per-iteration milliseconds of personal prices' SQL, in one transaction."""
    key_hash = hashlib.sha256(data.api_key.encode()).hexdigest()
    rng = random.Random(13)

    async def iteration(conn: asyncpg.Connection) -> None:
        external_id = rng.choice(data.customers)
        product_ids = [item.product_id for item in rng.sample(data.catalogue, PRICE_PRODUCTS)]
        key = await conn.fetchrow(API_KEY, key_hash)
        assert key is not None
        tenant_id = key["tenant_id"]
        await conn.fetchrow(PROGRAMME_VERSION, tenant_id, datetime.now(UTC))
        rows = await conn.fetch(PRODUCTS, tenant_id, product_ids)
        assert len(rows) == PRICE_PRODUCTS
        customer = await conn.fetch(CUSTOMER_WITH_ACCOUNT, tenant_id, external_id)
        assert len(customer) == 1

    return await _timed_iterations(
        database_url, requests=requests, warmup=warmup, time_limit=time_limit, iteration=iteration
    )
