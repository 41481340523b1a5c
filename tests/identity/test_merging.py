"""Merging two customers moves points, orders and events; undoing it restores them exactly."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture
from tonari.ledger.verify import verify_ledger


async def _customer(client: httpx.AsyncClient, tenant: TenantFixture, external_id: str) -> Any:
    r = await client.get(f"/v1/customers/{external_id}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _seed(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    """The shop's Anna (500 points, one paid order) and the POS's Anna (300 points, an event)."""
    for external_id, body, points in (
        ("shop-1", {"email": "anna@example.com", "first_name": "Anna"}, 500),
        ("pos-7", {"phone": "+79161234567", "first_name": "Anna"}, 300),
    ):
        r = await client.put(f"/v1/customers/{external_id}", json=body, headers=tenant.headers)
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/v1/customers/{external_id}/adjustments",
            json={
                "direction": "grant",
                "points": points,
                "reason": "welcome",
                "idempotency_key": f"welcome-{external_id}",
            },
            headers=tenant.headers,
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/orders",
        json={
            "order_id": "o-1",
            "customer": {"external_id": "shop-1"},
            "paid": True,
            "lines": [{"product_id": "kettle", "unit_price": 500_000, "quantity": 1}],
        },
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/events",
        json={
            "events": [
                {
                    "event_id": "e-1",
                    "event_type": "product_viewed",
                    "occurred_at": "2026-11-20T10:00:00Z",
                    "customer": {"external_id": "pos-7"},
                    "entity_id": "camera",
                }
            ]
        },
        headers=tenant.headers,
    )
    assert r.status_code == 200 and r.json()["stored"] == 1, r.text


async def _ownership(session: AsyncSession, tenant_id: int) -> dict[str, str]:
    rows = await session.execute(
        text(
            "SELECT 'order ' || o.external_id AS thing, c.external_id FROM orders o "
            "JOIN customers c ON c.id = o.customer_id WHERE o.tenant_id = :t "
            "UNION ALL SELECT 'event ' || e.event_id, c.external_id FROM customer_events e "
            "JOIN customers c ON c.id = e.customer_id WHERE e.tenant_id = :t"
        ),
        {"t": tenant_id},
    )
    return {row.thing: row.external_id for row in rows}


async def test_merge_moves_everything_and_undo_restores_the_exact_prior_state(
    client: httpx.AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    await _seed(client, tenant)
    shop_before = await _customer(client, tenant, "shop-1")
    pos_before = await _customer(client, tenant, "pos-7")
    owners_before = await _ownership(session, tenant.id)
    assert owners_before == {"order o-1": "shop-1", "event e-1": "pos-7"}

    r = await client.post(
        "/v1/identity/merges", json={"profiles": ["shop-1", "pos-7"]}, headers=tenant.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["merges"] == 1
    merged = await _customer(client, tenant, "pos-7")  # the old id leads to the survivor
    assert merged["external_id"] == "shop-1"
    for bucket in ("available", "pending"):
        assert (
            merged["balances"][bucket]
            == shop_before["balances"][bucket] + pos_before["balances"][bucket]
        )
    assert merged["balances"]["available"] == 800
    assert merged["orders_count"] == 1
    assert await _ownership(session, tenant.id) == {"order o-1": "shop-1", "event e-1": "shop-1"}
    assert (await verify_ledger(session, tenant_id=tenant.id)).ok

    profile = (await client.get("/v1/profiles/shop-1", headers=tenant.headers)).json()
    assert profile["identifiers"]["external_id"] == ["pos-7", "shop-1"]
    assert profile["identifiers"]["phone"] == ["+79161234567"]
    assert {record["record_id"] for record in profile["records"]} == {"shop-1", "pos-7"}
    assert profile["records"][0]["match_rule"] == "manual"
    [merge] = profile["merges"]
    assert (merge["survivor"], merge["merged"]) == ("shop-1", "pos-7")
    assert [item["kind"] for item in profile["timeline"]["items"]].count("event") == 1

    r = await client.post(f"/v1/identity/merges/{merge['merge_id']}/undo", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["revived"] == 1
    shop_after = await _customer(client, tenant, "shop-1")
    pos_after = await _customer(client, tenant, "pos-7")
    assert shop_after["balances"] == shop_before["balances"]
    assert pos_after["balances"] == pos_before["balances"]
    assert (shop_after["orders_count"], pos_after["orders_count"]) == (1, 0)
    assert shop_after["lifetime_spend"] == shop_before["lifetime_spend"]
    assert await _ownership(session, tenant.id) == owners_before
    assert (await verify_ledger(session, tenant_id=tenant.id)).ok
    events = [
        row.event_type
        for row in await session.execute(
            text(
                "SELECT event_type FROM outbox_events WHERE tenant_id = :t "
                "AND event_type LIKE 'profile.%' ORDER BY id"
            ),
            {"t": tenant.id},
        )
    ]
    assert events == ["profile.merged", "profile.unmerged"]
    # The undo is a decision that lasts: resolving again keeps them apart.
    r = await client.post("/v1/identity/resolve?mode=batch", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["merges"] == 0
    assert (await _customer(client, tenant, "pos-7"))["external_id"] == "pos-7"


async def test_two_customers_of_the_shop_are_never_merged_automatically(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Two shop accounts with one email are two accounts until a person says otherwise."""
    for external_id in ("shop-1", "shop-2"):
        r = await client.put(
            f"/v1/customers/{external_id}",
            json={"email": "family@example.com", "first_name": "Anna"},
            headers=tenant.headers,
        )
        assert r.status_code == 201, r.text
    r = await client.post("/v1/identity/resolve?mode=batch", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["merges"], r.json()["blocked"]) == (0, 1)
    assert (await _customer(client, tenant, "shop-2"))["external_id"] == "shop-2"


