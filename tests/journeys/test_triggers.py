"""Each shipped trigger end to end: enable, real events/orders/dates, real SMTP, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tests.journeys.support import (
    T0,
    dates,
    deliver,
    enable,
    instances,
    mail_to_sink,
    post_event,
    react,
    sends,
    subscriber,
    text_of,
    tick,
)
from tests.messaging.smtp_sink import smtp_sink_fixture  # noqa: F401  (the smtp_sink fixture)
from tonari.models.customers import Customer


async def _setup(client, session, tenant, sink, template: str, *people: str) -> dict[str, int]:
    await mail_to_sink(session, sink, tenant)
    await enable(client, tenant, template)
    ids = {}
    for person in people:
        ids[person] = await subscriber(
            session,
            tenant,
            person,
            email_address=f"{person}@mail.example",
            first_name=person.capitalize(),
        )
    return ids


async def _profile(client, tenant, external_id: str, **fields) -> None:
    response = await client.put(f"/v1/customers/{external_id}", json=fields, headers=tenant.headers)
    assert response.status_code in (200, 201), response.text


async def _send_all(session, at) -> None:
    await tick(session, at)
    await deliver(session, at)


async def test_abandoned_product_view_reminds_once(client, session, tenant, smtp_sink) -> None:
    await _setup(client, session, tenant, smtp_sink, "abandoned_view", "anna")
    for minutes in (0, 5):  # viewed twice: one instance for the product
        await post_event(
            client,
            tenant,
            event_type="product_viewed",
            customer="anna",
            entity_id="DC-S5",
            at=T0 + timedelta(minutes=minutes),
        )
    await react(session, T0 + timedelta(minutes=5))
    await _send_all(session, T0 + timedelta(hours=2))
    assert smtp_sink.messages == []
    await _send_all(session, T0 + timedelta(hours=3, minutes=1))
    await _send_all(session, T0 + timedelta(hours=4))
    smtp_sink.wait_for(1)
    [letter] = smtp_sink.to("anna@mail.example")
    assert letter["Subject"] == "Still thinking it over, Anna?"
    assert "You have 0 points (Silver)" in text_of(letter)
    assert len(smtp_sink.messages) == 1


async def test_putting_the_product_in_the_cart_cancels_the_view_reminder(
    client, session, tenant, smtp_sink
) -> None:
    await _setup(client, session, tenant, smtp_sink, "abandoned_view", "anna")
    await post_event(
        client, tenant, event_type="product_viewed", customer="anna", entity_id="DC-S5", at=T0
    )
    await post_event(
        client,
        tenant,
        event_type="added_to_cart",
        customer="anna",
        entity_id="DC-S5",
        at=T0 + timedelta(minutes=30),
    )
    await react(session, T0 + timedelta(minutes=30))
    await _send_all(session, T0 + timedelta(hours=4))
    assert [i.status for i in await instances(session, tenant.id)] == ["completed"]
    assert smtp_sink.messages == []


async def test_points_expiry_reminder_seven_days_ahead(client, session, tenant, smtp_sink) -> None:
    await _setup(client, session, tenant, smtp_sink, "points_expiry", "anna")
    grant = await client.post(
        "/v1/customers/anna/adjustments",
        json={
            "direction": "grant",
            "points": 1_200,
            "reason": "gift",
            "idempotency_key": "g1",
            "expires_at": (T0 + timedelta(days=7)).isoformat(),
        },
        headers=tenant.headers,
    )
    assert grant.status_code == 201, grant.text
    assert await dates(session, T0) == 1
    assert await dates(session, T0 + timedelta(hours=1)) == 0, "the same date enters once"
    await _send_all(session, T0)
    smtp_sink.wait_for(1)
    [letter] = smtp_sink.to("anna@mail.example")
    assert letter["Subject"] == "1200 of your points expire on 2026-03-17"
    assert "(7 days left)" in text_of(letter)
    await _send_all(session, T0 + timedelta(days=1))
    assert len(smtp_sink.messages) == 1


async def test_welcome_chain_lists_points_per_profile_section(
    client, session, tenant, smtp_sink
) -> None:
    await _setup(client, session, tenant, smtp_sink, "welcome", "anna")
    await react(session, T0)  # customer.registered
    await deliver(session, T0)
    smtp_sink.wait_for(1)
    [welcome] = smtp_sink.to("anna@mail.example")
    assert welcome["Subject"] == "Welcome to the club, Anna"
    body = text_of(welcome)
    assert "earn up to 800 points" in body
    for line in (
        "contacts: 100 points",
        "family: 200 points",
        "interests: 200 points",
        "kitchen: 300 points",
    ):
        assert line in body
    # Three days later at 10:00 Moscow time (07:00 UTC): the reminder.
    await _send_all(session, T0 + timedelta(days=2, hours=20))
    assert len(smtp_sink.messages) == 1
    reminder_at = T0.replace(day=13, hour=7)
    await _send_all(session, reminder_at)
    smtp_sink.wait_for(2)
    assert smtp_sink.messages[1]["Subject"] == "800 points are waiting for your profile"
    [instance] = await instances(session, tenant.id)
    assert instance.status == "completed"


async def test_birthday_greeting_at_ten_local_once_a_year(
    client, session, tenant, smtp_sink
) -> None:
    await _setup(client, session, tenant, smtp_sink, "birthday", "anna", "oleg")
    await _profile(client, tenant, "anna", birth_date="1990-03-11", time_zone="Asia/Vladivostok")
    await _profile(client, tenant, "oleg", birth_date="1985-07-01")
    # 2026-03-10 09:00 UTC is 19:00 in Vladivostok: her birthday (tomorrow) is scheduled for
    # 10:00 there, 00:00 UTC on the 11th.
    assert await dates(session, T0) == 1
    await _send_all(session, T0 + timedelta(hours=14, minutes=59))
    assert smtp_sink.messages == []
    await _send_all(session, T0 + timedelta(hours=15))
    smtp_sink.wait_for(1)
    [letter] = smtp_sink.to("anna@mail.example")
    assert letter["Subject"] == "Happy birthday, Anna!"
    assert await dates(session, T0 + timedelta(hours=16)) == 0
    [instance] = await instances(session, tenant.id)
    assert instance.entity_key == "birthday:2026"
    await _send_all(session, T0 + timedelta(days=1))
    assert len(smtp_sink.messages) == 1


async def test_a_29_february_birthday_is_greeted_on_the_28th_in_other_years(
    client, session, tenant, smtp_sink
) -> None:
    await _setup(client, session, tenant, smtp_sink, "birthday", "anna")
    await _profile(client, tenant, "anna", birth_date="2000-02-29", time_zone="Europe/Moscow")
    # 2027 has no 29 February: on the 27th (13:00 in Moscow) the 28th is tomorrow.
    assert await dates(session, datetime(2027, 2, 27, 10, 0, tzinfo=UTC)) == 1
    [instance] = await instances(session, tenant.id)
    assert (instance.entity_key, instance.state["date"]) == ("birthday:2027", "2027-02-28")
    # 2028 has one: the 28th is not her birthday, the 29th is.
    assert await dates(session, datetime(2028, 2, 27, 10, 0, tzinfo=UTC)) == 0
    assert await dates(session, datetime(2028, 2, 28, 10, 0, tzinfo=UTC)) == 1
    dates_entered = sorted(i.state["date"] for i in await instances(session, tenant.id))
    assert dates_entered == ["2027-02-28", "2028-02-29"]


async def test_tier_change_notice(client, session, tenant, smtp_sink) -> None:
    await _setup(client, session, tenant, smtp_sink, "tier_change", "anna")
    order = await client.post(
        "/v1/orders",
        json={
            "order_id": "big-1",
            "customer": {"external_id": "anna"},
            "paid": True,
            "lines": [{"product_id": "DC-S5", "unit_price": 6_000_000, "quantity": 1}],
        },
        headers=tenant.headers,
    )
    assert order.status_code == 201, order.text
    await react(session, T0)
    await deliver(session, T0)
    smtp_sink.wait_for(1)
    [letter] = smtp_sink.to("anna@mail.example")
    assert letter["Subject"] == "You are now Gold"
    body = text_of(letter)
    assert "every purchase earns 10% back in points" in body
    assert "reach Premium" in body
    await react(session, T0)
    await deliver(session, T0 + timedelta(minutes=1))
    assert len(smtp_sink.messages) == 1


async def test_reactivation_letters_differ_for_women_and_men(
    client, session, tenant, smtp_sink
) -> None:
    await _setup(client, session, tenant, smtp_sink, "reactivation", "anna", "oleg", "ivan")
    await _profile(client, tenant, "anna", gender="female")
    await _profile(client, tenant, "oleg", gender="male")
    await _profile(client, tenant, "ivan", gender="male")
    for person in ("anna", "oleg", "ivan"):
        response = await client.post(
            "/v1/orders",
            json={
                "order_id": f"o-{person}",
                "customer": {"external_id": person},
                "paid": True,
                "lines": [{"product_id": "p1", "unit_price": 100_000, "quantity": 1}],
            },
            headers=tenant.headers,
        )
        assert response.status_code == 201, response.text
    await react(session, T0)
    # Ivan comes back after 60 days: his run starts again, no letter for him at day 90.
    again = await client.post(
        "/v1/orders",
        json={
            "order_id": "o-ivan-2",
            "customer": {"external_id": "ivan"},
            "paid": True,
            "lines": [{"product_id": "p1", "unit_price": 100_000, "quantity": 1}],
        },
        headers=tenant.headers,
    )
    assert again.status_code == 201
    await react(session, T0 + timedelta(days=60))
    await _send_all(session, T0 + timedelta(days=90, minutes=1))
    smtp_sink.wait_for(2)
    [women] = smtp_sink.to("anna@mail.example")
    [men] = smtp_sink.to("oleg@mail.example")
    assert women["Subject"] == "Anna, we picked something for you"
    assert men["Subject"] == "Oleg, new gear is in"
    assert smtp_sink.to("ivan@mail.example") == []
    runs = {(i.customer_id, i.run): i.status for i in await instances(session, tenant.id)}
    assert sorted(runs.values()) == ["completed", "waiting", "waiting", "waiting"]


async def test_wishlist_kitchen_sale_and_photo_gear_with_a_promo_code(
    client, session, tenant, smtp_sink
) -> None:
    await _setup(client, session, tenant, smtp_sink, "wishlist_category", "anna", "oleg")
    products = await client.put(
        "/v1/products",
        json={
            "products": [
                {
                    "product_id": "NN-ST34HMZPE",
                    "name": "Microwave oven NN-ST34H",
                    "price": 899_000,
                    "category": "kitchen",
                },
                {
                    "product_id": "DMW-BLK22",
                    "name": "Battery DMW-BLK22",
                    "price": 699_000,
                    "category": "photo",
                },
            ]
        },
        headers=tenant.headers,
    )
    assert products.status_code == 200, products.text
    pool = await client.post(
        "/v1/code-pools",
        json={"code": "photo-gear", "name": "Photo gear", "kind": "personal", "valid_days": 30},
        headers=tenant.headers,
    )
    assert pool.status_code == 201, pool.text
    await post_event(
        client,
        tenant,
        event_type="wishlist_added",
        customer="anna",
        entity_id="NN-ST34HMZPE",
        at=T0,
        payload={"product_id": "NN-ST34HMZPE"},
    )
    await post_event(
        client,
        tenant,
        event_type="wishlist_added",
        customer="oleg",
        entity_id="DMW-BLK22",
        at=T0,
        payload={"product_id": "DMW-BLK22"},
    )
    await react(session, T0)
    await deliver(session, T0)
    smtp_sink.wait_for(2)
    [kitchen] = smtp_sink.to("anna@mail.example")
    assert kitchen["Subject"] == "Kitchen sale: your wishlist is on offer"
    assert "Microwave oven NN-ST34H" in text_of(kitchen)
    [photo] = smtp_sink.to("oleg@mail.example")
    [oleg] = [i for i in await instances(session, tenant.id) if i.state.get("promo_code")]
    code = oleg.state["promo_code"]
    assert photo["Subject"] == f"Photo gear for you: code {code}"
    assert "up to 50% of the price with points" in text_of(photo)
    assert "Battery DMW-BLK22" in text_of(photo)


async def test_news_digest_weekly_for_customers_with_interests(
    client, session, tenant, smtp_sink
) -> None:
    ids = await _setup(client, session, tenant, smtp_sink, "news_digest", "anna", "oleg")
    await session.execute(
        update(Customer).where(Customer.id == ids["anna"]).values(attributes={"interests": "photo"})
    )
    await react(session, T0)
    # Six days, then 10:00 Moscow (07:00 UTC) on the 17th; again a week later.
    first = T0.replace(day=17, hour=7)
    await _send_all(session, T0 + timedelta(days=6, minutes=1))
    await _send_all(session, first)
    smtp_sink.wait_for(1)
    [digest] = smtp_sink.to("anna@mail.example")
    assert digest["Subject"] == "This week in photo"
    await _send_all(session, first + timedelta(days=6, minutes=1))
    await _send_all(session, first + timedelta(days=7))
    smtp_sink.wait_for(2)
    assert len(smtp_sink.to("anna@mail.example")) == 2
    assert smtp_sink.to("oleg@mail.example") == []
    keys = [m.step_key for m in await sends(session, tenant.id)]
    assert keys == ["digest", "digest#2"]
