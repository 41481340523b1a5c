"""``tonari simulate`` (what-if over a history file) and ``tonari report liability``."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from tonari.simulator.comparison import FIGURES, Comparison, figure_text
from tonari.simulator.economics import percent
from tonari.simulator.prepared import RedemptionMode

report_app = typer.Typer(help="Reports for the finance team.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and the ``report`` group to the ``tonari`` command."""
    app.command("simulate")(simulate_command)
    app.add_typer(report_app, name="report")


def _fail(message: str) -> typer.Exit:
    from tonari.cli import err_console

    err_console.print(f"[red]error[/red] {message}")
    return typer.Exit(2)


def _load_programme(path: Path, option: str) -> Any:
    from tonari.kit.errors import TonariError
    from tonari.programs.service import load_programme_file, parse_programme

    try:
        return parse_programme(load_programme_file(path))
    except TonariError as exc:
        where = f" (field: {exc.field})" if exc.field else ""
        raise _fail(f"{option} {path}: {exc.message}{where}") from None


def comparison_table(comparison: Comparison) -> Table:
    proposal, baseline = comparison.proposal_figures, comparison.baseline_figures
    currency = comparison.currency
    table = Table(
        title=f"{proposal.name} vs {baseline.name or 'no programme'} "
        f"(money in {currency}, margin {comparison.margin_bp / 100:g}%)"
    )
    table.add_column("figure")
    for column in ("proposal", "baseline", "difference"):
        table.add_column(column, justify="right")
    for key, label, kind in FIGURES:
        difference = proposal[key] - baseline[key]
        table.add_row(
            label,
            figure_text(proposal[key], kind, currency),
            figure_text(baseline[key], kind, currency),
            figure_text(difference, kind, currency) if kind != "count" or difference else "",
        )
    table.add_row(
        "programme cost ÷ gross profit",
        percent(proposal.cost_share_of_profit),
        percent(baseline.cost_share_of_profit),
        "",
    )
    table.add_row(
        "breakage (expired ÷ issued)",
        percent(proposal.breakage_rate),
        percent(baseline.breakage_rate),
        "",
    )
    table.add_row(
        "sales uplift needed to stand still",
        "",
        "",
        percent(comparison.sales_uplift_to_stand_still),
    )
    return table


def _write_rejects(path: Path, comparison: Comparison) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["row", "order_id", "customer_id", "reason"])
        for reject in comparison.rejects:
            writer.writerow(
                [
                    reject["row"],
                    reject["order_id"] or "",
                    reject["customer_id"] or "",
                    reject["reason"],
                ]
            )


