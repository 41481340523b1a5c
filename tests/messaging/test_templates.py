"""Templates: checked at save with the wrong place named, rendered with the customer's real
numbers under the Panasonic programme (Silver 5%, Gold from 50,000 roubles of purchases)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from tests.factories import TenantFixture, make_tenant
from tonari.customers.service import get_customer
from tonari.kit.clock import utcnow
from tonari.kit.errors import NotFound
from tonari.messaging.templates import render_message
from tonari.models.messaging import MessageSend

WELCOME_HTML = """<html><body>
<p>Hello {{ first_name }}, you have {{ balance }} points ({{ tier.name }}).</p>
{% if next_tier %}<p>{{ next_tier.amount_left_text }} more to {{ next_tier.name }}.</p>{% endif %}
{% if expiring %}<p>{{ expiring.points }} points expire on {{ expiring.date }}.</p>{% endif %}
<ul>{% for item in wishlist %}<li>{{ item.name }}: {{ item.regular_price_text }},
for you {{ item.personal_price_text }}</li>{% endfor %}</ul>
{% if promo_code %}<p>Code: {{ promo_code }}</p>{% endif %}
<a href="https://shop.example/kitchen?utm=mail&amp;x=1">Kitchen sale</a>
</body></html>"""


async def seed_customer(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    """Anna: 20,000 roubles bought (Silver), 2,000 points available of which 1,500 expire
    in 20 days, a 10,000-rouble kettle in her wishlist."""
    h = tenant.headers
    r = await client.put(
        "/v1/customers/anna",
        json={"email": "anna@example.com", "first_name": "Anna", "last_name": "Petrova"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/orders",
        json={
            "order_id": "o1",
            "customer": {"external_id": "anna"},
            "paid": True,
            "lines": [{"product_id": "tv", "unit_price": 2_000_000, "quantity": 1}],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    soon = utcnow() + timedelta(days=20)
    for key, points, expires in (("a", 1_500, soon.isoformat()), ("b", 500, None)):
        body = {"direction": "grant", "points": points, "reason": "gift", "idempotency_key": key}
        if expires:
            body["expires_at"] = expires
        r = await client.post("/v1/customers/anna/adjustments", json=body, headers=h)
        assert r.status_code == 201, r.text
    r = await client.put(
        "/v1/products",
        json={
            "products": [
                {"product_id": "kettle", "name": "Kettle NC-1", "price": 1_000_000},
                {"product_id": "iron", "name": "Iron NI-2", "price": 300_000},
            ]
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    now = utcnow()
    events = [
        ("w1", "wishlist_added", "kettle", now - timedelta(hours=3)),
        ("w2", "wishlist_added", "iron", now - timedelta(hours=2)),
        ("w3", "wishlist_removed", "iron", now - timedelta(hours=1)),
    ]
    r = await client.post(
        "/v1/events",
        json={
            "events": [
                {
                    "event_id": event_id,
                    "event_type": kind,
                    "occurred_at": at.isoformat(),
                    "customer": {"external_id": "anna"},
                    "entity_id": product,
                }
                for event_id, kind, product, at in events
            ]
        },
        headers=h,
    )
    assert r.status_code == 200 and r.json()["stored"] == 3, r.text


async def _create(client: httpx.AsyncClient, tenant: TenantFixture, **fields) -> httpx.Response:
    body = {
        "key": "welcome",
        "channel": "email",
        "subject": "{{ first_name }}, {{ balance }} points are waiting",
        "html": WELCOME_HTML,
        "text": "Hello {{ first_name }}: {{ balance }} points.",
        **fields,
    }
    return await client.post("/v1/messaging/templates", json=body, headers=tenant.headers)


async def test_preview_shows_the_customers_real_balance_tier_and_distance_to_gold(
    client, session, tenant
) -> None:
    await seed_customer(client, tenant)
    assert (await _create(client, tenant)).status_code == 201
    r = await client.post(
        "/v1/messaging/templates/welcome/preview",
        json={"customer_id": "anna", "context": {"promo_code": "KITCHEN10"}},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["subject"] == "Anna, 2000 points are waiting"
    assert preview["text"] == "Hello Anna: 2000 points."
    html = preview["html"]
    assert "you have 2000 points (Silver)" in html
    # Gold starts at 50,000 roubles; Anna bought for 20,000.
    assert "30000.00 RUB more to Gold" in html
    expiry = (utcnow() + timedelta(days=20)).date().isoformat()
    assert f"1500 points expire on {expiry}" in html
    # The kettle (the iron was taken out again); her own price spends her 2,000 points
    # (under the 50% cap of 5,000): 10,000 - 2,000 = 8,000 roubles.
    assert "Kettle NC-1: 10000.00 RUB,\nfor you 8000.00 RUB" in html
    assert "Iron" not in html
    assert "Code: KITCHEN10" in html
    # Links go through the signed click redirect, never straight to the shop.
    assert 'href="http://tonari.test/t/c/' in html
    assert "https://shop.example" not in html


async def test_html_is_escaped_and_the_sandbox_blocks_python_internals(
    client, session, tenant
) -> None:
    await seed_customer(client, tenant)
    await client.put(
        "/v1/customers/anna", json={"first_name": "<script>x</script>"}, headers=tenant.headers
    )
    r = await _create(client, tenant, html="<p>{{ first_name }}</p>", text="{{ first_name }}")
    assert r.status_code == 201, r.text
    customer = await get_customer(session, tenant_id=tenant.id, external_id="anna")
    rendered = await render_message(
        session,
        tenant_id=tenant.id,
        customer_id=customer.id,
        template_key="welcome",
        channel="email",
        context={},
        at=utcnow(),
    )
    assert rendered.html == "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    assert rendered.text == "<script>x</script>"
    r = await _create(
        client,
        tenant,
        key="evil",
        text="{{ customer.__class__.__mro__[1].__subclasses__() }}",
        html=None,
    )
    assert r.status_code == 201  # parses; the sandbox refuses at render time
    r = await client.post(
        "/v1/messaging/templates/evil/preview",
        json={"customer_id": "anna"},
        headers=tenant.headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "text"


@pytest.mark.parametrize(
    ("part", "source", "line", "code"),
    [
        ("html", "<p>ok</p>\n<p>{% if balance %}open</p>", 2, "template_syntax"),
        ("subject", "Hi {{ first_name }", 1, "template_syntax"),
        ("text", "Hello\n\n{{ frist_name }}", 3, "template_unknown_variable"),
        ("text", "Hello\n{{ balance | shout }}", 2, "template_syntax"),
        ("html", "<p>\n\n{% include 'footer.html' %}", 3, "template_syntax"),
    ],
)
async def test_a_malformed_template_is_rejected_with_the_part_and_line(
    client, session, tenant, part, source, line, code
) -> None:
    r = await _create(client, tenant, **{part: source})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == part
    assert error["code"] == code
    assert error["details"]["line"] == line
    assert f"line {line}" in error["message"]
    listed = await client.get("/v1/messaging/templates", headers=tenant.headers)
    assert listed.json() == []


async def test_update_bumps_the_version_and_a_bad_update_changes_nothing(
    client, session, tenant
) -> None:
    assert (await _create(client, tenant)).status_code == 201
    r = await client.patch(
        "/v1/messaging/templates/welcome",
        json={"subject": "New points for {{ first_name }}"},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    r = await client.patch(
        "/v1/messaging/templates/welcome",
        json={"text": "{{ balance "},
        headers=tenant.headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "text"
    current = (await client.get("/v1/messaging/templates/welcome", headers=tenant.headers)).json()
    assert current["version"] == 2
    assert current["subject"] == "New points for {{ first_name }}"
    assert (await _create(client, tenant)).status_code == 409
    r = await client.delete("/v1/messaging/templates/welcome", headers=tenant.headers)
    assert r.status_code == 204
    r = await client.get("/v1/messaging/templates/welcome", headers=tenant.headers)
    assert r.status_code == 404


async def test_email_needs_a_subject_and_sms_has_no_html(client, session, tenant) -> None:
    r = await _create(client, tenant, subject=None)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "subject")
    r = await _create(client, tenant, channel="sms", subject=None)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "html")
    r = await _create(client, tenant, channel="fax")
    assert (r.status_code, r.json()["error"]["field"]) == (422, "channel")


async def test_render_of_a_missing_template_names_the_key(client, session, tenant) -> None:
    await seed_customer(client, tenant)
    customer = await get_customer(session, tenant_id=tenant.id, external_id="anna")
    with pytest.raises(NotFound) as raised:
        await render_message(
            session,
            tenant_id=tenant.id,
            customer_id=customer.id,
            template_key="nope",
            channel="email",
            context={},
            at=utcnow(),
        )
    assert raised.value.field == "template_key"


async def test_render_with_a_send_id_adds_the_open_pixel_and_unsubscribe_link(
    client, session, tenant
) -> None:
    await seed_customer(client, tenant)
    r = await _create(
        client, tenant, html='<html><body><a href="{{ unsubscribe_url }}">stop</a></body></html>'
    )
    assert r.status_code == 201
    customer = await get_customer(session, tenant_id=tenant.id, external_id="anna")
    rendered = await render_message(
        session,
        tenant_id=tenant.id,
        customer_id=customer.id,
        template_key="welcome",
        channel="email",
        context={},
        at=utcnow(),
        base_url="https://tonari.example",
        send_id=41,
    )
    assert rendered.html is not None
    assert '<img src="https://tonari.example/t/o/' in rendered.html
    assert rendered.html.index("<img") < rendered.html.index("</body>")
    # Tonari's own unsubscribe link stays direct (no click recorded for it).
    assert '<a href="https://tonari.example/v1/unsubscribe/' in rendered.html
    assert "/t/c/" not in rendered.html


async def test_test_send_queues_one_transactional_message(client, session, tenant) -> None:
    await seed_customer(client, tenant)
    assert (await _create(client, tenant)).status_code == 201
    body = {"customer_id": "anna", "to": "qa@brand.example", "idempotency_key": "qa-1"}
    r = await client.post(
        "/v1/messaging/templates/welcome/test-send", json=body, headers=tenant.headers
    )
    assert r.status_code == 202, r.text
    assert r.json()["queued"] is True
    again = await client.post(
        "/v1/messaging/templates/welcome/test-send", json=body, headers=tenant.headers
    )
    assert again.json()["queued"] is False
    [send] = (
        await session.scalars(select(MessageSend).where(MessageSend.tenant_id == tenant.id))
    ).all()
    assert (send.template_key, send.transactional, send.status) == ("welcome", True, "queued")
    assert send.context["to"] == "qa@brand.example"
    other = await make_tenant(session)
    r = await client.post(
        "/v1/messaging/templates/welcome/test-send", json=body, headers=other.headers
    )
    assert r.status_code == 404


async def test_render_failures_at_send_time_name_the_part(client, session, tenant) -> None:
    await seed_customer(client, tenant)
    r = await _create(client, tenant, text="Your cart: {{ cart.total }}", html=None)
    assert r.status_code == 201
    r = await client.post(
        "/v1/messaging/templates/welcome/preview",
        json={"customer_id": "anna", "context": {"cart": {"total": 5}}},
        headers=tenant.headers,
    )
    assert r.json()["text"] == "Your cart: 5"
    r = await client.post(
        "/v1/messaging/templates/welcome/preview",
        json={"customer_id": "anna"},
        headers=tenant.headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "text"


async def test_a_profile_without_a_points_account_renders_with_zero_points(
    client, session, tenant
) -> None:
    from tonari.models.customers import Customer

    r = await _create(client, tenant, html=None, text="{{ name }}: {{ balance }} ({{ tier.name }})")
    assert r.status_code == 201
    imported = Customer(tenant_id=tenant.id, external_id="imp", first_name="Ivan", last_name="P")
    session.add(imported)
    await session.flush()
    rendered = await render_message(
        session,
        tenant_id=tenant.id,
        customer_id=imported.id,
        template_key="welcome",
        channel="email",
        context={},
        at=utcnow(),
    )
    assert rendered.text == "Ivan P: 0 (Silver)"
