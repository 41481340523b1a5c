"""GDPR export and erasure of one person: every section exported, every PII value gone after
erasure, the ledger and the aggregates unchanged, the erased source row refused on re-import."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture, make_tenant
from tonari.customers.service import get_customer
from tonari.identity.importer import ImportSummary, import_customers
from tonari.identity.merging import merge_profiles
from tonari.identity.privacy import erase_person, export_person
from tonari.identity.sources import SourceDefinition, put_source, source_definition
from tonari.kit.errors import NotFound
from tonari.models.customers import Customer
from tonari.models.identity import SourceRecord
from tonari.models.orders import Order
from tonari.models.outbox import OutboxEvent
from tonari.models.partners import PARTNER_HOLDER, PartnerAccrual, PartnerHolder

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ERASED_AT = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
PERSON = {
    "email": "anna.petrova@example.com",
    "phone": "+79161234567",
    "card_number": "CARD-771001",
    "first_name": "Anna",
    "last_name": "Petrovaova",
    "birth_date": "1987-05-04",
    "gender": "female",
    "city": "Kazan",
}
FOLDED = {"email": "anna.work@example.org", "first_name": "Annushka", "last_name": "Petrovaova"}
# Strings no export may contain once the person is erased.
SECRETS = (
    "anna.petrova",
    "anna.work",
    "9161234567",
    "CARD-771001",
    "Annushka",
    "Petrovaova",
    "1987-05-04",
    "Kazan",
    "Tverskaya",
    "cookie-anna-1",
    "shop-anna",
)
SHOP_CSV = (
    "record_id,first_name,last_name,email,phone,city,address\n"
    "shop-1,Anna,Petrovaova,anna.petrova@example.com,+79161234567,Kazan,Tverskaya 7\n"
    "shop-2,Boris,Ivanov,boris@example.com,+79031112233,Moscow,Arbat 1\n"
)


async def _import_shop(session: AsyncSession, tenant_id: int, path: Path) -> ImportSummary:
    source = await put_source(
        session, tenant_id=tenant_id, definition=SourceDefinition(name="shop", region="RU")
    )
    return await import_customers(
        session,
        tenant_id=tenant_id,
        source=source,
        definition=source_definition(source),
        path=path,
        today=date(2026, 3, 1),
    )


async def _person(
    client: Any, session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> tuple[int, int, Path]:
    """c1 with points, a paid order, an event, a shop record, and a folded profile c2."""
    headers = tenant.headers
    response = await client.put("/v1/customers/c1", json=PERSON, headers=headers)
    assert response.status_code == 201, response.text
    response = await client.put("/v1/customers/c2", json=FOLDED, headers=headers)
    assert response.status_code == 201, response.text
    grant = {"direction": "grant", "points": 700, "reason": "welcome", "idempotency_key": "g1"}
    response = await client.post("/v1/customers/c1/adjustments", json=grant, headers=headers)
    assert response.status_code == 201, response.text
    grant = {"direction": "grant", "points": 50, "reason": "welcome", "idempotency_key": "g2"}
    response = await client.post("/v1/customers/c2/adjustments", json=grant, headers=headers)
    assert response.status_code == 201, response.text
    order = {
        "order_id": "o-1",
        "customer": {"external_id": "c1"},
        "paid": True,
        "lines": [{"product_id": "kettle", "unit_price": 500_000, "quantity": 1}],
        "points_to_spend": 200,
    }
    response = await client.post("/v1/orders", json=order, headers=headers)
    assert response.status_code == 201, response.text
    event = {
        "event_id": "ev-1",
        "event_type": "login",
        "occurred_at": "2026-03-01T10:00:00+00:00",
        "customer": {"email": PERSON["email"]},
        "anonymous_id": "cookie-anna-1",
        "entity_id": "web",
        "payload": {"greeting": "Hello Annushka", "email": PERSON["email"]},
    }
    response = await client.post("/v1/events", json={"events": [event]}, headers=headers)
    assert response.status_code == 200 and response.json()["stored"] == 1, response.text
    c1 = await get_customer(session, tenant_id=tenant.id, external_id="c1")
    c2 = await get_customer(session, tenant_id=tenant.id, external_id="c2")
    live_id, folded_id = c1.id, c2.id
    path = tmp_path / "shop.csv"
    path.write_text(SHOP_CSV, encoding="utf-8")
    summary = await _import_shop(session, tenant.id, path)
    assert summary.created == 2
    await session.execute(
        update(SourceRecord)
        .where(SourceRecord.tenant_id == tenant.id, SourceRecord.record_id == "shop-1")
        .values(profile_id=live_id, home_profile_id=live_id)
    )
    await _partner_side_account(session, tenant.id, live_id)
    await merge_profiles(
        session,
        tenant_id=tenant.id,
        survivor_id=live_id,
        merged_id=folded_id,
        at=AT,
        actor="test",
        reason="same person",
    )
    return live_id, folded_id, path


async def _partner_side_account(session: AsyncSession, tenant_id: int, customer_id: int) -> None:
    """A bank's side account the person claimed, with a row credited to it before the claim
    and one credited to the person after."""
    placeholder = Customer(
        tenant_id=tenant_id, external_id="partner-holder:x", customer_type=PARTNER_HOLDER
    )
    session.add(placeholder)
    await session.flush()
    holder = PartnerHolder(
        tenant_id=tenant_id,
        holder_key=f"card:{PERSON['card_number']}",
        card_number=PERSON["card_number"],
        phone=PERSON["phone"],
        customer_id=placeholder.id,
        first_partner="bank",
        claimed_by_customer_id=customer_id,
        claimed_at=AT,
    )
    session.add(holder)
    await session.flush()
    for transaction, owner, holder_id in (
        ("tx-1", placeholder.id, holder.id),
        ("tx-2", customer_id, None),
    ):
        session.add(
            PartnerAccrual(
                tenant_id=tenant_id,
                partner_code="bank",
                transaction_id=transaction,
                card_number=PERSON["card_number"],
                phone=PERSON["phone"],
                amount=100_000,
                purchase_type="purchase",
                purchased_at=AT,
                rate_bp=10,
                points=10,
                customer_id=owner,
                holder_id=holder_id,
                source_file="bank.csv",
            )
        )
    await session.flush()


async def _ledger_mismatches(session: AsyncSession, tenant_id: int) -> list[Any]:
    """Customer accounts whose cached balance differs from the sum of their postings."""
    return list(
        await session.execute(
            text(
                "SELECT a.id FROM ledger_accounts a "
                "LEFT JOIN (SELECT account_id, "
                "  sum(amount) FILTER (WHERE bucket = 'available') AS available, "
                "  sum(amount) FILTER (WHERE bucket = 'pending') AS pending "
                "  FROM ledger_postings GROUP BY account_id) p ON p.account_id = a.id "
                "WHERE a.tenant_id = :t AND a.customer_id IS NOT NULL "
                "AND (a.available <> coalesce(p.available, 0) "
                "  OR a.pending <> coalesce(p.pending, 0))"
            ),
            {"t": tenant_id},
        )
    )


async def _snapshot(session: AsyncSession, tenant_id: int) -> dict[str, Any]:
    accounts = (
        await session.execute(
            text(
                "SELECT customer_id, pending, available, reserved, debt FROM ledger_accounts "
                "WHERE tenant_id = :t ORDER BY id"
            ),
            {"t": tenant_id},
        )
    ).all()
    postings = (
        await session.execute(
            text(
                "SELECT count(*), sum(amount), sum(abs(amount)) FROM ledger_postings "
                "WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        )
    ).one()
    orders = (
        await session.execute(
            select(Order.external_id, Order.total_regular, Order.total_paid, Order.points_spent)
            .where(Order.tenant_id == tenant_id)
            .order_by(Order.id)
        )
    ).all()
    profile = (
        await session.execute(
            select(Customer.tier_code, Customer.lifetime_spend, Customer.orders_count)
            .where(Customer.tenant_id == tenant_id, Customer.merged_into_id.is_(None))
            .order_by(Customer.id)
        )
    ).all()
    return {"accounts": accounts, "postings": postings, "orders": orders, "profile": profile}


async def test_export_holds_every_section_of_the_person(client, session, tenant, tmp_path) -> None:
    live_id, folded_id, _ = await _person(client, session, tenant, tmp_path)
    export = await export_person(session, tenant_id=tenant.id, customer_id=folded_id)
    json.dumps(export)  # JSON-ready: no dates, Decimals or rows left
    assert export["profile"]["id"] == live_id, "a folded id leads to the survivor"
    assert export["profile"]["email"] == PERSON["email"]
    assert export["profile"]["provenance"] == {}
    assert [p["id"] for p in export["folded_profiles"]] == [folded_id]
    ids = export["identifiers"]
    assert set(ids["emails"]) == {PERSON["email"], FOLDED["email"]}
    assert ids["phones"] == [PERSON["phone"]]
    assert ids["cards"] == [PERSON["card_number"]]
    assert {"c1", "c2"} <= set(ids["external_ids"])
    assert ids["anonymous_ids"] == ["cookie-anna-1"]
    records = {(r["source"], r["record_id"]): r for r in export["source_records"]}
    assert set(records) == {("api", "c1"), ("api", "c2"), ("shop", "shop-1")}
    shop = records[("shop", "shop-1")]
    assert shop["raw"]["address"] == "Tverskaya 7"
    assert shop["cleaned"]["email"] == PERSON["email"] and shop["first_seen_at"]
    [balance] = export["balances"][:1]
    assert balance["customer_id"] == live_id
    assert sum(b["available"] for b in export["balances"]) == 700 + 50 - 200
    for entry in export["ledger"]:
        assert entry["postings"], entry
    reasons = {entry["reason"] for entry in export["ledger"]}
    assert "welcome" in reasons
    assert (
        sum(lot["amount"] for lot in export["point_lots"] if lot["source"] == "adjustment") >= 750
    )
    [order] = export["orders"]
    assert order["external_id"] == "o-1" and order["total_regular"] == 500_000
    assert order["points_spent"] == 200 and len(order["lines"]) == 1 and order["returns"] == []
    [event] = export["events"]
    assert (event["event_type"], event["entity_id"]) == ("login", "web")
    assert event["payload"]["greeting"] == "Hello Annushka"
    assert event["occurred_at"].startswith("2026-03-01T10:00:00")
    assert set(export["loyalty"]) >= {
        "memberships",
        "stamps",
        "offer_applications",
        "activity_rewards",
        "codes_owned",
        "codes_redeemed",
        "partner_accruals",
    }
    [merge] = export["merges"]
    assert (merge["survivor_id"], merge["merged_id"]) == (live_id, folded_id)
    assert export["generated_at"] and "source_records" in export["about"]
    assert "Boris" not in json.dumps(export), "another person's record is not exported"


async def test_erase_removes_pii_and_keeps_the_ledger(client, session, tenant, tmp_path) -> None:
    live_id, folded_id, _ = await _person(client, session, tenant, tmp_path)
    before = await _snapshot(session, tenant.id)
    assert await _ledger_mismatches(session, tenant.id) == []
    result = await erase_person(
        session, tenant_id=tenant.id, customer_id=live_id, at=ERASED_AT, actor="dpo@brand"
    )
    assert (result.profiles, result.records, result.events, result.links) == (2, 3, 1, 1)
    assert not result.already_erased
    export = await export_person(session, tenant_id=tenant.id, customer_id=live_id)
    dumped = json.dumps(export, ensure_ascii=False)
    left = [secret for secret in SECRETS if secret.lower() in dumped.lower()]
    assert left == [], f"still in the export: {left}"
    assert '"c1"' not in dumped and '"c2"' not in dumped, "the brand's ids for them are gone"
    profile = export["profile"]
    assert profile["external_id"].startswith("erased:") and profile["erased_at"]
    assert profile["email"] is None and profile["provenance"] == {}
    assert profile["orders_count"] == 1 and profile["lifetime_spend"] > 0
    [folded] = export["folded_profiles"]
    assert folded["id"] == folded_id and folded["erased_at"] and folded["first_name"] is None
    [holder] = export["loyalty"]["partner_side_accounts"]
    assert holder["holder_key"].startswith("erased:") and holder["phone"] is None
    accruals = export["loyalty"]["partner_accruals"]
    assert [a["transaction_id"] for a in accruals] == ["tx-1", "tx-2"]
    assert all(a["card_number"] is None and a["phone"] is None for a in accruals)
    for record in export["source_records"]:
        assert record["raw"] == {} and record["flags"] == [] and record["erased_at"]
        assert all(value is None for value in record["cleaned"].values())
    assert export["events"][0]["payload"] == {} and export["events"][0]["event_type"] == "login"
    assert (
        await session.scalar(
            text("SELECT count(*) FROM anonymous_links WHERE tenant_id = :t"), {"t": tenant.id}
        )
        == 0
    )
    assert await _snapshot(session, tenant.id) == before, "ledger and aggregates unchanged"
    assert await _ledger_mismatches(session, tenant.id) == []
    boris = await session.scalar(
        select(SourceRecord.email).where(SourceRecord.record_id == "shop-2")
    )
    assert boris == "boris@example.com", "another person's record is untouched"
    [event] = (
        await session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.tenant_id == tenant.id, OutboxEvent.event_type == "profile.erased"
            )
        )
    ).all()
    assert event.payload["profile_id"] == live_id and event.payload["profiles"] == 2
    assert not any(secret.lower() in json.dumps(event.payload).lower() for secret in SECRETS)
    # The brand's id is free again and the API no longer finds the person by it.
    response = await client.get("/v1/customers/c1", headers=tenant.headers)
    assert response.status_code == 404


async def test_erased_record_is_refused_on_reimport(client, session, tenant, tmp_path) -> None:
    live_id, _, path = await _person(client, session, tenant, tmp_path)
    await erase_person(session, tenant_id=tenant.id, customer_id=live_id, at=ERASED_AT, actor="t")
    summary = await _import_shop(session, tenant.id, path)
    assert summary.erased_skipped == 1
    assert (summary.created, summary.updated) == (0, 0)
    record = (
        await session.execute(
            select(SourceRecord.raw, SourceRecord.email, SourceRecord.erased_at).where(
                SourceRecord.tenant_id == tenant.id, SourceRecord.record_id == "shop-1"
            )
        )
    ).one()
    assert record.raw == {} and record.email is None and record.erased_at is not None


async def test_second_erasure_changes_nothing(client, session, tenant, tmp_path) -> None:
    live_id, folded_id, _ = await _person(client, session, tenant, tmp_path)
    await erase_person(session, tenant_id=tenant.id, customer_id=live_id, at=ERASED_AT, actor="t")
    first = await export_person(session, tenant_id=tenant.id, customer_id=live_id)
    again = await erase_person(
        session, tenant_id=tenant.id, customer_id=folded_id, at=AT, actor="t"
    )
    assert again.already_erased
    assert (again.profiles, again.records, again.events, again.links) == (0, 0, 0, 0)
    second = await export_person(session, tenant_id=tenant.id, customer_id=live_id)
    first.pop("generated_at"), second.pop("generated_at")
    assert second == first
    erased_events = await session.scalar(
        select(func.count()).where(
            OutboxEvent.tenant_id == tenant.id, OutboxEvent.event_type == "profile.erased"
        )
    )
    assert erased_events == 1


async def test_another_tenant_cannot_export_or_erase(client, session, tenant, tmp_path) -> None:
    live_id, _, _ = await _person(client, session, tenant, tmp_path)
    other = await make_tenant(session)
    with pytest.raises(NotFound) as raised:
        await erase_person(session, tenant_id=other.id, customer_id=live_id, at=AT, actor="t")
    assert raised.value.field == "profile_id"
    with pytest.raises(NotFound):
        await export_person(session, tenant_id=other.id, customer_id=live_id)
    with pytest.raises(NotFound):
        await export_person(session, tenant_id=tenant.id, customer_id=10**12)
    email = await session.scalar(select(Customer.email).where(Customer.id == live_id))
    assert email == PERSON["email"]
