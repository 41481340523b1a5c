"""The SVG charts: bars proportional to the values, labels, empty data, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tonari.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg: str) -> list[ET.Element]:
    return [e for e in ET.fromstring(svg).iter(f"{SVG}rect") if e.get("class") == "bar"]


def test_bars_are_proportional_to_their_values() -> None:
    svg = charts.bar_chart(["a", "b", "c", "d"], [10, 20, 40, 0], title="Sales")
    bars = _bars(svg)
    heights = [float(b.get("height", "0")) for b in bars]
    assert heights[1] == pytest.approx(2 * heights[0], rel=1e-3)
    assert heights[2] == pytest.approx(4 * heights[0], rel=1e-3)
    assert heights[3] == 0
    # Every bar stands on the same baseline (y + height), and a bigger value is taller.
    bottoms = {round(float(b.get("y", "0")) + float(b.get("height", "0")), 1) for b in bars}
    assert len(bottoms) == 1
    assert [b.get("data-value") for b in bars] == ["10", "20", "40", "0"]


def test_labels_axis_ticks_and_tooltips() -> None:
    svg = charts.bar_chart(
        ["01 Jun", "02 Jun"], [1500, 250], title="Sales per day", value_format=lambda v: f"{v} ₽"
    )
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "Sales per day"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "01 Jun" in texts and "02 Jun" in texts
    assert {"0", "500", "1k", "1.5k"} <= set(texts), texts  # round value-axis ticks
    tooltips = [t.text for b in _bars(svg) for t in b.iter(f"{SVG}title")]
    assert tooltips == ["01 Jun: 1500 ₽", "02 Jun: 250 ₽"]
    assert root.get("role") == "img" and root.get("aria-label") == "Sales per day"


def test_many_labels_are_thinned_but_the_last_is_kept() -> None:
    labels = [f"d{n}" for n in range(30)]
    svg = charts.bar_chart(labels, list(range(30)), title="t", width=400)
    shown = re.findall(r'class="label">([^<]+)<', svg)
    assert 3 <= len(shown) < 30 and shown[-1] == "d29" and shown[0] == "d0"


def test_empty_data_says_so() -> None:
    for svg in (
        charts.bar_chart([], [], title="Sales"),
        charts.bar_chart(["a", "b"], [0, 0], title="Sales"),
        charts.line_chart(["a"], [charts.Series("x", [0])], title="Points"),
        charts.interval_chart([charts.IntervalRow("x", None, None, None)], title="Diff"),
    ):
        assert "No data yet" in svg
        ET.fromstring(svg)  # still well-formed
    with pytest.raises(ValueError):
        charts.bar_chart(["a"], [1, 2], title="mismatch")


def test_negative_values_go_below_the_zero_line() -> None:
    svg = charts.bar_chart(["up", "down"], [30, -10], title="net")
    up, down = _bars(svg)
    assert float(up.get("y", "0")) + float(up.get("height", "0")) == pytest.approx(
        float(down.get("y", "0"))
    )
    assert float(down.get("height", "0")) == pytest.approx(float(up.get("height", "0")) / 3)


def test_line_chart_draws_each_series_with_a_legend() -> None:
    svg = charts.line_chart(
        ["a", "b", "c"],
        [charts.Series("Issued", [0, 50, 100]), charts.Series("Spent", [10, 0, 20])],
        title="Points",
    )
    root = ET.fromstring(svg)
    lines = [e for e in root.iter(f"{SVG}polyline")]
    assert [line.get("data-series") for line in lines] == ["Issued", "Spent"]
    issued = [tuple(map(float, p.split(","))) for p in lines[0].get("points", "").split()]
    # Equal steps in value are equal steps in height.
    assert issued[0][1] - issued[1][1] == pytest.approx(issued[1][1] - issued[2][1])
    assert "Issued" in svg and "Spent" in svg


def test_text_is_escaped() -> None:
    svg = charts.bar_chart(["<b>&"], [1], title='"quoted" <title>')
    ET.fromstring(svg)
    assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg


def test_progress_bar_parts_add_up_to_their_share() -> None:
    svg = charts.progress_bar(
        [charts.Part("sent", 50, "#0a0"), charts.Part("skipped", 25, "#a00")],
        total=100,
        title="Progress",
        width=200,
    )
    parts = [e for e in ET.fromstring(svg).iter(f"{SVG}rect") if e.get("class") == "part"]
    assert [float(p.get("width", "0")) for p in parts] == [100.0, 50.0]
    assert "sent 50, skipped 25 of 100" in svg


def test_interval_chart_places_the_estimate_inside_its_interval() -> None:
    svg = charts.interval_chart(
        [charts.IntervalRow("Conversion", 2.0, -1.0, 5.0), charts.IntervalRow("ARPU", 10, 4, 16)],
        title="Difference",
    )
    root = ET.fromstring(svg)
    whiskers = [e for e in root.iter(f"{SVG}line") if e.get("class") == "whisker"]
    dots = [e for e in root.iter(f"{SVG}circle") if e.get("class") == "estimate"]
    zero = next(e for e in root.iter(f"{SVG}line") if e.get("class") == "zero")
    for whisker, dot in zip(whiskers, dots, strict=True):
        assert (
            float(whisker.get("x1", "0"))
            < float(dot.get("cx", "0"))
            < float(whisker.get("x2", "0"))
        )
    # The first interval crosses zero (no measurable effect), the second does not.
    zero_x = float(zero.get("x1", "0"))
    assert float(whiskers[0].get("x1", "0")) < zero_x < float(whiskers[0].get("x2", "0"))
    assert float(whiskers[1].get("x1", "0")) > zero_x


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert charts.nice_ticks(0, 93) == [0, 20, 40, 60, 80, 100]
    ticks = charts.nice_ticks(-7, 12)
    assert ticks[0] <= -7 and ticks[-1] >= 12 and 0 in ticks
    assert charts.nice_ticks(5, 5)[0] <= 5 <= charts.nice_ticks(5, 5)[-1]
