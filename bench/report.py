"""Results: percentiles, the printed table and ``bench/results/latest.json``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Latencies:
    count: int
    p50: float
    p95: float
    p99: float
    mean: float

    @classmethod
    def of(cls, values_ms: list[float]) -> Latencies:
        if not values_ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(
            len(values_ms),
            percentile(values_ms, 50),
            percentile(values_ms, 95),
            percentile(values_ms, 99),
            sum(values_ms) / len(values_ms),
        )


@dataclass
class Result:
    """One row: ``ratio = result / baseline``; ``higher_is_better`` says which way is good."""

    name: str
    result: float
    unit: str
    baseline: float | None
    baseline_label: str
    higher_is_better: bool
    p50_ms: float | None = None
    p95_ms: float | None = None
    target: str = ""
    target_met: bool | None = None
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or math.isnan(self.result):
            return None
        return self.result / self.baseline


def _number(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def render_table(results: list[Result], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="Tonari benchmarks (ratio = result ÷ baseline, same run, same database)")
    for column in ("benchmark", "result", "baseline", "ratio", "p50", "p95", "target"):
        table.add_column(column, justify="left" if column in {"benchmark", "target"} else "right")
    for row in results:
        ratio = row.ratio
        ratio_text = (
            "–" if ratio is None else (f"{ratio:.2f}× {'↑' if row.higher_is_better else '↓'}")
        )
        verdict = {True: "[green]met[/green]", False: "[red]missed[/red]", None: ""}[row.target_met]
        table.add_row(
            row.name,
            _number(row.result, row.unit),
            f"{_number(row.baseline, row.unit)} [dim]{row.baseline_label}[/dim]",
            ratio_text,
            _number(row.p50_ms, "ms"),
            _number(row.p95_ms, "ms"),
            f"{row.target} {verdict}".strip(),
        )
    console.print(table)
    for row in results:
        for note in row.notes:
            console.print(f"[bold]{row.name}[/bold]: {note}")


def write_json(results: list[Result], context: dict[str, Any], path: Path | None = None) -> Path:
    path = path or RESULTS_DIR / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    payload = {
        **context,
        "results": [clean({**asdict(row), "ratio": row.ratio}) for row in results],
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
