"""The segments API: define, preview while editing, page and export members, rebuild."""

from __future__ import annotations

import csv
import io

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture

WOMEN_IN_MOSCOW = {
    "all": [
        {"field": "gender", "values": ["female"]},
        {"field": "city", "values": ["Moscow"]},
    ]
}


async def _customers(client: AsyncClient, tenant: TenantFixture) -> None:
    for n, (gender, city) in enumerate(
        [("female", "Moscow"), ("female", "Moscow"), ("male", "Moscow"), ("female", "Kazan")]
        + [("female", "Moscow")] * 3
    ):
        r = await client.put(
            f"/v1/customers/c{n}",
            json={
                "gender": gender,
                "city": city,
                "email": f"c{n}@example.com",
                "first_name": f"Name{n}",
            },
            headers=tenant.headers,
        )
        assert r.status_code == 201, r.text


async def test_define_preview_page_export_and_archive(
    client: AsyncClient, tenant: TenantFixture
) -> None:
    await _customers(client, tenant)
    h = tenant.headers
    preview = await client.post(
        "/v1/segments/preview", json={"definition": WOMEN_IN_MOSCOW, "sample": 2}, headers=h
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["size"] == 5
    assert [m["external_id"] for m in body["sample"]] == ["c0", "c1"]
    assert body["sample"][0]["email"] == "c0@example.com"
    created = await client.post(
        "/v1/segments",
        json={"key": "women-moscow", "name": "Women in Moscow", "definition": WOMEN_IN_MOSCOW},
        headers=h,
    )
    assert created.status_code == 201, created.text
    assert created.json()["size"] == 5
    again = await client.post(
        "/v1/segments",
        json={"key": "women-moscow", "name": "x", "definition": WOMEN_IN_MOSCOW},
        headers=h,
    )
    assert again.status_code == 409 and again.json()["error"]["field"] == "key"
    listed = await client.get("/v1/segments", headers=h)
    assert [(s["key"], s["size"]) for s in listed.json()] == [("women-moscow", 5)]

    first = await client.get("/v1/segments/women-moscow/members?limit=3", headers=h)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [m["external_id"] for m in page["items"]] == ["c0", "c1", "c4"]
    assert page["items"][0]["entered_at"] is not None
    rest = await client.get(
        f"/v1/segments/women-moscow/members?limit=3&after={page['next_after']}", headers=h
    )
    assert [m["external_id"] for m in rest.json()["items"]] == ["c5", "c6"]
    assert rest.json()["next_after"] is None

    exported = await client.get("/v1/segments/women-moscow/export.csv", headers=h)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["external_id"] for r in rows] == ["c0", "c1", "c4", "c5", "c6"]
    assert rows[0]["email"] == "c0@example.com" and rows[0]["first_name"] == "Name0"

    # Redefining moves people: only Kazan's woman is in now.
    updated = await client.put(
        "/v1/segments/women-moscow",
        json={"definition": {"field": "city", "values": ["Kazan"]}, "name": "Kazan"},
        headers=h,
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["size"], updated.json()["name"]) == (1, "Kazan")
    rebuilt = await client.post("/v1/segments/women-moscow/rebuild", headers=h)
    assert rebuilt.status_code == 200, rebuilt.text
    assert (rebuilt.json()["size"], rebuilt.json()["entered"], rebuilt.json()["exited"]) == (
        1,
        0,
        0,
    )
    gone = await client.delete("/v1/segments/women-moscow", headers=h)
    assert gone.status_code == 204
    assert (await client.get("/v1/segments/women-moscow", headers=h)).status_code == 404
    revived = await client.post(
        "/v1/segments",
        json={"key": "women-moscow", "name": "Again", "definition": WOMEN_IN_MOSCOW},
        headers=h,
    )
    assert revived.status_code == 201 and revived.json()["size"] == 5


async def test_a_malformed_definition_is_refused_with_its_place(
    client: AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    h = tenant.headers
    bad = {
        "all": [
            {"field": "city", "values": ["Moscow"]},
            {"field": "orders_count", "days": 0, "min": 1},
        ]
    }
    r = await client.post(
        "/v1/segments", json={"key": "bad", "name": "Bad", "definition": bad}, headers=h
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "definition.all.1.days"
    assert error["code"] == "invalid_segment"
    preview = await client.post(
        "/v1/segments/preview",
        json={"definition": {"any": [{"field": "shoe_size", "values": [42]}]}},
        headers=h,
    )
    assert preview.status_code == 422
    assert preview.json()["error"]["field"].startswith("definition.any.0")
    assert "shoe_size" in preview.json()["error"]["message"]
    rfm = await client.post(
        "/v1/segments/preview",
        json={"definition": {"not": {"field": "rfm", "recency": [6]}}},
        headers=h,
    )
    assert rfm.status_code == 422
    assert rfm.json()["error"]["field"] == "definition.not.recency.0"
    bad_key = await client.post(
        "/v1/segments", json={"key": "Bad Key", "name": "x", "definition": bad}, headers=h
    )
    assert bad_key.status_code == 422 and bad_key.json()["error"]["field"] == "key"
    # Nothing was stored by any of the refused requests.
    assert (await client.get("/v1/segments", headers=h)).json() == []
    cursor = await client.get("/v1/segments/bad/members?after=abc", headers=h)
    assert cursor.status_code == 422 and cursor.json()["error"]["field"] == "after"
