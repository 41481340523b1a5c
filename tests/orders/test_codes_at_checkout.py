"""Promo codes, personal codes, gift vouchers and referrals through the order API."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture, make_tenant
from tests.orders.test_offers_in_orders import example
from tests.orders.test_panasonic_numbers import place, put_customer
from tonari.ledger.verify import verify_ledger
from tonari.models.codes import CodeRedemption

CAP = {"product_id": "cap", "unit_price": 1_000_000, "quantity": 1}


async def pool(client: httpx.AsyncClient, tenant: TenantFixture, **body: Any) -> dict[str, Any]:
    body.setdefault("name", body["code"])
    response = await client.post("/v1/code-pools", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def issue(
    client: httpx.AsyncClient, tenant: TenantFixture, pool_code: str, customer: str
) -> str:
    response = await client.post(
        f"/v1/code-pools/{pool_code}/issue",
        json={"customers": [customer], "issue_key": f"{pool_code}-{customer}"},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["codes"][0]["code"])


async def redemptions(session: AsyncSession, tenant: TenantFixture) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                CodeRedemption.tenant_id == tenant.id, CodeRedemption.released_at.is_(None)
            )
        )
        or 0
    )


async def test_skidka30_at_checkout_is_redeemed_only_when_it_applies(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("capsboutique"))
    await pool(client, tenant, code="skidka30", kind="public", public_code="SKIDKA30")
    await pool(client, tenant, code="personal", kind="personal", valid_days=75, shareable=True)
    await put_customer(client, tenant, "c1")
    calculated = await client.post(
        "/v1/orders/calculate",
        json={"customer": {"external_id": "c1"}, "lines": [CAP], "promo_codes": ["skidka30"]},
        headers=tenant.headers,
    )
    assert calculated.json()["discount_total"] == 300_000
    assert await redemptions(session, tenant) == 0, "calculate redeems nothing"
    small = {"product_id": "cap", "unit_price": 500_000, "quantity": 1}
    refused = (
        await place(client, tenant, "o-small", "c1", [small], promo_codes=["SKIDKA30"])
    ).json()
    assert refused["discount_total"] == 0
    assert await redemptions(session, tenant) == 0, "a code that did not apply is not used"
    order = (await place(client, tenant, "o-1", "c1", [CAP], promo_codes=["SKIDKA30"])).json()
    assert order["discount_total"] == 300_000
    assert await redemptions(session, tenant) == 1
    printed = order["issued_codes"]
    assert [item["pool"] for item in printed] == ["personal"]
    await client.post("/v1/orders/o-1/cancel", json={}, headers=tenant.headers)
    assert await redemptions(session, tenant) == 0


async def test_an_unknown_code_is_a_clear_error_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("capsboutique"))
    await put_customer(client, tenant, "c1")
    response = await place(client, tenant, "o-1", "c1", [CAP], promo_codes=["NOPE-123"])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_promo_code"
    assert response.json()["error"]["field"] == "promo_codes"
    missing = await client.get("/v1/orders/o-1", headers=tenant.headers)
    assert missing.status_code == 404


async def test_a_single_use_personal_code_serves_one_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("capsboutique"))
    await pool(client, tenant, code="personal", kind="personal", valid_days=75, shareable=True)
    await put_customer(client, tenant, "anna")
    await put_customer(client, tenant, "friend")
    await put_customer(client, tenant, "other")
    code = await issue(client, tenant, "personal", "anna")
    first = (await place(client, tenant, "o-1", "friend", [CAP], promo_codes=[code])).json()
    assert first["discount_total"] == 100_000
    second = (await place(client, tenant, "o-2", "other", [CAP], promo_codes=[code])).json()
    assert second["discount_total"] == 0
    reasons = {item["offer"]: item["reason"] for item in second["offers"]}
    assert "used" in reasons["friend-code"]


async def test_a_gift_voucher_pays_for_the_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("capsboutique"))
    await pool(
        client,
        tenant,
        code="gift",
        kind="gift",
        value_minor=250_000,
        currency="RUB",
        valid_days=365,
    )
    await pool(client, tenant, code="personal", kind="personal", valid_days=75)
    await put_customer(client, tenant, "c1")
    voucher = await issue(client, tenant, "gift", "c1")
    order = (await place(client, tenant, "o-1", "c1", [CAP], promo_codes=[voucher])).json()
    assert order["total_to_pay"] == 750_000
    again = (await place(client, tenant, "o-2", "c1", [CAP], promo_codes=[voucher])).json()
    assert again["total_to_pay"] == 1_000_000


async def test_referral_rewards_both_sides_and_never_oneself(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("referral"))
    await pool(
        client, tenant, code="referral", kind="personal", shareable=True, max_uses_per_code=100
    )
    await put_customer(client, tenant, "anna")
    await put_customer(client, tenant, "boris")
    code = await issue(client, tenant, "referral", "anna")
    own = (await place(client, tenant, "o-anna", "anna", [CAP], promo_codes=[code])).json()
    assert own["discount_total"] == 0
    assert "no self-referral" in own["offers"][0]["reason"]
    friend = (await place(client, tenant, "o-boris", "boris", [CAP], promo_codes=[code])).json()
    assert friend["discount_total"] == 100_000
    anna = (await client.get("/v1/customers/anna", headers=tenant.headers)).json()
    balances = anna["balances"]
    # 3% of anna's own order (300 points) plus 500 for bringing boris
    assert balances["pending"] + balances["available"] == 300 + 500
    cancelled = await client.post("/v1/orders/o-boris/cancel", json={}, headers=tenant.headers)
    assert cancelled.status_code == 200, cancelled.text
    anna = (await client.get("/v1/customers/anna", headers=tenant.headers)).json()
    assert anna["balances"]["pending"] + anna["balances"]["available"] == 300
    assert (await verify_ledger(session, tenant_id=tenant.id)).problems == []
