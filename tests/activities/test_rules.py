"""Activity rules are validated strictly, and a wrong one names the field that is wrong."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tonari.activities.schemas import ActivityRule, parse_activity_rules
from tonari.activities.service import period_bounds
from tonari.kit.errors import ValidationFailed


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ({"code": "r", "action": "review_written"}, "activities.0", "exactly one of points"),
        (
            {"code": "r", "action": "review_written", "points": 5, "reward": {"entitlement": "x"}},
            "activities.0",
            "exactly one of points",
        ),
        ({"code": "r", "action": "tweeted", "points": 5}, "activities.0.action", "pattern"),
        (
            {"code": "r", "action": "review_written", "points": 5.5},
            "activities.0.points",
            "integer",
        ),
        (
            {"code": "r", "action": "review_written", "points": 5, "frequency": {"at_most": 3}},
            "activities.0.frequency",
            "go together",
        ),
        (
            {
                "code": "r",
                "action": "jar_returned",
                "reward": {"voucher_pool": "m", "entitlement": "m"},
            },
            "activities.0.reward",
            "exactly one of voucher_pool",
        ),
        (
            {
                "code": "r",
                "action": "jar_returned",
                "reward": {"voucher_pool": "m"},
                "budget_points": 9,
            },
            "activities.0",
            "budget_rewards",
        ),
        (
            {"code": "r", "action": "review_written", "points": 5, "surprise": 1},
            "activities.0.surprise",
            "Extra inputs",
        ),
    ],
)
def test_a_malformed_rule_names_its_field(rule: dict, field: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_activity_rules([rule])
    assert refused.value.field == field
    assert words in refused.value.message


def test_rule_codes_are_unique_and_custom_actions_are_allowed() -> None:
    rule = {"code": "r", "action": "custom:quiz.answered", "points": 5}
    [parsed] = parse_activity_rules([rule])
    assert isinstance(parsed, ActivityRule) and parsed.action == "custom:quiz.answered"
    with pytest.raises(ValidationFailed):
        parse_activity_rules([rule, rule])


def test_periods_are_calendar_days_weeks_and_months_in_the_zone() -> None:
    zone = ZoneInfo("Europe/Moscow")
    moment = datetime.fromisoformat("2025-03-12T23:30:00+03:00")  # a Wednesday
    assert period_bounds(moment, "day", zone) == (
        datetime(2025, 3, 12, tzinfo=zone),
        datetime(2025, 3, 13, tzinfo=zone),
    )
    assert period_bounds(moment, "week", zone) == (
        datetime(2025, 3, 10, tzinfo=zone),
        datetime(2025, 3, 17, tzinfo=zone),
    )
    assert period_bounds(moment, "month", zone) == (
        datetime(2025, 3, 1, tzinfo=zone),
        datetime(2025, 4, 1, tzinfo=zone),
    )
