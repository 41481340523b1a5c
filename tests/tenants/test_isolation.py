"""One tenant's key never reads or changes another tenant's data, on every endpoint."""

from __future__ import annotations

import httpx

from tests.factories import make_tenant, panasonic_document
from tonari.app import create_app

PUBLIC = {
    ("GET", "/health"),
    # Messaging links carry a signed token naming their tenant instead of an API key; their
    # forgery and tampering checks are in tests/messaging (test_tracking, test_consents).
    ("GET", "/v1/unsubscribe/{token}"),
    ("POST", "/v1/unsubscribe/{token}"),
    ("GET", "/t/o/{token}.gif"),
    ("GET", "/t/c/{token}"),
    ("GET", "/t/m/{token}"),
}


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


async def _seed_codes_of_tenant_a(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A public code, a personal pool with stock and a bonus voucher issued to c1."""
    for body in (
        {"code": "skidka", "name": "A's", "kind": "public", "public_code": "SKIDKA30"},
        {"code": "welcome", "name": "A's", "kind": "bonus", "value_points": 100},
    ):
        r = await client.post("/v1/code-pools", json=body, headers=headers)
        assert r.status_code == 201, r.text
    r = await client.post("/v1/code-pools/welcome/generate", json={"count": 3}, headers=headers)
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/code-pools/welcome/issue",
        json={"customers": ["c1"], "issue_key": "k1"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["codes"][0]["code"])


async def test_every_endpoint_hides_other_tenants_data(client, session, tenant) -> None:
    a = tenant.headers
    seeded = await _seed_tenant_a(client, a)
    voucher = await _seed_codes_of_tenant_a(client, a)
    segment = await client.post(
        "/v1/segments",
        json={"key": "vip", "name": "A's", "definition": {"field": "city", "values": ["x"]}},
        headers=a,
    )
    assert segment.status_code == 201, segment.text
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
        ("GET", "/v1/customers/c1/timeline", None, {404}),
        ("GET", "/v1/profiles/c1", None, {404}),
        ("GET", "/v1/profiles/c1/export", None, {404}),
        ("POST", "/v1/profiles/c1/erase", None, {404}),
        ("GET", "/v1/profiles?q=secret@a.example", None, {200}),
        ("POST", "/v1/identity/merges", {"profiles": ["c1", "c2"]}, {404}),
        ("POST", "/v1/identity/merges/1/undo", None, {404}),
        ("POST", "/v1/identity/pairs/1/decision", {"decision": "confirm"}, {404}),
        ("GET", "/v1/identity/pairs", None, {200}),
        (
            "POST",  # B has no such address: nobody of A's is marked
            "/v1/identity/unreachable",
            {"email": "secret@a.example", "reason": "bounce"},
            {200},
        ),
        ("POST", "/v1/sources/api/records", {"records": [{"record_id": "c1"}]}, {404}),
        (
            "POST",  # B's report rejects A's customer: 200 with a per-event "rejected"
            "/v1/events",
            {
                "events": [
                    {
                        "event_id": "x",
                        "event_type": "login",
                        "occurred_at": "2026-01-01T00:00:00Z",
                        "customer": {"email": "secret@a.example"},
                    }
                ]
            },
            {200},
        ),
        (
            "POST",
            "/v1/customers/c1/activities",
            {"action": "review_written", "activity_id": "x", "subject": "p1"},
            {404},
        ),
        (
            "POST",
            "/v1/customers/c1/activities/batch",
            {"activities": [{"action": "review_written", "activity_id": "y", "subject": "p1"}]},
            {404},
        ),
        ("GET", "/v1/customers/c1/activities", None, {404}),
        (
            "POST",
            "/v1/customers/c1/temporary-points",
            {"points": 5, "expires_in_hours": 1, "reason": "steal", "idempotency_key": "t"},
            {404},
        ),
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
        ("GET", "/v1/code-pools/welcome", None, {404}),
        ("POST", "/v1/code-pools/welcome/pause", None, {404}),
        ("POST", "/v1/code-pools/welcome/resume", None, {404}),
        ("POST", "/v1/code-pools/welcome/generate", {"count": 5}, {404}),
        (
            "POST",
            "/v1/code-pools/welcome/issue",
            {"customers": ["c1"], "issue_key": "k2"},
            {404},
        ),
        ("GET", "/v1/code-pools/welcome/export", None, {404}),
        ("GET", "/v1/codes/SKIDKA30", None, {404}),
        ("GET", f"/v1/codes/{voucher}", None, {404}),
        ("POST", "/v1/codes/SKIDKA30/redeem", {"customer": "c1"}, {404}),
        ("POST", f"/v1/codes/{voucher}/redeem", {"customer": "c1"}, {404}),
        (
            "POST",
            "/v1/simulations",  # B's own stored orders: none, A's are not replayed
            {
                "programme": panasonic_document(),
                "stored": {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
            },
            {422},
        ),
        ("GET", "/v1/segments/vip", None, {404}),
        ("PUT", "/v1/segments/vip", {"name": "stolen"}, {404}),
        ("DELETE", "/v1/segments/vip", None, {404}),
        ("GET", "/v1/segments/vip/members", None, {404}),
        ("GET", "/v1/segments/vip/export.csv", None, {404}),
        ("POST", "/v1/segments/vip/rebuild", None, {404}),
        (
            "POST",  # every customer of B's, and none of A's
            "/v1/segments/preview",
            {"definition": {"field": "customer_type", "values": ["person"]}},
            {200},
        ),
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
    await _check_settlement_is_per_tenant(client, session, tenant.id, a, b)
    put = await client.put("/v1/customers/c1", json={"first_name": "Bob"}, headers=b)
    assert put.status_code == 201, "B gets its own customer c1"
    assert put.json()["email"] is None and put.json()["balances"]["available"] == 0
    products = await client.put(
        "/v1/products",
        json={"products": [{"product_id": "p1", "name": "B's", "price": 1}]},
        headers=b,
    )
    assert products.status_code == 200
    assert (await client.get("/v1/code-pools", headers=b)).json() == []
    assert (await client.get("/v1/segments", headers=b)).json() == []
    own_segment = await client.post(
        "/v1/segments",
        json={"key": "vip", "name": "B's", "definition": {"field": "city", "values": ["x"]}},
        headers=b,
    )
    assert own_segment.status_code == 201, "B gets its own segment vip"
    assert (await client.get("/v1/segments/vip", headers=a)).json()["name"] == "A's"
    quality = await client.get("/v1/reports/quality", headers=b)
    # B's only record is its own customer c1, sent through the API.
    assert quality.status_code == 200 and quality.json()["people"]["records"] == 1
    assert [s["name"] for s in (await client.get("/v1/sources", headers=b)).json()] == ["api"]
    settings = await client.put(
        "/v1/identity/settings", json={"auto_merge_probability": 0.97}, headers=b
    )
    assert settings.status_code == 200, settings.text
    assert (await client.get("/v1/identity/settings", headers=a)).json()[
        "auto_merge_probability"
    ] != 0.97
    resolved = await client.post("/v1/identity/resolve", headers=b)
    assert resolved.status_code == 200 and resolved.json()["records"] == 1, resolved.text
    source = await client.put("/v1/sources/shop", json={"name": "shop", "trust": 80}, headers=b)
    assert source.status_code == 200, source.text
    liability = await client.get("/v1/reports/liability", headers=b)
    assert liability.status_code == 200 and liability.json()["total"]["points"] == 0
    pool = await client.post(
        "/v1/code-pools",
        json={"code": "welcome", "name": "B's", "kind": "public", "public_code": "SKIDKA30"},
        headers=b,
    )
    assert pool.status_code == 201, "B gets its own pool welcome, even its own SKIDKA30"
    # Tenant A's data is untouched by all of the above.
    a_pool = (await client.get("/v1/code-pools/welcome", headers=a)).json()
    assert (a_pool["name"], a_pool["status"], a_pool["stats"]["codes"]) == ("A's", "active", 4)
    a_voucher = (await client.get(f"/v1/codes/{voucher}", headers=a)).json()
    assert (a_voucher["owner"], a_voucher["uses"]) == ("c1", 0)
    assert (await client.get("/v1/codes/SKIDKA30", headers=a)).json()["pool"] == "skidka"
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
        ("GET", "/v1/programmes/offer-types"),
        ("GET", "/v1/programmes"),
        ("POST", "/v1/programmes"),
        ("PUT", "/v1/customers/c1"),
        ("GET", "/v1/partners/settlement"),
        ("PUT", "/v1/products"),
        ("GET", "/v1/code-pools"),
        ("POST", "/v1/code-pools"),
        ("GET", "/v1/reports/liability"),
        ("GET", "/v1/reports/quality"),
        ("GET", "/v1/profiles"),
        ("GET", "/v1/sources"),
        ("PUT", "/v1/sources/api"),
        ("GET", "/v1/identity/settings"),
        ("PUT", "/v1/identity/settings"),
        ("POST", "/v1/identity/resolve"),
        ("GET", "/v1/segments"),
        ("POST", "/v1/segments"),
    }
    covered |= await _check_messaging_content_is_per_tenant(client, session, tenant.id, a, b)
    covered |= await _check_delivery_is_per_tenant(client, a, b)
    covered |= await _check_journeys_are_per_tenant(client, a, b)
    _assert_every_route_is_covered(covered)


async def _check_settlement_is_per_tenant(client, session, tenant_a: int, a, b) -> None:
    """A's partner order shows in A's settlement only."""
    from datetime import timedelta

    from sqlalchemy import update

    from tonari.kit.clock import utcnow
    from tonari.models.orders import Order

    await session.execute(
        update(Order)
        .where(Order.tenant_id == tenant_a, Order.external_id == "o1")
        .values(partner="shop-a")
    )
    today = utcnow().date()
    period = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
    theirs = await client.get("/v1/partners/settlement", params=period, headers=b)
    assert theirs.status_code == 200
    assert "shop-a" not in {line["partner"] for line in theirs.json()["partners"]}
    assert all(line["points_issued"] == 0 for line in theirs.json()["partners"])
    mine = await client.get("/v1/partners/settlement", params=period, headers=a)
    assert "shop-a" in {line["partner"] for line in mine.json()["partners"]}


def _normalise(path: str) -> str:
    replacements = {"{external_id}": "c1", "{order_id}": "o1", "{product_id}": "p1"}
    replacements.update({"{pool_code}": "welcome", "{code}": "SKIDKA30", "{name}": "api"})
    replacements["{segment_key}"] = "vip"
    replacements["{key}"] = "welcome"  # message templates, on-site blocks and campaigns
    replacements["{channel}"] = "email"  # messaging channels
    for placeholder, value in replacements.items():
        path = path.replace(placeholder, value)
    return path


def _assert_every_route_is_covered(covered: set[tuple[str, str]]) -> None:
    shapes = set()
    for method, path in covered:
        parts = ["{id}" if part.isdigit() else part for part in path.split("/")]
        shapes.add((method, "/".join(parts)))
    missing = []
    # The OpenAPI document lists every mounted route, however the framework nests routers.
    paths = create_app().openapi()["paths"]
    assert len(paths) > 30, "the route listing must see the whole API, or this check is empty"
    for path, operations in paths.items():
        for method in (name.upper() for name in operations):
            key = (method, _normalise(path))
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


async def _check_messaging_content_is_per_tenant(
    client, session, tenant_a: int, a, b
) -> set[tuple[str, str]]:
    """Consents, templates, the magic-link site and on-site blocks of A stay A's (B has its
    own customer c1 by now)."""
    from tonari.customers.service import get_customer
    from tonari.kit.clock import utcnow
    from tonari.messaging.consents import contact_address
    from tonari.messaging.magic_links import follow_magic_link, magic_link_token

    consent = {"consents": [{"channel": "email", "granted": True, "source": "a"}]}
    assert (
        await client.put("/v1/customers/c1/consents", json=consent, headers=a)
    ).status_code == 200
    template = {"key": "welcome", "subject": "Hi", "text": "{{ balance }} points"}
    assert (
        await client.post("/v1/messaging/templates", json=template, headers=a)
    ).status_code == 201
    site = {"site_url": "https://a.example/login"}
    assert (await client.put("/v1/messaging/site", json=site, headers=a)).status_code == 200
    block = {"placement": "home", "html": "A's banner {{ balance }}"}
    assert (await client.put("/v1/onsite-blocks/welcome", json=block, headers=a)).status_code == 200
    c1 = await get_customer(session, tenant_id=tenant_a, external_id="c1")
    link = magic_link_token(tenant_id=tenant_a, customer_id=c1.id, at=utcnow())
    location = await follow_magic_link(session, token=link, at=utcnow())
    login_token = location.split("tonari_login=")[1]

    cases: list[tuple[str, str, dict | None, set[int]]] = [
        ("GET", "/v1/messaging/templates/welcome", None, {404}),
        ("PATCH", "/v1/messaging/templates/welcome", {"text": "stolen"}, {404}),
        ("DELETE", "/v1/messaging/templates/welcome", None, {404}),
        ("POST", "/v1/messaging/templates/welcome/preview", {"customer_id": "c1"}, {404}),
        ("POST", "/v1/messaging/templates/welcome/test-send", {"customer_id": "c1"}, {404}),
        ("POST", "/v1/magic-links/exchange", {"token": login_token}, {404}),
        ("DELETE", "/v1/onsite-blocks/welcome", None, {404}),
    ]
    for method, path, body, expected in cases:
        response = await client.request(method, path, json=body, headers=b)
        assert response.status_code in expected, (method, path, response.text)
    # Collections and upserts answer with B's own data only.
    assert (await client.get("/v1/customers/c1/consents", headers=b)).json() == []
    withdraw = {"consents": [{"channel": "email", "granted": False}]}
    assert (
        await client.put("/v1/customers/c1/consents", json=withdraw, headers=b)
    ).status_code == 200
    assert (await client.get("/v1/messaging/templates", headers=b)).json() == []
    assert (await client.get("/v1/messaging/site", headers=b)).status_code == 404
    own_site = {"site_url": "https://b.example/"}
    assert (await client.put("/v1/messaging/site", json=own_site, headers=b)).status_code == 200
    assert (await client.get("/v1/onsite-blocks", headers=b)).json() == []
    onsite = (await client.get("/v1/onsite/c1", params={"placement": "home"}, headers=b)).json()
    assert onsite["block"] is None and onsite["points"]["available"] == 0
    own_block = {"placement": "home", "html": "B's"}
    assert (
        await client.put("/v1/onsite-blocks/welcome", json=own_block, headers=b)
    ).status_code == 200
    bounce = {"address": "secret@a.example", "kind": "complaint"}
    bounced = await client.post("/v1/messaging/bounces", json=bounce, headers=b)
    assert bounced.status_code == 200 and bounced.json()["profiles_marked"] == 0
    # A's side is untouched.
    mine = (await client.get("/v1/customers/c1/consents", headers=a)).json()
    assert [(c["topic"], c["granted"]) for c in mine] == [("marketing", True)]
    assert (await client.get("/v1/messaging/templates/welcome", headers=a)).json()["version"] == 1
    assert (await client.get("/v1/messaging/site", headers=a)).json()["site_url"] == site[
        "site_url"
    ]
    a_onsite = (await client.get("/v1/onsite/c1", params={"placement": "home"}, headers=a)).json()
    assert a_onsite["block"]["html"] == "A's banner 1000"
    assert (
        await contact_address(session, tenant_id=tenant_a, customer_id=c1.id, channel="email")
        == "secret@a.example"
    )
    exchanged = await client.post(
        "/v1/magic-links/exchange", json={"token": login_token}, headers=a
    )
    assert exchanged.status_code == 200 and exchanged.json()["external_id"] == "c1"
    return {(m, p) for m, p, _, _ in cases} | {
        ("GET", "/v1/customers/c1/consents"),
        ("PUT", "/v1/customers/c1/consents"),
        ("GET", "/v1/messaging/templates"),
        ("POST", "/v1/messaging/templates"),
        ("GET", "/v1/messaging/site"),
        ("PUT", "/v1/messaging/site"),
        ("GET", "/v1/onsite-blocks"),
        ("PUT", "/v1/onsite-blocks/welcome"),
        ("GET", "/v1/onsite/c1"),
        ("POST", "/v1/messaging/bounces"),
    }


async def _check_delivery_is_per_tenant(client, a, b) -> set[tuple[str, str]]:
    """A's channels, policy and campaigns are invisible to B and unchanged by B."""
    smtp = {
        "adapter": "smtp",
        "settings": {"host": "smtp.a.example", "password": "a-secret"},
        "sender": "club@a.example",
    }
    assert (
        await client.put("/v1/messaging/channels/email", json=smtp, headers=a)
    ).status_code == 200
    policy = {"per_day": 3, "holdout_bp": 100}
    assert (await client.put("/v1/messaging/policy", json=policy, headers=a)).status_code == 200
    campaign = {
        "key": "welcome",
        "name": "A's",
        "definition": {"field": "city", "values": ["Moscow"]},
        "template_key": "welcome",
    }
    assert (await client.post("/v1/campaigns", json=campaign, headers=a)).status_code == 201
    cases = [
        ("GET", "/v1/messaging/channels/email", None, {404}),
        ("GET", "/v1/campaigns/welcome", None, {404}),
        ("POST", "/v1/campaigns/welcome/start", None, {404}),
        ("POST", "/v1/campaigns/welcome/pause", None, {404}),
        ("POST", "/v1/campaigns/welcome/resume", None, {404}),
        ("POST", "/v1/campaigns/welcome/cancel", None, {404}),
        ("GET", "/v1/campaigns/welcome/report", None, {404}),
    ]
    for method, path, body, expected in cases:
        response = await client.request(method, path, json=body, headers=b)
        assert response.status_code in expected, (method, path, response.text)
        assert "a-secret" not in response.text and "smtp.a.example" not in response.text
    assert (await client.get("/v1/campaigns", headers=b)).json() == []
    assert (await client.get("/v1/messaging/policy", headers=b)).json()["per_day"] is None
    own = {"adapter": "file", "settings": {"path": "/tmp/b.jsonl"}}
    assert (
        await client.put("/v1/messaging/channels/email", json=own, headers=b)
    ).status_code == 200
    assert (
        await client.put("/v1/messaging/policy", json={"per_day": 9}, headers=b)
    ).status_code == 200
    assert (
        await client.post("/v1/campaigns", json={**campaign, "name": "B's"}, headers=b)
    ).status_code == 201
    mine = (await client.get("/v1/messaging/channels/email", headers=a)).json()
    assert (mine["adapter"], mine["settings"]["host"]) == ("smtp", "smtp.a.example")
    assert (await client.get("/v1/messaging/policy", headers=a)).json()["per_day"] == 3
    assert (await client.get("/v1/campaigns/welcome", headers=a)).json()["name"] == "A's"
    return {(m, p) for m, p, _, _ in cases} | {
        ("PUT", "/v1/messaging/channels/email"),
        ("GET", "/v1/messaging/policy"),
        ("PUT", "/v1/messaging/policy"),
        ("GET", "/v1/campaigns"),
        ("POST", "/v1/campaigns"),
    }


