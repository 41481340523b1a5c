"""Coalition settlement, checked by hand: who issued and accepted how many points, who owes whom."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import update

from tests.activities.support import report as report_activity
from tests.activities.support import rules as activity_rules
from tests.partners.support import bank, bank_file, customer, run_import
from tonari.customers.service import get_customer
from tonari.ledger.adjustments import AdjustmentIn, adjust_points
from tonari.models.orders import Order
from tonari.orders.changes import cancel_order
from tonari.orders.schemas import OrderPlace
from tonari.orders.service import place_order
from tonari.partners import schemas as partner_schemas
from tonari.partners.schemas import Partner
from tonari.partners.settlement import partner_settlement, period_of_days
from tonari.programs.service import programme_in_force
from tonari.tenants.service import Principal

# Svyaznoy Club: partners earn 1-14%, points are spent with any partner.
PARTNERS = [
    Partner.model_validate(
        {
            "code": "electronics",
            "name": "Electronics chain",
            "kind": "coalition_partner",
            "earn_rate_bp": 1400,
            "settlement_point_value_minor": 80,
        }
    ),
    Partner.model_validate(
        {"code": "pharmacy", "name": "Pharmacy", "kind": "coalition_partner", "earn_rate_bp": 100}
    ),
    bank(),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _order(session, tenant_id, order_id, amount, when, partner, points=0) -> dict:
    body = OrderPlace(
        order_id=order_id,
        customer={"external_id": "ann"},  # type: ignore[arg-type]
        lines=[{"product_id": "item", "unit_price": amount, "quantity": 1}],  # type: ignore[list-item]
        points_to_spend=points,
        paid=True,
        placed_at=when,
    )
    result, _ = await place_order(session, tenant_id=tenant_id, body=body, actor="pos", now=when)
    # What the order API will do once orders carry their partner.
    await session.execute(
        update(Order)
        .where(Order.tenant_id == tenant_id, Order.external_id == order_id)
        .values(partner=partner)
    )
    return result


async def _history(session, tenant_id: int, tmp_path) -> None:
    await customer(session, tenant_id, "ann", at=at("2025-01-02T10:00:00+03:00"))
    principal = Principal(tenant_id=tenant_id, actor="test", scopes=frozenset({"admin"}))
    await adjust_points(
        session,
        principal,
        external_id="ann",
        at=at("2025-01-02T10:00:00+03:00"),
        body=AdjustmentIn(direction="grant", points=1_000, reason="welcome", idempotency_key="w"),
    )
    # 10,000 roubles at the electronics chain, 1,000 roubles of it paid with points:
    # 5% Silver cashback on the 9,000 paid = 450 points issued there, 1,000 redeemed there.
    e1 = await _order(
        session, tenant_id, "e1", 1_000_000, at("2025-01-10T12:00:00+03:00"), "electronics", 1_000
    )
    assert (e1["points_applied"], e1["points_to_earn"]) == (1_000, 450)
    p1 = await _order(session, tenant_id, "p1", 20_000, at("2025-01-15T12:00:00+03:00"), "pharmacy")
    assert p1["points_to_earn"] == 10
    survey = activity_rules(
        [{"code": "survey", "action": "survey_answered", "points": 30, "partner": "pharmacy"}]
    )
    ann = await get_customer(session, tenant_id=tenant_id, external_id="ann")
    await report_activity(
        session,
        tenant_id,
        ann.id,
        "survey_answered",
        "s1",
        at=at("2025-01-16T12:00:00+03:00"),
        rule_set=survey,
    )
    await run_import(
        session,
        tenant_id,
        bank_file(tmp_path, ["b1,,+79001234567,200000,anywhere,2025-01-20"]),
        now=at("2025-01-21T09:00:00+03:00"),
    )
    # 01:00 on 1 February in Moscow is still 31 January in UTC: it belongs to February.
    await _order(session, tenant_id, "e3", 200_000, at("2025-02-01T01:00:00+03:00"), "electronics")
    await cancel_order(
        session, tenant_id=tenant_id, order_id="p1", actor="pos", at=at("2025-02-03T12:00:00+03:00")
    )


@pytest.fixture
def svyaznoy_partners(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partner_schemas, "programme_partners", lambda programme: PARTNERS)


async def test_january_settlement_by_hand(
    client, session, tenant, tmp_path, svyaznoy_partners
) -> None:
    await _history(session, tenant.id, tmp_path)
    r = await client.get(
        "/v1/partners/settlement",
        params={"from": "2025-01-01", "to": "2025-01-31"},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    lines = {line["partner"]: line for line in r.json()["partners"]}
    assert lines["electronics"] == {
        "partner": "electronics",
        "name": "Electronics chain",
        "kind": "coalition_partner",
        "point_value_minor": 80,
        "points_issued": 450,
        "points_redeemed": 1_000,
        "partner_owes": 36_000,  # 450 × 0.80 roubles
        "owed_to_partner": 80_000,  # 1,000 × 0.80 roubles
        "net": -44_000,
        "net_direction": "programme pays",
    }
    # 10 points on the pharmacy's order and 30 for the survey it runs, at 1 rouble each.
    assert (lines["pharmacy"]["points_issued"], lines["pharmacy"]["net"]) == (40, 4_000)
    # The bank: 5% of 2,000 roubles = 100 points, which it pays for.
    assert (lines["rshb"]["points_issued"], lines["rshb"]["partner_owes"]) == (100, 10_000)
    assert r.json()["totals"] == {
        "points_issued": 590,
        "points_redeemed": 1_000,
        "partner_owes": 50_000,
        "owed_to_partner": 80_000,
        "net": -30_000,
    }
    assert r.json()["currency"] == "RUB"


async def test_february_sees_the_late_order_and_the_cancellation(session, tenant, tmp_path) -> None:
    await _history(session, tenant.id, tmp_path)
    _, programme = await programme_in_force(
        session, tenant_id=tenant.id, at=at("2025-03-01T00:00:00+03:00")
    )
    start, end = period_of_days(date(2025, 2, 1), date(2025, 2, 28), programme)
    assert start == at("2025-01-31T21:00:00+00:00")
    report = await partner_settlement(
        session, tenant_id=tenant.id, partners=PARTNERS, programme=programme, start=start, end=end
    )
    lines = {line["partner"]: line for line in report["partners"]}
    assert (lines["electronics"]["points_issued"], lines["electronics"]["partner_owes"]) == (
        100,
        8_000,
    )
    # January's settled pharmacy points are taken back in February, not rewritten in January.
    assert (lines["pharmacy"]["points_issued"], lines["pharmacy"]["net"]) == (-10, -1_000)
    assert lines["rshb"]["points_issued"] == 0


async def test_a_bad_period_is_refused(client, tenant) -> None:
    r = await client.get(
        "/v1/partners/settlement",
        params={"from": "2025-02-01", "to": "2025-01-01"},
        headers=tenant.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "to"
    r = await client.get(
        "/v1/partners/settlement", params={"from": "2025-02-01"}, headers=tenant.headers
    )
    assert r.status_code == 422
