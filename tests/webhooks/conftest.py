"""Webhook tests work on committed data: the worker reads it in its own transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.factories import TenantFixture, make_tenant
from tests.webhooks.receiver import Receiver
from tonari.app import create_app
from tonari.config import Settings, get_settings
from tonari.db import Database
from tonari.models.outbox import WebhookEndpoint


def webhook_settings(**overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "webhook_timeout_seconds": 5.0,
        "webhook_concurrency": 4,
        "webhook_retry_base_seconds": 10.0,
        "webhook_max_attempts": 5,
    }
    return get_settings().model_copy(update={**defaults, **overrides})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
async def live_client(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API with real commits (no rolled-back test session)."""
    app = create_app(database=database, start_worker=False)
    transport = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tonari.test"
    )
    async with transport as http:
        yield http


@pytest.fixture
async def live_tenant(database: Database) -> AsyncIterator[TenantFixture]:
    """A committed tenant; its endpoints are switched off afterwards so that later tests'
    delivery runs leave them alone."""
    async with database.transaction() as session:
        tenant = await make_tenant(session)
    yield tenant
    async with database.transaction() as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant.id)
            .values(active=False)
        )


async def register_endpoint(
    client: httpx.AsyncClient, tenant: TenantFixture, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if event_types is not None:
        body["event_types"] = event_types
    response = await client.post("/v1/webhook-endpoints", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def place_order(
    client: httpx.AsyncClient, tenant: TenantFixture, order_id: str
) -> dict[str, Any]:
    customer = await client.put(f"/v1/customers/c-{order_id}", json={}, headers=tenant.headers)
    assert customer.status_code in (200, 201), customer.text
    response = await client.post(
        "/v1/orders",
        json={
            "order_id": order_id,
            "customer": {"external_id": f"c-{order_id}"},
            "paid": True,
            "lines": [{"product_id": "kettle", "unit_price": 100_000, "quantity": 1}],
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()
