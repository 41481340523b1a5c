"""Webhooks go to public addresses only, checked when registered and again when sent."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.factories import TenantFixture
from tonari.config import get_settings
from tonari.webhooks.addresses import refusal_at_delivery, refusal_for_url
from tonari.webhooks.delivery import send_delivery
from tonari.webhooks.service import ClaimedDelivery


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_and_local_addresses_are_refused(url: str) -> None:
    assert refusal_for_url(url) is not None


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "http://93.184.216.34/hook"])
def test_public_addresses_pass_without_dns(url: str) -> None:
    assert refusal_for_url(url) is None


async def test_a_name_that_resolves_inside_is_refused_at_delivery() -> None:
    reason = await refusal_at_delivery("http://localhost.:9/x", allow_private=False)
    assert reason is not None
    assert await refusal_at_delivery("http://localhost:9/x", allow_private=True) is None


async def test_registration_refuses_a_private_url_unless_the_operator_allows_it(
    client: httpx.AsyncClient, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TONARI_WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "false")
    get_settings.cache_clear()
    try:
        refused = await client.post(
            "/v1/webhook-endpoints",
            json={"url": "http://169.254.169.254/latest"},
            headers=tenant.headers,
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "webhook_url_not_public"
        assert refused.json()["error"]["field"] == "url"
        listed = await client.get("/v1/webhook-endpoints", headers=tenant.headers)
        assert listed.json() == []
    finally:
        get_settings.cache_clear()


async def test_the_sender_refuses_without_sending() -> None:
    now = datetime.now(UTC)
    delivery = ClaimedDelivery(
        id=1,
        tenant_id=1,
        endpoint_id=1,
        url="http://127.0.0.1:9/x",
        secret="whsec_" + "A" * 43,
        attempts=0,
        lease_until=now,
        event_id="evt_1",
        event_type="order.placed",
        occurred_at=now,
        payload={},
    )
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        outcome = await send_delivery(client, delivery, at=datetime.now(UTC), allow_private=False)
    assert calls == []
    assert outcome.error is not None and outcome.error.startswith("refused: ")
