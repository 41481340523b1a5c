"""Panasonic's contest prizes: certificates of 5,000 and 10,000 points, credited once."""

from __future__ import annotations

import httpx

from tests.factories import TenantFixture
from tests.orders.test_codes_at_checkout import issue, pool
from tests.orders.test_panasonic_numbers import put_customer


async def test_contest_certificates_credit_5000_and_10000_points_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await pool(client, tenant, code="contest-5000", kind="bonus", value_points=5_000)
    await pool(client, tenant, code="contest-10000", kind="bonus", value_points=10_000)
    await put_customer(client, tenant, "winner")
    for prize in ("contest-5000", "contest-10000"):
        certificate = await issue(client, tenant, prize, "winner")
        first = await client.post(
            f"/v1/codes/{certificate}/redeem", json={"customer": "winner"}, headers=tenant.headers
        )
        assert first.status_code == 201, first.text
        again = await client.post(
            f"/v1/codes/{certificate}/redeem", json={"customer": "winner"}, headers=tenant.headers
        )
        assert again.status_code == 200, again.text
    profile = (await client.get("/v1/customers/winner", headers=tenant.headers)).json()
    assert profile["balances"]["available"] == 15_000
