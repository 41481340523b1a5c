"""The activity and temporary-points endpoints as a shop would call them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.activities.support import rules
from tonari.activities import schemas as activity_schemas
from tonari.kit.clock import utcnow


@pytest.fixture
def panasonic_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # Until the programme document carries ``activities``, the API reads them through here.
    monkeypatch.setattr(activity_schemas, "activity_rules", lambda programme: rules())


async def _customer(client, tenant) -> None:
    r = await client.put(
        "/v1/customers/ann", json={"email": "ann@example.com"}, headers=tenant.headers
    )
    assert r.status_code == 201, r.text


async def test_report_a_review_then_repeat_it(client, tenant, panasonic_rules) -> None:
    await _customer(client, tenant)
    body = {"action": "review_written", "activity_id": "rev-1", "subject": "NN-GT35"}
    first = await client.post("/v1/customers/ann/activities", json=body, headers=tenant.headers)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["rewarded"] and answer["points"] == 500 and answer["balance"] == 500
    assert answer["decisions"][0]["reason"] == "rewarded 500 points"
    again = await client.post("/v1/customers/ann/activities", json=body, headers=tenant.headers)
    assert again.status_code == 200
    assert again.json()["replayed"] is True and again.json()["balance"] == 500

    listed = await client.get("/v1/customers/ann/activities", headers=tenant.headers)
    assert listed.status_code == 200
    [row] = listed.json()["activities"]
    assert (row["activity_id"], row["points"], row["outcome"]) == ("rev-1", 500, "rewarded")


async def test_batch_of_jars_and_sections(client, tenant, panasonic_rules) -> None:
    await _customer(client, tenant)
    batch = {
        "activities": [
            {"action": "jar_returned", "activity_id": "j1", "quantity": 3},
            {"action": "jar_returned", "activity_id": "j2", "quantity": 2},
            {"action": "profile_section_completed", "activity_id": "p1", "subject": "household"},
        ]
    }
    r = await client.post("/v1/customers/ann/activities/batch", json=batch, headers=tenant.headers)
    assert r.status_code == 201, r.text
    results = r.json()["results"]
    assert [res["decisions"][0]["outcome"] for res in results] == [
        "counted",
        "rewarded",
        "rewarded",
    ]
    assert results[1]["decisions"][0]["voucher_pool"] == "free_mask"
    assert r.json()["balance"] == 300


async def test_bad_reports_get_a_4xx_naming_the_field(client, tenant, panasonic_rules) -> None:
    await _customer(client, tenant)
    cases = [
        ({"action": "social_share", "activity_id": "x"}, 422, "action"),
        ({"action": "review_written", "activity_id": "x"}, 422, "subject"),
        ({"action": "hacked", "activity_id": "x"}, 422, "action"),
        (
            {
                "action": "review_written",
                "activity_id": "x",
                "subject": "p",
                "occurred_at": (utcnow() + timedelta(days=1)).isoformat(),
            },
            422,
            "occurred_at",
        ),
    ]
    for body, status, field in cases:
        r = await client.post("/v1/customers/ann/activities", json=body, headers=tenant.headers)
        assert r.status_code == status, r.text
        assert r.json()["error"]["field"] == field
    missing = await client.post(
        "/v1/customers/nobody/activities",
        json={"action": "review_written", "activity_id": "y", "subject": "p"},
        headers=tenant.headers,
    )
    assert missing.status_code == 404


async def test_temporary_points_for_a_cart(client, tenant) -> None:
    await _customer(client, tenant)
    body = {
        "points": 200,
        "expires_in_hours": 24,
        "only_for_cart": "cart-42",
        "reason": "come back for your kettle",
        "idempotency_key": "cart-42-offer",
    }
    r = await client.post("/v1/customers/ann/temporary-points", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    assert r.json()["only_for_cart"] == "cart-42" and r.json()["available"] == 200
    again = await client.post(
        "/v1/customers/ann/temporary-points", json=body, headers=tenant.headers
    )
    assert again.status_code == 200 and again.json()["replayed"] is True
    both = await client.post(
        "/v1/customers/ann/temporary-points",
        json={**body, "expires_in_days": 1, "idempotency_key": "z"},
        headers=tenant.headers,
    )
    assert both.status_code == 422
