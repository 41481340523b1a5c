"""Consent is opt-in, one-click unsubscribe stops marketing only, bounces silence an address."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture, make_tenant
from tonari.config import get_settings
from tonari.customers.service import get_customer
from tonari.messaging.consents import (
    contact_address,
    may_contact,
    unsubscribe_headers,
    unsubscribe_url,
)

BASE = "https://tonari.example"


async def _customer(
    client: httpx.AsyncClient, tenant: TenantFixture, session: AsyncSession, **fields: str
) -> int:
    body = {"email": "anna@example.com", "first_name": "Anna", **fields}
    r = await client.put("/v1/customers/anna", json=body, headers=tenant.headers)
    assert r.status_code in (200, 201), r.text
    return (await get_customer(session, tenant_id=tenant.id, external_id="anna")).id


async def _grant(client: httpx.AsyncClient, tenant: TenantFixture, *consents: dict) -> None:
    r = await client.put(
        "/v1/customers/anna/consents", json={"consents": list(consents)}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text


async def _may(session: AsyncSession, tenant: TenantFixture, customer_id: int, **kw) -> bool:
    args = {"channel": "email", "topic": "news", "transactional": False, **kw}
    return await may_contact(session, tenant_id=tenant.id, customer_id=customer_id, **args)


async def test_marketing_is_opt_in_while_transactional_needs_only_an_address(
    client, session, tenant
) -> None:
    customer_id = await _customer(client, tenant, session)
    assert not await _may(session, tenant, customer_id)
    assert await _may(session, tenant, customer_id, transactional=True)
    # No phone on file: not even a transactional SMS can go.
    assert not await _may(session, tenant, customer_id, channel="sms", transactional=True)

    await _grant(client, tenant, {"channel": "email", "granted": True, "source": "signup_form"})
    assert await _may(session, tenant, customer_id)
    assert await _may(session, tenant, customer_id, topic="kitchen_sale")
    assert not await _may(session, tenant, customer_id, channel="sms")

    r = await client.get("/v1/customers/anna/consents", headers=tenant.headers)
    [row] = r.json()
    assert (row["channel"], row["topic"], row["granted"], row["source"]) == (
        "email",
        "marketing",
        True,
        "signup_form",
    )


async def test_one_click_unsubscribe_stops_marketing_but_not_transactional(
    client, session, tenant
) -> None:
    customer_id = await _customer(client, tenant, session)
    await _grant(client, tenant, {"channel": "email", "granted": True})
    headers = unsubscribe_headers(
        tenant_id=tenant.id,
        customer_id=customer_id,
        channel="email",
        topic="marketing",
        base_url=BASE,
        secret=get_settings().messaging_secret,
        mailto="unsubscribe@brand.example",
    )
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.match(
        r"<(https://[^>]+)>, <mailto:unsubscribe@brand\.example", headers["List-Unsubscribe"]
    )
    assert url is not None
    path = url.group(1).removeprefix(BASE)

    # The confirmation page (what a person's browser opens) changes nothing.
    page = await client.get(path)
    assert page.status_code == 200
    assert "Unsubscribe" in page.text
    assert await _may(session, tenant, customer_id)

    # The mail client's one-click POST, without any API key (RFC 8058).
    r = await client.post(
        path,
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert not await _may(session, tenant, customer_id)
    assert not await _may(session, tenant, customer_id, topic="kitchen_sale")
    assert await _may(session, tenant, customer_id, transactional=True)
    # A second click is harmless.
    assert (await client.post(path)).status_code == 200

    consents = (await client.get("/v1/customers/anna/consents", headers=tenant.headers)).json()
    assert [(c["topic"], c["granted"], c["source"]) for c in consents] == [
        ("marketing", False, "unsubscribe_link")
    ]

    # Opting in to one topic again after unsubscribing from everything counts for that topic.
    await _grant(client, tenant, {"channel": "email", "topic": "news", "granted": True})
    assert await _may(session, tenant, customer_id, topic="news")
    assert not await _may(session, tenant, customer_id, topic="kitchen_sale")


async def test_unsubscribing_from_one_topic_keeps_the_others(client, session, tenant) -> None:
    customer_id = await _customer(client, tenant, session)
    await _grant(client, tenant, {"channel": "email", "granted": True})
    path = unsubscribe_url(
        tenant_id=tenant.id,
        customer_id=customer_id,
        channel="email",
        topic="news",
        base_url=BASE,
        secret=get_settings().messaging_secret,
    ).removeprefix(BASE)
    assert (await client.post(path)).status_code == 200
    assert not await _may(session, tenant, customer_id, topic="news")
    assert await _may(session, tenant, customer_id, topic="kitchen_sale")


async def test_a_tampered_or_foreign_unsubscribe_link_changes_nothing(
    client, session, tenant
) -> None:
    customer_id = await _customer(client, tenant, session)
    await _grant(client, tenant, {"channel": "email", "granted": True})
    path = unsubscribe_url(
        tenant_id=tenant.id,
        customer_id=customer_id,
        channel="email",
        topic="marketing",
        base_url=BASE,
        secret=get_settings().messaging_secret,
    ).removeprefix(BASE)
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    for bad in (tampered, "/v1/unsubscribe/not-a-token"):
        r = await client.post(bad)
        assert r.status_code == 400
        assert r.json()["error"]["field"] == "token"
    # Signed with another secret (another installation): refused too.
    forged = unsubscribe_url(
        tenant_id=tenant.id,
        customer_id=customer_id,
        channel="email",
        topic="marketing",
        base_url=BASE,
        secret="someone-else",
    ).removeprefix(BASE)
    assert (await client.post(forged)).status_code == 400
    assert await _may(session, tenant, customer_id)


async def test_a_bounce_makes_the_address_unreachable_even_for_transactional_mail(
    client, session, tenant
) -> None:
    customer_id = await _customer(client, tenant, session)
    await _grant(client, tenant, {"channel": "email", "granted": True})
    address = await contact_address(
        session, tenant_id=tenant.id, customer_id=customer_id, channel="email"
    )
    assert address == "anna@example.com"
    r = await client.post(
        "/v1/messaging/bounces",
        json={"address": "Anna@Example.com", "kind": "bounce"},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    session.expire_all()
    assert (
        await contact_address(
            session, tenant_id=tenant.id, customer_id=customer_id, channel="email"
        )
        is None
    )
    assert not await _may(session, tenant, customer_id, transactional=True)

    r = await client.post(
        "/v1/messaging/bounces",
        json={"address": "not an address", "kind": "complaint"},
        headers=tenant.headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "address"


async def test_bad_consent_input_names_the_item_and_changes_nothing(
    client, session, tenant
) -> None:
    await _customer(client, tenant, session)
    r = await client.put(
        "/v1/customers/anna/consents",
        json={
            "consents": [
                {"channel": "email", "granted": True},
                {"channel": "pigeon", "granted": True},
            ]
        },
        headers=tenant.headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "consents.1.channel"
    assert (await client.get("/v1/customers/anna/consents", headers=tenant.headers)).json() == []


async def test_consents_of_one_tenant_are_invisible_to_another(client, session, tenant) -> None:
    customer_id = await _customer(client, tenant, session)
    await _grant(client, tenant, {"channel": "email", "granted": True})
    other = await make_tenant(session)
    r = await client.get("/v1/customers/anna/consents", headers=other.headers)
    assert r.status_code == 404
    assert not await may_contact(
        session,
        tenant_id=other.id,
        customer_id=customer_id,
        channel="email",
        topic="news",
        transactional=True,
    )
