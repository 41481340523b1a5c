"""``POST /v1/simulations``: inline orders, the tenant's stored orders, and refusals."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import TenantFixture, panasonic_document
from tests.simulator.test_replay import HAND_COUNTED, UNTIL


async def _simulate(
    client: httpx.AsyncClient, tenant: TenantFixture, body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/v1/simulations", json=body, headers=tenant.headers)


async def test_inline_orders_give_the_hand_counted_figures(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    response = await _simulate(
        client,
        tenant,
        {
            "programme": panasonic_document(),
            "orders": HAND_COUNTED,
            "redemption": {"mode": "recorded"},
            "until": UNTIL.isoformat(),
            "margin_bp": 3_000,
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["proposal"]["points_issued"] == 6_220
    assert answer["proposal"]["points_outstanding"] == 1_250
    assert answer["proposal"]["liability_value"] == 125_000
    assert answer["baseline"]["programme"] is None
    assert answer["difference"]["programme_cost"] == 185_000
    assert answer["tier_distribution"]["proposal"][-1] == {
        "month": "2025-03",
        "tiers": {"silver": 1, "gold": 1, "premium": 0},
    }


async def test_bad_input_is_refused_with_the_field(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    bad_programme = panasonic_document(max_points_share_bp=20_000)
    response = await _simulate(client, tenant, {"programme": bad_programme, "orders": HAND_COUNTED})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "programme.max_points_share_bp"
    broken = [HAND_COUNTED[0], {**HAND_COUNTED[1], "placed_at": "soon"}]
    response = await _simulate(
        client, tenant, {"programme": panasonic_document(), "orders": broken}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "orders.1" and "placed_at" in error["message"]
    response = await _simulate(
        client,
        tenant,
        {
            "programme": panasonic_document(),
            "orders": HAND_COUNTED,
            "stored": {"since": "2024-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
        },
    )
    assert response.status_code == 422 and "not both" in response.text
    response = await _simulate(
        client,
        tenant,
        {
            "programme": panasonic_document(),
            "stored": {"since": "2030-01-01T00:00:00Z", "until": "2031-01-01T00:00:00Z"},
        },
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_orders"


async def test_stored_orders_replayed_through_the_current_programme_match_the_ledger(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """The tenant's own orders, replayed through the programme that priced them, earn exactly
    the points the API gave; a richer proposal is then priced on the same customers."""
    headers = tenant.headers
    earned = taken_back = 0
    for customer in ("c1", "c2", "c3"):
        assert (await client.put(f"/v1/customers/{customer}", json={}, headers=headers)).is_success
    for number, (customer, day, price, category) in enumerate(
        [
            ("c1", "2024-01-05", 3_000_000, "tv"),
            ("c2", "2024-01-20", 1_200_000, "promo"),
            ("c1", "2024-02-11", 2_500_000, "tv"),  # crosses Gold's 50,000 RUB
            ("c1", "2024-03-02", 1_000_000, "tv"),  # earns at Gold
            ("c3", "2024-03-15", 400_000, None),
        ]
    ):
        body = {
            "order_id": f"o{number}",
            "customer": {"external_id": customer},
            "paid": True,
            "placed_at": f"{day}T12:00:00+03:00",
            "lines": [
                {"product_id": "p", "category": category, "unit_price": price, "quantity": 1},
                {"product_id": "q", "unit_price": 100_000, "quantity": 2},
            ],
        }
        placed = await client.post("/v1/orders", json=body, headers=headers)
        assert placed.status_code == 201, placed.text
        earned += placed.json()["points_to_earn"]
    returned = await client.post(
        "/v1/orders/o3/returns",
        json={"return_id": "r1", "lines": [{"line_no": 2, "quantity": 1}],
              "returned_at": "2024-03-05T12:00:00+03:00"},
        headers=headers,
    )  # fmt: skip
    assert returned.status_code == 201, returned.text
    taken_back = returned.json()["points_taken_back"]
    stored = {"since": "2024-01-01T00:00:00+03:00", "until": "2024-04-01T00:00:00+03:00"}
    response = await _simulate(
        client,
        tenant,
        {
            "programme": panasonic_document(),
            "baseline": "current",
            "stored": stored,
            "redemption": {"mode": "recorded"},
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["proposal"]["orders"] == 5 and answer["proposal"]["customers"] == 3
    assert answer["proposal"]["points_issued"] == answer["baseline"]["points_issued"] == earned
    assert answer["proposal"]["points_taken_back"] == taken_back > 0
    assert all(value == 0 for value in answer["difference"].values())
    richer = panasonic_document(name="Richer")
    richer["tiers"] = [
        {**tier, "earn_rate_bp": tier["earn_rate_bp"] * 2} for tier in richer["tiers"]
    ]
    response = await _simulate(
        client, tenant, {"programme": richer, "baseline": "current", "stored": stored}
    )
    assert response.status_code == 200, response.text
    difference = response.json()["difference"]
    assert difference["points_issued"] > 0 and difference["programme_cost"] > 0
