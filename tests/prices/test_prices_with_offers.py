"""A catalogue page shows the price the order will charge, offers included."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_tenant
from tests.orders.test_offers_in_orders import example
from tests.orders.test_panasonic_numbers import place, put_customer


async def test_a_bahncard_holder_sees_half_price_tickets_and_pays_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("bahncard"))
    await put_customer(client, tenant, "c1")
    card = {"product_id": "bahncard-50", "unit_price": 22_000, "quantity": 1}
    assert (await place(client, tenant, "card", "c1", [card])).status_code == 201
    ticket = {"product_id": "berlin-munich", "category": "tickets", "price": 13_990}
    response = await client.post(
        "/v1/prices",
        json={"customer": {"external_id": "c1"}, "products": [ticket]},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    item = response.json()["products"][0]
    assert item["offer_price"] == 6_995
    assert item["offers"] == ["half-price"]
    order = await place(
        client,
        tenant,
        "ride",
        "c1",
        [
            {
                "product_id": "berlin-munich",
                "category": "tickets",
                "unit_price": 13_990,
                "quantity": 1,
            }
        ],
    )
    assert order.json()["total_to_pay"] == item["offer_price"]
    anonymous = await client.post("/v1/prices", json={"products": [ticket]}, headers=tenant.headers)
    assert anonymous.json()["products"][0]["offer_price"] == 13_990
