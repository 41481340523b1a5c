"""Charts as inline SVG, drawn on the server: no JavaScript, readable by tests and screen readers.

Pure functions from numbers to an SVG string: a bar chart, a line chart of one or more
series, a progress bar of stacked parts, and an interval chart (a difference with its
confidence interval around zero). Every chart has a ``<title>`` and ``<desc>`` for assistive
technology, each bar or point its own ``<title>`` (the tooltip) and ``data-value``, the
value axis "nice" round ticks, and an empty series a readable "No data yet".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Formatter = Callable[[float], str]
PALETTE = ("#2f6fde", "#e0782f", "#2e9d5b", "#a64ac9", "#c8443c")
AXIS = "#6b7280"
GRID = "#e5e7eb"
TEXT = "#1f2937"
FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float]
    colour: str | None = None


@dataclass(frozen=True, slots=True)
class Part:
    """A segment of a progress bar."""

    name: str
    value: int
    colour: str


def plain_number(value: float) -> str:
    """``1234567`` → ``1,234,567``; ``0.25`` → ``0.25``."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def short_number(value: float) -> str:
    """Axis labels: ``1500`` → ``1.5k``, ``2000000`` → ``2M``."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return plain_number(round(value, 2))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]`` (always including 0 when in range)."""
    if high < low:
        low, high = high, low
    if math.isclose(high, low):
        high = low + 1 if low >= 0 else low + abs(low)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
        if len(ticks) > 50:
            break
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _open(width: int, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" {FONT} font-size="11">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>",
    ]