async def test_a_merge_that_breaks_a_never_merge_rule_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    for external_id, card in (("c-1", "7001"), ("c-2", "7002")):
        r = await client.put(
            f"/v1/customers/{external_id}", json={"card_number": card}, headers=tenant.headers
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/identity/merges", json={"profiles": ["c-1", "c-2"]}, headers=tenant.headers
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "merge_refused"
    assert (await _customer(client, tenant, "c-2"))["card_number"] == "7002"


async def test_an_imported_record_brings_its_points_holder_into_the_shop_profile(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.put(
        "/v1/sources/cooking_club",
        json={"name": "cooking_club", "trust": 40, "region": "RU"},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/v1/sources/cooking_club/records",
        json={
            "records": [
                {"record_id": "c1", "email": "Anna@Example.com", "first_name": "Анна"},
                {"record_id": "c2", "email": "broken@", "birth_date": "31.02.1980"},
            ]
        },
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["created"], result["rejected"]) == (2, 0)
    assert {(i["record_id"], i["field"], i["code"]) for i in result["issues"]} >= {
        ("c2", "email", "invalid_syntax"),
        ("c2", "birth_date", "impossible_date"),
    }
    r = await client.post("/v1/identity/resolve", headers=tenant.headers)
    assert r.status_code == 200, r.text
    r = await client.put(
        "/v1/customers/shop-9", json={"email": "anna@example.com"}, headers=tenant.headers
    )
    assert r.status_code == 201, r.text
    r = await client.post("/v1/identity/resolve", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["merges"] == 1
    found = (await client.get("/v1/profiles?q=ANNA@example.com", headers=tenant.headers)).json()
    assert [hit["external_id"] for hit in found] == ["shop-9"]  # the shop's id survives
    profile = (await client.get("/v1/profiles/shop-9", headers=tenant.headers)).json()
    assert profile["attributes"]["first_name"]["value"] == "Анна"
    assert profile["attributes"]["first_name"]["source"] == "cooking_club"
    assert profile["attributes"]["email"]["source"] == "api"