def simulate_command(
    programme_file: Annotated[
        Path,
        typer.Option(
            "--programme",
            "-p",
            help="Proposed programme (YAML or JSON)",
            exists=True,
            dir_okay=False,
        ),
    ],
    orders_file: Annotated[
        Path,
        typer.Option(
            "--orders",
            "-o",
            help="Order history (CSV or JSON lines, the import's columns)",
            exists=True,
            dir_okay=False,
        ),
    ],
    baseline_file: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            "-b",
            help="Programme to compare with (default: no programme)",
            exists=True,
        ),
    ] = None,
    margin_bp: Annotated[
        int, typer.Option(help="Gross margin in basis points (3000 = 30%)", min=0, max=10_000)
    ] = 3_000,
    out: Annotated[
        Path | None,
        typer.Option(help="Write result.json, report.html and the PNG charts to this folder"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON result")] = False,
    redeem: Annotated[
        RedemptionMode,
        typer.Option(help="Points spent: max allowed, as recorded in the file, or none"),
    ] = RedemptionMode.MAX,
    redeem_min_balance: Annotated[
        int, typer.Option(help="With --redeem max: spend only from this balance up", min=0)
    ] = 0,
    until: Annotated[
        str | None,
        typer.Option(help="Replay up to this ISO time (later orders are left out)"),
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: by extension)")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(help="Processes for large histories (0: one per CPU; 1: no others)", min=0),
    ] = 0,
) -> None:
    """Replay past orders through a proposed programme, in memory, against a baseline.

    Nothing is written to the database. Bad rows are reported with their line and reason.
    """
    from tonari.cli import console, err_console
    from tonari.kit.clock import ensure_aware
    from tonari.kit.errors import TonariError
    from tonari.simulator.charts import write_report
    from tonari.simulator.history import read_history
    from tonari.simulator.prepared import RedemptionPolicy
    from tonari.simulator.simulate import simulate

    programme = _load_programme(programme_file, "--programme")
    baseline = _load_programme(baseline_file, "--baseline") if baseline_file else None
    try:
        moment = ensure_aware(datetime.fromisoformat(until), "until") if until else None
    except (ValueError, TonariError) as exc:
        raise _fail(f"--until: {getattr(exc, 'message', exc)}") from None
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        reading = progress.add_task(f"reading {orders_file.name}", total=None)
        try:
            history = read_history(orders_file, zone=programme.zone, file_format=file_format)
        except (ValueError, OSError) as exc:
            raise _fail(str(exc)) from None
        progress.update(reading, total=len(history.orders), completed=len(history.orders))
        tasks = {
            stage: progress.add_task(f"replaying ({stage})", total=len(history.orders))
            for stage in ("proposal", "baseline")
        }

        def show(stage: str, done: int, total: int) -> None:
            progress.update(tasks[stage], completed=done, total=total)

        try:
            comparison = simulate(
                history.orders,
                programme=programme,
                baseline=baseline,
                margin_bp=margin_bp,
                policy=RedemptionPolicy(redeem, redeem_min_balance),
                until=moment,
                rejects=history.rejects,
                progress=show,
                workers=workers,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from None
    for reject in history.rejects[:10]:
        err_console.print(f"[yellow]row {reject.row}[/yellow]: {reject.reason}")
    if len(history.rejects) > 10:
        err_console.print(f"... and {len(history.rejects) - 10} more rejected rows")
    if out is not None:
        written = write_report(comparison, out)
        if comparison.rejects:
            _write_rejects(out / "rejects.csv", comparison)
        err_console.print(f"written: {', '.join(str(path) for path in written.values())}")
    if as_json:
        typer.echo(json.dumps(comparison.as_dict(), indent=2))
        return
    console.print(comparison_table(comparison))


@report_app.command("liability")
def liability_command(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Points outstanding by expiry month, valued in money (pending, available, reserved)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from tonari.cli import console, run_in_transaction
    from tonari.kit.clock import utcnow
    from tonari.simulator.comparison import money_text
    from tonari.simulator.liability import LiabilityReport, liability_report
    from tonari.tenants.service import get_tenant_by_slug

    async def work(session: AsyncSession) -> LiabilityReport:
        tenant_id = (await get_tenant_by_slug(session, tenant)).id
        return await liability_report(session, tenant_id=tenant_id, at=utcnow())

    report = run_in_transaction(work)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    money = report.currency
    table = Table(
        title=f"points liability of {tenant} ({report.timezone}; 1 point = "
        f"{money_text(report.point_value_minor, money)} {money})"
    )
    table.add_column("expires in")
    for column in ("available", "pending", "reserved", "points", f"value ({money})"):
        table.add_column(column, justify="right")
    for row in report.rows:
        label = row.month or "never"
        if row.past_expiry:
            label += " (past expiry)"
        table.add_row(
            label,
            f"{row.available:,}",
            f"{row.pending:,}",
            f"{row.reserved:,}",
            f"{row.points:,}",
            money_text(report.value(row.points), money),
        )
    table.add_row(
        "total", "", "", "", f"{report.points:,}", money_text(report.value(report.points), money)
    )
    if report.debt_points:
        table.add_row(
            "less debts",
            "",
            "",
            "",
            f"-{report.debt_points:,}",
            money_text(-report.value(report.debt_points), money),
        )
        table.add_row(
            "net",
            "",
            "",
            "",
            f"{report.net_points:,}",
            money_text(report.value(report.net_points), money),
        )
    console.print(table)
    console.print(f"{report.customers:,} customers hold points")