def _empty(width: int, height: int, title: str) -> str:
    parts = _open(width, height, title, "No data yet")
    parts.append(
        f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" fill="{AXIS}" '
        f'font-size="13" class="empty">No data yet</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot area inside the margins, and how values map onto it."""

    left: float
    top: float
    width: float
    height: float
    low: float
    high: float

    def y(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.top + self.height * (1 - (value - self.low) / span)


def _value_axis(frame: _Frame, ticks: Sequence[float], fmt: Formatter) -> list[str]:
    parts = []
    for tick in ticks:
        y = frame.y(tick)
        parts.append(
            f'<line x1="{frame.left:.1f}" y1="{y:.1f}" x2="{frame.left + frame.width:.1f}" '
            f'y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{frame.left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}" '
            f'class="tick">{escape(fmt(tick))}</text>'
        )
    zero = frame.y(max(frame.low, min(0.0, frame.high)))
    parts.append(
        f'<line x1="{frame.left:.1f}" y1="{zero:.1f}" x2="{frame.left + frame.width:.1f}" '
        f'y2="{zero:.1f}" stroke="{AXIS}" stroke-width="1" class="axis"/>'
    )
    parts.append(
        f'<line x1="{frame.left:.1f}" y1="{frame.top:.1f}" x2="{frame.left:.1f}" '
        f'y2="{frame.top + frame.height:.1f}" stroke="{AXIS}" stroke-width="1" class="axis"/>'
    )
    return parts


def _category_labels(
    frame: _Frame, labels: Sequence[str], centre: Callable[[int], float], every: int
) -> list[str]:
    parts = []
    baseline = frame.top + frame.height + 16
    last = len(labels) - 1
    for index, label in enumerate(labels):
        # Every ``every``-th label, and the last one; none so close to the last that they meet.
        if index != last and (index % every or last - index < every):
            continue
        parts.append(
            f'<text x="{centre(index):.1f}" y="{baseline:.1f}" text-anchor="middle" '
            f'fill="{AXIS}" class="label">{escape(label)}</text>'
        )
    return parts


def _label_step(count: int, room: float, per_label: float = 44.0) -> int:
    return max(1, math.ceil(count * per_label / max(room, 1.0)))


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for index, item in enumerate(series):
        colour = item.colour or PALETTE[index % len(PALETTE)]
        left = x + index * 150
        parts.append(
            f'<rect x="{left:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{left + 14:.1f}" y="{y:.1f}" fill="{TEXT}" class="legend">'
            f"{escape(item.name)}</text>"
        )
    return parts


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    value_format: Formatter = plain_number,
    colour: str = PALETTE[0],
) -> str:
    """One bar per label, heights proportional to the values (negative bars go below 0)."""
    if len(labels) != len(values):
        raise ValueError("bar_chart needs one value per label")
    if not values or not any(values):
        return _empty(width, height, title)
    low, high = min(0.0, *values), max(0.0, *values)
    ticks = nice_ticks(low, high)
    frame = _Frame(56, 12, width - 56 - 12, height - 12 - 28, ticks[0], ticks[-1])
    slot = frame.width / len(values)
    bar = max(slot * 0.7, 1.0)
    described = ", ".join(
        f"{label}: {value_format(v)}" for label, v in zip(labels, values, strict=True)
    )
    parts = _open(width, height, title, described)
    parts.extend(_value_axis(frame, ticks, short_number))
    zero = frame.y(max(frame.low, min(0.0, frame.high)))
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        top = frame.y(value)
        y, h = min(top, zero), abs(zero - top)
        x = frame.left + index * slot + (slot - bar) / 2
        parts.append(
            f'<rect class="bar" x="{x:.2f}" y="{y:.2f}" width="{bar:.2f}" height="{h:.2f}" '
            f'fill="{colour}" data-label="{escape(label)}" data-value="{value:g}">'
            f"<title>{escape(label)}: {escape(value_format(value))}</title></rect>"
        )
    every = _label_step(len(labels), frame.width)
    parts.extend(_category_labels(frame, labels, lambda i: frame.left + (i + 0.5) * slot, every))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    value_format: Formatter = plain_number,
) -> str:
    """One polyline per series over shared labels, with a point (and tooltip) per value."""
    for item in series:
        if len(item.values) != len(labels):
            raise ValueError(f"series {item.name!r} needs one value per label")
    every_value = [v for item in series for v in item.values]
    if not labels or not any(every_value):
        return _empty(width, height, title)
    low, high = min(0.0, *every_value), max(0.0, *every_value)
    ticks = nice_ticks(low, high)
    frame = _Frame(56, 26, width - 56 - 12, height - 26 - 28, ticks[0], ticks[-1])
    step = frame.width / max(len(labels) - 1, 1)

    def x_of(index: int) -> float:
        return frame.left + (index * step if len(labels) > 1 else frame.width / 2)

    described = "; ".join(f"{item.name}: total {value_format(sum(item.values))}" for item in series)
    parts = _open(width, height, title, described)
    parts.extend(_value_axis(frame, ticks, short_number))
    for number, item in enumerate(series):
        colour = item.colour or PALETTE[number % len(PALETTE)]
        points = " ".join(f"{x_of(i):.2f},{frame.y(v):.2f}" for i, v in enumerate(item.values))
        parts.append(
            f'<polyline class="line" points="{points}" fill="none" stroke="{colour}" '
            f'stroke-width="2" data-series="{escape(item.name)}"/>'
        )
        for index, value in enumerate(item.values):
            parts.append(
                f'<circle class="point" cx="{x_of(index):.2f}" cy="{frame.y(value):.2f}" r="2.5" '
                f'fill="{colour}" data-value="{value:g}"><title>{escape(item.name)}, '
                f"{escape(labels[index])}: {escape(value_format(value))}</title></circle>"
            )
    parts.extend(_legend(series, frame.left, 14))
    every = _label_step(len(labels), frame.width)
    parts.extend(_category_labels(frame, labels, x_of, every))
    parts.append("</svg>")
    return "".join(parts)


