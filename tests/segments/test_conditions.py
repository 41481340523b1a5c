"""Every family of conditions selects exactly the customers it describes, on concrete data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_tenant
from tests.segments.support import (
    AT,
    consent,
    customer,
    event,
    lot,
    matching,
    membership,
    order,
)
from tonari.models.catalog import Product

MOSCOW = ZoneInfo("Europe/Moscow")
DAY = timedelta(days=1)


async def test_profile_conditions(session: AsyncSession) -> None:
    t = (await make_tenant(session)).id
    anna = await customer(
        session,
        t,
        "anna",
        gender="female",
        city="Moscow",
        region="Moscow",
        birth_date=date(1990, 6, 3),
        registration_source="app",
        attributes={"interests": "photo", "kids": 2},
    )
    boris = await customer(
        session,
        t,
        "boris",
        gender="male",
        city="Tokyo",
        birth_date=date(2000, 2, 29),
        customer_type="employee",
    )
    await customer(session, t, "vera", gender="female", city="Kazan", birth_date=date(1986, 5, 31))
    await customer(session, t, "nobody")
    await consent(session, t, anna, "email", True)
    await consent(session, t, boris, "email", False)

    assert await matching(session, t, {"field": "gender", "values": ["female"]}) == {"anna", "vera"}
    assert await matching(session, t, {"field": "region", "values": ["Moscow"]}) == {"anna"}
    assert await matching(session, t, {"field": "customer_type", "values": ["employee"]}) == {
        "boris"
    }
    assert await matching(session, t, {"field": "registration_source", "values": ["app"]}) == {
        "anna"
    }
    # On 2026-06-01 Anna is 35 (36 on 3 June), Boris 26, Vera just turned 40.
    assert await matching(session, t, {"field": "age", "min": 30, "max": 39}) == {"anna"}
    assert await matching(session, t, {"field": "age", "min": 40}) == {"vera"}
    assert await matching(session, t, {"field": "age", "max": 26}) == {"boris"}
    # Birthday within 3 days: Anna's is on 3 June; Vera's was yesterday (next one in a year).
    assert await matching(session, t, {"field": "birthday_in_days", "days": 3}) == {"anna"}
    assert await matching(session, t, {"field": "birthday_in_days", "days": 1}) == set()
    assert await matching(session, t, {"field": "attribute", "name": "interests"}) == {"anna"}
    assert await matching(session, t, {"field": "attribute", "name": "kids", "equals": 2}) == {
        "anna"
    }
    assert (
        await matching(session, t, {"field": "attribute", "name": "interests", "equals": "cooking"})
        == set()
    )
    assert await matching(session, t, {"field": "consent", "channel": "email"}) == {"anna"}
    assert await matching(
        session, t, {"field": "consent", "channel": "email", "granted": False}
    ) == {"boris", "vera", "nobody"}
    assert await matching(
        session,
        t,
        {"all": [{"field": "gender", "values": ["female"]}, {"not": {"field": "age", "min": 36}}]},
    ) == {"anna"}


async def test_birthdays_across_the_year_end_feb_29_and_time_zones(session: AsyncSession) -> None:
    t = (await make_tenant(session)).id
    await customer(session, t, "new-year", birth_date=date(1990, 1, 1))
    await customer(session, t, "leap", birth_date=date(2000, 2, 29))
    await customer(session, t, "june", birth_date=date(1990, 6, 3))
    in3 = {"field": "birthday_in_days", "days": 3}
    assert await matching(session, t, in3, at=datetime(2026, 12, 30, 9, tzinfo=UTC)) == {"new-year"}
    # 2027 is a common year: a 29 February birthday is celebrated on the 28th.
    today = {"field": "birthday_in_days", "days": 0}
    assert await matching(session, t, today, at=datetime(2027, 2, 28, 9, tzinfo=UTC)) == {"leap"}
    assert await matching(session, t, today, at=datetime(2028, 2, 28, 9, tzinfo=UTC)) == set()
    assert await matching(session, t, today, at=datetime(2028, 2, 29, 9, tzinfo=UTC)) == {"leap"}
    assert await matching(
        session, t, {"field": "age", "min": 27}, at=datetime(2027, 2, 28, 9, tzinfo=UTC)
    ) == {"new-year", "june", "leap"}
    assert await matching(
        session, t, {"field": "age", "min": 27}, at=datetime(2027, 2, 27, 9, tzinfo=UTC)
    ) == {"new-year", "june"}
    # 22:00 UTC on 2 June is already 3 June in Moscow: the birthday is today there.
    late = datetime(2026, 6, 2, 22, tzinfo=UTC)
    assert await matching(session, t, today, at=late, zone=MOSCOW) == {"june"}
    assert await matching(session, t, today, at=late) == set()


async def test_behaviour_conditions(session: AsyncSession) -> None:
    t = (await make_tenant(session)).id
    session.add(
        Product(tenant_id=t, product_id="kettle", name="Kettle", category="kitchen", price=1)
    )
    session.add(
        Product(tenant_id=t, product_id="charger", name="Charger", category="photo", price=1)
    )
    anna = await customer(session, t, "anna", last_purchase_at=AT - 10 * DAY, orders_count=2)
    boris = await customer(session, t, "boris", last_purchase_at=AT - 200 * DAY, orders_count=1)
    vera = await customer(session, t, "vera")
    await customer(session, t, "dora", created_at=AT - 400 * DAY)
    await order(session, t, anna, placed_at=AT - 10 * DAY, net_spend=300_000)
    await order(
        session, t, anna, placed_at=AT - 100 * DAY, net_spend=50_000, lines=[("cam", "photo")]
    )
    await order(session, t, boris, placed_at=AT - 200 * DAY, net_spend=70_000)
    await order(session, t, boris, placed_at=AT - 5 * DAY, status="cancelled")
    for _ in range(2):
        await event(session, t, anna, "product_viewed", at=AT - DAY, entity_id="camera-1")
    await event(session, t, boris, "product_viewed", at=AT - 40 * DAY, entity_id="camera-1")
    await event(session, t, vera, "wishlist_added", at=AT - 5 * DAY, entity_id="charger")
    await event(session, t, boris, "wishlist_added", at=AT - 5 * DAY, entity_id="kettle")
    await event(session, t, boris, "wishlist_removed", at=AT - 2 * DAY, entity_id="kettle")
    await event(session, t, vera, "cart_updated", at=AT - timedelta(hours=3), entity_id="c1")
    await event(session, t, anna, "cart_updated", at=AT - 20 * DAY, entity_id="c0")
    await event(session, t, anna, "email_opened", at=AT - 2 * DAY, entity_id="news-1")

    async def m(definition: dict) -> set[str]:
        return await matching(session, t, definition)

    assert await m({"field": "orders_count", "days": 30, "min": 1}) == {"anna"}
    assert await m({"field": "orders_count", "days": 365, "min": 2}) == {"anna"}
    assert await m({"field": "orders_count", "days": 30, "max": 0}) == {"boris", "vera", "dora"}
    assert await m({"field": "orders_count", "min": 1}) == {"anna", "boris"}
    assert await m({"field": "spend", "days": 365, "min": 350_000}) == {"anna"}
    assert await m({"field": "spend", "days": 365, "min": 1, "max": 100_000}) == {"boris"}
    assert await m({"field": "bought", "categories": ["photo"]}) == {"anna"}
    assert await m({"field": "bought", "categories": ["kitchen"], "days": 5}) == set()
    assert await m({"field": "bought", "products": ["kettle"], "days": 30}) == {"anna"}
    assert await m({"field": "viewed", "days": 7}) == {"anna"}
    assert await m({"field": "viewed", "days": 7, "min": 3}) == set()
    assert await m({"field": "viewed", "days": 60, "products": ["camera-1"]}) == {"anna", "boris"}
    assert await m({"field": "wishlist", "categories": ["photo"]}) == {"vera"}
    assert await m({"field": "wishlist", "products": ["kettle"]}) == set()
    assert await m({"field": "wishlist", "products": ["charger", "kettle"]}) == {"vera"}
    assert await m({"field": "cart", "min_age_minutes": 120}) == {"vera"}
    assert await m({"field": "cart", "min_age_minutes": 0, "max_age_minutes": 60}) == set()
    assert await m({"field": "email", "action": "opened", "days": 7}) == {"anna"}
    assert await m({"field": "email", "action": "clicked", "days": 7}) == set()
    assert await m({"field": "email", "action": "opened", "days": 30, "min": 0, "max": 0}) == {
        "boris",
        "vera",
        "dora",
    }
    assert await m({"field": "last_purchase", "more_than_days": 90}) == {"boris"}
    assert await m({"field": "last_purchase", "more_than_days": 90, "or_never": True}) == {
        "boris",
        "vera",
        "dora",
    }
    assert await m({"field": "last_purchase", "within_days": 30}) == {"anna"}
    assert await m({"field": "last_activity", "within_days": 3}) == {"anna", "boris", "vera"}
    assert await m({"field": "last_activity", "more_than_days": 30}) == {"dora"}


async def test_loyalty_conditions(session: AsyncSession) -> None:
    t = (await make_tenant(session)).id
    anna = await customer(session, t, "anna", tier_code="gold")
    boris = await customer(session, t, "boris", tier_code="silver")
    await customer(session, t, "vera", tier_code="silver")
    await lot(session, t, anna, points=2_000, expires_at=AT + 5 * DAY)
    await lot(session, t, anna, points=3_000, expires_at=AT + 60 * DAY)
    await lot(session, t, boris, points=100, expires_at=AT + 20 * DAY)
    await membership(session, t, anna, "club", AT - 10 * DAY, AT + 20 * DAY)
    await membership(session, t, boris, "club", AT + 5 * DAY, AT + 35 * DAY)

    async def m(definition: dict) -> set[str]:
        return await matching(session, t, definition)

    assert await m({"field": "tier", "values": ["gold", "premium"]}) == {"anna"}
    assert await m({"field": "balance", "min": 1_000}) == {"anna"}
    assert await m({"field": "balance", "max": 500}) == {"boris", "vera"}
    assert await m({"field": "points_expiring", "within_days": 7}) == {"anna"}
    assert await m({"field": "points_expiring", "within_days": 7, "min": 2_500}) == set()
    assert await m({"field": "points_expiring", "within_days": 30}) == {"anna", "boris"}
    assert await m({"field": "membership"}) == {"anna"}
    assert await m({"field": "membership", "codes": ["vip"]}) == set()


async def test_rfm_quintiles(session: AsyncSession) -> None:
    t = (await make_tenant(session)).id
    # Ten buyers: b0 bought longest ago, least often, least; b9 the most recent, most, most.
    for n in range(10):
        await customer(
            session,
            t,
            f"b{n}",
            last_purchase_at=AT - (100 - n) * DAY,
            orders_count=n + 1,
            lifetime_spend=(n + 1) * 10_000 if n != 9 else 1,
        )
    await customer(session, t, "never")

    async def m(definition: dict) -> set[str]:
        return await matching(session, t, {"field": "rfm", **definition})

    assert await m({"recency": [5]}) == {"b8", "b9"}
    assert await m({"recency": [1]}) == {"b0", "b1"}
    assert await m({"frequency": [4, 5]}) == {"b6", "b7", "b8", "b9"}
    # b9 spent almost nothing: bottom monetary quintile despite the rest.
    assert await m({"recency": [5], "monetary": [1]}) == {"b9"}
    assert await m({"monetary": [5]}) == {"b7", "b8"}
