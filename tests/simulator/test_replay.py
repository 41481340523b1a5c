"""Replays checked by hand: a tiny history through the Panasonic programme, then invariants
over every example programme. Pure: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.factories import panasonic_document
from tonari.imports.synthetic import synthetic_history
from tonari.programs.schemas import CustomerType
from tonari.programs.service import load_programme_file, parse_programme
from tonari.simulator.history import history_from_records
from tonari.simulator.prepared import RedemptionMode, RedemptionPolicy, prepare
from tonari.simulator.replay import Replayer
from tonari.simulator.simulate import simulate

PANASONIC = parse_programme(panasonic_document())
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "programmes").glob("*.yaml"))
RECORDED = RedemptionPolicy(RedemptionMode.RECORDED)


def line(product: str, price: int, category: str = "tv", quantity: int = 1) -> dict[str, Any]:
    return {"product_id": product, "category": category, "unit_price": price, "quantity": quantity}


HAND_COUNTED = [
    # A, silver: 5% of 20,000 RUB = 1,000 points, pending 14 days, expire at the end of Jan 2025
    {"customer_id": "A", "order_id": "o1", "placed_at": "2024-01-10T12:00:00+03:00",
     "lines": [line("tv1", 2_000_000)]},
    # B, silver, never back: 250 points that expire unused at the end of Jan 2025
    {"customer_id": "B", "order_id": "o4", "placed_at": "2024-01-15T09:00:00+03:00",
     "lines": [line("cam", 500_000, "camera")]},
    # A spends 600 of 1,000; the promo line earns 30% of what is paid: 9,400 RUB → 2,820
    {"customer_id": "A", "order_id": "o2", "placed_at": "2024-02-01T10:00:00+03:00",
     "points_spent": 600, "lines": [line("p1", 1_000_000, "promo")]},
    # A, a bare date (local midnight): 5% of 25,000 = 1,250; lifetime 55,000 → Gold after it
    {"customer_id": "A", "order_id": "o3", "placed_at": "2024-03-05",
     "lines": [line("tv2", 2_500_000)]},
    # A, Gold: spends 1,000 (400 from o1's lot, 600 from o2's), earns 10% of 9,000 = 900,
    # then returns everything ten days later, inside the pending window
    {"customer_id": "A", "order_id": "o5", "placed_at": "2024-04-10T12:00:00+03:00",
     "points_spent": 1_000, "lines": [line("tv3", 1_000_000)],
     "returned_at": "2024-04-20T12:00:00+03:00"},
]  # fmt: skip
UNTIL = datetime.fromisoformat("2025-03-15T00:00:00+03:00")


def hand_history() -> list[Any]:
    history = history_from_records(HAND_COUNTED, zone=PANASONIC.zone)
    assert history.rejects == []
    return history.orders


def test_a_hand_counted_history_through_panasonic() -> None:
    replayer = Replayer(PANASONIC, prepare(hand_history(), until=UNTIL), policy=RECORDED)
    result = replayer.run()
    total = result.total
    assert total("points_issued") == 1_000 + 250 + 2_820 + 1_250 + 900
    assert total("points_taken_back") == 900  # o5's own lot, still pending
    assert total("points_redeemed") == 600  # o5's 1,000 came back with the return
    # o1's 400 left (end of Jan 2025), B's 250 (end of Jan), o2's 2,820 (end of Feb)
    assert total("points_expired") == 400 + 250 + 2_820
    assert result.outstanding_points == 1_250  # o3's lot, expiring at the end of March 2025
    assert sum(member.outstanding for member in replayer.members) == 1_250
    assert total("sales") == 2_000_000 + 500_000 + 1_000_000 + 2_500_000
    assert total("revenue") == 2_000_000 + 500_000 + 940_000 + 2_500_000
    assert result.months[0] == "2024-01" and result.months[-1] == "2025-03"
    by_month = dict(zip(result.months, result.liability_points, strict=True))
    assert by_month["2024-01"] == 1_250
    assert by_month["2024-02"] == 1_250 + 2_820 - 600
    assert by_month["2024-04"] == by_month["2024-03"] == 3_470 + 1_250
    assert by_month["2024-12"] == 4_720
    assert by_month["2025-01"] == 4_720 - 400 - 250
    assert by_month["2025-02"] == by_month["2025-03"] == 1_250
    expired = dict(zip(result.months, result.series["points_expired"], strict=True))
    assert expired["2025-01"] == 650 and expired["2025-02"] == 2_820
    tiers = dict(zip(result.months, result.tier_counts, strict=True))
    assert tiers["2024-02"] == [2, 0, 0]
    assert tiers["2024-03"] == tiers["2025-03"] == [1, 1, 0]  # A Gold, still active enough


def test_the_hand_counted_figures_valued_against_no_programme() -> None:
    comparison = simulate(
        hand_history(), programme=PANASONIC, baseline=None, margin_bp=3_000, policy=RECORDED,
        until=UNTIL,
    )  # fmt: skip
    proposal, baseline = comparison.proposal_figures, comparison.baseline_figures
    assert proposal["redeemed_value"] == 60_000  # 600 points × 1 RUB
    assert proposal["liability_value"] == 125_000
    assert proposal["cash_cost"] == 60_000
    assert proposal["programme_cost"] == 185_000
    assert proposal["gross_profit"] == 1_800_000  # 30% of 60,000 RUB
    assert proposal.cost_share_of_profit == Fraction(185_000, 1_800_000)
    assert proposal.breakage_rate == Fraction(3_470, 6_220 - 900)
    # no programme: the same sales, nothing given away
    assert baseline["sales"] == proposal["sales"] == 6_000_000
    assert baseline["revenue"] == 6_000_000
    for key in ("discounts", "cash_cost", "programme_cost", "liability_value", "points_issued"):
        assert baseline[key] == 0
    assert baseline["profit_after"] == baseline["gross_profit"] == 1_800_000
    answer = comparison.as_dict()
    assert answer["difference"]["programme_cost"] == 185_000
    assert answer["ratios"]["cost_share_of_profit"]["proposal"]["exact"] == "37/360"
    assert answer["ratios"]["sales_uplift_to_stand_still"]["exact"] == "37/323"


def test_a_programme_against_itself_costs_nothing_more() -> None:
    comparison = simulate(
        hand_history(), programme=PANASONIC, baseline=PANASONIC, margin_bp=3_000, until=UNTIL
    )
    assert all(value == 0 for value in comparison.as_dict()["difference"].values())
    assert comparison.sales_uplift_to_stand_still == 0


def test_a_legal_entity_cannot_pay_with_points_and_nobody_spends_under_none() -> None:
    orders = [replace(order, customer_type=CustomerType.LEGAL_ENTITY) for order in hand_history()]
    legal = Replayer(PANASONIC, prepare(orders, until=UNTIL), policy=RECORDED).run()
    assert legal.total("points_redeemed") == 0
    nobody = Replayer(
        PANASONIC,
        prepare(hand_history(), until=UNTIL),
        policy=RedemptionPolicy(RedemptionMode.NONE),
    ).run()
    assert nobody.total("points_redeemed") == 0
    assert nobody.total("revenue") == nobody.total("sales")


def test_spending_the_most_allowed_once_the_balance_reaches_a_threshold() -> None:
    policy = RedemptionPolicy(RedemptionMode.MAX, min_balance=3_000)
    result = Replayer(PANASONIC, prepare(hand_history(), until=UNTIL), policy=policy).run()
    # o2 finds A with 1,000 (< 3,000): nothing spent, the promo line earns 3,000. o3 finds
    # 4,000 and spends it all (the cap is half of 25,000 RUB), earning 5% of 21,000 = 1,050.
    # o5 finds only those 1,050: nothing spent; its 1,000 points go back with the return.
    assert result.total("points_redeemed") == 4_000
    assert result.total("points_issued") == 1_000 + 250 + 3_000 + 1_050 + 1_000
    assert result.total("points_taken_back") == 1_000
    assert result.total("points_expired") == 250
    assert result.outstanding_points == 1_050


def synthetic(orders: int = 1_500) -> list[Any]:
    records = [
        {**order.record(), "lines": order.lines} if order.lines else order.record()
        for order in synthetic_history(
            orders=orders,
            customers=orders // 6,
            start=datetime(2022, 1, 1, tzinfo=UTC),
            end=datetime(2024, 6, 30, tzinfo=UTC),
            seed=11,
        )
    ]
    for index, record in enumerate(records):
        if index % 23 == 0:
            record["returned_at"] = "2024-07-15T10:00:00+00:00"
            record["returned_lines"] = [{"line_no": 1, "quantity": 1}]
        if index % 7 == 0:
            record["points_spent"] = 5_000
    history = history_from_records(records, zone=PANASONIC.zone)
    assert history.rejects == []
    return history.orders


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_programme_balances_its_points(path: Path) -> None:
    """Issued − taken back − redeemed − expired = what customers hold, for every programme, and
    skipping tier evaluations that cannot change anything changes nothing."""
    programme = parse_programme(load_programme_file(path))
    history = prepare(synthetic())
    for policy in (RedemptionPolicy(), RECORDED):
        fast = Replayer(programme, history, policy=policy)
        result = fast.run()
        held = sum(member.outstanding for member in fast.members)
        assert result.outstanding_points == held
        assert result.pending_points == sum(member.pending for member in fast.members)
        assert result.total("orders") == len(history)
        exact = Replayer(programme, history, policy=policy, exact_tiers=True).run()
        assert exact.series == result.series
        assert exact.tier_counts == result.tier_counts


@pytest.mark.parametrize("name", ["panasonic", "gap", "virgin_atlantic"])
def test_customers_split_over_processes_add_up_to_the_same_replay(name: str) -> None:
    from tonari.simulator import parallel

    path = next(path for path in EXAMPLES if path.stem == name)
    programme = parse_programme(load_programme_file(path))
    history = prepare(synthetic(900))
    whole = Replayer(programme, history, policy=RECORDED).run()
    shards = [
        Replayer(programme, parallel.shard_of(history, index, 3), policy=RECORDED).run()
        for index in range(3)
    ]
    assert sum(shard.orders for shard in shards) == len(history)
    merged = parallel.merge(shards)
    assert merged.series == whole.series
    assert merged.tier_counts == whole.tier_counts
    assert merged.liability_points == whole.liability_points
    assert merged.customers == whole.customers
    forked = parallel.replay_in_parallel(programme, history, policy=RECORDED, workers=2)
    assert forked.series == whole.series and forked.tier_counts == whole.tier_counts
