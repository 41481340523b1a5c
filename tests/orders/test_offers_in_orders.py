"""Offers through the order API: what they leave behind, and what cancel and return undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture, make_tenant, panasonic_document
from tests.orders.test_panasonic_numbers import place, put_customer
from tonari.models.offers import Membership, OfferApplication, StampMovement
from tonari.programs.service import load_programme_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "programmes"


def example(name: str) -> dict[str, Any]:
    return load_programme_file(EXAMPLES / f"{name}.yaml")


async def stamps_of(session: AsyncSession, tenant: TenantFixture) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(StampMovement.delta), 0)).where(
            StampMovement.tenant_id == tenant.id
        )
    )
    return int(total or 0)


LENSES = {"product_id": "acuvue", "category": "lenses", "unit_price": 300_000, "quantity": 1}


async def test_lensmaster_ten_stamps_then_a_free_pair_and_cancel_gives_them_back(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("lensmaster"))
    await put_customer(client, tenant, "c1")
    for n in range(10):
        response = await place(client, tenant, f"o-{n}", "c1", [LENSES])
        assert response.status_code == 201, response.text
        assert response.json()["total_to_pay"] == 300_000
    assert await stamps_of(session, tenant) == 10
    response = await place(client, tenant, "o-free", "c1", [LENSES])
    free = response.json()
    assert free["total_to_pay"] == 0
    assert free["stamps"] == {"lenses": -10}
    assert await stamps_of(session, tenant) == 0
    cancelled = await client.post("/v1/orders/o-free/cancel", json={}, headers=tenant.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert await stamps_of(session, tenant) == 10
    again = await place(client, tenant, "o-free-2", "c1", [LENSES])
    assert again.json()["total_to_pay"] == 0


async def test_gap_card_comes_with_the_first_1500_and_serves_the_next_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("gap"))
    await put_customer(client, tenant, "c1")
    jeans = {"product_id": "jeans", "unit_price": 150_000, "quantity": 1}
    first = (await place(client, tenant, "o-1", "c1", [jeans])).json()
    assert first["discount_total"] == 0
    assert [i["name"] for i in first["issued"]] == ["gap-card"]
    second = (await place(client, tenant, "o-2", "c1", [jeans])).json()
    assert second["discount_total"] == 7_500
    assert second["total_to_pay"] == 142_500
    cancelled = await client.post("/v1/orders/o-1/cancel", json={}, headers=tenant.headers)
    assert cancelled.status_code == 200
    active = await session.scalar(
        select(func.count()).where(
            Membership.tenant_id == tenant.id, Membership.cancelled_at.is_(None)
        )
    )
    assert active == 0


async def test_a_once_per_customer_offer_counts_and_cancel_frees_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    document = panasonic_document()
    document["offers"] = [
        {
            "code": "welcome",
            "name": "10% off once",
            "limits": {"per_customer": 1},
            "effects": [{"type": "discount_percent", "percent_bp": 1_000}],
        }
    ]
    tenant = await make_tenant(session, programme=document)
    await put_customer(client, tenant, "c1")
    tv = {"product_id": "tv", "unit_price": 100_000, "quantity": 1}
    assert (await place(client, tenant, "o-1", "c1", [tv])).json()["discount_total"] == 10_000
    second = (await place(client, tenant, "o-2", "c1", [tv])).json()
    assert second["discount_total"] == 0
    assert "limit 1 per customer" in second["offers"][0]["reason"]
    await client.post("/v1/orders/o-1/cancel", json={}, headers=tenant.headers)
    assert (await place(client, tenant, "o-3", "c1", [tv])).json()["discount_total"] == 10_000
    rows = await session.scalar(
        select(func.count()).where(
            OfferApplication.tenant_id == tenant.id, OfferApplication.reversed_at.is_(None)
        )
    )
    assert rows == 1  # o-1's was reversed, o-2 received nothing, o-3 holds it


async def test_a_partial_return_undoes_exactly_the_returned_units(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    document = panasonic_document()
    document["offers"] = [
        {
            "code": "kettles",
            "name": "20% off kettles",
            "effects": [
                {"type": "discount_percent", "percent_bp": 2_000, "filter": {"categories": ["k"]}}
            ],
        }
    ]
    tenant = await make_tenant(session, programme=document)
    await put_customer(client, tenant, "c1")
    lines = [
        {"product_id": "kettle", "category": "k", "unit_price": 50_000, "quantity": 2},
        {"product_id": "cable", "unit_price": 10_000, "quantity": 1},
    ]
    order = (await place(client, tenant, "o-1", "c1", lines)).json()
    assert [ln["discount"] for ln in order["lines"]] == [20_000, 0]
    assert order["lines"][0]["points_to_earn"] == 40  # 5% of 800 roubles
    response = await client.post(
        "/v1/orders/o-1/returns",
        json={"return_id": "r-1", "lines": [{"line_no": 1, "quantity": 1}]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    returned = response.json()
    assert returned["refund"] == 40_000  # one kettle at its discounted price
    assert returned["spend_reduction"] == 40_000
    assert returned["points_taken_back"] == 20
    profile = (await client.get("/v1/customers/c1", headers=tenant.headers)).json()
    assert profile["lifetime_spend"] == 90_000 - 40_000


async def test_calculate_explains_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("lensmaster"))
    await put_customer(client, tenant, "c1")
    response = await client.post(
        "/v1/orders/calculate",
        json={"customer": {"external_id": "c1"}, "lines": [LENSES]},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    reasons = {item["offer"]: item for item in body["offers"]}
    assert reasons["free-pair"]["applied"] is False
    assert reasons["free-pair"]["reason"] == "0 of 10 stamps on lenses"
    assert reasons["stamp"]["applied"] is True
    assert await stamps_of(session, tenant) == 0


async def test_a_malformed_offer_is_refused_with_its_field(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    document = panasonic_document()
    document["offers"] = [
        {
            "code": "bad",
            "name": "bad",
            "effects": [{"type": "buy_x_get_y", "buy": 0, "get": 1}],
        }
    ]
    response = await client.post(
        "/v1/programmes", json={"document": document}, headers=tenant.headers
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "offers.0.effects.0.buy_x_get_y.buy"
    current = await client.get("/v1/programmes/current", headers=tenant.headers)
    assert current.json()["version"] == 1


async def test_prime_renewal_extends_the_year_and_expiry_ends_the_perks(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("amazon_prime"))
    await put_customer(client, tenant, "c1")
    prime = {"product_id": "prime-annual", "unit_price": 9_900, "quantity": 1}
    deal = {"product_id": "tv", "category": "deals", "unit_price": 50_000, "quantity": 1}

    async def buy(order_id: str, line: dict[str, Any], when: str) -> dict[str, Any]:
        response = await place(client, tenant, order_id, "c1", [line], placed_at=when)
        assert response.status_code == 201, response.text
        return response.json()

    await buy("signup", prime, "2026-01-10T12:00:00-05:00")
    assert (await buy("deal-1", deal, "2026-07-01T12:00:00-04:00"))["discount_total"] == 2_500
    await buy("renewal", prime, "2026-11-01T12:00:00-05:00")
    profile = (await client.get("/v1/customers/c1", headers=tenant.headers)).json()
    assert [m["ends_at"][:10] for m in profile["memberships"]] == ["2027-01-10", "2028-01-10"]
    assert (await buy("deal-2", deal, "2027-06-01T12:00:00-04:00"))["discount_total"] == 2_500


async def test_prime_lapses_after_a_year(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await make_tenant(session, programme=example("amazon_prime"))
    await put_customer(client, tenant, "c1")
    prime = {"product_id": "prime-annual", "unit_price": 9_900, "quantity": 1}
    deal = {"product_id": "tv", "category": "deals", "unit_price": 50_000, "quantity": 1}
    await place(client, tenant, "signup", "c1", [prime], placed_at="2026-01-10T12:00:00-05:00")
    late = await place(client, tenant, "late", "c1", [deal], placed_at="2027-01-11T12:00:00-05:00")
    assert late.json()["discount_total"] == 0


async def test_offer_types_are_listed_with_their_parameters(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    response = await client.get("/v1/programmes/offer-types", headers=tenant.headers)
    assert response.status_code == 200
    body = response.json()
    assert {"cart_subtotal", "birthday", "promo_code", "membership"} <= set(body["conditions"])
    assert {"buy_x_get_y", "earn_rate", "add_stamps", "issue_code"} <= set(body["effects"])
    buy = body["effects"]["buy_x_get_y"]
    assert "buy 2 get the 3rd free" in buy["description"]
    assert buy["parameters"]["properties"]["buy"]["minimum"] == 1


async def test_returning_one_pair_takes_back_exactly_its_stamp(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await make_tenant(session, programme=example("lensmaster"))
    await put_customer(client, tenant, "c1")
    pairs = [
        {"product_id": "acuvue", "category": "lenses", "unit_price": 300_000, "quantity": 3},
        {"product_id": "biofinity", "category": "lenses", "unit_price": 200_000, "quantity": 2},
    ]
    order = (await place(client, tenant, "o-1", "c1", pairs)).json()
    assert order["stamps"] == {"lenses": 5}

    async def give_back(return_id: str, line_no: int, quantity: int) -> None:
        response = await client.post(
            "/v1/orders/o-1/returns",
            json={"return_id": return_id, "lines": [{"line_no": line_no, "quantity": quantity}]},
            headers=tenant.headers,
        )
        assert response.status_code == 201, response.text

    await give_back("r-1", 1, 1)
    assert await stamps_of(session, tenant) == 4
    await give_back("r-2", 2, 2)
    assert await stamps_of(session, tenant) == 2
    await give_back("r-3", 1, 2)
    assert await stamps_of(session, tenant) == 0, "a full return leaves the card as before"
    profile = (await client.get("/v1/customers/c1", headers=tenant.headers)).json()
    assert profile["stamps"] == {"lenses": 0}
