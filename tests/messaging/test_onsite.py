"""On-site content: the site gets the visitor's points, distance to the next tier, expiring
points and the block whose rule fits them now (an expiry popup before a generic banner)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.factories import TenantFixture, make_tenant
from tests.messaging.test_templates import seed_customer
from tonari.kit.clock import utcnow

BLOCKS = {
    "expiry-popup": {
        "placement": "home",
        "kind": "popup",
        "priority": 10,
        "rule": {"expiring_within_days": 30},
        "title": "{{ first_name }}, your points are leaving",
        "html": "<b>{{ expiring.points }} points expire on {{ expiring.date }}</b>",
    },
    "almost-gold": {
        "placement": "home",
        "kind": "banner",
        "priority": 5,
        "rule": {"max_amount_to_next_tier": 3_000_000, "tiers": ["silver"]},
        "html": "Only {{ next_tier.amount_left_text }} to {{ next_tier.name }}!",
    },
    "hello": {"placement": "home", "html": "Welcome, {{ first_name or 'friend' }}"},
}


async def _blocks(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    for key, body in BLOCKS.items():
        r = await client.put(f"/v1/onsite-blocks/{key}", json=body, headers=tenant.headers)
        assert r.status_code == 200, r.text


async def test_a_customer_with_expiring_points_gets_the_expiry_popup(
    client, session, tenant
) -> None:
    await seed_customer(client, tenant)
    await _blocks(client, tenant)
    r = await client.get("/v1/onsite/anna", params={"placement": "home"}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    content = r.json()
    assert content["points"]["available"] == 2_000
    assert content["tier"]["name"] == "Silver"
    assert (content["next_tier"]["name"], content["next_tier"]["amount_left"]) == (
        "Gold",
        3_000_000,
    )
    expiry = (utcnow() + timedelta(days=20)).date().isoformat()
    assert content["expiring"]["points"] == 1_500
    assert content["expiring"]["date"] == expiry
    assert content["expiring"]["days_left"] in (19, 20)
    block = content["block"]
    assert (block["key"], block["kind"]) == ("expiry-popup", "popup")
    assert block["title"] == "Anna, your points are leaving"
    assert block["html"] == f"<b>1500 points expire on {expiry}</b>"


async def test_the_next_rule_applies_once_the_first_no_longer_fits(client, session, tenant) -> None:
    await seed_customer(client, tenant)
    await _blocks(client, tenant)
    # Anna spends her 2,000 points: nothing expires any more, she is 30,000 from Gold.
    r = await client.post(
        "/v1/customers/anna/adjustments",
        json={"direction": "deduct", "points": 2_000, "reason": "spent", "idempotency_key": "d"},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    content = (
        await client.get("/v1/onsite/anna", params={"placement": "home"}, headers=tenant.headers)
    ).json()
    assert content["expiring"] is None
    assert content["block"]["key"] == "almost-gold"
    assert content["block"]["html"] == "Only 30000.00 RUB to Gold!"

    # A new customer far from Gold, with no points, gets the default block.
    r = await client.put("/v1/customers/boris", json={}, headers=tenant.headers)
    assert r.status_code == 201
    content = (
        await client.get("/v1/onsite/boris", params={"placement": "home"}, headers=tenant.headers)
    ).json()
    assert content["points"]["available"] == 0
    assert content["next_tier"]["amount_left"] == 5_000_000
    assert content["block"]["html"] == "Welcome, friend"

    # Switched-off blocks and empty placements show nothing.
    body = {**BLOCKS["hello"], "active": False}
    assert (
        await client.put("/v1/onsite-blocks/hello", json=body, headers=tenant.headers)
    ).status_code == 200
    content = (
        await client.get("/v1/onsite/boris", params={"placement": "home"}, headers=tenant.headers)
    ).json()
    assert content["block"] is None
    content = (await client.get("/v1/onsite/boris", headers=tenant.headers)).json()
    assert (content["placement"], content["block"]) == ("banner", None)


async def test_bad_blocks_are_rejected_with_the_place_that_is_wrong(
    client, session, tenant
) -> None:
    bad = [
        ({"rule": {"expiring_within_days": 0}}, "rule.expiring_within_days"),
        ({"rule": {"balance_over": 5}}, "rule.balance_over"),
        ({"html": "<p>\n{{ expiring.points }</p>"}, "html"),
        ({"html": "{{ wallet }}"}, "html"),
        ({"kind": "modal"}, "kind"),
        ({"placement": "Home Page"}, "placement"),
    ]
    for change, field in bad:
        body = {**BLOCKS["hello"], **change}
        r = await client.put("/v1/onsite-blocks/hello", json=body, headers=tenant.headers)
        assert r.status_code == 422, (change, r.text)
        assert r.json()["error"]["field"] == field
    assert (await client.get("/v1/onsite-blocks", headers=tenant.headers)).json() == []


async def test_blocks_and_content_stay_within_their_tenant(client, session, tenant) -> None:
    await seed_customer(client, tenant)
    await _blocks(client, tenant)
    other = await make_tenant(session)
    assert (await client.get("/v1/onsite/anna", headers=other.headers)).status_code == 404
    assert (await client.get("/v1/onsite-blocks", headers=other.headers)).json() == []
    r = await client.delete("/v1/onsite-blocks/hello", headers=other.headers)
    assert r.status_code == 404
    listed = (await client.get("/v1/onsite-blocks", headers=tenant.headers)).json()
    assert [b["key"] for b in listed] == ["expiry-popup", "almost-gold", "hello"]
