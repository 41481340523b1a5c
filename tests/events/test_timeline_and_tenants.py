"""The timeline merges orders and events newest first; one tenant never sees another's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from tests.events.test_ingest import NOW, event, put_customer, stored_events
from tests.factories import make_tenant, panasonic_document


async def place_order(client, headers, order_id: str, placed_at: Any) -> None:
    r = await client.post(
        "/v1/orders",
        json={
            "order_id": order_id,
            "customer": {"external_id": "c1"},
            "paid": True,
            "placed_at": placed_at.isoformat(),
            "lines": [{"product_id": "p1", "unit_price": 100_000, "quantity": 1}],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text


async def test_timeline_pages_merge_orders_and_events(client, tenant) -> None:
    h = tenant.headers
    await put_customer(client, h, "c1")
    at = [NOW - timedelta(hours=hours) for hours in range(8)]
    await place_order(client, h, "o-new", at[1])
    await place_order(client, h, "o-old", at[4])
    events = [
        event("e0", customer={"external_id": "c1"}, occurred_at=at[0].isoformat()),
        event("e2", customer={"external_id": "c1"}, occurred_at=at[2].isoformat()),
        # Two events at the same moment: the cursor must neither skip nor repeat one.
        event("e3a", customer={"external_id": "c1"}, occurred_at=at[3].isoformat()),
        event("e3b", customer={"external_id": "c1"}, occurred_at=at[3].isoformat()),
        event("e6", customer={"external_id": "c1"}, occurred_at=at[6].isoformat()),
        event("not-c1", anonymous_id="someone", occurred_at=at[5].isoformat()),
    ]
    r = await client.post("/v1/events", json={"events": events}, headers=h)
    assert r.json()["stored"] == 6
    seen: list[tuple[str, str | None]] = []
    times = []
    before = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if before:
            params["before"] = before
        page = await client.get("/v1/customers/c1/timeline", params=params, headers=h)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        for item in body["items"]:
            seen.append((item["kind"], item["entity_id"]))
            times.append(item["at"])
        before = body["next_before"]
        if before is None:
            break
    kinds = [kind for kind, _ in seen]
    assert kinds == ["event", "order", "event", "event", "event", "order", "event"]
    assert seen[1] == ("order", "o-new") and seen[5] == ("order", "o-old")
    assert times == sorted(times, reverse=True)
    whole = (await client.get("/v1/customers/c1/timeline", headers=h)).json()
    assert whole["next_before"] is None and len(whole["items"]) == 7
    order = whole["items"][1]
    assert order["type"] == "paid" and order["data"]["total_paid"] > 0
    # A bare timestamp means "strictly earlier than".
    older = await client.get(
        "/v1/customers/c1/timeline", params={"before": at[3].isoformat()}, headers=h
    )
    assert [i["entity_id"] for i in older.json()["items"]] == ["o-old", None]
    bad = await client.get("/v1/customers/c1/timeline", params={"before": "yesterday"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "before"


async def test_tenants_never_share_events_ids_or_links(client, session, tenant) -> None:
    a = tenant.headers
    other = await make_tenant(session, programme=panasonic_document(name="Other brand"))
    b = other.headers
    await put_customer(client, a, "c1", email="secret@a.example")
    await put_customer(client, b, "b1")
    r = await client.post(
        "/v1/events",
        json={
            "events": [event("shared-id", anonymous_id="dev-x"), event("a2", anonymous_id="dev-x")]
        },
        headers=a,
    )
    assert r.json()["stored"] == 2
    # B may use the same event id, and B's login with A's visitor id stitches only B's rows.
    r = await client.post(
        "/v1/events",
        json={
            "events": [
                event(
                    "shared-id",
                    event_type="login",
                    customer={"external_id": "b1"},
                    anonymous_id="dev-x",
                ),
                event("steal", customer={"email": "secret@a.example"}),
                event("steal2", customer={"external_id": "c1"}),
            ]
        },
        headers=b,
    )
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["stored", "rejected", "rejected"]
    assert r.json()["stitched"] == 0
    assert {row.customer for row in await stored_events(session, tenant.id)} == {None}
    assert (await client.get("/v1/customers/c1/timeline", headers=b)).status_code == 404
    assert (await client.get("/v1/customers/b1/timeline", headers=a)).status_code == 404
    b_items = (await client.get("/v1/customers/b1/timeline", headers=b)).json()["items"]
    assert [item["type"] for item in b_items] == ["login"]
    links = await session.scalar(
        text("SELECT count(*) FROM anonymous_links WHERE tenant_id = :t"), {"t": tenant.id}
    )
    assert links == 0
