"""The applicator: priority, stacking, exclusivity, limits, windows, zones and the trace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.factories import panasonic_document
from tests.rules.support import applied, buyer, cart, line, run, trace
from tonari.kit.errors import ValidationFailed
from tonari.programs.service import parse_programme
from tonari.rules.offers.context import OfferUsage


def programme_with(*offers: dict[str, Any], **overrides: Any) -> Any:
    document = panasonic_document()
    document["offers"] = list(offers)
    document.update(overrides)
    return parse_programme(document)


def percent_off(code: str, percent_bp: int, **fields: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": code,
        "effects": [{"type": "discount_percent", "percent_bp": percent_bp}],
        **fields,
    }


SILVER = "silver"


def test_higher_priority_applies_first_and_discounts_compound() -> None:
    programme = programme_with(percent_off("ten", 1_000), percent_off("twenty", 2_000, priority=5))
    calc = run(programme, cart(line("tv", 100_000)), buyer(SILVER))
    assert applied(calc) == ["twenty", "ten"]
    assert calc.discount_total == 20_000 + 8_000


def test_final_offer_stops_the_rest() -> None:
    programme = programme_with(
        percent_off("first", 1_000, priority=2, final=True), percent_off("second", 500)
    )
    calc = run(programme, cart(line("tv", 100_000)), buyer(SILVER))
    assert applied(calc) == ["first"]
    assert trace(calc, "second")["reason"] == "first applied before and is final"


def test_exclusive_offer_applies_only_alone() -> None:
    programme = programme_with(
        percent_off("base", 500, priority=9), percent_off("solo", 3_000, exclusive=True)
    )
    calc = run(programme, cart(line("tv", 100_000)), buyer(SILVER))
    assert applied(calc) == ["base"]
    assert "exclusive offer, but base already applied" in str(trace(calc, "solo")["reason"])


def test_not_combinable_is_honoured_both_ways() -> None:
    programme = programme_with(
        percent_off("a", 500, priority=2),
        percent_off("b", 500, priority=1, not_combinable_with=["a"]),
        percent_off("c", 500, not_combinable_with=[]),
        percent_off("d", 500, priority=3, not_combinable_with=["c"]),
    )
    calc = run(programme, cart(line("tv", 100_000)), buyer(SILVER))
    assert applied(calc) == ["d", "a"]
    assert trace(calc, "b")["reason"] == "not combinable with a"
    assert trace(calc, "c")["reason"] == "d applied and is not combinable with it"


def test_discounts_never_take_a_line_below_zero() -> None:
    fixed = {
        "code": "big",
        "name": "big",
        "effects": [{"type": "discount_fixed", "amount": 1_000_000}],
    }
    programme = programme_with(fixed, percent_off("more", 5_000))
    calc = run(programme, cart(line("a", 30_000), line("b", 10_000)), buyer(SILVER))
    assert [ln.price_to_pay for ln in calc.lines] == [0, 0]
    assert calc.discount_total == 40_000
    assert "nothing in the cart" in str(trace(calc, "more")["reason"])


def test_points_may_pay_half_of_what_is_left_after_discounts() -> None:
    programme = programme_with(percent_off("half", 5_000))
    calc = run(
        programme, cart(line("tv", 100_000)), buyer(SILVER, available_points=10_000), points=400
    )
    # 1,000 roubles → 500 after the discount → points pay at most 250 of it
    assert calc.points_applied == 250
    assert calc.total_to_pay == 25_000


def test_discounted_price_is_what_earns() -> None:
    programme = programme_with(percent_off("ten", 1_000))
    calc = run(programme, cart(line("tv", 100_000)), buyer(SILVER))
    assert calc.points_to_earn == 45  # 5% of 900 roubles


def test_per_customer_and_per_period_limits() -> None:
    limited = percent_off("once", 1_000, limits={"per_customer": 1})
    daily = percent_off("daily", 1_000, limits={"per_period": 2, "period": "day"})
    programme = programme_with(limited, daily)
    used = buyer(SILVER, offer_usage={"once": OfferUsage(1, 1), "daily": OfferUsage(7, 2)})
    calc = run(programme, cart(line("tv", 100_000)), used)
    assert applied(calc) == []
    assert "limit 1 per customer" in str(trace(calc, "once")["reason"])
    assert trace(calc, "daily")["reason"] == "already received 2 time(s) today; limit 2"
    anonymous = run(programme, cart(line("tv", 100_000)), buyer(None))
    assert "anonymous buyers cannot receive it" in str(trace(anonymous, "once")["reason"])


def test_money_budget_refuses_an_offer_that_would_overrun_it() -> None:
    programme = programme_with(percent_off("promo", 1_000, limits={"budget_money": 50_000}))
    calc = run(
        programme, cart(line("tv", 100_000)), buyer(SILVER), budgets_remaining={"promo": 9_999}
    )
    assert calc.discount_total == 0
    assert trace(calc, "promo")["reason"] == "budget: 9,999 left, the offer would give 10,000"
    exhausted = run(
        programme, cart(line("tv", 100_000)), buyer(SILVER), budgets_remaining={"promo": 0}
    )
    assert trace(exhausted, "promo")["reason"] == "budget exhausted"


def test_today_means_today_in_the_programmes_zone() -> None:
    """An offer valid on 15 June in Moscow still applies at 23:30 local, which is 20:30 UTC."""
    window = {"type": "date_window", "start": "2026-06-15", "end": "2026-06-15"}
    programme = programme_with(percent_off("day", 1_000, conditions=[window]))
    late = datetime.fromisoformat("2026-06-15T20:30:00+00:00")
    after = datetime.fromisoformat("2026-06-15T21:00:00+00:00")  # 00:00 on the 16th in Moscow
    assert applied(run(programme, cart(line("a", 100)), buyer(SILVER), at=late)) == ["day"]
    calc = run(programme, cart(line("a", 100)), buyer(SILVER), at=after)
    assert trace(calc, "day")["reason"] == "2026-06-16 is outside 2026-06-15…2026-06-15"


def test_happy_hours_may_cross_midnight_and_weekdays_are_local() -> None:
    hours = {"type": "hours", "start": "22:00", "end": "02:00"}
    weekday = {"type": "weekday", "days": ["sat"]}
    programme = programme_with(percent_off("night", 1_000, conditions=[hours, weekday]))
    saturday_night = datetime.fromisoformat("2026-06-13T20:30:00+00:00")  # Sat 23:30 Moscow
    friday_night = datetime.fromisoformat("2026-06-12T20:30:00+00:00")
    assert applied(run(programme, cart(line("a", 100)), buyer(SILVER), at=saturday_night))
    assert not applied(run(programme, cart(line("a", 100)), buyer(SILVER), at=friday_night))


def test_validity_window_is_explained() -> None:
    programme = programme_with(
        percent_off("later", 1_000, valid_from="2027-01-01T00:00:00+03:00"),
        percent_off("gone", 1_000, valid_until="2026-01-01T00:00:00+03:00"),
    )
    calc = run(programme, cart(line("a", 100)), buyer(SILVER))
    assert str(trace(calc, "later")["reason"]).startswith("starts 2027-01-01")
    assert str(trace(calc, "gone")["reason"]).startswith("ended 2026-01-01")


def test_segment_eligibility() -> None:
    programme = programme_with(percent_off("vip", 1_000, segments=["vip"]))
    assert not applied(run(programme, cart(line("a", 100)), buyer(SILVER)))
    member = buyer(SILVER, segments=frozenset({"vip"}))
    assert applied(run(programme, cart(line("a", 100)), member)) == ["vip"]


def test_promo_items_earn_30_percent_whatever_the_tier_through_an_offer() -> None:
    promo = {
        "code": "promo-items",
        "name": "promo items earn 30%",
        "effects": [
            {
                "type": "earn_rate",
                "mode": "replace_if_higher",
                "rate_bp": 3_000,
                "filter": {"categories": ["kettles"]},
            }
        ],
    }
    programme = programme_with(promo)
    calc = run(
        programme,
        cart(line("kettle", 100_000, category="kettles"), line("tv", 100_000)),
        buyer("premium"),
    )
    assert [ln.points_to_earn for ln in calc.lines] == [300, 150]
    assert trace(calc, "promo-items")["points"] == 0  # the trace counts fixed bonus points only
    assert calc.offers.applied[0].earn_points == 150  # 300 instead of the tier's 150


def test_two_thousand_product_offers_are_skipped_by_the_index() -> None:
    offers = [
        {
            "code": f"sku-{n}",
            "name": f"sku {n}",
            "conditions": [{"type": "cart_contains", "filter": {"products": [f"p{n}"]}}],
            "effects": [{"type": "discount_percent", "percent_bp": 500}],
        }
        for n in range(2_000)
    ]
    programme = programme_with(*offers)
    calc = run(programme, cart(line("p7", 10_000), line("p1999", 20_000)), buyer(SILVER))
    assert applied(calc) == ["sku-7", "sku-1999"]
    assert calc.offers.not_candidates == 1_998


@pytest.mark.parametrize(
    ("offer", "field"),
    [
        (
            {"code": "x", "name": "x", "effects": [{"type": "discount_percent", "percent_bp": 0}]},
            "offers.0.effects.0.discount_percent.percent_bp",
        ),
        (
            {"code": "x", "name": "x", "effects": [{"type": "teleport"}]},
            "offers.0.effects.0",
        ),
        ({"code": "x", "name": "x", "effects": []}, "offers.0.effects"),
        (
            {
                "code": "x",
                "name": "x",
                "conditions": [{"type": "cart_subtotal", "min": -1}],
                "effects": [{"type": "bonus_points", "points": 10}],
            },
            "offers.0.conditions.0.cart_subtotal.min",
        ),
        (
            {
                "code": "x",
                "name": "x",
                "conditions": [{"type": "customer_tier", "tiers": ["platinum"]}],
                "effects": [{"type": "bonus_points", "points": 10}],
            },
            "document",
        ),
    ],
)
def test_a_malformed_offer_is_rejected_with_the_field(offer: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        programme_with(offer)
    assert caught.value.field == field


def test_unknown_tier_in_an_offer_is_named() -> None:
    offer = {
        "code": "x",
        "name": "x",
        "conditions": [{"type": "customer_tier", "tiers": ["platinum"]}],
        "effects": [{"type": "bonus_points", "points": 10}],
    }
    with pytest.raises(ValidationFailed) as caught:
        programme_with(offer)
    assert "unknown tier 'platinum'" in caught.value.message


def test_every_condition_and_effect_explains_itself() -> None:
    from tonari.rules.offers.conditions import CONDITION_TYPES
    from tonari.rules.offers.effects import EFFECT_TYPES

    undocumented = [
        name for name, cls in {**CONDITION_TYPES, **EFFECT_TYPES}.items() if not cls.__doc__
    ]
    assert undocumented == [], "GET /v1/programmes/offer-types shows each docstring"
    assert len(CONDITION_TYPES) == 20 and len(EFFECT_TYPES) == 15
