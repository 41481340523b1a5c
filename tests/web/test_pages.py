"""Every page renders the right numbers from data the test makes through the real services."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import func, select, update

from tests.messaging.smtp_sink import make_email_template
from tests.web.support import Panel, data_values, section
from tonari.kit.clock import utcnow
from tonari.models.customers import Customer
from tonari.models.journeys import Journey
from tonari.models.messaging import MessageSend
from tonari.models.orders import Order

MOSCOW = "field: city\nvalues: [Moscow]\n"


async def _customers_and_orders(client, headers) -> dict[str, int]:
    """Three customers (two in Moscow), a grant of 1,000 points to c1 and one order of c1."""
    for external_id, city, email in (
        ("c1", "Moscow", "anna@a.example"),
        ("c2", "Moscow", "boris@a.example"),
        ("c3", "Kazan", "vera@a.example"),
    ):
        r = await client.put(
            f"/v1/customers/{external_id}",
            json={"email": email, "city": city, "first_name": external_id.upper()},
            headers=headers,
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/customers/c1/adjustments",
        json={
            "direction": "grant",
            "points": 1_000,
            "reason": "welcome gift",
            "idempotency_key": "g",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/orders",
        json={
            "order_id": "o1",
            "customer": {"external_id": "c1"},
            "paid": True,
            "lines": [{"product_id": "p1", "unit_price": 100_000, "quantity": 2}],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    order = (await client.get("/v1/orders/o1", headers=headers)).json()
    return {"total_paid": order["total_paid"], "points_earned": order["points_earned"]}


async def test_dashboard_shows_todays_sales_customers_and_points(panel: Panel, client, tenant):
    made = await _customers_and_orders(client, tenant.headers)
    page = await panel.get("/panel/")
    assert page.status_code == 200, page.text
    html = page.text
    assert '<dd id="total-customers">3</dd>' in html
    assert '<dd id="total-members">3</dd>' in html, "every API customer is enrolled with a tier"
    points = made["points_earned"] + 1_000
    assert f'<dd id="total-points">{points:,}</dd>' in html
    sales = data_values(section(html, "sales"))
    assert len(sales) == 30 and sales[-1] == made["total_paid"] / 100 and sum(sales[:-1]) == 0
    assert data_values(section(html, "new-customers"))[-1] == 3
    issued, spent = (
        data_values(section(html, "points"), "point")[:30],
        data_values(section(html, "points"), "point")[30:],
    )
    assert issued[-1] == points and sum(issued) == points
    assert sum(spent) == 0
    assert f"{made['total_paid'] / 100:,.2f} RUB" in html
    assert "<svg" in section(html, "sales") and "No data yet" not in section(html, "sales")


async def test_dashboard_of_a_new_tenant_has_empty_charts(panel: Panel):
    html = (await panel.get("/panel/")).text
    assert html.count('class="empty">No data yet</text>') == 3
    assert '<dd id="total-customers">0</dd>' in html


async def test_segments_create_preview_edit_and_export(panel: Panel, client, tenant):
    await _customers_and_orders(client, tenant.headers)
    assert "No segments yet" in (await panel.get("/panel/segments")).text
    preview = await panel.preview(MOSCOW)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["size"] == 2 and {m["external_id"] for m in body["sample"]} == {"c1", "c2"}
    wrong = await panel.preview(
        "all:\n  - field: city\n    values: [Moscow]\n  - field: spend\n    days: 0\n"
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "definition.all.1.days"
    broken = await panel.preview("all:\n  - field: city\n   values: [x\n")
    assert broken.status_code == 422 and "line " in broken.json()["error"]["message"]
    not_a_tree = await panel.preview("- just a list")
    assert not_a_tree.status_code == 422

    refused = await panel.post(
        "/panel/segments/new", {"key": "moscow", "name": "Moscow", "definition": "field: nope"}
    )
    assert refused.status_code == 422
    assert "Where: <code>definition" in refused.text and "field: nope" in refused.text
    created = await panel.post(
        "/panel/segments/new", {"key": "moscow", "name": "Moscow buyers", "definition": MOSCOW}
    )
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/panel/segments/moscow?notice=saved"
    page = await panel.get("/panel/segments/moscow")
    assert page.status_code == 200
    assert "2 customers now" in page.text and "Members (2)" in page.text
    assert "/panel/customers/c1" in page.text and "/panel/segments/moscow/export.csv" in page.text
    listing = (await panel.get("/panel/segments")).text
    assert "Moscow buyers" in listing and 'data-size="2"' in listing
    again = await panel.post(
        "/panel/segments/new", {"key": "moscow", "name": "x", "definition": MOSCOW}
    )
    assert again.status_code == 409 and "already exists" in again.text

    edited = await panel.post(
        "/panel/segments/moscow",
        {"name": "Everyone", "definition": "field: city\nvalues: [Moscow, Kazan]\n"},
    )
    assert edited.status_code == 303
    page = (await panel.get("/panel/segments/moscow")).text
    assert "Segment Everyone" in page and "3 customers now" in page
    bad_edit = await panel.post("/panel/segments/moscow", {"definition": "field: age\nmin: -1"})
    assert bad_edit.status_code == 422 and "definition.min" in bad_edit.text

    export = await panel.get("/panel/segments/moscow/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(row["external_id"] for row in rows) == ["c1", "c2", "c3"]

    archived = await panel.post("/panel/segments/moscow/archive")
    assert archived.status_code == 303
    assert (await panel.get("/panel/segments/moscow")).status_code == 404


async def test_journeys_enable_pause_resume_and_counts(panel: Panel, session, tenant):
    page = (await panel.get("/panel/journeys")).text
    assert "No journeys yet" in page and 'action="/panel/journeys/templates/welcome/enable"' in page
    enabled = await panel.post("/panel/journeys/templates/abandoned_cart/enable")
    assert enabled.status_code == 303, enabled.text
    journey = await session.scalar(
        select(Journey).where(Journey.tenant_id == tenant.id, Journey.template == "abandoned_cart")
    )
    assert journey is not None and journey.status == "active"
    customer = Customer(tenant_id=tenant.id, external_id="j1", email="j1@a.example")
    session.add(customer)
    await session.flush()
    now = utcnow()
    for status, reason in (
        ("sent", None),
        ("sent", None),
        ("skipped", "no_consent"),
        ("skipped", "holdout"),
    ):
        session.add(
            MessageSend(
                tenant_id=tenant.id,
                customer_id=customer.id,
                channel="email",
                template_key="cart-reminder",
                journey_id=journey.id,
                status=status,
                reason=reason,
                not_before=now,
                created_at=now,
            )
        )
    await session.flush()
    page = (await panel.get("/panel/journeys")).text
    row = section(page, f"journey-{journey.key}")
    assert 'data-count="sent">2<' in row
    assert "holdout 1" in row and "no_consent 1" in row
    assert 'data-count="waiting">0<' in row and 'data-count="converted">0<' in row
    template_card = section(page, "template-abandoned_cart")
    assert "Enabled" in template_card.split("</li>")[0]

    paused = await panel.post(f"/panel/journeys/{journey.key}/pause")
    assert paused.status_code == 303
    await session.refresh(journey)
    assert journey.status == "paused"
    assert (
        f'action="/panel/journeys/{journey.key}/resume"'
        in (await panel.get("/panel/journeys")).text
    )
    await panel.post(f"/panel/journeys/{journey.key}/resume")
    await session.refresh(journey)
    assert journey.status == "active"
    unknown = await panel.post("/panel/journeys/templates/nope/enable")
    assert unknown.status_code == 404 and "no shipped journey template" in unknown.text


async def test_campaign_create_start_pause_resume_and_the_holdout_report(
    panel: Panel, client, session, tenant
):
    await _customers_and_orders(client, tenant.headers)
    for n in range(6):
        r = await client.put(
            f"/v1/customers/m{n}",
            json={"email": f"m{n}@a.example", "city": "Moscow"},
            headers=tenant.headers,
        )
        assert r.status_code == 201
    await make_email_template(session, tenant_id=tenant.id, key="kitchen-sale", at=utcnow())
    assert (
        await panel.post(
            "/panel/segments/new", {"key": "moscow", "name": "Moscow", "definition": MOSCOW}
        )
    ).status_code == 303
    form = (await panel.get("/panel/campaigns/new?segment=moscow")).text
    assert '<option value="moscow" selected>' in form and 'value="kitchen-sale|email"' in form
    missing = await panel.post(
        "/panel/campaigns/new", {"key": "k", "name": "K", "segment_key": "moscow"}
    )
    assert missing.status_code == 422 and "choose a message template" in missing.text
    created = await panel.post(
        "/panel/campaigns/new",
        {
            "key": "kitchen",
            "name": "Kitchen sale",
            "segment_key": "moscow",
            "template": "kitchen-sale|email",
            "holdout_percent": "25",
            "send_rate_per_minute": "60",
        },
    )
    assert created.status_code == 303, created.text
    page = (await panel.get("/panel/campaigns/kitchen")).text
    assert 'id="campaign-status">draft<' in page and "25.0%" in page
    started = await panel.post("/panel/campaigns/kitchen/start")
    assert started.status_code == 303
    page = (await panel.get("/panel/campaigns/kitchen")).text
    assert 'id="campaign-status">running<' in page and '<dd id="count-queued">8</dd>' in page
    listing = section((await panel.get("/panel/campaigns")).text, "campaign-kitchen")
    assert 'data-count="queued">8<' in listing and "<svg" in listing
    again = await panel.post("/panel/campaigns/kitchen/start")
    assert again.status_code == 409 and "only a draft or scheduled one starts" in again.text
    assert (await panel.post("/panel/campaigns/kitchen/pause")).status_code == 303
    assert 'id="campaign-status">paused<' in (await panel.get("/panel/campaigns/kitchen")).text
    assert (await panel.post("/panel/campaigns/kitchen/resume")).status_code == 303
    assert (await panel.post("/panel/campaigns/kitchen/explode")).status_code == 404

    # What the dispatcher would have decided: 4 sent (treated), 4 held out; 2 treated buy.
    sends = list(
        await session.scalars(
            select(MessageSend).where(MessageSend.tenant_id == tenant.id).order_by(MessageSend.id)
        )
    )
    decided = utcnow() - timedelta(hours=1)
    for index, send in enumerate(sends):
        treated = index < 4
        await session.execute(
            update(MessageSend)
            .where(MessageSend.id == send.id)
            .values(
                status="sent" if treated else "skipped",
                reason=None if treated else "holdout",
                control_group="treated" if treated else "holdout",
                decided_at=decided,
                sent_at=decided if treated else None,
            )
        )
    buyers = [send.customer_id for send in sends[:2]]
    await session.execute(
        update(Order).where(Order.tenant_id == tenant.id).values(customer_id=buyers[0])
    )
    o1 = await session.scalar(select(Order).where(Order.tenant_id == tenant.id))
    assert o1 is not None
    session.add(
        Order(
            tenant_id=tenant.id,
            external_id="o2",
            customer_id=buyers[1],
            status="paid",
            channel="online",
            request_hash="x",
            currency="RUB",
            programme_version=1,
            total_regular=50_000,
            points_spent=0,
            total_paid=50_000,
            points_earned=0,
            net_spend=50_000,
            placed_at=utcnow(),
            result={},
        )
    )
    await session.execute(update(Order).where(Order.id == o1.id).values(placed_at=utcnow()))
    await session.flush()
    page = (await panel.get("/panel/campaigns/kitchen")).text
    assert '<dd id="count-sent">4</dd>' in page and '<dd id="count-skipped">4</dd>' in page
    treated = section(page, "group-treated")
    assert ">4<" in treated and ">2<" in treated and "50.0%" in treated
    holdout = page[page.index('id="group-holdout"') :].split("</tr>")[0]
    assert "0.0%" in holdout
    assert data_values(page, "bar")[:2] == [50.0, 0.0], "conversion chart: treated 50%, holdout 0"
    assert 'class="whisker"' in page and 'class="estimate"' in page
    assert "Conversion differs measurably" in page or "No measurable effect" in page
    assert 'data-count="sent">4<' in section(
        (await panel.get("/panel/campaigns")).text, "campaign-kitchen"
    )
    assert (await panel.post("/panel/campaigns/kitchen/cancel")).status_code == 303
    count = await session.scalar(
        select(func.count()).select_from(MessageSend).where(MessageSend.tenant_id == tenant.id)
    )
    assert count == 8


async def test_customers_search_and_profile(panel: Panel, client, session, tenant):
    made = await _customers_and_orders(client, tenant.headers)
    assert (
        await panel.post(
            "/panel/segments/new", {"key": "moscow", "name": "Moscow", "definition": MOSCOW}
        )
    ).status_code == 303
    listing = (await panel.get("/panel/customers")).text
    assert all(f"/panel/customers/{c}" in listing for c in ("c1", "c2", "c3"))
    found = (await panel.get("/panel/customers", params={"q": "boris@a.example"})).text
    assert "/panel/customers/c2" in found and "/panel/customers/c1" not in found
    assert "1 found" in found and "email" in found
    by_id = (await panel.get("/panel/customers", params={"q": "c3"})).text
    assert "/panel/customers/c3" in by_id and "/panel/customers/c1" not in by_id
    nobody = (await panel.get("/panel/customers", params={"q": "nobody@x.example"})).text
    assert "Nobody matches" in nobody

    c1 = await session.scalar(
        select(Customer).where(Customer.tenant_id == tenant.id, Customer.external_id == "c1")
    )
    assert c1 is not None
    session.add(
        MessageSend(
            tenant_id=tenant.id,
            customer_id=c1.id,
            channel="email",
            template_key="birthday-wishes",
            status="sent",
            not_before=utcnow(),
            created_at=utcnow(),
            sent_at=utcnow(),
        )
    )
    await session.flush()
    page = await panel.get("/panel/customers/c1")
    assert page.status_code == 200
    html = page.text
    assert '<dd id="balance-available">1,000</dd>' in html
    assert f'<dd id="balance-pending">{made["points_earned"]:,}</dd>' in html
    assert 'id="tier">' in html and 'id="tier">—<' not in html
    assert "Moscow" in section(html, "customer-segments")
    timeline = section(html, "timeline")
    assert "o1" in timeline and f"{made['total_paid'] / 100:,.2f} RUB" in timeline
    assert "birthday-wishes" in section(html, "messages")
    assert (await panel.get("/panel/customers/nobody")).status_code == 404
