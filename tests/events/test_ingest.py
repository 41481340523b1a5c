"""POST /v1/events: per-event reports, idempotency, stitching, partitions and bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tonari.events.partitions import ensure_event_partitions
from tonari.events.schemas import EventIn
from tonari.events.service import ingest_events
from tonari.kit.clock import utcnow

NOW = utcnow().replace(microsecond=0)


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "product_viewed",
        "occurred_at": (NOW - timedelta(minutes=5)).isoformat(),
    }
    body.update(fields)
    return body


async def put_customer(client, headers, external_id: str, **fields: Any) -> None:
    r = await client.put(f"/v1/customers/{external_id}", json=fields, headers=headers)
    assert r.status_code in {200, 201}, r.text


async def stored_events(session, tenant_id: int) -> list[Any]:
    rows = await session.execute(
        text(
            "SELECT e.event_id, e.event_type, e.anonymous_id, c.external_id AS customer, "
            "e.entity_id, e.payload, e.tableoid::regclass::text AS partition "
            "FROM customer_events e LEFT JOIN customers c ON c.id = e.customer_id "
            "WHERE e.tenant_id = :t ORDER BY e.event_id"
        ),
        {"t": tenant_id},
    )
    return list(rows)


async def test_a_mixed_batch_gets_one_result_per_event(client, session, tenant) -> None:
    h = tenant.headers
    await put_customer(
        client, h, "c1", email="Anna@Example.com", phone="+7 916 123-45-67", card_number="K-1"
    )
    await put_customer(client, h, "twin-a", email="twin@example.com")
    await put_customer(client, h, "twin-b", email="twin@example.com")
    batch = [
        event("e1", customer={"external_id": "c1"}, entity_id="p1", payload={"price": 100}),
        event("e2", event_type="added_to_cart", customer={"email": "Anna@EXAMPLE.com"}),
        event("e3", event_type="email_opened", customer={"phone": "89161234567"}),
        event("e4", event_type="store_visit", customer={"card_number": "K-1"}),
        event("e5", anonymous_id="cookie-1", entity_id="p2"),
        event("e6", customer={"external_id": "nobody"}),
        event(
            "e7",
            event_type="custom:quiz_done",
            customer={"external_id": "nobody"},
            anonymous_id="cookie-2",
        ),
        event("e8", customer={"email": "twin@example.com"}),
    ]
    r = await client.post("/v1/events", json={"events": batch}, headers=h)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["stored"], report["duplicates"], report["rejected"]) == (6, 0, 2)
    by_id = {item["event_id"]: item for item in report["results"]}
    assert [item["index"] for item in report["results"]] == list(range(8))
    assert {k: by_id[k]["customer"] for k in ("e1", "e2", "e3", "e4")} == dict.fromkeys(
        ("e1", "e2", "e3", "e4"), "c1"
    )
    assert by_id["e5"]["status"] == "stored" and by_id["e5"]["customer"] is None
    assert (by_id["e6"]["status"], by_id["e6"]["code"]) == ("rejected", "unknown_customer")
    assert by_id["e6"]["reason"].startswith("no customer with this external_id")
    assert by_id["e7"]["status"] == "stored" and by_id["e7"]["customer"] is None
    assert (by_id["e8"]["status"], by_id["e8"]["code"]) == ("rejected", "ambiguous_customer")
    rows = {row.event_id: row for row in await stored_events(session, tenant.id)}
    assert sorted(rows) == ["e1", "e2", "e3", "e4", "e5", "e7"]
    assert rows["e1"].payload == {"price": 100} and rows["e1"].entity_id == "p1"
    assert rows["e7"].event_type == "custom:quiz_done" and rows["e7"].anonymous_id == "cookie-2"


async def test_the_same_batch_twice_stores_nothing_new(client, session, tenant) -> None:
    h = tenant.headers
    await put_customer(client, h, "c1")
    batch = [event("a", customer={"external_id": "c1"}), event("b", anonymous_id="x")]
    first = await client.post("/v1/events", json={"events": batch}, headers=h)
    assert first.json()["stored"] == 2
    again = await client.post("/v1/events", json={"events": batch}, headers=h)
    assert again.status_code == 200
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 2)
    assert {r["code"] for r in again.json()["results"]} == {"duplicate_event"}
    # A rejected event claims no id: fixed and re-sent, it is stored.
    await client.post(
        "/v1/events", json={"events": [event("c", customer={"external_id": "late"})]}, headers=h
    )
    await put_customer(client, h, "late")
    fixed = await client.post(
        "/v1/events", json={"events": [event("c", customer={"external_id": "late"})]}, headers=h
    )
    assert fixed.json()["stored"] == 1
    assert len(await stored_events(session, tenant.id)) == 3


async def test_repeats_within_a_batch_are_duplicates(client, session, tenant) -> None:
    batch = [
        event("same", anonymous_id="x"),
        event("same", anonymous_id="y"),
        event("other", anonymous_id="x"),
    ]
    r = await client.post("/v1/events", json={"events": batch}, headers=tenant.headers)
    assert [item["status"] for item in r.json()["results"]] == ["stored", "duplicate", "stored"]
    assert "earlier in this batch" in r.json()["results"][1]["reason"]
    rows = await stored_events(session, tenant.id)
    assert [(row.event_id, row.anonymous_id) for row in rows] == [("other", "x"), ("same", "x")]


async def test_anonymous_history_joins_the_profile_on_login(client, session, tenant) -> None:
    h = tenant.headers
    await put_customer(client, h, "c1")
    before = [event(f"v{i}", anonymous_id="dev-1", entity_id=f"p{i}") for i in range(3)]
    before.append(event("other-visitor", anonymous_id="dev-2"))
    assert (await client.post("/v1/events", json={"events": before}, headers=h)).json()[
        "stored"
    ] == 4
    login = event(
        "login-1", event_type="login", customer={"external_id": "c1"}, anonymous_id="dev-1"
    )
    r = await client.post("/v1/events", json={"events": [login]}, headers=h)
    assert (r.json()["stored"], r.json()["stitched"]) == (1, 3)
    later = await client.post(
        "/v1/events", json={"events": [event("v-after", anonymous_id="dev-1")]}, headers=h
    )
    assert later.json()["results"][0]["customer"] == "c1"
    customers = {row.event_id: row.customer for row in await stored_events(session, tenant.id)}
    assert customers == {
        "v0": "c1",
        "v1": "c1",
        "v2": "c1",
        "login-1": "c1",
        "v-after": "c1",
        "other-visitor": None,
    }
    timeline = (await client.get("/v1/customers/c1/timeline", headers=h)).json()
    assert len(timeline["items"]) == 5


async def test_a_registration_stitches_within_its_own_batch(client, session, tenant) -> None:
    h = tenant.headers
    await put_customer(client, h, "new")
    batch = [
        event("b1", anonymous_id="dev-9"),
        event(
            "b2", event_type="registration", customer={"external_id": "new"}, anonymous_id="dev-9"
        ),
        event("b3", anonymous_id="dev-9"),
    ]
    r = await client.post("/v1/events", json={"events": batch}, headers=h)
    assert [item["customer"] for item in r.json()["results"]] == ["new", "new", "new"]
    assert {row.customer for row in await stored_events(session, tenant.id)} == {"new"}


async def test_events_land_in_their_month_and_far_dates_in_default(session, tenant) -> None:
    created = await ensure_event_partitions(
        session, through=date(2030, 6, 1), since=date(2030, 5, 1)
    )
    assert created == ["customer_events_2030_05", "customer_events_2030_06"]
    assert await ensure_event_partitions(session, through=date(2030, 6, 1)) == []
    events = [
        EventIn(
            event_id="may",
            event_type="login",
            anonymous_id="a",
            occurred_at=datetime(2030, 5, 31, 23, 59, tzinfo=UTC),
        ),
        EventIn(
            event_id="june",
            event_type="login",
            anonymous_id="a",
            occurred_at=datetime(2030, 6, 1, tzinfo=UTC),
        ),
        EventIn(
            event_id="far",
            event_type="login",
            anonymous_id="a",
            occurred_at=datetime(2099, 1, 1, tzinfo=UTC),
        ),
    ]
    report = await ingest_events(session, tenant_id=tenant.id, events=events, received_at=NOW)
    assert report.stored == 3
    where = {row.event_id: row.partition for row in await stored_events(session, tenant.id)}
    assert where == {
        "may": "customer_events_2030_05",
        "june": "customer_events_2030_06",
        "far": "customer_events_default",
    }
    # The month arrives later: its rows move out of the DEFAULT partition, none is lost.
    assert await ensure_event_partitions(session, through=date(2099, 1, 15)) == [
        "customer_events_2099_01"
    ]
    where = {row.event_id: row.partition for row in await stored_events(session, tenant.id)}
    assert where["far"] == "customer_events_2099_01"
    current = f"customer_events_{NOW.year:04d}_{NOW.month:02d}"
    report = await ingest_events(
        session,
        tenant_id=tenant.id,
        events=[EventIn(event_id="now", event_type="login", anonymous_id="a", occurred_at=NOW)],
        received_at=NOW,
    )
    where = {row.event_id: row.partition for row in await stored_events(session, tenant.id)}
    assert where["now"] == current, "the migration creates the current month"


async def test_more_than_1000_events_is_a_422_naming_the_field(client, session, tenant) -> None:
    batch = [event(f"e{i}", anonymous_id="x") for i in range(1_001)]
    r = await client.post("/v1/events", json={"events": batch}, headers=tenant.headers)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "events"
    assert await stored_events(session, tenant.id) == []
    ok = await client.post("/v1/events", json={"events": batch[:1_000]}, headers=tenant.headers)
    assert ok.status_code == 200 and ok.json()["stored"] == 1_000


async def test_a_malformed_event_names_its_index_and_field(client, session, tenant) -> None:
    h = tenant.headers
    good = [event(f"g{i}", anonymous_id="x") for i in range(5)]
    cases = [
        ({"event_type": "teleported"}, "events.3.event_type"),
        ({"occurred_at": "2026-01-01T10:00:00"}, "events.3.occurred_at"),
        ({"anonymous_id": None}, "events.3"),
        ({"customer": {"external_id": "c1", "email": "a@example.com"}}, "events.3.customer"),
        ({"customer": {"phone": "not a phone"}}, "events.3.customer.phone"),
        ({"surprise": 1}, "events.3.surprise"),
        ({"event_type": "custom:"}, "events.3.event_type"),
    ]
    for change, field in cases:
        batch = [dict(item) for item in good]
        batch[3].update(change)
        r = await client.post("/v1/events", json={"events": batch}, headers=h)
        assert r.status_code == 422, (change, r.text)
        assert r.json()["error"]["field"] == field, (change, r.json())
    assert await stored_events(session, tenant.id) == []


async def test_the_daily_job_keeps_months_ahead_and_is_idempotent(session) -> None:
    from tonari.events.partitions import ensure_partitions_ahead, existing_partitions

    created = await ensure_partitions_ahead(session, today=date(2041, 12, 20))
    assert created == [
        "customer_events_2041_12",
        "customer_events_2042_01",
        "customer_events_2042_02",
    ]
    assert await ensure_partitions_ahead(session, today=date(2041, 12, 31)) == []
    assert set(created) <= await existing_partitions(session)
