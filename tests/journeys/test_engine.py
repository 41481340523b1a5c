"""The engine's guarantees: retries, deterministic splits, pause, local times, re-entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from tests.journeys.support import T0, instances, sends, subscriber, tick
from tests.messaging.smtp_sink import smtp_sink_fixture  # noqa: F401  (the smtp_sink fixture)
from tonari.journeys.engine import RunContext, branch_for, run_step
from tonari.journeys.reactions import react_to_reactions
from tonari.journeys.runner import load
from tonari.journeys.schemas import JourneyCreate
from tonari.journeys.service import move_journey, save_journey
from tonari.models.customers import Customer
from tonari.models.journeys import Journey
from tonari.models.ledger import LedgerAccount
from tonari.reactions.dispatcher import Reaction


async def _journey(session, tenant, definition: dict, key: str = "jj") -> Journey:
    journey, _ = await save_journey(
        session,
        tenant_id=tenant.id,
        body=JourneyCreate(key=key, name=key, definition=definition),
        at=T0,
    )
    return journey


def _reaction(customer_id: int, tenant_id: int, kind: str, entity: str | None, at=T0, rid=1):
    return Reaction(rid, tenant_id, customer_id, kind, entity, {}, at)


async def test_a_redelivered_event_enters_and_sends_once(session, tenant) -> None:
    await _journey(
        session,
        tenant,
        {
            "entry": {"event": "cart_updated", "key": "entity"},
            "start": "hello",
            "steps": {"hello": {"type": "send", "template": "hello"}},
        },
    )
    anna = await subscriber(session, tenant, "anna")
    for _ in range(3):
        await react_to_reactions(
            session, tenant.id, [_reaction(anna, tenant.id, "cart_updated", "c1")], T0
        )
    await react_to_reactions(
        session, tenant.id, [_reaction(anna, tenant.id, "cart_updated", "c2")], T0
    )
    assert sorted(i.entity_key for i in await instances(session, tenant.id)) == ["c1", "c2"]
    assert len(await sends(session, tenant.id)) == 2


async def test_a_split_is_stable_per_instance_and_uses_both_branches(session, tenant) -> None:
    await _journey(
        session,
        tenant,
        {
            "entry": {"event": "login", "key": "none"},
            "start": "ab",
            "steps": {
                "ab": {
                    "type": "split",
                    "branches": [
                        {"weight": 50, "next": "a", "name": "A"},
                        {"weight": 50, "next": "b", "name": "B"},
                    ],
                },
                "a": {"type": "send", "template": "letter-a"},
                "b": {"type": "send", "template": "letter-b"},
            },
        },
    )
    for n in range(40):
        customer = await subscriber(session, tenant, f"c{n}")
        await react_to_reactions(
            session, tenant.id, [_reaction(customer, tenant.id, "login", None)], T0
        )
    rows = await instances(session, tenant.id)
    chosen = {row.id: row.state["branches"]["ab"] for row in rows}
    assert set(chosen.values()) == {"A", "B"}
    journey = load(await session.scalar(select(Journey).where(Journey.tenant_id == tenant.id)))
    branches = journey.definition.steps["ab"].branches
    for instance_id, name in chosen.items():
        assert ["A", "B"][branch_for(instance_id, "ab", branches)] == name
    templates = {m.template_key for m in await sends(session, tenant.id)}
    assert templates == {"letter-a", "letter-b"}


async def test_until_local_time_is_the_customers_own_clock(session, tenant) -> None:
    await _journey(
        session,
        tenant,
        {
            "entry": {"event": "login", "key": "none"},
            "start": "morning",
            "steps": {"morning": {"type": "wait", "until_local_time": "10:00"}},
        },
    )
    moscow = await subscriber(session, tenant, "moscow")  # the programme's zone
    vladivostok = await subscriber(session, tenant, "vlad", time_zone="Asia/Vladivostok")
    for customer in (moscow, vladivostok):
        await react_to_reactions(
            session, tenant.id, [_reaction(customer, tenant.id, "login", None)], T0
        )
    wakes = {i.customer_id: i.wake_at for i in await instances(session, tenant.id)}
    # T0 is 12:00 in Moscow and 19:00 in Vladivostok: both wait for tomorrow's 10:00.
    assert wakes[moscow] == datetime(2026, 3, 11, 7, 0, tzinfo=UTC)
    assert wakes[vladivostok] == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)


async def test_a_paused_journey_holds_its_instances_until_resumed(session, tenant) -> None:
    await _journey(
        session,
        tenant,
        {
            "entry": {"event": "login", "key": "none"},
            "start": "later",
            "steps": {
                "later": {"type": "wait", "duration_seconds": 60, "next": "hello"},
                "hello": {"type": "send", "template": "hello"},
            },
        },
        key="paused",
    )
    anna = await subscriber(session, tenant, "anna")
    await react_to_reactions(session, tenant.id, [_reaction(anna, tenant.id, "login", None)], T0)
    await move_journey(session, tenant_id=tenant.id, key="paused", action="pause", at=T0)
    assert await tick(session, T0 + timedelta(hours=1)) == 0
    await move_journey(session, tenant_id=tenant.id, key="paused", action="resume", at=T0)
    assert await tick(session, T0 + timedelta(hours=1)) == 1
    assert [m.step_key for m in await sends(session, tenant.id)] == ["hello"]


async def test_points_and_attributes_once_per_step_even_when_the_step_runs_again(
    session, tenant
) -> None:
    journey = await _journey(
        session,
        tenant,
        {
            "entry": {"event": "review_written", "key": "none"},
            "start": "thanks",
            "steps": {
                "thanks": {"type": "grant_points", "points": 300, "next": "mark"},
                "mark": {"type": "set_attribute", "name": "reviewer", "value": True},
            },
        },
    )
    anna = await subscriber(session, tenant, "anna")
    await react_to_reactions(
        session, tenant.id, [_reaction(anna, tenant.id, "review_written", None)], T0
    )
    [instance] = await instances(session, tenant.id)
    loaded = load(journey)
    # A retry that runs the step again finds the earlier grant by its business key.
    _, outcome = await run_step(session, RunContext(at=T0), loaded, instance, "thanks")
    assert outcome == "already_granted"
    account = await session.scalar(select(LedgerAccount).where(LedgerAccount.customer_id == anna))
    await session.refresh(account)
    assert account.available == 300
    customer = await session.get(Customer, anna)
    await session.refresh(customer)
    assert customer.attributes["reviewer"] is True


async def test_segment_entry_reenters_only_after_the_policy_allows(session, tenant) -> None:
    await _journey(
        session,
        tenant,
        {
            "entry": {"segment": "vip", "reentry": "after_days", "reentry_days": 30},
            "start": "hello",
            "steps": {"hello": {"type": "send", "template": "vip-welcome"}},
        },
    )
    anna = await subscriber(session, tenant, "anna")
    for days in (0, 10, 31):
        at = T0 + timedelta(days=days)
        await react_to_reactions(
            session, tenant.id, [_reaction(anna, tenant.id, "segment.entered", "vip", at)], at
        )
    await react_to_reactions(
        session, tenant.id, [_reaction(anna, tenant.id, "segment.entered", "other", T0)], T0
    )
    assert [(i.run, i.status) for i in await instances(session, tenant.id)] == [
        (1, "completed"),
        (2, "completed"),
    ]
    assert len(await sends(session, tenant.id)) == 2


async def test_a_goal_anywhere_in_the_journey_counts_a_conversion(client, session, tenant) -> None:
    await _journey(
        session,
        tenant,
        {
            "entry": {"event": "product_viewed", "key": "entity"},
            "start": "later",
            "steps": {
                "later": {"type": "wait", "duration_seconds": 86_400, "next": "hello"},
                "hello": {"type": "send", "template": "hello"},
            },
            "goal": {"event": "order.placed", "within_seconds": 3 * 86_400},
        },
        key="goal",
    )
    anna = await subscriber(session, tenant, "anna")
    oleg = await subscriber(session, tenant, "oleg")
    for customer in (anna, oleg):
        await react_to_reactions(
            session, tenant.id, [_reaction(customer, tenant.id, "product_viewed", "p1")], T0
        )
    bought = T0 + timedelta(hours=5)
    await react_to_reactions(
        session, tenant.id, [_reaction(anna, tenant.id, "order.placed", "cart", bought)], bought
    )
    assert await tick(session, T0 + timedelta(days=1)) == 1  # only Oleg is still waiting
    stats = (await client.get("/v1/journeys/goal", headers=tenant.headers)).json()
    assert stats["stats"] == {
        "active": 0,
        "waiting": 0,
        "completed": 1,
        "exited": 0,
        "converted": 1,
        "entered": 2,
    }
    assert [m.customer_id for m in await sends(session, tenant.id)] == [oleg]
    page = (
        await client.get("/v1/journeys/goal/instances?status=converted", headers=tenant.headers)
    ).json()
    assert [(i["customer"], i["status"]) for i in page["items"]] == [("anna", "converted")]


async def test_enabling_twice_is_idempotent_and_keeps_edited_wording(client, session, tenant):
    first = await client.post("/v1/journeys/templates/birthday/enable", headers=tenant.headers)
    assert first.status_code == 200
    edited = await client.patch(
        "/v1/messaging/templates/birthday.greeting",
        json={"subject": "Our own birthday words"},
        headers=tenant.headers,
    )
    assert edited.status_code == 200, edited.text
    again = await client.post("/v1/journeys/templates/birthday/enable", headers=tenant.headers)
    assert again.status_code == 200
    assert len((await client.get("/v1/journeys", headers=tenant.headers)).json()) == 1
    listed = (await client.get("/v1/journeys/templates", headers=tenant.headers)).json()
    assert [t["name"] for t in listed if t["enabled"]] == ["birthday"]
    got = await client.get("/v1/messaging/templates/birthday.greeting", headers=tenant.headers)
    assert got.json()["subject"] == "Our own birthday words"


def test_cli_lists_the_shipped_templates() -> None:
    from tonari.cli import app

    result = CliRunner().invoke(app, ["journey", "templates"])
    assert result.exit_code == 0, result.output
    for name in ("abandoned_cart", "welcome", "birthday", "reactivation", "news_digest"):
        assert name in result.output


async def test_instances_record_the_journeys_holdout_group(session, tenant, smtp_sink) -> None:
    from tests.journeys.support import deliver, mail_to_sink
    from tonari.messaging.rules import holdout_group

    await mail_to_sink(session, smtp_sink, tenant)
    journey, _ = await save_journey(
        session,
        tenant_id=tenant.id,
        body=JourneyCreate(
            key="held",
            name="Held",
            holdout_bp=5_000,
            definition={
                "entry": {"event": "login", "key": "none"},
                "start": "hello",
                "steps": {"hello": {"type": "send", "template": "hello"}},
            },
        ),
        at=T0,
    )
    from tests.messaging.smtp_sink import make_email_template

    await make_email_template(session, tenant_id=tenant.id, key="hello", at=T0)
    for n in range(30):
        customer = await subscriber(session, tenant, f"h{n}")
        await react_to_reactions(
            session, tenant.id, [_reaction(customer, tenant.id, "login", None)], T0
        )
    await deliver(session, T0)
    rows = await instances(session, tenant.id)
    groups = {row.customer_id: row.control_group for row in rows}
    expected = {
        c: "holdout" if holdout_group(c, f"journey:{journey.id}", 5_000) else "treated"
        for c in groups
    }
    assert groups == expected and set(groups.values()) == {"holdout", "treated"}
    # The dispatcher holds back exactly the instances recorded as holdout.
    held = {m.customer_id for m in await sends(session, tenant.id) if m.status != "sent"}
    assert held == {c for c, g in groups.items() if g == "holdout"}
    treated = sum(1 for g in groups.values() if g == "treated")
    smtp_sink.wait_for(treated)
    assert len(smtp_sink.messages) == treated


async def test_leaving_the_segment_ends_an_exit_on_leave_journey(session, tenant) -> None:
    await _journey(
        session,
        tenant,
        {
            "entry": {"segment": "lapsed", "exit_on_leave": True},
            "start": "later",
            "steps": {
                "later": {"type": "wait", "duration_seconds": 86_400, "next": "hello"},
                "hello": {"type": "send", "template": "come-back"},
            },
        },
    )
    anna = await subscriber(session, tenant, "anna")
    await react_to_reactions(
        session, tenant.id, [_reaction(anna, tenant.id, "segment.entered", "lapsed")], T0
    )
    left = T0 + timedelta(hours=3)
    await react_to_reactions(
        session, tenant.id, [_reaction(anna, tenant.id, "segment.exited", "lapsed", left)], left
    )
    assert await tick(session, T0 + timedelta(days=2)) == 0
    assert [i.status for i in await instances(session, tenant.id)] == ["exited"]
    assert await sends(session, tenant.id) == []


async def test_a_send_step_queues_with_its_templates_topic_and_kind(session, tenant) -> None:
    """A service notice keeps its own topic (and consent), not "marketing" for everything."""
    from tests.messaging.smtp_sink import make_email_template

    await make_email_template(
        session, tenant_id=tenant.id, key="tier-notice", topic="loyalty", at=T0
    )
    await make_email_template(
        session, tenant_id=tenant.id, key="receipt", transactional=True, at=T0
    )
    await _journey(
        session,
        tenant,
        {
            "entry": {"event": "cart_updated", "key": "entity"},
            "start": "notice",
            "steps": {
                "notice": {"type": "send", "template": "tier-notice", "next": "receipt"},
                "receipt": {"type": "send", "template": "receipt", "next": "promo"},
                "promo": {"type": "send", "template": "not-written-yet"},
            },
        },
    )
    anna = await subscriber(session, tenant, "anna")
    await react_to_reactions(
        session, tenant.id, [_reaction(anna, tenant.id, "cart_updated", "c1")], T0
    )
    queued = {s.template_key: (s.topic, s.transactional) for s in await sends(session, tenant.id)}
    assert queued == {
        "tier-notice": ("loyalty", False),
        "receipt": ("orders", True),
        "not-written-yet": ("marketing", False),
    }
