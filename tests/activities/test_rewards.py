"""Activity rewards by the seeds' numbers: reviews, profile sections, jars, limits, budgets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.activities.support import (
    T0,
    available,
    customer,
    ledger_is_consistent,
    report,
    rules,
)
from tests.factories import make_tenant, panasonic_document
from tonari.kit.errors import Conflict, ValidationFailed
from tonari.models.activities import ActivityBudget, ActivityReward
from tonari.models.codes import PromoCode
from tonari.models.ledger import PointLot
from tonari.models.outbox import OutboxEvent


async def test_a_review_earns_500_points_once_per_product(session, tenant) -> None:
    buyer = await customer(session, tenant.id)
    first = await report(session, tenant.id, buyer, "review_written", "r1", subject="kettle")
    [decision] = first.decisions
    assert (decision.outcome, decision.points, decision.reason) == (
        "rewarded",
        500,
        "rewarded 500 points",
    )
    assert await available(session, tenant.id, buyer) == 500, "spendable at once"

    again = await report(session, tenant.id, buyer, "review_written", "r2", subject="kettle")
    [decision] = again.decisions
    assert (decision.outcome, decision.reason_code) == ("not_rewarded", "already_rewarded")
    assert decision.reason == "already rewarded for 'kettle'"

    other = await report(session, tenant.id, buyer, "review_written", "r3", subject="iron")
    assert other.points == 500
    assert await available(session, tenant.id, buyer) == 1_000
    lots = list(await session.scalars(select(PointLot.source).where(PointLot.customer_id == buyer)))
    assert lots == ["activity", "activity"]
    events = await session.scalar(
        select(func.count())
        .select_from(OutboxEvent)
        .where(OutboxEvent.tenant_id == tenant.id, OutboxEvent.event_type == "activity.rewarded")
    )
    assert events == 2
    await ledger_is_consistent(session, tenant.id)


async def test_a_repeated_activity_id_rewards_once_and_answers_the_same(session, tenant) -> None:
    buyer = await customer(session, tenant.id)
    first = await report(session, tenant.id, buyer, "review_written", "dup", subject="kettle")
    second = await report(session, tenant.id, buyer, "review_written", "dup", subject="kettle")
    assert second.replayed and not first.replayed
    assert second.decisions == first.decisions
    assert await available(session, tenant.id, buyer) == 500
    with pytest.raises(Conflict) as refused:
        await report(session, tenant.id, buyer, "review_written", "dup", subject="iron")
    assert refused.value.code == "activity_id_reused"


async def _daily_tenant(session, zone: str) -> tuple[int, int]:
    fixture = await make_tenant(session, programme=panasonic_document(timezone=zone))
    return fixture.id, await customer(session, fixture.id)


DAILY = [
    {
        "code": "share",
        "action": "social_share",
        "points": 50,
        "frequency": {"at_most": 3, "per": "day"},
    }
]


async def test_at_most_three_a_day_counts_days_in_the_programmes_zone(session) -> None:
    tenant_id, buyer = await _daily_tenant(session, "America/New_York")
    daily = rules(DAILY)

    async def share(activity_id: str, local: str) -> str:
        result = await report(
            session,
            tenant_id,
            buyer,
            "social_share",
            activity_id,
            at=datetime.fromisoformat(local),
            rule_set=daily,
        )
        return result.decisions[0].reason

    assert await share("s1", "2025-03-10T09:00:00-04:00") == "rewarded 50 points"
    assert await share("s2", "2025-03-10T12:00:00-04:00") == "rewarded 50 points"
    assert await share("s3", "2025-03-10T18:00:00-04:00") == "rewarded 50 points"
    # 23:30 in New York is 03:30 UTC on the 11th, yet it is still the 10th locally.
    assert await share("s4", "2025-03-10T23:30:00-04:00") == "daily limit of 3 reached"
    assert await share("s5", "2025-03-11T00:30:00-04:00") == "rewarded 50 points"
    assert await available(session, tenant_id, buyer) == 200


async def test_a_late_evening_share_in_moscow_starts_a_new_day_before_utc_does(session) -> None:
    tenant_id, buyer = await _daily_tenant(session, "Europe/Moscow")
    daily = rules(DAILY)
    day = datetime.fromisoformat("2025-03-10T10:00:00+03:00")
    for index in range(3):
        result = await report(
            session,
            tenant_id,
            buyer,
            "social_share",
            f"m{index}",
            at=day + timedelta(hours=index),
            rule_set=daily,
        )
        assert result.points == 50
    late = await report(
        session,
        tenant_id,
        buyer,
        "social_share",
        "late",
        at=datetime.fromisoformat("2025-03-10T23:30:00+03:00"),
        rule_set=daily,
    )
    assert late.decisions[0].reason_code == "limit_reached"
    # 00:10 on the 11th in Moscow is still the 10th in UTC: the local day decides.
    after_midnight = await report(
        session,
        tenant_id,
        buyer,
        "social_share",
        "next",
        at=datetime.fromisoformat("2025-03-11T00:10:00+03:00"),
        rule_set=daily,
    )
    assert after_midnight.points == 50


async def test_five_jars_give_one_free_mask_and_ten_give_two(session, tenant) -> None:
    one_by_one = await customer(session, tenant.id, "jar-1")
    reasons = []
    for index in range(5):
        result = await report(session, tenant.id, one_by_one, "jar_returned", f"j{index}")
        reasons.append(result.decisions[0].reason)
    assert reasons[:4] == [
        "1 of 5 toward the next free_mask",
        "2 of 5 toward the next free_mask",
        "3 of 5 toward the next free_mask",
        "4 of 5 toward the next free_mask",
    ]
    assert reasons[4].startswith("rewarded 1 × free_mask: voucher ")
    voucher = reasons[4].rsplit(" ", 1)[1]
    owner = await session.scalar(
        select(PromoCode.owner_customer_id).where(PromoCode.code == voucher)
    )
    assert owner == one_by_one, "the voucher is issued from the pool to the jar's customer"
    sixth = await report(session, tenant.id, one_by_one, "jar_returned", "j5")
    assert sixth.decisions[0].reason == "1 of 5 toward the next free_mask"

    ten_at_once = await customer(session, tenant.id, "jar-2")
    result = await report(session, tenant.id, ten_at_once, "jar_returned", "bag", quantity=10)
    [decision] = result.decisions
    assert (decision.rewards, decision.voucher_pool, decision.points) == (2, "free_mask", 0)

    in_three_visits = await customer(session, tenant.id, "jar-3")
    given = []
    for index, jars in enumerate((3, 3, 4)):
        result = await report(
            session, tenant.id, in_three_visits, "jar_returned", f"v{index}", quantity=jars
        )
        given.append(result.decisions[0].rewards)
    assert given == [0, 1, 1]

    masks = await session.execute(
        select(ActivityReward.customer_id, func.sum(ActivityReward.rewards))
        .where(ActivityReward.tenant_id == tenant.id, ActivityReward.voucher_pool == "free_mask")
        .group_by(ActivityReward.customer_id)
    )
    assert dict(masks.all()) == {one_by_one: 1, ten_at_once: 2, in_three_visits: 2}
    assert await available(session, tenant.id, one_by_one) == 0, "a mask is not points"


async def test_a_mask_can_be_an_entitlement_in_words(session, tenant) -> None:
    lush = rules(
        [
            {
                "code": "jars",
                "action": "jar_returned",
                "every": 5,
                "reward": {"entitlement": "face mask"},
            }
        ]
    )
    buyer = await customer(session, tenant.id)
    result = await report(
        session, tenant.id, buyer, "jar_returned", "five", quantity=5, rule_set=lush
    )
    assert result.decisions[0].entitlement == "face mask"
    assert result.decisions[0].reason == "rewarded 1 × face mask"


async def test_each_profile_section_pays_its_points_once(session, tenant) -> None:
    buyer = await customer(session, tenant.id)
    answers = []
    for activity_id, section in (("p1", "contacts"), ("p2", "household"), ("p3", "contacts")):
        result = await report(
            session, tenant.id, buyer, "profile_section_completed", activity_id, subject=section
        )
        answers.append((result.decisions[0].outcome, result.points))
    assert answers == [("rewarded", 100), ("rewarded", 300), ("not_rewarded", 0)]
    assert await available(session, tenant.id, buyer) == 400
    with pytest.raises(ValidationFailed) as unknown:
        await report(session, tenant.id, buyer, "profile_section_completed", "p4", subject="pets")
    assert (unknown.value.code, unknown.value.field) == ("unknown_section", "subject")


async def test_a_budget_is_never_overspent_and_says_so(session, tenant) -> None:
    budgeted = rules(
        [{"code": "survey", "action": "survey_answered", "points": 300, "budget_points": 1_000}]
    )
    outcomes = []
    for index in range(5):
        buyer = await customer(session, tenant.id, f"b{index}")
        result = await report(
            session, tenant.id, buyer, "survey_answered", f"s{index}", rule_set=budgeted
        )
        outcomes.append(result.decisions[0].reason)
    assert outcomes == [
        "rewarded 300 points",
        "rewarded 300 points",
        "rewarded 300 points",
        "budget exhausted: 900 of 1000 points given",
        "budget exhausted: 900 of 1000 points given",
    ]
    given = await session.scalar(
        select(ActivityBudget.points_given).where(ActivityBudget.tenant_id == tenant.id)
    )
    assert given == 900


async def test_once_ever_validity_window_and_expiry(session, tenant) -> None:
    welcome = rules(
        [
            {
                "code": "app",
                "action": "custom:app_installed",
                "points": 250,
                "frequency": {"once": "ever"},
                "valid_from": "2025-03-01T00:00:00+03:00",
                "valid_until": "2025-04-01T00:00:00+03:00",
                "points_expiry_days": 30,
            }
        ]
    )
    buyer = await customer(session, tenant.id)
    early = await report(
        session,
        tenant.id,
        buyer,
        "custom:app_installed",
        "a0",
        at=datetime.fromisoformat("2025-02-20T10:00:00+03:00"),
        rule_set=welcome,
    )
    assert early.decisions[0].reason_code == "not_in_force"
    first = await report(session, tenant.id, buyer, "custom:app_installed", "a1", rule_set=welcome)
    assert first.points == 250
    second = await report(session, tenant.id, buyer, "custom:app_installed", "a2", rule_set=welcome)
    assert second.decisions[0].reason == "already rewarded: once per customer"
    expires = await session.scalar(select(PointLot.expires_at).where(PointLot.customer_id == buyer))
    assert expires == T0 + timedelta(days=30)


async def test_bad_reports_are_refused_and_change_nothing(session, tenant) -> None:
    buyer = await customer(session, tenant.id)
    with pytest.raises(ValidationFailed) as unknown:
        await report(session, tenant.id, buyer, "social_share", "x1")
    assert (unknown.value.code, unknown.value.field) == ("unknown_action", "action")
    with pytest.raises(ValidationFailed) as no_subject:
        await report(session, tenant.id, buyer, "review_written", "x2")
    assert no_subject.value.code == "subject_required"
    with pytest.raises(ValidationFailed) as many:
        await report(session, tenant.id, buyer, "review_written", "x3", subject="a", quantity=2)
    assert many.value.field == "quantity"
    stored = await session.scalar(
        select(func.count())
        .select_from(ActivityReward)
        .where(ActivityReward.tenant_id == tenant.id)
    )
    assert stored == 0
