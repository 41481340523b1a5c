"""Every shipped example programme, checked against the seeds' own numbers.

Amounts in kopecks/cents; 1,500 roubles is 150,000.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.rules.support import applied, buyer, cart, example, line, run, trace
from tonari.programs.kinds import CustomerType
from tonari.rules.offers.context import PresentedCode


class TestGap:
    programme = example("gap")

    def test_a_first_purchase_of_1500_brings_the_card_but_no_discount_yet(self) -> None:
        calc = run(self.programme, cart(line("jeans", 150_000)), buyer())
        assert calc.discount_total == 0
        assert [(i.kind, i.name, i.days) for i in calc.issued] == [("membership", "gap-card", 3650)]

    def test_1499_99_brings_no_card(self) -> None:
        calc = run(self.programme, cart(line("jeans", 149_999)), buyer())
        assert calc.issued == []
        assert "below 150,000" in str(trace(calc, "card-issue")["reason"])

    def test_card_holder_saves_5_percent_but_not_on_sale_items(self) -> None:
        member = buyer(memberships=frozenset({"gap-card"}))
        calc = run(
            self.programme,
            cart(line("jeans", 200_000), line("tee", 100_000, on_sale=True)),
            member,
        )
        assert [ln.discount for ln in calc.lines] == [10_000, 0]
        assert calc.issued == []

    def test_birthday_week_doubles_the_card_discount(self) -> None:
        member = buyer(memberships=frozenset({"gap-card"}), birth_date=date(1990, 6, 17))
        calc = run(self.programme, cart(line("jeans", 200_000)), member)
        assert calc.discount_total == 20_000
        assert applied(calc) == ["birthday"]
        assert "group card already used by birthday" in str(trace(calc, "card-discount")["reason"])

    def test_outside_the_birthday_week_the_card_gives_5_percent(self) -> None:
        member = buyer(memberships=frozenset({"gap-card"}), birth_date=date(1990, 6, 25))
        calc = run(self.programme, cart(line("jeans", 200_000)), member)
        assert calc.discount_total == 10_000


@pytest.mark.parametrize(
    ("lifetime", "discount"),
    [(999_999, 0), (1_000_000, 5_000), (2_000_000, 7_000), (4_999_999, 7_000), (5_000_000, 10_000)],
)
def test_progressive_discount_by_lifetime_spend(lifetime: int, discount: int) -> None:
    calc = run(
        example("progressive"), cart(line("kettle", 100_000)), buyer(lifetime_spend=lifetime)
    )
    assert calc.discount_total == discount


@pytest.mark.parametrize(
    ("last_month", "discount"),
    [(0, 3_000), (99_999, 3_000), (100_000, 10_000), (150_000, 10_000), (150_001, 15_000)],
)
def test_podruzhka_discount_follows_last_months_spend(last_month: int, discount: int) -> None:
    calc = run(
        example("podruzhka"), cart(line("cream", 100_000)), buyer(spend_previous_month=last_month)
    )
    assert calc.discount_total == discount


def test_cashback_returns_20_percent_of_every_check_as_points() -> None:
    calc = run(example("cashback"), cart(line("a", 123_456)), buyer())
    assert calc.points_to_earn == 247  # 246.91 roubles, rounded half-even to whole points


class TestGazpromNeft:
    programme = example("gazprom_neft")

    @pytest.mark.parametrize(("coffees", "discount"), [(1, 0), (2, 7_500), (3, 7_500), (4, 15_000)])
    def test_second_coffee_half_price(self, coffees: int, discount: int) -> None:
        calc = run(self.programme, cart(line("latte", 15_000, coffees, category="coffee")), buyer())
        assert calc.discount_total == discount

    def test_buy_two_snacks_the_cheapest_third_is_free(self) -> None:
        calc = run(
            self.programme,
            cart(
                line("nuts", 10_000, category="snacks"),
                line("bar", 8_000, category="snacks"),
                line("chips", 6_000, category="snacks"),
            ),
            buyer(),
        )
        assert [ln.discount for ln in calc.lines] == [0, 0, 6_000]

    def test_six_snacks_two_free(self) -> None:
        calc = run(self.programme, cart(line("bar", 8_000, 6, category="snacks")), buyer())
        assert calc.discount_total == 16_000


class TestLensmaster:
    programme = example("lensmaster")

    def test_each_pair_earns_a_stamp(self) -> None:
        calc = run(
            self.programme,
            cart(line("acuvue", 300_000, category="lenses")),
            buyer(stamps={"lenses": 9}),
        )
        assert calc.stamps() == {"lenses": 1}
        assert calc.discount_total == 0

    def test_ten_stamps_make_the_eleventh_pair_free(self) -> None:
        calc = run(
            self.programme,
            cart(line("acuvue", 300_000, category="lenses")),
            buyer(stamps={"lenses": 10}),
        )
        assert calc.discount_total == 300_000
        assert calc.stamps() == {"lenses": -10}  # ten used, none earned by the free pair

    def test_the_cheaper_pair_is_the_free_one_and_the_paid_one_earns(self) -> None:
        calc = run(
            self.programme,
            cart(
                line("acuvue", 300_000, category="lenses"),
                line("biofinity", 200_000, category="lenses"),
            ),
            buyer(stamps={"lenses": 12}),
        )
        assert [ln.discount for ln in calc.lines] == [0, 200_000]
        assert calc.stamps() == {"lenses": -9}


class TestVirginAtlantic:
    programme = example("virgin_atlantic")

    @pytest.mark.parametrize(
        ("tier", "miles"), [("red", 1_000), ("silver", 1_500), ("gold", 1_600)]
    )
    def test_silver_earns_half_as_much_again(self, tier: str, miles: int) -> None:
        calc = run(self.programme, cart(line("lhr-jfk", 10_000)), buyer(tier))
        assert calc.points_to_earn == miles

    def test_perks_travel_with_the_order(self) -> None:
        calc = run(self.programme, cart(line("lhr-jfk", 10_000)), buyer("gold"))
        assert {i.name for i in calc.issued if i.kind == "entitlement"} == {
            "priority_check_in",
            "lounge",
        }


class TestSvyaznoy:
    programme = example("svyaznoy")

    @pytest.mark.parametrize(
        ("partner", "points"),
        [(None, 100), ("pharmacy", 300), ("bookshop", 500), ("travel", 1_400)],
    )
    def test_each_partner_earns_at_its_own_rate(self, partner: str | None, points: int) -> None:
        calc = run(self.programme, cart(line("x", 1_000_000)), buyer(), partner=partner)
        assert calc.points_to_earn == points

    def test_points_pay_for_everything_with_any_partner(self) -> None:
        calc = run(
            self.programme,
            cart(line("x", 100_000)),
            buyer(available_points=5_000),
            points=1_000,
            partner="pharmacy",
        )
        assert calc.total_to_pay == 0


class TestPaidMemberships:
    def test_prime_signup_grants_a_year(self) -> None:
        calc = run(example("amazon_prime"), cart(line("prime-annual", 9_900)), buyer("customer"))
        assert [(i.kind, i.name, i.days) for i in calc.issued] == [("membership", "prime", 365)]
        assert calc.total_to_pay == 9_900

    def test_prime_members_ship_free_and_save_on_deals(self) -> None:
        member = buyer("customer", memberships=frozenset({"prime"}))
        calc = run(
            example("amazon_prime"),
            cart(line("tv", 50_000, category="deals"), line("book", 2_000)),
            member,
        )
        assert [ln.discount for ln in calc.lines] == [2_500, 0]
        assert "free_two_day_shipping" in {i.name for i in calc.issued}

    def test_without_prime_nothing(self) -> None:
        calc = run(
            example("amazon_prime"), cart(line("tv", 50_000, category="deals")), buyer("customer")
        )
        assert calc.discount_total == 0
        assert "no active membership prime" in str(trace(calc, "prime-perks")["reason"])

    def test_bahncard_halves_every_ticket(self) -> None:
        member = buyer("traveller", memberships=frozenset({"bahncard-50"}))
        calc = run(
            example("bahncard"),
            cart(line("berlin-munich", 13_990, category="tickets"), line("coffee", 350)),
            member,
        )
        assert [ln.discount for ln in calc.lines] == [6_995, 0]

    def test_bahncard_costs_220(self) -> None:
        calc = run(example("bahncard"), cart(line("bahncard-50", 22_000)), buyer("traveller"))
        assert calc.total_to_pay == 22_000
        assert calc.issued[0].name == "bahncard-50"


class TestCapsboutique:
    programme = example("capsboutique")
    skidka = PresentedCode("SKIDKA30", "skidka30")

    def test_skidka30_takes_30_percent_off_10000(self) -> None:
        calc = run(
            self.programme, cart(line("cap", 1_000_000)), buyer("customer"), codes=(self.skidka,)
        )
        assert calc.discount_total == 300_000

    def test_skidka30_needs_10000(self) -> None:
        calc = run(
            self.programme, cart(line("cap", 999_999)), buyer("customer"), codes=(self.skidka,)
        )
        assert calc.discount_total == 0
        assert "below 1,000,000" in str(trace(calc, "skidka30")["reason"])

    def test_skidka30_is_not_combinable_with_the_one_rouble_cap(self) -> None:
        calc = run(
            self.programme,
            cart(line("cap", 1_000_000), line("promo-cap", 150_000)),
            buyer("customer"),
            codes=(self.skidka,),
        )
        assert [ln.discount for ln in calc.lines] == [0, 149_900]
        assert "not combinable" in str(trace(calc, "skidka30")["reason"])

    def test_an_expired_code_says_why(self) -> None:
        expired = PresentedCode("SKIDKA30", "skidka30", valid=False, reason="expired 2026-05-01")
        calc = run(
            self.programme, cart(line("cap", 1_000_000)), buyer("customer"), codes=(expired,)
        )
        assert calc.discount_total == 0
        assert "expired 2026-05-01" in str(trace(calc, "skidka30")["reason"])

    def test_every_order_prints_a_personal_code(self) -> None:
        calc = run(self.programme, cart(line("cap", 100_000)), buyer("customer"))
        assert [(i.kind, i.name) for i in calc.issued] == [("code", "personal")]


class TestReferral:
    programme = example("referral")

    def test_friend_saves_10_percent_and_the_referrer_earns_500(self) -> None:
        code = PresentedCode("ANNA-7K3M", "referral", owner_customer_id=7)
        calc = run(self.programme, cart(line("x", 100_000)), buyer(customer_id=9), codes=(code,))
        assert calc.discount_total == 10_000
        effects = calc.offers.applied[0]
        assert (effects.code_owner_customer_id, effects.code_owner_points) == (7, 500)

    def test_no_self_referral(self) -> None:
        code = PresentedCode("ANNA-7K3M", "referral", owner_customer_id=7)
        calc = run(self.programme, cart(line("x", 100_000)), buyer(customer_id=7), codes=(code,))
        assert calc.discount_total == 0
        assert "no self-referral" in str(trace(calc, "referral")["reason"])

    def test_only_the_first_order(self) -> None:
        code = PresentedCode("ANNA-7K3M", "referral", owner_customer_id=7)
        calc = run(
            self.programme,
            cart(line("x", 100_000)),
            buyer(customer_id=9, orders_count=1),
            codes=(code,),
        )
        assert calc.discount_total == 0


class TestB2bVolume:
    programme = example("b2b_volume")

    def company(self, units: int) -> object:
        return buyer("client", customer_type=CustomerType.LEGAL_ENTITY, units_this_year=units)

    @pytest.mark.parametrize(
        ("before", "units", "discount"),
        [
            (0, 100, 0),  # units 1–100: full price
            (90, 20, 500),  # 10 at full price, 10 at −5% of 1,000
            (150, 10, 500),  # all ten at −5%
            (290, 20, 3_000),  # 10 at −10%, 10 at −20%
            (400, 5, 1_000),  # over 300: −20%
        ],
    )
    def test_units_get_the_rate_of_their_place_in_the_year(
        self, before: int, units: int, discount: int
    ) -> None:
        calc = run(self.programme, cart(line("widget", 1_000, units)), self.company(before))  # type: ignore[arg-type]
        assert calc.discount_total == discount

    def test_people_are_not_wholesale_clients(self) -> None:
        calc = run(self.programme, cart(line("widget", 1_000, 500)), buyer("client"))
        assert calc.discount_total == 0


@pytest.mark.parametrize(
    ("registered", "points"),
    [("2026-01-01", 100), ("2025-06-01", 150), ("2024-05-01", 200), ("2021-01-01", 400)],
)
def test_bellsouth_tenure_raises_earning(registered: str, points: int) -> None:
    since = datetime.fromisoformat(f"{registered}T00:00:00+00:00")
    calc = run(
        example("bellsouth"), cart(line("bill", 10_000)), buyer("customer", registered_at=since)
    )
    assert calc.points_to_earn == points


class TestSnowa:
    programme = example("snowa")
    during = datetime.fromisoformat("2027-03-21T10:00:00+03:30")

    def test_festival_doubles_points_and_adds_a_bonus(self) -> None:
        calc = run(self.programme, cart(line("fridge", 500_000_000)), buyer(), at=self.during)
        # 2% of 500,000,000 rials at 1,000 rials a point = 10,000; doubled 20,000; +1,000 bonus
        assert calc.points_to_earn == 21_000

    def test_outside_the_festival_normal_points(self) -> None:
        after = datetime.fromisoformat("2027-04-03T10:00:00+03:30")
        calc = run(self.programme, cart(line("fridge", 500_000_000)), buyer(), at=after)
        assert calc.points_to_earn == 10_000

    def test_the_points_budget_is_never_overrun(self) -> None:
        calc = run(
            self.programme,
            cart(line("fridge", 500_000_000)),
            buyer(),
            at=self.during,
            budgets_remaining={"nowruz-festival": 10_999},
        )
        assert calc.points_to_earn == 10_000
        assert (
            trace(calc, "nowruz-festival")["reason"]
            == "points budget: 10,999 left, the offer would give 11,000"
        )


def test_a_gift_voucher_pays_what_discounts_leave() -> None:
    programme = example("capsboutique")
    codes = (
        PresentedCode("SKIDKA30", "skidka30"),
        PresentedCode("GIFT-7QK2", "gift", value_minor=500_000),
    )
    calc = run(programme, cart(line("cap", 1_000_000)), buyer("customer"), codes=codes)
    assert calc.discount_total == 300_000 + 500_000
    assert calc.total_to_pay == 200_000
    big = (PresentedCode("GIFT-9ZZ2", "gift", value_minor=5_000_000),)
    assert (
        run(programme, cart(line("cap", 100_000)), buyer("customer"), codes=big).total_to_pay == 0
    )
