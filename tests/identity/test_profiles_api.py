"""The profile API as an integrating engineer meets it: search, events, bounces, bad input."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture


async def _source_with_records(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    r = await client.put(
        "/v1/sources/online_store",
        json={
            "name": "online_store",
            "trust": 90,
            "region": "RU",
            "columns": {"id": "record_id", "mail": "email", "tel": "phone"},
        },
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/v1/sources/online_store/records",
        json={
            "records": [
                {
                    "id": "w1",
                    "mail": "Anna.Ivanova@gmail.com",
                    "tel": "8 916 123-45-67",
                    "first_name": "Анна",
                    "last_name": "Иванова",
                    "card_number": "7001",
                },
                {
                    "id": "w2",
                    "mail": "anna.work@example.com",
                    "tel": "+7 916 123 45 67",
                    "first_name": "Анна",
                    "last_name": "Иванова",
                },
            ]
        },
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.post("/v1/identity/resolve", headers=tenant.headers)
    assert r.status_code == 200, r.text


async def test_search_finds_a_person_by_any_identifier_or_name(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await _source_with_records(client, tenant)
    for query, matched_on in (
        ("annaivanova+promo@googlemail.com", "email"),  # gmail rules: the same mailbox
        ("anna.work@EXAMPLE.com", "email"),
        ("+7 (916) 123-45-67", "phone"),
        ("7001", "card_number"),
        ("w2", "record_id"),
        ("Иванова", "name"),
        ("Анна Иванова", "name"),
        ("иванова анна", "name"),
    ):
        r = await client.get("/v1/profiles", params={"q": query}, headers=tenant.headers)
        assert r.status_code == 200, r.text
        hits = r.json()
        assert len(hits) == 1, (query, hits)
        assert hits[0]["matched_on"] == matched_on, query
    r = await client.get("/v1/profiles", params={"q": "nobody@example.com"}, headers=tenant.headers)
    assert r.json() == []
    r = await client.get("/v1/profiles", params={"q": "x"}, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "q"


async def test_a_bounce_hands_the_golden_email_to_a_working_address(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await _source_with_records(client, tenant)
    [hit] = (await client.get("/v1/profiles", params={"q": "7001"}, headers=tenant.headers)).json()
    before = (await client.get(f"/v1/profiles/{hit['external_id']}", headers=tenant.headers)).json()
    chosen = before["attributes"]["email"]["value"]
    r = await client.post(
        "/v1/identity/unreachable",
        json={"email": chosen.upper(), "reason": "bounce"},
        headers=tenant.headers,
    )
    assert r.status_code == 200 and r.json()["profiles"] == 1, r.text
    after = (await client.get(f"/v1/profiles/{hit['external_id']}", headers=tenant.headers)).json()
    assert after["attributes"]["email"]["value"] != chosen
    assert after["attributes"]["email"]["status"] == "valid"
    bounced = [r for r in after["records"] if r["email"] == chosen]
    assert bounced[0]["email_status"] == "unreachable"
    assert bounced[0]["flags"][-1]["code"] == "unreachable"
    r = await client.post(
        "/v1/identity/unreachable", json={"reason": "bounce"}, headers=tenant.headers
    )
    assert r.status_code == 422, r.text


async def test_events_for_a_merged_id_reach_the_survivor(
    client: httpx.AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    for external_id, phone in (("shop-1", "+79161234567"), ("pos-7", "+79161234567")):
        r = await client.put(
            f"/v1/customers/{external_id}", json={"phone": phone}, headers=tenant.headers
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/identity/merges", json={"profiles": ["shop-1", "pos-7"]}, headers=tenant.headers
    )
    assert r.status_code == 201, r.text
    events = [
        {
            "event_id": f"e-{n}",
            "event_type": "login",
            "occurred_at": "2026-11-20T10:00:00Z",
            "customer": customer,
        }
        for n, customer in enumerate(
            ({"external_id": "pos-7"}, {"phone": "+79161234567"}, {"external_id": "shop-1"})
        )
    ]
    r = await client.post("/v1/events", json={"events": events}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert [e["status"] for e in r.json()["results"]] == ["stored"] * 3
    assert {e["customer"] for e in r.json()["results"]} == {"shop-1"}
    owners = await session.scalar(
        text("SELECT count(DISTINCT customer_id) FROM customer_events WHERE tenant_id = :t"),
        {"t": tenant.id},
    )
    assert owners == 1


async def test_bad_input_is_refused_with_the_field_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    r = await client.put(
        "/v1/sources/shop",
        json={"name": "shop", "columns": {"id": "record_id", "mail": "e_mail"}},
        headers=tenant.headers,
    )
    assert r.status_code == 422, r.text
    assert "e_mail" in r.json()["error"]["message"]
    r = await client.put("/v1/sources/Shop!", json={"name": "Shop!"}, headers=tenant.headers)
    assert r.status_code == 422
    r = await client.post(
        "/v1/sources/missing/records",
        json={"records": [{"record_id": "1"}]},
        headers=tenant.headers,
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_source"
    r = await client.put("/v1/sources/shop", json={"name": "shop"}, headers=tenant.headers)
    assert r.status_code == 200
    r = await client.post(
        "/v1/sources/shop/records",
        json={"records": [{"email": "a@b.example"}]},
        headers=tenant.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "record_id"
    r = await client.put(
        "/v1/identity/settings",
        json={"auto_merge_probability": 0.6, "review_probability": 0.9},
        headers=tenant.headers,
    )
    assert r.status_code == 422, r.text
    r = await client.put(
        "/v1/identity/settings",
        json={"survivorship": {"shoe_size": "most_recent"}},
        headers=tenant.headers,
    )
    assert r.status_code == 422, r.text
    r = await client.post(
        "/v1/identity/pairs/999/decision", json={"decision": "maybe"}, headers=tenant.headers
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "decision"
    records = await session.scalar(
        text("SELECT count(*) FROM source_records WHERE tenant_id = :t"), {"t": tenant.id}
    )
    assert records == 0


async def test_an_erased_profile_takes_no_new_data(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.put(
        "/v1/customers/c-1", json={"email": "gone@example.com"}, headers=tenant.headers
    )
    assert r.status_code == 201
    r = await client.post("/v1/profiles/c-1/erase", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["profiles"] == 1, r.text
    assert (await client.get("/v1/customers/c-1", headers=tenant.headers)).status_code == 404
    hits = (
        await client.get("/v1/profiles", params={"q": "gone@example.com"}, headers=tenant.headers)
    ).json()
    assert hits == []


async def test_a_household_phone_joins_nobody_whose_name_and_birth_date_both_differ(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.put(
        "/v1/sources/club", json={"name": "club", "region": "RU"}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    home = "+7 495 123-45-67"
    records = [
        {"record_id": "mother", "first_name": "Мария", "birth_date": "1962-05-05", "phone": home},
        {"record_id": "daughter", "first_name": "Ольга", "birth_date": "1990-01-01", "phone": home},
        # The daughter again, under a second membership: still her.
        {"record_id": "olga-2", "first_name": "Ольга", "birth_date": "1990-01-01", "phone": home},
        {"record_id": "no-name", "phone": home},
    ]
    r = await client.post(
        "/v1/sources/club/records", json={"records": records}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    r = await client.post("/v1/identity/resolve", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["profiles"] == 2
    hits = (await client.get("/v1/profiles", params={"q": home}, headers=tenant.headers)).json()
    names = sorted(hit["first_name"] or "" for hit in hits)
    assert names == ["Мария", "Ольга"]