async def _check_journeys_are_per_tenant(client, a, b) -> set[tuple[str, str]]:
    """A's journey is invisible and untouchable with B's key; B enables its own."""
    enabled = await client.post(
        "/v1/journeys/templates/abandoned_cart/enable", json={"key": "welcome"}, headers=a
    )
    assert enabled.status_code == 200, enabled.text
    key = enabled.json()["key"]  # "welcome": the name the route walk gives {key}
    cases = [
        ("GET", f"/v1/journeys/{key}", None, {404}),
        ("POST", f"/v1/journeys/{key}/pause", None, {404}),
        ("POST", f"/v1/journeys/{key}/resume", None, {404}),
        ("POST", f"/v1/journeys/{key}/archive", None, {404}),
        ("GET", f"/v1/journeys/{key}/instances", None, {404}),
    ]
    for method, path, body, expected in cases:
        response = await client.request(method, path, json=body, headers=b)
        assert response.status_code in expected, (method, path, response.text)
    assert (await client.get("/v1/journeys", headers=b)).json() == []
    listed = (await client.get("/v1/journeys/templates", headers=b)).json()
    assert not any(t["enabled"] for t in listed), "A's enabled template shows as off for B"
    own = await client.post(
        "/v1/journeys",
        json={
            "key": key,
            "name": "B's",
            "definition": {
                "entry": {"event": "product_viewed"},
                "start": "end",
                "steps": {"end": {"type": "exit"}},
            },
        },
        headers=b,
    )
    assert own.status_code == 201, "B gets its own journey with the same key"
    mine = (await client.get(f"/v1/journeys/{key}", headers=a)).json()
    assert (mine["name"], mine["status"]) == (enabled.json()["name"], "active")
    return {(m, p) for m, p, _, _ in cases} | {
        ("GET", "/v1/journeys"),
        ("POST", "/v1/journeys"),
        ("GET", "/v1/journeys/templates"),
        ("POST", "/v1/journeys/templates/api/enable"),  # {name} as the route walk names it
    }


