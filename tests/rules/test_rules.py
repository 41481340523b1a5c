"""The pure rules: microseconds each, no database."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.factories import panasonic_document
from tonari.kit.money import Rounding, allocate, apply_rate, divide
from tonari.programs.schemas import CustomerType
from tonari.programs.service import parse_programme
from tonari.rules.cart import CartLine, CustomerView, calculate_cart
from tonari.rules.lots import expires_at, pending_until
from tonari.rules.tiers import SpendSnapshot, evaluate_tier

PANASONIC = parse_programme(panasonic_document())


def spend(
    lifetime: int = 0, rolling: int = 0, previous: int = 0, last: str | None = None
) -> SpendSnapshot:
    return SpendSnapshot(
        lifetime, rolling, previous, datetime.fromisoformat(last) if last else None
    )


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounding", "expected"),
    [
        (5, 2, Rounding.HALF_EVEN, 2),
        (7, 2, Rounding.HALF_EVEN, 4),
        (5, 2, Rounding.HALF_UP, 3),
        (9, 4, Rounding.DOWN, 2),
        (9, 4, Rounding.UP, 3),
        (-9, 4, Rounding.DOWN, -2),
        (-5, 2, Rounding.HALF_EVEN, -2),
        (10, 5, Rounding.UP, 2),
    ],
)
def test_division_rounds_by_the_named_rule(numerator, denominator, rounding, expected) -> None:
    assert divide(numerator, denominator, rounding) == expected


def test_allocation_always_sums_to_the_total() -> None:
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(allocate(997, [13, 0, 700, 5])) == 997
    assert apply_rate(1_000_000, 500) == 50_000


def test_seed_earn_rates_silver_gold_premium() -> None:
    lines = [CartLine(1, "tv", 1_000_000, 1)]
    earned = {
        code: calculate_cart(
            PANASONIC, lines, CustomerView(CustomerType.PERSON, code, 0)
        ).points_to_earn
        for code in ("silver", "gold", "premium")
    }
    assert earned == {"silver": 500, "gold": 1_000, "premium": 1_500}


def test_promo_items_earn_thirty_percent_whatever_the_tier() -> None:
    lines = [CartLine(1, "kettle", 100_000, 1, "promo")]
    for tier in ("silver", "gold", "premium"):
        calc = calculate_cart(PANASONIC, lines, CustomerView(CustomerType.PERSON, tier, 0))
        assert calc.points_to_earn == 300


def test_employees_and_legal_entities_cannot_pay_with_points() -> None:
    lines = [CartLine(1, "tv", 1_000_000, 1)]
    for kind in (CustomerType.EMPLOYEE, CustomerType.LEGAL_ENTITY):
        calc = calculate_cart(PANASONIC, lines, CustomerView(kind, "gold", 9_999), 100)
        assert calc.points_applied == 0
        assert any("cannot pay with points" in e.message for e in calc.explanations)


def test_anonymous_buyer_pays_regular_price_and_earns_nothing() -> None:
    calc = calculate_cart(
        PANASONIC, [CartLine(1, "tv", 1_000_000, 2)], CustomerView(CustomerType.PERSON, None, 0), 0
    )
    assert calc.total_to_pay == 2_000_000 and calc.points_to_earn == 0


def test_lifetime_tiers_never_drop_without_a_downgrade_rule() -> None:
    programme = parse_programme(panasonic_document(downgrade={"rule": "none"}))
    at = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    decision = evaluate_tier(programme, current_code="gold", spend=spend(0), at=at)
    assert decision.tier_code == "gold" and not decision.changed
    decision = evaluate_tier(programme, current_code="silver", spend=spend(5_000_000), at=at)
    assert decision.tier_code == "gold" and decision.changed


def test_down_one_level_after_24_months_without_purchase() -> None:
    at = datetime.fromisoformat("2026-06-01T00:00:00+03:00")
    active = evaluate_tier(
        PANASONIC, current_code="premium", spend=spend(100, last="2025-01-01T00:00:00+03:00"), at=at
    )
    assert active.tier_code == "premium"
    idle = evaluate_tier(
        PANASONIC, current_code="premium", spend=spend(100, last="2024-05-31T00:00:00+03:00"), at=at
    )
    assert idle.tier_code == "gold" and "24 months" in idle.reason


def test_previous_calendar_month_qualification_is_re_evaluated_each_period() -> None:
    programme = parse_programme(
        panasonic_document(
            qualification={"basis": "previous_calendar_month"},
            downgrade={"rule": "reevaluate"},
        )
    )
    at = datetime.fromisoformat("2026-02-03T00:00:00+03:00")
    assert (
        evaluate_tier(programme, current_code="premium", spend=spend(previous=10), at=at).tier_code
        == "silver"
    )
    assert (
        evaluate_tier(
            programme, current_code="silver", spend=spend(previous=5_000_000), at=at
        ).tier_code
        == "gold"
    )


def test_rolling_months_requires_months() -> None:
    from tonari.kit.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        parse_programme(panasonic_document(qualification={"basis": "rolling_months"}))
    assert caught.value.field == "qualification"


def test_lot_dates_follow_the_programme() -> None:
    earned = datetime.fromisoformat("2025-01-31T22:00:00+00:00")  # 1 Feb 01:00 in Moscow
    assert pending_until(PANASONIC, earned).isoformat() == "2025-02-14T22:00:00+00:00"
    # February in Moscow + 12 months → end of February 2026, Moscow midnight = 21:00 UTC
    assert expires_at(PANASONIC, earned).isoformat() == "2026-02-28T21:00:00+00:00"
    never = parse_programme(panasonic_document(expiry={"mode": "never"}))
    assert expires_at(never, earned) is None
    days = parse_programme(panasonic_document(expiry={"mode": "after_days", "days": 90}))
    assert expires_at(days, earned).isoformat() == "2025-05-01T22:00:00+00:00"
