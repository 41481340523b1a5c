"""Two prices under every product: the regular one and the customer's own with points."""

from __future__ import annotations

import pytest


async def _customer(client, tenant, external_id: str, points: int, **fields: object) -> None:
    r = await client.put(f"/v1/customers/{external_id}", json=fields, headers=tenant.headers)
    assert r.status_code == 201, r.text
    if points:
        r = await client.post(
            f"/v1/customers/{external_id}/adjustments",
            headers=tenant.headers,
            json={
                "direction": "grant",
                "points": points,
                "reason": "seed",
                "idempotency_key": f"seed-{external_id}",
            },
        )
        assert r.status_code == 201, r.text


@pytest.fixture
async def catalogue(client, tenant) -> None:
    products = [
        {
            "product_id": f"p{i}",
            "name": f"Product {i}",
            "category": "kitchen",
            "price": 100_000 * (i + 1),
        }
        for i in range(48)
    ]
    products.append(
        {"product_id": "promo-kettle", "name": "Kettle", "category": "promo", "price": 300_000}
    )
    r = await client.put("/v1/products", json={"products": products}, headers=tenant.headers)
    assert r.status_code == 200


async def test_logged_in_customer_sees_own_price_capped_at_half(client, tenant, catalogue) -> None:
    await _customer(client, tenant, "anna", 2_000)
    r = await client.post(
        "/v1/prices",
        headers=tenant.headers,
        json={
            "customer": {"external_id": "anna"},
            "products": [{"product_id": f"p{i}"} for i in range(48)],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["available_points"] == 2_000 and len(body["products"]) == 48
    cheap = body["products"][0]  # 1,000 roubles: half is 500 points
    assert cheap["regular_price"] == 100_000
    assert cheap["points_to_spend"] == 500
    assert cheap["personal_price"] == 50_000
    assert cheap["points_to_earn"] == 50  # Silver 5% of the regular price
    dear = body["products"][47]  # 48,000 roubles: all 2,000 points
    assert dear["points_to_spend"] == 2_000
    assert dear["personal_price"] == 4_800_000 - 200_000


async def test_promo_product_earns_thirty_percent(client, tenant, catalogue) -> None:
    await _customer(client, tenant, "ivan", 0)
    r = await client.post(
        "/v1/prices",
        headers=tenant.headers,
        json={"customer": {"external_id": "ivan"}, "products": [{"product_id": "promo-kettle"}]},
    )
    item = r.json()["products"][0]
    assert item["earn_rate_bp"] == 3_000 and item["points_to_earn"] == 900


@pytest.mark.parametrize("customer_type", ["legal_entity", "employee"])
async def test_legal_entities_and_employees_get_the_regular_price(
    client, tenant, catalogue, customer_type
) -> None:
    await _customer(client, tenant, "firm", 5_000, customer_type=customer_type)
    r = await client.post(
        "/v1/prices",
        headers=tenant.headers,
        json={"customer": {"external_id": "firm"}, "products": [{"product_id": "p3"}]},
    )
    body = r.json()
    assert body["products"][0]["personal_price"] is None
    assert body["products"][0]["points_to_spend"] == 0
    assert customer_type in body["personal_price_reason"]


async def test_anonymous_visitor_sees_regular_price_only(client, tenant, catalogue) -> None:
    r = await client.post(
        "/v1/prices",
        headers=tenant.headers,
        json={"products": [{"product_id": "p1"}, {"product_id": "adhoc", "price": 12_345}]},
    )
    products = r.json()["products"]
    assert [p["regular_price"] for p in products] == [200_000, 12_345]
    assert all(p["personal_price"] is None and p["points_to_earn"] == 0 for p in products)


async def test_more_than_500_products_or_unknown_ones_are_refused(
    client, tenant, catalogue
) -> None:
    r = await client.post(
        "/v1/prices",
        headers=tenant.headers,
        json={"products": [{"product_id": f"x{i}", "price": 1} for i in range(501)]},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "products"
    r = await client.post(
        "/v1/prices", headers=tenant.headers, json={"products": [{"product_id": "ghost"}]}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_product"