async def test_panel_pages_hide_other_tenants_data(client, session, tenant) -> None:
    """Signed in to the panel with B's key, nothing of A's shows or changes; every panel
    route has a case here (the panel is not in the OpenAPI document the test above walks)."""
    import re

    from tests.messaging.smtp_sink import make_email_template
    from tests.web.support import Panel
    from tonari.kit.clock import utcnow
    from tonari.web import panel_routes

    a = tenant.headers
    await _seed_tenant_a(client, a)
    segment = {"key": "vip", "name": "A's", "definition": {"field": "city", "values": ["x"]}}
    assert (await client.post("/v1/segments", json=segment, headers=a)).status_code == 201
    await make_email_template(session, tenant_id=tenant.id, key="welcome", at=utcnow())
    campaign = {"key": "welcome", "name": "A's", "segment_key": "vip", "template_key": "welcome"}
    assert (await client.post("/v1/campaigns", json=campaign, headers=a)).status_code == 201
    enabled = await client.post(
        "/v1/journeys/templates/abandoned_cart/enable", json={"key": "welcome"}, headers=a
    )
    assert enabled.status_code == 200, enabled.text
    other = await make_tenant(session, programme=panasonic_document(name="Other brand"))
    b = await Panel(client, other).open()

    cases: list[tuple[str, str, dict[str, str] | None, set[int]]] = [
        ("GET", "/panel/segments/vip", None, {404}),
        ("POST", "/panel/segments/vip", {"name": "stolen", "definition": "field: tier"}, {404}),
        ("POST", "/panel/segments/vip/archive", {}, {404}),
        ("GET", "/panel/segments/vip/export.csv", None, {404}),
        ("GET", "/panel/campaigns/welcome", None, {404}),
        ("POST", "/panel/campaigns/welcome/start", {}, {404}),
        ("POST", "/panel/campaigns/welcome/pause", {}, {404}),
        ("POST", "/panel/campaigns/welcome/resume", {}, {404}),
        ("POST", "/panel/campaigns/welcome/cancel", {}, {404}),
        ("GET", "/panel/customers/c1", None, {404}),
        ("POST", "/panel/journeys/welcome/pause", {}, {404}),
        ("POST", "/panel/journeys/welcome/resume", {}, {404}),
        # Lists and searches answer with B's own (empty) data.
        ("GET", "/panel", None, {307}),
        ("GET", "/panel/", None, {200}),
        ("GET", "/panel/segments", None, {200}),
        ("GET", "/panel/segments/new", None, {200}),
        ("GET", "/panel/campaigns", None, {200}),
        ("GET", "/panel/campaigns/new", None, {200}),
        ("GET", "/panel/journeys", None, {200}),
        ("GET", "/panel/customers", None, {200}),
        ("GET", "/panel/customers?q=secret@a.example", None, {200}),
        ("GET", "/panel/customers?q=c1", None, {200}),
        ("GET", "/panel/sign-in", None, {200}),
    ]
    for method, path, body, expected in cases:
        if method == "GET":
            response = await b.get(path)
        else:
            response = await b.post(path, body)
        assert response.status_code in expected, (method, path, response.status_code)
        if "?q=" in path:  # the search repeats what was asked, and finds nobody
            assert "0 found" in response.text
        else:
            assert "secret@a.example" not in response.text, (method, path)
        assert "/panel/customers/c1" not in response.text, (method, path)
        assert "A&#39;s" not in response.text, (method, path)
    listed = (await b.get("/panel/journeys")).text
    assert "welcome" not in re.findall(r'id="journey-([^"]+)"', listed)
    preview = await b.preview("field: customer_type\nvalues: [person]")
    assert preview.status_code == 200 and preview.json()["size"] == 0, "none of A's customers"
    # B's creations are B's own, under the same keys.
    own = await b.post(
        "/panel/segments/new",
        {"key": "vip", "name": "B's", "definition": "field: tier\nvalues: [x]"},
    )
    assert own.status_code == 303, own.text
    assert 'value="welcome|email"' not in (await b.get("/panel/campaigns/new")).text
    own_campaign = await b.post(
        "/panel/campaigns/new",
        {"key": "welcome", "name": "B's", "segment_key": "vip", "template": "welcome|email"},
    )
    assert own_campaign.status_code == 303, "B gets its own draft campaign welcome"
    assert (await b.post("/panel/journeys/templates/abandoned_cart/enable")).status_code == 303
    assert (await b.post("/panel/sign-out")).status_code == 303
    # A's side is untouched.
    assert (await client.get("/v1/segments/vip", headers=a)).json()["name"] == "A's"
    mine = (await client.get("/v1/campaigns/welcome", headers=a)).json()
    assert (mine["name"], mine["status"]) == ("A's", "draft")
    assert (await client.get("/v1/journeys/welcome", headers=a)).json()["status"] == "active"

    covered = {(m, p.split("?")[0]) for m, p, _, _ in cases} | {
        ("POST", "/panel/segments/preview"),
        ("POST", "/panel/segments/new"),
        ("POST", "/panel/campaigns/new"),
        ("POST", "/panel/journeys/templates/{name}/enable"),
        ("POST", "/panel/sign-out"),
        ("POST", "/panel/sign-in"),  # Panel.open() signs in: the key names the tenant
    }
    names = {
        "{segment_key}": "vip",
        "{key}": "welcome",
        "{external_id}": "c1",
        "{action}": "start",
    }
    missing = []
    for method, path in panel_routes():
        concrete = path
        for placeholder, value in names.items():
            concrete = concrete.replace(placeholder, value)
        if (method, concrete) not in covered and (method, path) not in covered:
            missing.append((method, path))
    assert not missing, f"panel routes without an isolation case: {missing}"
