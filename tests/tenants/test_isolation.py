"""One tenant's key never reads or changes another tenant's data, on every endpoint."""

from __future__ import annotations

import httpx
from fastapi.routing import APIRoute

from tests.factories import make_tenant, panasonic_document
from tonari.app import create_app

PUBLIC = {("GET", "/health")}


async def _seed_tenant_a(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, object]:
    r = await client.put("/v1/customers/c1", json={"email": "secret@a.example"}, headers=headers)
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/customers/c1/adjustments",
        json={"direction": "grant", "points": 1_000, "reason": "gift", "idempotency_key": "k1"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/orders",
        json={
            "order_id": "o1",
            "customer": {"external_id": "c1"},
            "paid": True,
            "lines": [{"product_id": "p1", "unit_price": 100_000, "quantity": 2}],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await client.put(
        "/v1/products",
        json={"products": [{"product_id": "p1", "name": "Kettle A", "price": 100_000}]},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/a"}, headers=headers
    )
    assert r.status_code == 201, r.text
    return {"endpoint_id": r.json()["id"]}


async def test_every_endpoint_hides_other_tenants_data(client, session, tenant) -> None:
    a = tenant.headers
    seeded = await _seed_tenant_a(client, a)
    other = await make_tenant(session, programme=panasonic_document(name="Other brand"))
    b = other.headers
    endpoint_id = seeded["endpoint_id"]
    cart = {"lines": [{"product_id": "p1", "unit_price": 100_000, "quantity": 1}]}
    cases: list[tuple[str, str, dict | None, set[int]]] = [
        ("GET", "/v1/customers/c1", None, {404}),
        (
            "POST",
            "/v1/customers/c1/adjustments",
            {"direction": "deduct", "points": 1, "reason": "steal", "idempotency_key": "x"},
            {404},
        ),
        ("GET", "/v1/customers/c1/ledger", None, {404}),
        ("POST", "/v1/orders/calculate", {"customer": {"external_id": "c1"}, **cart}, {404}),
        (
            "POST",
            "/v1/orders",
            {"order_id": "o1", "customer": {"external_id": "c1"}, "paid": True, **cart},
            {404},
        ),
        ("GET", "/v1/orders/o1", None, {404}),
        ("POST", "/v1/orders/o1/pay", None, {404}),
        ("POST", "/v1/orders/o1/cancel", None, {404}),
        (
            "POST",
            "/v1/orders/o1/returns",
            {"return_id": "r1", "lines": [{"line_no": 1, "quantity": 1}]},
            {404},
        ),
        (
            "POST",
            "/v1/prices",
            {"customer": {"external_id": "c1"}, "products": [{"product_id": "p1", "price": 100}]},
            {404},
        ),
        ("GET", "/v1/products/p1", None, {404}),
        ("DELETE", f"/v1/webhook-endpoints/{endpoint_id}", None, {404}),
        ("GET", f"/v1/webhook-endpoints/{endpoint_id}/deliveries", None, {404}),
        ("POST", f"/v1/webhook-endpoints/{endpoint_id}/deliveries/1/retry", None, {404}),
        ("POST", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret", None, {404}),
    ]
    for method, path, body, expected in cases:
        response = await client.request(method, path, json=body, headers=b)
        assert response.status_code in expected, (method, path, response.text)
        assert "secret@a.example" not in response.text
    # Collection and upsert endpoints answer with the caller's own data only.
    own = await client.get("/v1/webhook-endpoints", headers=b)
    assert own.status_code == 200 and own.json() == []
    current = await client.get("/v1/programmes/current", headers=b)
    assert current.json()["document"]["name"] == "Other brand"
    versions = await client.get("/v1/programmes", headers=b)
    assert [v["version"] for v in versions.json()] == [1]
    applied = await client.post(
        "/v1/programmes", json={"document": panasonic_document()}, headers=b
    )
    assert applied.status_code == 201 and applied.json()["version"] == 2
    put = await client.put("/v1/customers/c1", json={"first_name": "Bob"}, headers=b)
    assert put.status_code == 201, "B gets its own customer c1"
    assert put.json()["email"] is None and put.json()["balances"]["available"] == 0
    products = await client.put(
        "/v1/products",
        json={"products": [{"product_id": "p1", "name": "B's", "price": 1}]},
        headers=b,
    )
    assert products.status_code == 200
    # Tenant A's data is untouched by all of the above.
    mine = (await client.get("/v1/customers/c1", headers=a)).json()
    assert mine["email"] == "secret@a.example"
    assert mine["first_name"] is None
    assert mine["balances"]["available"] == 1_000
    assert (await client.get("/v1/products/p1", headers=a)).json()["name"] == "Kettle A"
    assert (await client.get("/v1/orders/o1", headers=a)).json()["status"] == "paid"
    assert len((await client.get("/v1/webhook-endpoints", headers=a)).json()) == 1
    covered = {(m, p) for m, p, _, _ in cases} | {
        ("GET", "/v1/webhook-endpoints"),
        ("POST", "/v1/webhook-endpoints"),
        ("GET", "/v1/programmes/current"),
        ("GET", "/v1/programmes"),
        ("POST", "/v1/programmes"),
        ("PUT", "/v1/customers/c1"),
        ("PUT", "/v1/products"),
    }
    _assert_every_route_is_covered(covered)


def _normalise(path: str) -> str:
    replacements = {"{external_id}": "c1", "{order_id}": "o1", "{product_id}": "p1"}
    for placeholder, value in replacements.items():
        path = path.replace(placeholder, value)
    return path


def _assert_every_route_is_covered(covered: set[tuple[str, str]]) -> None:
    shapes = set()
    for method, path in covered:
        parts = ["{id}" if part.isdigit() else part for part in path.split("/")]
        shapes.add((method, "/".join(parts)))
    missing = []
    for route in create_app().routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods:
            key = (method, _normalise(route.path))
            generic = (
                key[0],
                "/".join("{id}" if part.startswith("{") else part for part in key[1].split("/")),
            )
            if key in PUBLIC or key in covered or generic in shapes:
                continue
            missing.append(key)
    assert not missing, f"endpoints without an isolation check: {missing}"


async def test_requests_without_a_key_are_refused(client) -> None:
    response = await client.get("/v1/customers/c1")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
    response = await client.get("/v1/customers/c1", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


async def test_a_key_without_the_scope_is_forbidden(client, session) -> None:
    reader = await make_tenant(session, scopes=["customers:read"])
    response = await client.post(
        "/v1/orders",
        headers=reader.headers,
        json={"order_id": "x", "lines": [{"product_id": "p", "unit_price": 1, "quantity": 1}]},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_scope"
