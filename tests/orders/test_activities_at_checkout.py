"""Activities, temporary points and partners meet the order: the jar voucher buys a mask,
abandoned-cart points pay only for their cart, a coalition partner earns at its own rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_tenant
from tests.orders.test_codes_at_checkout import pool
from tests.orders.test_offers_in_orders import example
from tests.orders.test_panasonic_numbers import place, put_customer
from tonari.ledger.verify import verify_ledger

MASK = {"product_id": "mask", "category": "face-masks", "unit_price": 150_000, "quantity": 1}


async def test_five_jars_bring_a_voucher_that_makes_a_mask_free(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("lush"))
    await pool(client, tenant, code="free_mask", kind="personal", valid_days=90)
    await put_customer(client, tenant, "c1")
    response = await client.post(
        "/v1/customers/c1/activities",
        json={"action": "jar_returned", "activity_id": "visit-1", "quantity": 5},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    reason = response.json()["decisions"][0]["reason"]
    voucher = reason.rsplit(" ", 1)[1]
    order = (await place(client, tenant, "o-1", "c1", [MASK], promo_codes=[voucher])).json()
    assert order["total_to_pay"] == 0
    again = (await place(client, tenant, "o-2", "c1", [MASK], promo_codes=[voucher])).json()
    assert again["total_to_pay"] == 150_000, "the voucher serves once"


async def test_abandoned_cart_points_pay_only_for_their_cart(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session)
    await put_customer(client, tenant, "c1")
    granted = await client.post(
        "/v1/customers/c1/temporary-points",
        json={
            "points": 300,
            "expires_in_hours": 48,
            "only_for_cart": "cart-7",
            "reason": "you left a kettle in your cart",
            "idempotency_key": "abandoned:cart-7",
        },
        headers=tenant.headers,
    )
    assert granted.status_code == 201, granted.text
    kettle = {"product_id": "kettle", "unit_price": 100_000, "quantity": 1}
    other = await client.post(
        "/v1/orders/calculate",
        json={"customer": {"external_id": "c1"}, "lines": [kettle], "cart_id": "cart-8"},
        headers=tenant.headers,
    )
    assert other.json()["max_points_spendable"] == 0
    refused = await place(
        client, tenant, "o-8", "c1", [kettle], cart_id="cart-8", points_to_spend=300
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "insufficient_points"
    own = await place(client, tenant, "o-7", "c1", [kettle], cart_id="cart-7", points_to_spend=300)
    assert own.status_code == 201, own.text
    assert own.json()["total_to_pay"] == 70_000
    assert (await verify_ledger(session, tenant_id=tenant.id)).problems == []


async def test_a_coalition_partner_earns_its_own_rate_and_unknown_partners_are_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("svyaznoy"))
    await put_customer(client, tenant, "c1")
    trip = {"product_id": "tour", "unit_price": 1_000_000, "quantity": 1}
    at_travel = (await place(client, tenant, "o-1", "c1", [trip], partner="travel")).json()
    assert at_travel["points_to_earn"] == 1_400
    at_brand = (await place(client, tenant, "o-2", "c1", [trip])).json()
    assert at_brand["points_to_earn"] == 100
    unknown = await place(client, tenant, "o-3", "c1", [trip], partner="casino")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_partner"
    today = datetime.now(UTC).date()
    settlement = await client.get(
        "/v1/partners/settlement",
        params={"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))},
        headers=tenant.headers,
    )
    assert settlement.status_code == 200, settlement.text
    rows = {row["partner"]: row for row in settlement.json()["partners"]}
    assert rows["travel"]["points_issued"] == 1_400


async def test_panasonic_review_earns_500_once_per_product_and_profile_sections_pay(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session)  # the shipped Panasonic programme, activities included
    await put_customer(client, tenant, "c1")

    async def report(activity_id: str, action: str, subject: str) -> dict[str, object]:
        response = await client.post(
            "/v1/customers/c1/activities",
            json={"action": action, "activity_id": activity_id, "subject": subject},
            headers=tenant.headers,
        )
        assert response.status_code == 201, response.text
        return dict(response.json()["decisions"][0])

    assert (await report("r1", "review_written", "kettle-nc"))["points"] == 500
    second = await report("r2", "review_written", "kettle-nc")
    assert (second["points"], second["reason_code"]) == (0, "already_rewarded")
    assert (await report("r3", "review_written", "tv-ex750"))["points"] == 500
    assert (await report("p1", "profile_section_completed", "kitchen"))["points"] == 300
    profile = (await client.get("/v1/customers/c1", headers=tenant.headers)).json()
    assert profile["balances"]["available"] + profile["balances"]["pending"] == 1_300
