"""The events benchmark still runs (numbers are not checked: they mean little this small)."""

from __future__ import annotations


async def test_bench_events_runs_tiny(database_url: str) -> None:
    from bench.bench_events import bench_events, events_results

    outcome = await bench_events(database_url, events=1_500, rounds=1)
    assert outcome["events"] == 1_500 and outcome["rounds"] == 1
    assert outcome["service_events_per_s"] > 0 and outcome["copy_events_per_s"] > 0
    (row,) = events_results(outcome)
    assert row.ratio is not None and row.target_met is not None
