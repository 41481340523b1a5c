"""The bank's daily file: rates on top of the tier cashback, once per transaction, side accounts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.partners.support import (
    T0,
    balance_from_postings,
    bank,
    bank_file,
    customer,
    ledger_is_consistent,
    points,
    run_import,
)
from tonari.customers.service import get_customer
from tonari.models.customers import Customer
from tonari.models.outbox import OutboxEvent
from tonari.models.partners import PartnerAccrual, PartnerHolder
from tonari.orders.schemas import OrderPlace
from tonari.orders.service import place_order
from tonari.orders.tiering import reevaluate_tiers_batch
from tonari.programs.service import programme_in_force


async def _order(session, tenant_id: int, order_id: str, amount: int, at) -> dict:
    body = OrderPlace(
        order_id=order_id,
        customer={"external_id": "ann"},  # type: ignore[arg-type]
        lines=[{"product_id": "tv", "unit_price": amount, "quantity": 1}],  # type: ignore[list-item]
        paid=True,
        placed_at=at,
    )
    result, _ = await place_order(session, tenant_id=tenant_id, body=body, actor="shop", now=at)
    return result


async def test_five_percent_anywhere_and_twenty_more_on_the_brand_site(
    session, tenant, tmp_path
) -> None:
    ann = await customer(session, tenant.id, "ann", card_number="JCB-0001")
    # 150,000 roubles of purchases make Ann Premium (15% cashback) before the file's day.
    await _order(session, tenant.id, "big", 15_000_000, T0 - timedelta(days=40))
    site = await _order(session, tenant.id, "site-1", 1_000_000, T0)
    assert site["tier_after"] == "premium"
    assert site["points_to_earn"] == 1_500, "tier cashback: 15% of 10,000 roubles"

    report = await run_import(
        session,
        tenant.id,
        bank_file(
            tmp_path,
            [
                "t1,JCB-0001,,200000,anywhere,2025-03-10",  # 2,000 roubles in a café
                "t2,JCB-0001,,1000000,brand_site,2025-03-10",  # the same TV on the site
            ],
        ),
    )
    assert (report.credited, report.rejected, report.points) == (2, 0, 2_600)
    assert report.points_to_profiles == 2_600 and report.side_accounts_created == 0
    credited = dict(
        (
            await session.execute(
                select(PartnerAccrual.transaction_id, PartnerAccrual.points).where(
                    PartnerAccrual.tenant_id == tenant.id
                )
            )
        ).all()
    )
    assert credited == {"t1": 100, "t2": 2_500}, "5% anywhere; 5% + 20% on the brand's site"
    # The TV bought on the site with the card: 1,500 (tier) + 2,500 (bank) = 40% of 10,000.
    assert site["points_to_earn"] + credited["t2"] == 4_000
    assert await points(session, ann, "partner") == 2_600
    await ledger_is_consistent(session, tenant.id)


async def test_the_seeds_35_percent_when_the_site_rate_replaces_the_anywhere_rate(
    session, tenant, tmp_path
) -> None:
    await customer(session, tenant.id, "ann", card_number="JCB-0001")
    await _order(session, tenant.id, "big", 15_000_000, T0 - timedelta(days=40))
    site = await _order(session, tenant.id, "site-1", 1_000_000, T0)
    report = await run_import(
        session,
        tenant.id,
        bank_file(tmp_path, ["t2,JCB-0001,,1000000,brand_site,2025-03-10"]),
        partner=bank(brand_site_stacks_with_anywhere=False),
    )
    assert report.points == 2_000
    assert site["points_to_earn"] + report.points == 3_500, "up to 35% for Premium"


async def test_the_same_file_twice_credits_once(session, tenant, tmp_path) -> None:
    ann = await customer(session, tenant.id, "ann", phone="+7 912 345-67-89")
    path = bank_file(
        tmp_path,
        [
            "a1,,+79123456789,100000,anywhere,2025-03-09",
            "a2,,89123456789,300000,anywhere,2025-03-09T18:30:00",
            "a3,,+7 912 345 67 89,50000,brand_site,2025-03-10",
        ],
    )
    first = await run_import(session, tenant.id, path)
    assert (first.credited, first.skipped, first.points) == (3, 0, 50 + 150 + 125)
    second = await run_import(session, tenant.id, path)
    assert (second.credited, second.skipped, second.points) == (0, 3, 0)
    renamed = await run_import(session, tenant.id, bank_file(tmp_path, [], "empty.csv"))
    assert renamed.rows == 0
    assert await points(session, ann) == 325
    await ledger_is_consistent(session, tenant.id)


async def test_an_unknown_holder_gets_a_side_account_that_moves_on_registration(
    session, tenant, tmp_path
) -> None:
    report = await run_import(
        session,
        tenant.id,
        bank_file(
            tmp_path,
            [
                "n1,JCB-7777,+79001112233,400000,anywhere,2025-03-01",
                "n2,JCB-7777,,600000,brand_site,2025-03-05",
                "n3,,+79005556677,200000,anywhere,2025-03-06",
            ],
        ),
    )
    assert report.side_accounts_created == 2
    assert report.points_to_side_accounts == 200 + 1_500 + 100
    holders = (
        await session.execute(
            select(PartnerHolder.holder_key, PartnerHolder.customer_id).where(
                PartnerHolder.tenant_id == tenant.id
            )
        )
    ).all()
    placeholder = dict(holders)["card:JCB-7777"]
    assert await points(session, placeholder) == 1_700
    kinds = set(
        await session.scalars(
            select(Customer.customer_type).where(Customer.id.in_([h[1] for h in holders]))
        )
    )
    assert kinds == {"partner_holder"}
    _, programme = await programme_in_force(session, tenant_id=tenant.id, at=T0)
    await reevaluate_tiers_batch(session, tenant_id=tenant.id, programme=programme, now=T0)
    tier_events = await session.scalar(
        select(func.count())
        .select_from(OutboxEvent)
        .where(
            OutboxEvent.tenant_id == tenant.id, OutboxEvent.event_type == "customer.tier_changed"
        )
    )
    assert tier_events == 0, "side accounts make no noise in tier re-evaluation"

    # Registration by card moves the card's side account; the phone on it is not needed.
    newbie = await customer(session, tenant.id, "newbie", card_number="JCB-7777")
    assert await points(session, newbie, "partner") == 1_700
    assert await points(session, placeholder) == 0
    cached, posted = await balance_from_postings(session, newbie)
    assert cached == posted == 1_700, "the balance is the sum of the ledger"
    claimed = await session.scalar(
        select(PartnerHolder.claimed_by_customer_id).where(PartnerHolder.customer_id == placeholder)
    )
    assert claimed == newbie

    # The phone-only holder registers later; later rows for the card go straight to the profile.
    late = await customer(session, tenant.id, "late", phone="+7 900 555-66-77")
    assert await points(session, late) == 100
    later = await run_import(
        session,
        tenant.id,
        bank_file(tmp_path, ["n4,JCB-7777,,100000,anywhere,2025-03-10"], "d2.csv"),
    )
    assert later.points_to_profiles == 50
    assert await points(session, newbie) == 1_750
    await ledger_is_consistent(session, tenant.id)


async def test_bad_rows_are_reported_with_reasons_and_nothing_is_half_imported(
    session, tenant, tmp_path
) -> None:
    await customer(session, tenant.id, "ann", card_number="JCB-0001")
    await customer(session, tenant.id, "twin-1", phone="+79990001122")
    await customer(session, tenant.id, "twin-2", phone="+79990001122")
    report = await run_import(
        session,
        tenant.id,
        bank_file(
            tmp_path,
            [
                "ok1,JCB-0001,,100000,anywhere,2025-03-10",
                "b1,JCB-0002,,12.50,anywhere,2025-03-10",
                "b2,JCB-0003,,100000,anywhere,2025-13-01",
                "b3,JCB-0004,,100000,online,2025-03-10",
                "b4,,,100000,anywhere,2025-03-10",
                "b5,JCB-0005,,-500,anywhere,2025-03-10",
                "ok1,JCB-0001,,100000,anywhere,2025-03-10",
                "b6,,+79990001122,100000,anywhere,2025-03-10",
                "b7,JCB-0006,,100000,anywhere,2026-01-01",
                ",JCB-0007,,100000,anywhere,2025-03-10",
                "b8,JCB-0008,not-a-phone,100000,anywhere,2025-03-10",
            ],
        ),
    )
    reasons = {reject.row: reject.reason for reject in report.rejects}
    assert report.credited == 1 and report.points == 50
    assert sorted(reasons) == list(range(3, 13))
    assert "fraction" in reasons[3]
    assert "not a date" in reasons[4]
    assert "unknown purchase type 'online'" in reasons[5]
    assert "no card number and no phone" in reasons[6]
    assert "negative" in reasons[7]
    assert "repeats row 2" in reasons[8]
    assert "several customers" in reasons[9]
    assert "in the future" in reasons[10]
    assert "transaction_id is missing" in reasons[11]
    assert "phone" in reasons[12]
    holders = await session.scalar(
        select(func.count()).select_from(PartnerHolder).where(PartnerHolder.tenant_id == tenant.id)
    )
    assert holders == 0, "a refused row opens no side account"
    accruals = await session.scalar(
        select(func.count())
        .select_from(PartnerAccrual)
        .where(PartnerAccrual.tenant_id == tenant.id)
    )
    assert accruals == 1
    ann = await get_customer(session, tenant_id=tenant.id, external_id="ann")
    assert await points(session, ann.id) == 50
