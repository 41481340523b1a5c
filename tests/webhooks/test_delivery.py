"""Signed deliveries to a real receiver: order events, retries with backoff, failure, retry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update
from standardwebhooks import Webhook

from tests.factories import make_tenant
from tests.webhooks.conftest import place_order, register_endpoint, webhook_settings
from tests.webhooks.receiver import Receiver
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.kit.outbox import record_event
from tonari.models.outbox import OutboxEvent, WebhookDelivery, WebhookEndpoint
from tonari.webhooks.delivery import process_webhooks, relay_all
from tonari.webhooks.service import generate_endpoint_secret, relay_outbox_batch, retry_delay


def test_secret_is_a_standard_webhooks_secret() -> None:
    secret = generate_endpoint_secret()
    assert secret.startswith("whsec_")
    key = Webhook(secret)._whsecret
    assert len(key) == 32


def test_backoff_doubles_and_is_capped() -> None:
    delays = [
        retry_delay(n, base_seconds=60, max_seconds=3600).total_seconds() for n in range(1, 9)
    ]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]


async def test_placed_order_is_delivered_signed(
    live_client, live_tenant, database, receiver: Receiver
) -> None:
    endpoint = await register_endpoint(live_client, live_tenant, receiver.url("orders"))
    receiver.route("orders").secret = endpoint["secret"]
    order = await place_order(live_client, live_tenant, "o-1")

    result = await process_webhooks(database, settings=webhook_settings())
    assert result.delivered >= 1

    [hit] = receiver.for_route("orders")
    assert hit.verified, "the signature checks out with the endpoint's secret"
    assert hit.body["type"] == "order.placed"
    assert hit.body["id"] == hit.webhook_id and hit.webhook_id.startswith("evt_")
    assert hit.body["data"]["order_id"] == "o-1"
    assert hit.body["data"] == {k: v for k, v in order.items() if k != "explanations"}
    assert "timestamp" in hit.body

    log = await live_client.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=live_tenant.headers
    )
    assert log.status_code == 200, log.text
    [delivery] = log.json()["deliveries"]
    assert delivery["status"] == "delivered"
    assert delivery["event_id"] == hit.webhook_id
    assert delivery["event_type"] == "order.placed"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [200]
    assert delivery["attempt_log"][0]["duration_ms"] >= 0

    # Running again sends nothing more.
    await process_webhooks(database, settings=webhook_settings())
    assert len(receiver.for_route("orders")) == 1


async def test_retries_with_backoff_after_500_then_succeeds(
    live_client, live_tenant, database, receiver: Receiver
) -> None:
    endpoint = await register_endpoint(live_client, live_tenant, receiver.url("flaky"))
    route = receiver.route("flaky")
    route.secret, route.script = endpoint["secret"], [500, 503]
    await place_order(live_client, live_tenant, "o-2")
    settings = webhook_settings(webhook_retry_base_seconds=10.0)
    start = utcnow()

    await process_webhooks(database, settings=settings, clock=lambda: start)
    assert len(receiver.for_route("flaky")) == 1
    async with database.sessions() as s:
        row = await s.scalar(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint["id"])
        )
        assert row is not None and row.status == "pending" and row.attempts == 1
        assert row.next_attempt_at == start + timedelta(seconds=10)

    # Not due yet: nothing is sent.
    await process_webhooks(database, settings=settings, clock=lambda: start + timedelta(seconds=9))
    assert len(receiver.for_route("flaky")) == 1
    await process_webhooks(database, settings=settings, clock=lambda: start + timedelta(seconds=11))
    assert len(receiver.for_route("flaky")) == 2
    # Second failure waits twice as long.
    await process_webhooks(
        database, settings=settings, clock=lambda: start + timedelta(seconds=11 + 19)
    )
    assert len(receiver.for_route("flaky")) == 2
    await process_webhooks(
        database, settings=settings, clock=lambda: start + timedelta(seconds=11 + 21)
    )

    hits = receiver.for_route("flaky")
    assert [h.status for h in hits] == [500, 503, 200]
    assert len({h.webhook_id for h in hits}) == 1, "every retry carries the same webhook-id"
    assert all(h.verified for h in hits)
    log = (
        await live_client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=live_tenant.headers
        )
    ).json()
    [delivery] = log["deliveries"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 503, 200]
    assert delivery["attempt_log"][0]["error"].startswith("HTTP 500")
    assert delivery["last_error"] is None


async def test_fails_after_max_attempts_and_can_be_retried(
    live_client, live_tenant, database, receiver: Receiver
) -> None:
    endpoint = await register_endpoint(live_client, live_tenant, receiver.url("down"))
    route = receiver.route("down")
    route.secret, route.default = endpoint["secret"], 500
    await place_order(live_client, live_tenant, "o-3")
    settings = webhook_settings(webhook_max_attempts=3, webhook_retry_base_seconds=0.0)

    result = await process_webhooks(database, settings=settings)
    assert len(receiver.for_route("down")) == 3
    base = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
    [delivery] = (await live_client.get(base, headers=live_tenant.headers)).json()["deliveries"]
    assert delivery["status"] == "failed" and delivery["attempts"] == 3
    assert delivery["last_status_code"] == 500
    assert len(delivery["attempt_log"]) == 3
    assert result.failed >= 1
    failed_only = await live_client.get(
        base, params={"status": "failed"}, headers=live_tenant.headers
    )
    assert [d["id"] for d in failed_only.json()["deliveries"]] == [delivery["id"]]

    # Nothing more happens by itself.
    await process_webhooks(database, settings=settings)
    assert len(receiver.for_route("down")) == 3

    # The receiver is fixed; a manual retry sends it once more.
    route.default = 200
    retried = await live_client.post(f"{base}/{delivery['id']}/retry", headers=live_tenant.headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"
    await process_webhooks(database, settings=settings)
    [delivery] = (await live_client.get(base, headers=live_tenant.headers)).json()["deliveries"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 500, 200]


async def test_unreachable_endpoint_records_the_error(live_client, live_tenant, database) -> None:
    # Port 9 (discard) on localhost: nothing listens, the connection is refused.
    endpoint = await register_endpoint(live_client, live_tenant, "http://127.0.0.1:9/nothing")
    await place_order(live_client, live_tenant, "o-4")
    await process_webhooks(database, settings=webhook_settings(webhook_max_attempts=1))
    [delivery] = (
        await live_client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=live_tenant.headers
        )
    ).json()["deliveries"]
    assert delivery["status"] == "failed"
    [attempt] = delivery["attempt_log"]
    assert attempt["status_code"] is None and "Connect" in attempt["error"]


async def test_endpoints_get_only_their_event_types(
    live_client, live_tenant, database, receiver: Receiver
) -> None:
    everything = await register_endpoint(live_client, live_tenant, receiver.url("all"))
    placed = await register_endpoint(
        live_client, live_tenant, receiver.url("placed"), ["order.placed"]
    )
    paid = await register_endpoint(live_client, live_tenant, receiver.url("paid"), ["order.paid"])
    for name, endpoint in (("all", everything), ("placed", placed), ("paid", paid)):
        receiver.route(name).secret = endpoint["secret"]
    await place_order(live_client, live_tenant, "o-5")
    await process_webhooks(database, settings=webhook_settings())
    assert len(receiver.for_route("all")) == 1
    assert len(receiver.for_route("placed")) == 1
    assert receiver.for_route("paid") == []
    assert all(r.verified for r in receiver.received)


async def test_relay_is_idempotent_and_shared_between_workers(
    database: Database, receiver: Receiver
) -> None:
    async with database.transaction() as session:
        tenant = await make_tenant(session)
        session.add(
            WebhookEndpoint(
                tenant_id=tenant.id,
                url=receiver.url("relay"),
                secret=generate_endpoint_secret(),
                event_types=["*"],
            )
        )
        for n in range(5):
            await record_event(
                session,
                tenant_id=tenant.id,
                event_type="order.placed",
                subject=f"o{n}",
                payload={"n": n},
                occurred_at=utcnow(),
            )
    await relay_all(database)  # whatever earlier tests left behind
    async with database.transaction() as session:
        for n in range(5, 10):
            await record_event(
                session,
                tenant_id=tenant.id,
                event_type="order.placed",
                subject=f"o{n}",
                payload={"n": n},
                occurred_at=utcnow(),
            )

    # Two workers relay at once: the first locks the batch, the second skips it.
    async with database.sessions() as first, database.sessions() as second:
        done_first = await relay_outbox_batch(first, now=utcnow(), limit=100)
        done_second = await relay_outbox_batch(second, now=utcnow(), limit=100)
        await first.commit()
        await second.commit()
    assert done_first.events == 5 and done_second.events == 0
    again = await relay_all(database)
    assert again.events == 0
    async with database.sessions() as s:
        unrelayed = await s.scalar(
            select(OutboxEvent.id).where(
                OutboxEvent.tenant_id == tenant.id, OutboxEvent.relayed_at.is_(None)
            )
        )
        assert unrelayed is None
        count = len(
            (
                await s.scalars(
                    select(WebhookDelivery.id).where(WebhookDelivery.tenant_id == tenant.id)
                )
            ).all()
        )
        assert count == 10  # 10 events, one endpoint
    # Relaying an event twice (say its batch committed but the worker's answer was lost)
    # creates no second delivery.
    async with database.transaction() as session:
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.tenant_id == tenant.id).values(relayed_at=None)
        )
    assert (await relay_all(database)).deliveries == 0
    async with database.transaction() as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant.id)
            .values(active=False)
        )


async def test_another_tenants_key_gets_404(
    live_client, live_tenant, database, receiver: Receiver
) -> None:
    endpoint = await register_endpoint(live_client, live_tenant, receiver.url("mine"))
    receiver.route("mine").secret = endpoint["secret"]
    await place_order(live_client, live_tenant, "o-6")
    await process_webhooks(database, settings=webhook_settings())
    base = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
    [delivery] = (await live_client.get(base, headers=live_tenant.headers)).json()["deliveries"]

    async with database.transaction() as session:
        other = await make_tenant(session)
    own = await register_endpoint(live_client, other, receiver.url("theirs"))
    for method, path in (
        ("GET", base),
        ("POST", f"{base}/{delivery['id']}/retry"),
        # B's own endpoint, A's delivery id
        ("POST", f"/v1/webhook-endpoints/{own['id']}/deliveries/{delivery['id']}/retry"),
    ):
        response = await live_client.request(method, path, headers=other.headers)
        assert response.status_code == 404, (method, path, response.text)
    theirs = await live_client.get(
        f"/v1/webhook-endpoints/{own['id']}/deliveries", headers=other.headers
    )
    assert theirs.json() == {"deliveries": [], "next_before_id": None}
    # A's delivery is untouched.
    [again] = (await live_client.get(base, headers=live_tenant.headers)).json()["deliveries"]
    assert again["status"] == "delivered" and again["attempts"] == 1
    await asyncio.sleep(0)


async def test_a_broken_endpoint_does_not_stop_the_others(
    live_client, live_tenant, database, receiver: Receiver
) -> None:
    good = await register_endpoint(live_client, live_tenant, receiver.url("good"))
    receiver.route("good").secret = good["secret"]
    async with database.transaction() as session:
        # A secret no base64 decoder accepts (5 characters), as an old version could store.
        broken = WebhookEndpoint(
            tenant_id=live_tenant.id,
            url=receiver.url("broken"),
            secret="whsec_abcde",
            event_types=["*"],
        )
        session.add(broken)
    await place_order(live_client, live_tenant, "o-7")
    await process_webhooks(database, settings=webhook_settings(webhook_max_attempts=1))
    assert len(receiver.for_route("good")) == 1
    assert receiver.for_route("broken") == []
    [delivery] = (
        await live_client.get(
            f"/v1/webhook-endpoints/{broken.id}/deliveries", headers=live_tenant.headers
        )
    ).json()["deliveries"]
    assert delivery["status"] == "failed"
    assert delivery["attempt_log"][0]["error"].startswith("Error: Invalid base64")


async def test_unknown_event_types_are_refused(client, tenant) -> None:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/x", "event_types": ["order.placed", "order.eaten"]},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "event_types"
    assert "order.eaten" in response.json()["error"]["message"]


async def test_idempotency_key_registers_one_endpoint(client, tenant) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "hook-1"}
    body = {"url": "http://127.0.0.1:9/x", "event_types": ["order.placed"]}
    first = await client.post("/v1/webhook-endpoints", json=body, headers=headers)
    again = await client.post("/v1/webhook-endpoints", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    listed = await client.get("/v1/webhook-endpoints", headers=tenant.headers)
    assert len(listed.json()) == 1


async def test_rotated_secret_signs_with_both_during_the_overlap(client, session, tenant) -> None:
    from datetime import UTC, datetime, timedelta

    from standardwebhooks.webhooks import Webhook

    from tonari.webhooks.delivery import signed_headers
    from tonari.webhooks.service import ClaimedDelivery

    created = await client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/x"}, headers=tenant.headers
    )
    endpoint_id, old_secret = created.json()["id"], created.json()["secret"]
    rotated = await client.post(
        f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        json={"keep_previous_hours": 24},
        headers=tenant.headers,
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret and rotated.json()["previous_secret_valid_until"]
    now = datetime.now(UTC)
    delivery = ClaimedDelivery(
        id=1,
        tenant_id=tenant.id,
        endpoint_id=endpoint_id,
        url="http://127.0.0.1:9/x",
        secret=new_secret,
        attempts=1,
        lease_until=now + timedelta(minutes=1),
        event_id="evt_rotation",
        event_type="order.placed",
        occurred_at=now,
        payload={},
        previous_secret=old_secret,
    )
    body = '{"type":"order.placed"}'
    headers = signed_headers(delivery, body, at=now)
    for secret in (old_secret, new_secret):
        Webhook(secret).verify(body, headers)  # raises if no signature matches
    other = await client.post(
        f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        json={"keep_previous_hours": 0},
        headers=tenant.headers,
    )
    assert other.json()["previous_secret_valid_until"] is None
