"""The seed's arithmetic of discounts and bonuses against margin, to the unit."""

from __future__ import annotations

from fractions import Fraction

from tonari.simulator.economics import (
    basis_points,
    bonus_cost_on_second_purchase,
    discount_cost,
    percent,
    sales_increase_to_stand_still,
    uplift_to_stand_still,
)


def test_a_five_percent_discount_costs_a_sixth_of_the_profit() -> None:
    cost = discount_cost(9_000, margin_bp=3_000, discount_bp=500)
    assert cost.profit == 2_700
    assert cost.cost == 450
    assert cost.share_of_profit == Fraction(1, 6)
    assert percent(cost.share_of_profit) == "16.7%"  # the seed rounds it to 17.5%
    assert cost.profit_left == 2_250
    assert "450" in cost.explain() and "16.7%" in cost.explain()


def test_the_same_five_percent_as_a_bonus_spent_on_a_second_purchase_costs_half() -> None:
    cost = bonus_cost_on_second_purchase(9_000, margin_bp=3_000, bonus_bp=500)
    assert cost.bonus == 450
    assert cost.profit_of_both == 5_400
    assert cost.share_of_profit == Fraction(1, 12)
    assert percent(cost.share_of_profit) == "8.3%"  # the seed says 8.5%


def test_a_ten_percent_discount_at_45_percent_margin_needs_28_6_percent_more_sales() -> None:
    still = sales_increase_to_stand_still(margin_bp=4_500, discount_bp=1_000)
    assert still.margin_left_bp == 3_500  # 35 of 45 left
    assert still.sales_increase == Fraction(2, 7)
    assert percent(still.sales_increase) == "28.6%"
    assert "35" in still.explain() and "45" in still.explain()
    # the general form used by the simulator agrees: profit 45 per 100 sold, cost 10 vs 0
    assert uplift_to_stand_still(profit_before_costs=45, cost_before=0, cost_after=10) == Fraction(
        2, 7
    )


def test_a_discount_that_eats_the_margin_can_never_be_made_up() -> None:
    assert sales_increase_to_stand_still(margin_bp=1_000, discount_bp=1_000).sales_increase is None
    assert uplift_to_stand_still(profit_before_costs=10, cost_before=0, cost_after=10) is None


def test_percent_rounds_half_up_only_for_display() -> None:
    assert percent(Fraction(1, 8), 1) == "12.5%"
    assert percent(Fraction(1, 16), 1) == "6.3%"
    assert percent(Fraction(-1, 6), 1) == "-16.7%"
    assert percent(Fraction(1, 3), 0) == "33%"
    assert percent(None) == "–"
    assert basis_points(Fraction(1, 6)) == 1_667
