"""Bad input gets a clear 4xx naming the field, and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tonari.models.ledger import LedgerEntry
from tonari.models.orders import Order

LINE = {"product_id": "kettle", "unit_price": 500_000, "quantity": 1}


async def _counts(session) -> tuple[int, int]:
    orders = await session.scalar(select(func.count()).select_from(Order))
    entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
    return orders, entries


@pytest.fixture
async def customer(client, tenant) -> str:
    response = await client.put("/v1/customers/buyer", json={}, headers=tenant.headers)
    assert response.status_code == 201
    grant = await client.post(
        "/v1/customers/buyer/adjustments",
        headers=tenant.headers,
        json={"direction": "grant", "points": 300, "reason": "seed", "idempotency_key": "seed"},
    )
    assert grant.status_code == 201
    return "buyer"


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"customer": {"external_id": "nobody"}}, 404, "unknown_customer", "customer.external_id"),
        ({"lines": [{**LINE, "quantity": -2}]}, 422, "invalid_request", "lines.0.quantity"),
        ({"lines": [{**LINE, "quantity": 0}]}, 422, "invalid_request", "lines.0.quantity"),
        ({"lines": [{**LINE, "unit_price": 5000.5}]}, 422, "invalid_request", "lines.0.unit_price"),
        ({"lines": [{**LINE, "unit_price": 5000.0}]}, 422, "invalid_request", "lines.0.unit_price"),
        ({"lines": [{**LINE, "unit_price": "5000"}]}, 422, "invalid_request", "lines.0.unit_price"),
        ({"lines": [{**LINE, "unit_price": -1}]}, 422, "invalid_request", "lines.0.unit_price"),
        ({"currency": "USD"}, 422, "currency_mismatch", "currency"),
        ({"currency": "rub"}, 422, "invalid_request", "currency"),
        ({"lines": [LINE] * 201}, 422, "invalid_request", "lines"),
        ({"lines": []}, 422, "invalid_request", "lines"),
        ({"points_to_spend": 301}, 422, "insufficient_points", "points_to_spend"),
        ({"points_to_spend": -5}, 422, "invalid_request", "points_to_spend"),
        ({"points_to_spend": 10.0}, 422, "invalid_request", "points_to_spend"),
        ({"surprise": 1}, 422, "invalid_request", "surprise"),
        ({"placed_at": "2026-01-01T10:00:00"}, 422, "validation_failed", "placed_at"),
    ],
)
async def test_bad_order_is_refused_and_writes_nothing(
    client, session, tenant, customer, change, status, code, field
) -> None:
    before = await _counts(session)
    body = {
        "order_id": "bad-1",
        "customer": {"external_id": customer},
        "paid": True,
        "lines": [LINE],
        **change,
    }
    response = await client.post("/v1/orders", json=body, headers=tenant.headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert error["message"]
    assert await _counts(session) == before


async def test_points_over_the_half_price_cap_are_refused_on_place(
    client, session, tenant, customer
) -> None:
    before = await _counts(session)
    body = {
        "order_id": "cap-1",
        "customer": {"external_id": customer},
        "paid": True,
        "points_to_spend": 200,
        "lines": [{"product_id": "cable", "unit_price": 20_000, "quantity": 1}],
    }
    response = await client.post("/v1/orders", json=body, headers=tenant.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "points_over_limit"
    assert error["details"]["max_points_spendable"] == 100
    assert await _counts(session) == before


async def test_order_id_reused_with_another_body_is_a_conflict(client, tenant, customer) -> None:
    body = {"order_id": "dup", "customer": {"external_id": customer}, "paid": True, "lines": [LINE]}
    first = await client.post("/v1/orders", json=body, headers=tenant.headers)
    again = await client.post("/v1/orders", json=body, headers=tenant.headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json() == again.json()
    changed = {**body, "lines": [{**LINE, "quantity": 2}]}
    conflict = await client.post("/v1/orders", json=changed, headers=tenant.headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "order_id_reused"


async def test_malformed_programme_through_the_api(client, tenant) -> None:
    from tests.factories import panasonic_document

    document = panasonic_document()
    document["tiers"][1]["earn_rate_bp"] = 10.5
    response = await client.post(
        "/v1/programmes", json={"document": document}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_programme"
    assert response.json()["error"]["field"] == "tiers.1.earn_rate_bp"
    unordered = panasonic_document()
    unordered["tiers"] = list(reversed(unordered["tiers"]))
    response = await client.post(
        "/v1/programmes", json={"document": unordered}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert "increasing threshold" in response.json()["error"]["message"]
    versions = await client.get("/v1/programmes", headers=tenant.headers)
    assert len(versions.json()) == 1


def test_malformed_programme_file_on_the_cli(tmp_path, database_url) -> None:
    from tests.cli.test_cli import tonari

    broken = tmp_path / "broken.yaml"
    broken.write_text("name: X\ncurrency: RUB\npoint_value_minor: 100\ntiers: [\n")
    result = tonari(database_url, "program", "apply", str(broken), "--tenant", "x")
    assert result.returncode == 2
    assert "not valid YAML" in result.stderr
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("name: X\ncurrency: RUB\npoint_value_minor: 100\ntiers: []\n")
    result = tonari(database_url, "program", "apply", str(wrong), "--tenant", "nope")
    assert result.returncode == 2
    assert "tiers" in result.stderr


async def test_idempotency_key_header_makes_programme_apply_happen_once(client, tenant) -> None:
    from tests.factories import panasonic_document

    body = {"document": panasonic_document(name="Spring")}
    headers = {**tenant.headers, "Idempotency-Key": "spring-2026"}
    first = await client.post("/v1/programmes", json=body, headers=headers)
    again = await client.post("/v1/programmes", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() and first.json()["version"] == 2
    other = await client.post(
        "/v1/programmes", json={"document": panasonic_document()}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert len((await client.get("/v1/programmes", headers=tenant.headers)).json()) == 2


async def test_numbers_too_big_for_a_64_bit_column_are_refused(client, tenant) -> None:
    huge_line = {"product_id": "gold-bar", "unit_price": 10**13, "quantity": 100_000}
    response = await client.post(
        "/v1/orders/calculate", json={"lines": [huge_line] * 3}, headers=tenant.headers
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "lines"
    response = await client.get(
        "/v1/webhook-endpoints/99999999999999999999999/deliveries", headers=tenant.headers
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "endpoint_id"
    response = await client.put(
        "/v1/products",
        headers=tenant.headers,
        json={"products": [{"product_id": "x", "name": "X", "price": 10**19}]},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "products.0.price"


async def test_the_same_product_twice_in_one_upsert_is_refused(client, tenant) -> None:
    product = {"product_id": "p", "name": "P", "price": 1}
    response = await client.put(
        "/v1/products", json={"products": [product, product]}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "products"
    assert "appears twice" in response.json()["error"]["message"]
