"""Open pixel, click redirect and magic links: signed, counted once, never an open redirect."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture, make_tenant, panasonic_document
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import get_customer, upsert_customer
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.kit.errors import Conflict
from tonari.messaging.magic_links import (
    LoggedIn,
    exchange_login_token,
    follow_magic_link,
    magic_link_token,
    magic_link_url,
)
from tonari.messaging.queue import queue_message
from tonari.messaging.templates import render_message
from tonari.messaging.tracking import SALT_CLICK, SALT_LOGIN, sign
from tonari.models.events import CustomerEvent
from tonari.models.messaging_content import MessagingSite

BASE = "https://tonari.example"
HTML = (
    '<html><body><p>Hi {{ first_name }}</p><a href="https://shop.example/sale?a=1&amp;b=2">'
    'Sale</a> <a href="mailto:help@brand.example">help</a></body></html>'
)


async def _setup(client: httpx.AsyncClient, session: AsyncSession, tenant: TenantFixture) -> int:
    r = await client.put(
        "/v1/customers/anna",
        json={"email": "anna@example.com", "first_name": "Anna"},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/messaging/templates",
        json={"key": "sale", "subject": "Sale", "html": HTML, "text": "Sale"},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    return (await get_customer(session, tenant_id=tenant.id, external_id="anna")).id


async def _rendered_links(
    session: AsyncSession, tenant: TenantFixture, customer_id: int
) -> tuple[int, str, str]:
    send_id = await queue_message(
        session,
        tenant_id=tenant.id,
        customer_id=customer_id,
        channel="email",
        template_key="sale",
        at=utcnow(),
        idempotency_key=f"sale-{customer_id}",
    )
    assert send_id is not None
    rendered = await render_message(
        session,
        tenant_id=tenant.id,
        customer_id=customer_id,
        template_key="sale",
        channel="email",
        context={},
        at=utcnow(),
        base_url=BASE,
        send_id=send_id,
    )
    assert rendered.html is not None
    assert 'href="mailto:help@brand.example"' in rendered.html
    [pixel] = re.findall(r'<img src="https://tonari\.example(/t/o/[^"]+)"', rendered.html)
    [click] = re.findall(r'href="https://tonari\.example(/t/c/[^"]+)"', rendered.html)
    return send_id, pixel, click


async def _count(session: AsyncSession, tenant_id: int, customer_id: int, kind: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                CustomerEvent.tenant_id == tenant_id,
                CustomerEvent.customer_id == customer_id,
                CustomerEvent.event_type == kind,
            )
        )
        or 0
    )


async def test_an_open_becomes_one_event_however_often_the_pixel_loads(
    client, session, tenant
) -> None:
    customer_id = await _setup(client, session, tenant)
    send_id, pixel, _ = await _rendered_links(session, tenant, customer_id)
    for _ in range(3):
        r = await client.get(pixel)
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/gif"
        assert r.content.startswith(b"GIF89a")
    assert await _count(session, tenant.id, customer_id, "email_opened") == 1
    event = await session.scalar(
        select(CustomerEvent).where(
            CustomerEvent.customer_id == customer_id, CustomerEvent.event_type == "email_opened"
        )
    )
    assert event is not None
    assert (event.entity_id, event.payload["send_id"]) == (str(send_id), send_id)
    # The customer's timeline shows it too.
    r = await client.get("/v1/customers/anna/timeline", headers=tenant.headers)
    assert "email_opened" in {item["type"] for item in r.json()["items"]}


async def test_a_click_redirects_to_the_signed_url_and_counts_once(client, session, tenant) -> None:
    customer_id = await _setup(client, session, tenant)
    _, _, click = await _rendered_links(session, tenant, customer_id)
    for _ in range(2):
        r = await client.get(click)
        assert r.status_code == 302
        assert r.headers["location"] == "https://shop.example/sale?a=1&b=2"
    assert await _count(session, tenant.id, customer_id, "email_clicked") == 1


async def test_tampered_tokens_are_refused_and_never_redirect(client, session, tenant) -> None:
    customer_id = await _setup(client, session, tenant)
    _, pixel, click = await _rendered_links(session, tenant, customer_id)
    token = click.removeprefix("/t/c/")
    flipped = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    # Someone else's URL under a signature they made up, a flipped byte, an open token used
    # as a click, and a click signed with the wrong secret: all 400, none redirects.
    forged = sign(
        {"t": tenant.id, "c": customer_id, "s": 1, "u": "https://evil.example"},
        salt=SALT_CLICK,
        secret="guess",
    )
    open_token = pixel.removeprefix("/t/o/").removesuffix(".gif")
    for path in (f"/t/c/{flipped}", f"/t/c/{open_token}", f"/t/c/{forged}", "/t/c/plain"):
        r = await client.get(path)
        assert r.status_code == 400, path
        assert "location" not in r.headers
        assert r.json()["error"]["code"] == "bad_link"
    assert (await client.get(f"/t/o/{flipped}.gif")).status_code == 400
    # Even a correctly signed token with a non-web target is refused.
    javascript = sign(
        {"t": tenant.id, "c": customer_id, "s": 1, "u": "javascript:alert(1)"}, salt=SALT_CLICK
    )
    assert (await client.get(f"/t/c/{javascript}")).status_code == 400
    assert await _count(session, tenant.id, customer_id, "email_clicked") == 0
    assert await _count(session, tenant.id, customer_id, "email_opened") == 0


async def test_an_open_earns_points_when_the_programme_rewards_it(client, session) -> None:
    document = panasonic_document()
    document["activities"] = [
        *document["activities"],
        {
            "code": "open",
            "name": "Open our letter",
            "action": "custom:email_opened",
            "points": 10,
            "frequency": {"once": "subject"},
        },
    ]
    tenant = await make_tenant(session, programme=document)
    customer_id = await _setup(client, session, tenant)
    _, pixel, _ = await _rendered_links(session, tenant, customer_id)
    assert (await client.get(pixel)).status_code == 200
    assert (await client.get(pixel)).status_code == 200
    balances = (await client.get("/v1/customers/anna", headers=tenant.headers)).json()["balances"]
    assert balances["available"] + balances["pending"] == 10


async def _site(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    r = await client.put(
        "/v1/messaging/site",
        json={"site_url": "https://shop.example/account?from=mail"},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text


def _login_token(location: str) -> str:
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "shop.example", "/account")
    query = parse_qs(parts.query)
    assert query["from"] == ["mail"]
    return query["tonari_login"][0]


async def test_a_magic_link_logs_the_customer_in_once(client, session, tenant) -> None:
    customer_id = await _setup(client, session, tenant)
    await _site(client, tenant)
    link = magic_link_url(
        tenant_id=tenant.id, customer_id=customer_id, base_url=BASE, at=utcnow()
    ).removeprefix(BASE)
    r = await client.get(link)
    assert r.status_code == 302
    token = _login_token(r.headers["location"])

    other = await make_tenant(session)
    r = await client.post("/v1/magic-links/exchange", json={"token": token}, headers=other.headers)
    assert r.status_code == 404  # another brand's site cannot use it

    r = await client.post("/v1/magic-links/exchange", json={"token": token}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"customer_id": customer_id, "external_id": "anna"}
    r = await client.post("/v1/magic-links/exchange", json={"token": token}, headers=tenant.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "token_used"

    # The magic link itself may be followed again: each visit gets its own login token.
    second = _login_token((await client.get(link)).headers["location"])
    assert second != token
    r = await client.post(
        "/v1/magic-links/exchange", json={"token": second}, headers=tenant.headers
    )
    assert r.status_code == 200


async def test_expired_magic_links_and_login_tokens_are_refused(client, session, tenant) -> None:
    customer_id = await _setup(client, session, tenant)
    await _site(client, tenant)
    old = magic_link_url(
        tenant_id=tenant.id, customer_id=customer_id, base_url=BASE, at=utcnow() - timedelta(days=8)
    ).removeprefix(BASE)
    r = await client.get(old)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "link_expired"
    stale = sign(
        {
            "t": tenant.id,
            "c": customer_id,
            "j": "abc",
            "x": int((utcnow() - timedelta(seconds=1)).timestamp()),
        },
        salt=SALT_LOGIN,
    )
    r = await client.post("/v1/magic-links/exchange", json={"token": stale}, headers=tenant.headers)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "link_expired"
    # A magic-link token is not a login token (different signing purpose).
    magic = old.removeprefix("/t/m/")
    r = await client.post("/v1/magic-links/exchange", json={"token": magic}, headers=tenant.headers)
    assert r.status_code == 400


async def test_a_magic_link_without_a_configured_site_is_not_found(client, session, tenant) -> None:
    customer_id = await _setup(client, session, tenant)
    link = magic_link_url(
        tenant_id=tenant.id, customer_id=customer_id, base_url=BASE, at=utcnow()
    ).removeprefix(BASE)
    r = await client.get(link)
    assert r.status_code == 404
    assert r.json()["error"]["field"] == "site_url"
    r = await client.put(
        "/v1/messaging/site", json={"site_url": "http://shop.example/"}, headers=tenant.headers
    )
    assert (r.status_code, r.json()["error"]["field"]) == (422, "site_url")


async def test_the_magic_link_in_a_rendered_email_logs_the_customer_in(
    client, session, tenant
) -> None:
    customer_id = await _setup(client, session, tenant)
    await _site(client, tenant)
    r = await client.patch(
        "/v1/messaging/templates/sale",
        json={"html": '<html><body><a href="{{ magic_link }}">My account</a></body></html>'},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    rendered = await render_message(
        session,
        tenant_id=tenant.id,
        customer_id=customer_id,
        template_key="sale",
        channel="email",
        context={},
        at=utcnow(),
        base_url=BASE,
        send_id=7,
    )
    assert rendered.html is not None
    # Tonari's own link is not wrapped in the click redirect.
    [link] = re.findall(r'href="https://tonari\.example(/t/m/[^"]+)"', rendered.html)
    token = _login_token((await client.get(link)).headers["location"])
    r = await client.post("/v1/magic-links/exchange", json={"token": token}, headers=tenant.headers)
    assert r.json()["external_id"] == "anna"


def test_two_sites_racing_to_exchange_one_login_token_let_only_one_in(
    database_url: str, committed_tenant: TenantFixture
) -> None:
    """Two connections exchange the same token at once: the primary key admits one."""
    tenant_id = committed_tenant.id

    async def race() -> list[object]:
        db = Database(database_url, pool_size=3, max_overflow=0)
        try:
            async with db.transaction() as session:
                customer, _ = await upsert_customer(
                    session,
                    tenant_id=tenant_id,
                    external_id="racer",
                    fields=CustomerUpsert(email="racer@example.com"),
                    first_tier="silver",
                    at=utcnow(),
                )
                await session.execute(
                    MessagingSite.__table__.insert().values(  # type: ignore[attr-defined]
                        tenant_id=tenant_id, site_url="https://shop.example/"
                    )
                )
                link = magic_link_token(tenant_id=tenant_id, customer_id=customer.id, at=utcnow())
                location = await follow_magic_link(session, token=link, at=utcnow())
            token = parse_qs(urlsplit(location).query)["tonari_login"][0]
            ready = asyncio.Barrier(2)

            async def exchange() -> object:
                async with db.transaction() as session:
                    await session.execute(select(1))  # both hold a connection first
                    await ready.wait()
                    try:
                        return await exchange_login_token(
                            session, tenant_id=tenant_id, token=token, at=utcnow()
                        )
                    except Conflict as exc:
                        return exc.code

            return list(await asyncio.gather(exchange(), exchange()))
        finally:
            await db.dispose()

    outcomes = asyncio.run(race())
    winners = [o for o in outcomes if isinstance(o, LoggedIn)]
    assert len(winners) == 1 and winners[0].external_id == "racer"
    assert [o for o in outcomes if not isinstance(o, LoggedIn)] == ["token_used"]
