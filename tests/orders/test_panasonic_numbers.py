"""The seed's own numbers, through the HTTP API: Silver 5%, Gold 10%, points pay ≤ 50%."""

from __future__ import annotations

import httpx

from tests.factories import TenantFixture

ROUBLES = 100  # minor units per rouble


async def put_customer(
    client: httpx.AsyncClient, tenant: TenantFixture, external_id: str, **fields: object
) -> dict:
    response = await client.put(f"/v1/customers/{external_id}", json=fields, headers=tenant.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def place(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    order_id: str,
    customer: str,
    lines: list[dict],
    **extra: object,
) -> httpx.Response:
    body = {
        "order_id": order_id,
        "customer": {"external_id": customer},
        "lines": lines,
        "paid": True,
        **extra,
    }
    return await client.post("/v1/orders", json=body, headers=tenant.headers)


async def test_silver_customer_buying_for_10000_earns_500(client, tenant) -> None:
    await put_customer(client, tenant, "c1", email="anna@example.com")
    response = await place(
        client,
        tenant,
        "o-1",
        "c1",
        [{"product_id": "kettle", "unit_price": 10_000 * ROUBLES, "quantity": 1}],
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["tier"] == "silver"
    assert order["points_to_earn"] == 500
    profile = (await client.get("/v1/customers/c1", headers=tenant.headers)).json()
    assert profile["balances"]["pending"] == 500
    assert profile["balances"]["available"] == 0


async def test_after_crossing_gold_threshold_next_order_earns_ten_percent(client, tenant) -> None:
    await put_customer(client, tenant, "c2")
    first = await place(
        client,
        tenant,
        "o-gold-1",
        "c2",
        [{"product_id": "tv", "unit_price": 50_000 * ROUBLES, "quantity": 1}],
    )
    assert first.json()["tier"] == "silver"
    assert first.json()["points_to_earn"] == 2_500
    assert first.json()["tier_after"] == "gold"
    second = await place(
        client,
        tenant,
        "o-gold-2",
        "c2",
        [{"product_id": "kettle", "unit_price": 10_000 * ROUBLES, "quantity": 1}],
    )
    assert second.json()["tier"] == "gold"
    assert second.json()["points_to_earn"] == 1_000


async def test_points_pay_at_most_half_of_a_line(client, tenant) -> None:
    await put_customer(client, tenant, "c3")
    grant = await client.post(
        "/v1/customers/c3/adjustments",
        json={
            "direction": "grant",
            "points": 100_000,
            "reason": "welcome gift",
            "idempotency_key": "g-c3",
        },
        headers=tenant.headers,
    )
    assert grant.status_code == 201, grant.text
    calc = await client.post(
        "/v1/orders/calculate",
        json={
            "customer": {"external_id": "c3"},
            "points_to_spend": 8_000,
            "lines": [{"product_id": "camera", "unit_price": 10_000 * ROUBLES, "quantity": 1}],
        },
        headers=tenant.headers,
    )
    assert calc.status_code == 200, calc.text
    body = calc.json()
    line = body["lines"][0]
    assert line["points_applied"] == 5_000
    assert line["price_to_pay"] == 5_000 * ROUBLES
    messages = [e["message"] for e in body["explanations"]]
    assert any("capped at 50% of line" in m for m in messages), messages
