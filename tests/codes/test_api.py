"""The code pools API: create, generate, issue, look up, export, vouchers; bad input is a 4xx."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from tests.codes.support import counts, events
from tests.factories import make_tenant, panasonic_document
from tonari.models.ledger import LedgerEntry

PERSONAL = {"code": "welcome", "name": "Welcome codes", "kind": "personal", "valid_days": 75}


async def _customers(client, tenant, *external_ids: str) -> None:
    for external_id in external_ids:
        response = await client.put(f"/v1/customers/{external_id}", json={}, headers=tenant.headers)
        assert response.status_code == 201, response.text


async def _create(client, tenant, body):
    response = await client.post("/v1/code-pools", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_public_pool_lifecycle(client, tenant) -> None:
    created = await _create(
        client,
        tenant,
        {
            "code": "skidka30",
            "name": "30% off 10,000+",
            "kind": "public",
            "public_code": "skidka30",
            "per_customer_limit": 1,
        },
    )
    assert created["public_code"] == "SKIDKA30" and created["max_uses_per_code"] is None
    again = await client.post(
        "/v1/code-pools",
        json={"code": "skidka30", "name": "x", "kind": "personal"},
        headers=tenant.headers,
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "code_pool_exists"
    listed = await client.get("/v1/code-pools", headers=tenant.headers)
    assert [pool["code"] for pool in listed.json()] == ["skidka30"]
    looked = await client.get("/v1/codes/Skidka30", headers=tenant.headers)
    assert looked.status_code == 200, looked.text
    assert looked.json()["status"] == "active" and looked.json()["pool"] == "skidka30"


async def test_generate_issue_look_up_and_export(client, session, tenant) -> None:
    await _customers(client, tenant, "anna", "boris")
    await _create(client, tenant, PERSONAL)
    generated = await client.post(
        "/v1/code-pools/welcome/generate", json={"count": 20_000}, headers=tenant.headers
    )
    assert generated.status_code == 201, generated.text
    assert generated.json()["generated"] == 20_000 and generated.json()["seconds"] > 0

    body = {"customers": ["anna", "boris"], "per_customer": 2, "issue_key": "march"}
    issued = await client.post("/v1/code-pools/welcome/issue", json=body, headers=tenant.headers)
    assert issued.status_code == 201, issued.text
    answer = issued.json()
    assert (answer["customers"], answer["issued"], answer["replayed"]) == (2, 4, False)
    assert [c["customer"] for c in answer["codes"]] == ["anna", "anna", "boris", "boris"]
    replay = await client.post("/v1/code-pools/welcome/issue", json=body, headers=tenant.headers)
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    assert sorted(c["code"] for c in replay.json()["codes"]) == sorted(
        c["code"] for c in answer["codes"]
    )
    reused = await client.post(
        "/v1/code-pools/welcome/issue",
        json={**body, "customers": ["anna"]},
        headers=tenant.headers,
    )
    assert reused.status_code == 409 and reused.json()["error"]["field"] == "issue_key"
    issued_events = await events(session, tenant.id, "code.issued")
    assert len(issued_events) == 4
    assert issued_events[0].payload["customer"] == "anna"
    assert issued_events[0].payload["code"] == answer["codes"][0]["code"]

    code = answer["codes"][0]["code"]
    looked = await client.get(
        f"/v1/codes/{code.lower()}", params={"customer": "boris"}, headers=tenant.headers
    )
    assert looked.status_code == 200, looked.text
    view = looked.json()
    assert (view["owner"], view["uses"], view["max_uses"], view["status"]) == (
        "anna",
        0,
        1,
        "active",
    )
    assert view["for_customer"] == {
        "customer": "boris",
        "valid": False,
        "reason": "a personal code of another customer",
    }

    pool = await client.get("/v1/code-pools/welcome", headers=tenant.headers)
    assert pool.json()["stats"] == {"codes": 20_004, "issued": 4, "redemptions": 0}

    exported = await client.get("/v1/code-pools/welcome/export", headers=tenant.headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 20_004 and len({row["code"] for row in rows}) == 20_004
    owners = sorted(row["owner"] for row in rows if row["owner"])
    assert owners == ["anna", "anna", "boris", "boris"]
    assert {row["status"] for row in rows} == {"active"}


async def test_bonus_voucher_credits_its_points_once(client, session, tenant) -> None:
    await _customers(client, tenant, "anna", "boris")
    await _create(
        client,
        tenant,
        {"code": "winwin", "name": "Winwin bonus", "kind": "bonus", "value_points": 500},
    )
    issued = await client.post(
        "/v1/code-pools/winwin/issue",
        json={"customers": ["anna"], "issue_key": "w1", "reason": "survey"},
        headers=tenant.headers,
    )
    code = issued.json()["codes"][0]["code"]
    [event] = await events(session, tenant.id, "voucher.issued")
    assert event.payload["value_points"] == 500 and event.payload["reason"] == "survey"
    entries_before = await session.scalar(select(func.count()).select_from(LedgerEntry))

    redeemed = await client.post(
        f"/v1/codes/{code}/redeem", json={"customer": "anna"}, headers=tenant.headers
    )
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["points"] == 500 and redeemed.json()["balance"] == 500
    again = await client.post(
        f"/v1/codes/{code}/redeem", json={"customer": "anna"}, headers=tenant.headers
    )
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["balance"] == 500
    stolen = await client.post(
        f"/v1/codes/{code}/redeem", json={"customer": "boris"}, headers=tenant.headers
    )
    assert stolen.status_code == 422 and stolen.json()["error"]["code"] == "promo_code_not_valid"
    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == entries_before + 1
    profile = await client.get("/v1/customers/anna", headers=tenant.headers)
    assert profile.json()["balances"]["available"] == 500
    looked = await client.get(f"/v1/codes/{code}", headers=tenant.headers)
    assert looked.json()["status"] == "used_up"


async def test_bearer_bonus_voucher_goes_to_the_first_customer(client, tenant) -> None:
    await _customers(client, tenant, "anna", "boris")
    await _create(
        client, tenant, {"code": "cards", "name": "Cards", "kind": "bonus", "value_points": 100}
    )
    await client.post("/v1/code-pools/cards/generate", json={"count": 1}, headers=tenant.headers)
    exported = await client.get("/v1/code-pools/cards/export", headers=tenant.headers)
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    first = await client.post(
        f"/v1/codes/{row['code']}/redeem", json={"customer": "anna"}, headers=tenant.headers
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        f"/v1/codes/{row['code']}/redeem", json={"customer": "boris"}, headers=tenant.headers
    )
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "promo_code_used_up"


async def test_gift_voucher_issue_and_not_redeemable_as_points(client, session, tenant) -> None:
    await _customers(client, tenant, "anna")
    await _create(
        client,
        tenant,
        {
            "code": "gift-5000",
            "name": "Gift card 5,000",
            "kind": "gift",
            "value_minor": 500_000,
            "currency": "RUB",
            "valid_days": 365,
        },
    )
    issued = await client.post(
        "/v1/code-pools/gift-5000/issue",
        json={"customers": ["anna"], "issue_key": "g1"},
        headers=tenant.headers,
    )
    code = issued.json()["codes"][0]["code"]
    [event] = await events(session, tenant.id, "voucher.issued")
    assert (event.payload["value_minor"], event.payload["currency"]) == (500_000, "RUB")
    response = await client.post(
        f"/v1/codes/{code}/redeem", json={"customer": "anna"}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_a_bonus_voucher"


POOLS = "/v1/code-pools"
WHEN = {"valid_from": "2026-05-01T00:00:00+00:00", "valid_until": "2026-04-01T00:00:00+00:00"}
BAD_POOLS = [
    ({"prefix": "ПРОМО"}, "validation_failed", "prefix"),
    ({"prefix": "a b"}, "validation_failed", "prefix"),
    ({"code": "Bad Slug"}, "invalid_request", "code"),
    ({"value_points": 5}, "validation_failed", "value_points"),
    ({"kind": "public"}, "validation_failed", "valid_days"),
    ({"kind": "public", "valid_days": None}, "validation_failed", "public_code"),
    ({"kind": "gift", "value_minor": 5}, "validation_failed", "currency"),
    ({"kind": "bonus", "value_points": 5, "max_uses_per_code": 2}, "validation_failed",
     "max_uses_per_code"),
    (WHEN, "validation_failed", "valid_until"),
    ({"valid_until": "2026-04-01T00:00:00"}, "invalid_request", "valid_until"),
    ({"code_length": 5}, "invalid_request", "code_length"),
    ({"surprise": 1}, "invalid_request", "surprise"),
]  # fmt: skip
BAD_REQUESTS = [
    ("POST", f"{POOLS}/nope/generate", {"count": 5}, 404, "unknown_code_pool", "pool"),
    ("POST", f"{POOLS}/welcome/generate", {"count": 0}, 422, "invalid_request", "count"),
    ("POST", f"{POOLS}/welcome/generate", {"count": 1_000_001}, 422, "invalid_request", "count"),
    ("POST", f"{POOLS}/welcome/generate", {"count": 5.0}, 422, "invalid_request", "count"),
    ("POST", f"{POOLS}/skidka/generate", {"count": 5}, 422, "public_code_pool", "pool"),
    ("POST", f"{POOLS}/welcome/issue", {"customers": ["ghost"], "issue_key": "k"}, 422,
     "unknown_customer", "customers"),
    ("POST", f"{POOLS}/welcome/issue", {"customers": [], "issue_key": "k"}, 422,
     "invalid_request", "customers"),
    ("POST", f"{POOLS}/welcome/issue", {"customers": ["anna"], "issue_key": "k",
     "per_customer": 0}, 422, "invalid_request", "per_customer"),
    ("GET", f"{POOLS}/nope/export", None, 404, "unknown_code_pool", "pool"),
    ("GET", "/v1/codes/NOSUCHCODE", None, 404, "unknown_promo_code", "code"),
    ("GET", "/v1/codes/SKIDKA30?customer=ghost", None, 404, "unknown_customer", "customer"),
    ("POST", "/v1/codes/SKIDKA30/redeem", {"customer": "anna"}, 422, "not_a_bonus_voucher",
     "code"),
    ("POST", "/v1/codes/SKIDKA30/redeem", {"customer": "ghost"}, 404, "unknown_customer",
     "customer"),
]  # fmt: skip


@pytest.fixture
async def seeded(client, tenant) -> None:
    await _customers(client, tenant, "anna")
    await _create(client, tenant, PERSONAL)
    await _create(
        client, tenant, {"code": "skidka", "name": "x", "kind": "public", "public_code": "SKIDKA30"}
    )


async def _refused(client, session, tenant, method, path, body, status, code, field) -> None:
    before = await counts(session, tenant.id)
    response = await client.request(method, path, json=body, headers=tenant.headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error.get("field")) == (code, field)
    assert error["message"]
    assert await counts(session, tenant.id) == before


@pytest.mark.parametrize(("change", "code", "field"), BAD_POOLS)
async def test_bad_pool_is_refused_and_changes_nothing(
    client, session, tenant, seeded, change, code, field
) -> None:
    body = {**PERSONAL, "code": "p2", **change}
    await _refused(client, session, tenant, "POST", POOLS, body, 422, code, field)


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "field"), BAD_REQUESTS)
async def test_bad_request_is_refused_and_changes_nothing(
    client, session, tenant, seeded, method, path, body, status, code, field
) -> None:
    await _refused(client, session, tenant, method, path, body, status, code, field)


async def test_codes_are_tenant_isolated(client, session, tenant) -> None:
    await _create(
        client, tenant, {"code": "skidka", "name": "A", "kind": "public", "public_code": "SKIDKA30"}
    )
    other = await make_tenant(session, programme=panasonic_document(name="Other brand"))
    assert (await client.get("/v1/codes/SKIDKA30", headers=other.headers)).status_code == 404
    assert (await client.get("/v1/code-pools/skidka", headers=other.headers)).status_code == 404
    assert (await client.get("/v1/code-pools", headers=other.headers)).json() == []
    # The other brand may run a code with the same text: texts are unique per tenant.
    await _create(
        client, other, {"code": "skidka", "name": "B", "kind": "public", "public_code": "SKIDKA30"}
    )
    mine = await client.get("/v1/code-pools/skidka", headers=tenant.headers)
    assert mine.json()["name"] == "A"


async def test_scopes(client, session) -> None:
    reader = await make_tenant(session, scopes=["customers:read"])
    response = await client.post("/v1/code-pools", json=PERSONAL, headers=reader.headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "missing_scope"