def progress_bar(parts: Sequence[Part], *, total: int, title: str, width: int = 240) -> str:
    """A horizontal bar split into parts (sent, skipped, ...) out of ``total``."""
    height = 14
    described = ", ".join(f"{part.name} {part.value:,}" for part in parts) + f" of {total:,}"
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="progress" viewBox="0 0 {width} '
        f'{height}" width="{width}" height="{height}" role="img" aria-label="'
        f'{escape(title)}: {escape(described)}">',
        f"<title>{escape(title)}: {escape(described)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" rx="3" fill="{GRID}"/>',
    ]
    x = 0.0
    for part in parts:
        if total <= 0 or part.value <= 0:
            continue
        w = width * min(part.value, total) / total
        w = min(w, width - x)
        svg.append(
            f'<rect class="part" x="{x:.2f}" y="0" width="{w:.2f}" height="{height}" '
            f'fill="{part.colour}" data-part="{escape(part.name)}" data-value="{part.value}">'
            f"<title>{escape(part.name)}: {part.value:,}</title></rect>"
        )
        x += w
    svg.append("</svg>")
    return "".join(svg)


@dataclass(frozen=True, slots=True)
class IntervalRow:
    label: str
    difference: float | None
    low: float | None
    high: float | None


def interval_chart(
    rows: Sequence[IntervalRow],
    *,
    title: str,
    width: int = 640,
    value_format: Formatter = plain_number,
) -> str:
    """Each row: the difference as a dot, its confidence interval as a whisker, 0 as a line.

    A whisker that crosses the zero line means "no measurable effect yet". An unbounded
    interval (a group without customers) is drawn as an open arrow to the chart's edge.
    """
    known = [r for r in rows if r.difference is not None]
    row_height = 36
    height = 30 + row_height * max(len(rows), 1) + 24
    if not known:
        return _empty(width, height, title)
    values = [0.0]
    for row in known:
        values.extend(v for v in (row.difference, row.low, row.high) if v is not None)
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or 1.0
    ticks = nice_ticks(low - pad, high + pad, 6)
    left, right = 170.0, 16.0
    span = ticks[-1] - ticks[0] or 1.0

    def x_of(value: float) -> float:
        return left + (width - left - right) * (value - ticks[0]) / span

    described = "; ".join(
        f"{row.label}: {value_format(row.difference)} "
        f"(95% from {value_format(row.low) if row.low is not None else 'unbounded'} "
        f"to {value_format(row.high) if row.high is not None else 'unbounded'})"
        for row in known
        if row.difference is not None
    )
    parts = _open(width, height, title, described)
    bottom = height - 24
    for tick in ticks:
        parts.append(
            f'<line x1="{x_of(tick):.1f}" y1="20" x2="{x_of(tick):.1f}" y2="{bottom}" '
            f'stroke="{GRID}"/><text x="{x_of(tick):.1f}" y="{bottom + 14}" '
            f'text-anchor="middle" fill="{AXIS}" class="tick">{escape(short_number(tick))}</text>'
        )
    parts.append(
        f'<line class="zero" x1="{x_of(0):.1f}" y1="16" x2="{x_of(0):.1f}" y2="{bottom}" '
        f'stroke="{AXIS}" stroke-width="1.5"/>'
    )
    for index, row in enumerate(rows):
        y = 30 + index * row_height + row_height / 2
        parts.append(
            f'<text x="8" y="{y + 4:.1f}" fill="{TEXT}" class="label">{escape(row.label)}</text>'
        )
        if row.difference is None:
            continue
        lo = x_of(row.low) if row.low is not None else left
        hi = x_of(row.high) if row.high is not None else width - right
        significant = (row.low is not None and row.low > 0) or (
            row.high is not None and row.high < 0
        )
        colour = PALETTE[2] if significant else PALETTE[0]
        parts.append(
            f'<line class="whisker" x1="{lo:.1f}" y1="{y:.1f}" x2="{hi:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="3"/>'
        )
        parts.append(
            f'<circle class="estimate" cx="{x_of(row.difference):.1f}" cy="{y:.1f}" r="5" '
            f'fill="{colour}" data-value="{row.difference:g}"><title>{escape(row.label)}: '
            f"{escape(value_format(row.difference))}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)
