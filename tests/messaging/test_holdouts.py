"""Control groups: the comparison with known numbers, and a campaign's report end to end."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from tests.messaging.smtp_sink import (
    make_email_template,
    make_subscriber,
    send_email_to,
    smtp_sink_fixture,  # noqa: F401  (the smtp_sink fixture)
)
from tonari.kit.clock import utcnow
from tonari.messaging.campaigns import CampaignCreate, create_campaign, start_campaign
from tonari.messaging.dispatcher import SessionTransactions, dispatch_due_messages
from tonari.messaging.holdouts import GroupOutcome, compare_groups, difference_interval
from tonari.messaging.rules import holdout_group


def test_conversion_difference_with_a_normal_interval() -> None:
    """6.0% of 1000 treated vs 4.0% of 1000 held out: +2 points, 95% CI [0.09, 3.91] points."""
    treated = GroupOutcome(customers=1000, converted=60, revenue=0, revenue_squares=0)
    holdout = GroupOutcome(customers=1000, converted=40, revenue=0, revenue_squares=0)
    result = compare_groups(treated, holdout)
    assert result.conversion.difference == pytest.approx(0.02)
    assert result.conversion.low == pytest.approx(0.000917, abs=1e-6)
    assert result.conversion.high == pytest.approx(0.039083, abs=1e-6)
    assert result.conversion.excludes_zero and result.comparable


def test_arpu_difference_with_welch_interval() -> None:
    """Revenue 0, 0, 100, 300 (mean 100, s² 20000) vs 0, 0, 0, 200 (mean 50, s² 10000)."""
    treated = GroupOutcome(4, 2, 400, 100**2 + 300**2)
    holdout = GroupOutcome(4, 1, 200, 200**2)
    assert treated.revenue_variance == pytest.approx(20_000)
    assert holdout.revenue_variance == pytest.approx(10_000)
    arpu = compare_groups(treated, holdout).arpu
    margin = 1.959964 * math.sqrt(20_000 / 4 + 10_000 / 4)  # 169.74
    assert arpu.difference == pytest.approx(50)
    assert (arpu.low, arpu.high) == (pytest.approx(50 - margin), pytest.approx(50 + margin))
    assert not arpu.excludes_zero, "four customers a side prove nothing"


def test_an_empty_group_gives_an_unbounded_interval() -> None:
    interval = difference_interval(1.0, 0.0, 10, 0.0, 0.0, 0)
    assert math.isinf(interval.low) and not interval.excludes_zero


async def test_campaign_report_compares_treated_and_holdout_buyers(
    client, session, tenant, smtp_sink
) -> None:
    sent_at = utcnow() - timedelta(hours=1)
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=sent_at)
    await make_email_template(session, tenant_id=tenant.id, key="sale", at=sent_at)
    ids = {}
    for n in range(30):
        ids[f"b{n}"] = await make_subscriber(
            session, tenant_id=tenant.id, external_id=f"b{n}", at=sent_at, city="Moscow"
        )
    data = CampaignCreate(
        key="sale",
        name="Sale",
        definition={"field": "city", "values": ["Moscow"]},
        template_key="sale",
        holdout_bp=5_000,
    )
    campaign = await create_campaign(session, tenant_id=tenant.id, data=data, at=sent_at)
    await start_campaign(session, tenant_id=tenant.id, key="sale", at=sent_at)
    report = await dispatch_due_messages(SessionTransactions(session), at=sent_at)
    held = {
        name for name, cid in ids.items() if holdout_group(cid, f"campaign:{campaign.id}", 5_000)
    }
    assert report.skipped == {"holdout": len(held)} and 0 < len(held) < 30
    # Three treated customers buy a 20 000 rouble kettle; one held-out customer does too.
    treated_buyers = sorted(set(ids) - held)[:3]
    holdout_buyers = sorted(held)[:1]
    for name in treated_buyers + holdout_buyers:
        placed = await client.post(
            "/v1/orders",
            json={
                "order_id": f"o-{name}",
                "customer": {"external_id": name},
                "paid": True,
                "lines": [{"product_id": "kettle", "unit_price": 2_000_000, "quantity": 1}],
            },
            headers=tenant.headers,
        )
        assert placed.status_code == 201, placed.text

    response = await client.get("/v1/campaigns/sale/report?window_days=7", headers=tenant.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    treated_n, holdout_n = 30 - len(held), len(held)
    assert body["treated"]["customers"] == treated_n and body["holdout"]["customers"] == holdout_n
    assert (body["treated"]["converted"], body["holdout"]["converted"]) == (3, 1)
    assert body["treated"]["revenue"] == 3 * 2_000_000
    assert body["treated"]["arpu"] == round(3 * 2_000_000 / treated_n)
    expected = 3 / treated_n - 1 / holdout_n
    assert body["conversion_difference"]["difference"] == pytest.approx(expected, abs=1e-4)
    assert body["conversion_difference"]["low"] < body["conversion_difference"]["high"]
    missing = await client.get("/v1/campaigns/nope/report", headers=tenant.headers)
    assert missing.status_code == 404
