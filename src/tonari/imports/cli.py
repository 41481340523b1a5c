"""``tonari import orders FILE``: replay a brand's order history, with a progress bar."""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from tonari.imports.orders import ImportReport
from tonari.kit.console import exit_with_error, file_progress


def write_rejects(path: Path, report: ImportReport) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["row", "order_id", "customer_id", "reason"])
        for reject in sorted(report.rejects, key=lambda item: item.row):
            writer.writerow(
                [reject.row, reject.order_id or "", reject.customer_id or "", reject.reason]
            )


def register(import_app: typer.Typer) -> None:
    """Add the ``orders`` command to the ``tonari import`` group."""

    @import_app.command("orders")
    def import_orders_command(
        file: Annotated[
            Path,
            typer.Argument(
                help="CSV or JSON lines file of past orders",
                exists=True,
                dir_okay=False,
                readable=True,
            ),
        ],
        tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")],
        map_: Annotated[
            list[str] | None,
            typer.Option(
                "--map", help="Column mapping target=source, e.g. amount=total; repeatable"
            ),
        ] = None,
        file_format: Annotated[
            str | None,
            typer.Option("--format", help="csv or jsonl (default: by the file's extension)"),
        ] = None,
        report_path: Annotated[
            Path | None,
            typer.Option("--report", help="Write rejected rows with their reasons to this CSV"),
        ] = None,
        now: Annotated[
            str | None,
            typer.Option(
                help="Run the ledger jobs as of this ISO time (default: now), for replays"
            ),
        ] = None,
        chunk: Annotated[int, typer.Option(help="Orders per transaction")] = 5_000,
        writers: Annotated[int, typer.Option(help="Chunks written at once")] = 2,
        posting_per_lot: Annotated[
            bool,
            typer.Option(
                help="One posting per lot, exactly as the API writes (slower); by default one "
                "per account and bucket per entry, the lots keeping the per-line detail"
            ),
        ] = False,
    ) -> None:
        """Replay past orders through the programme's rules: lots, expiries, tiers, balances.

        Idempotent: orders the tenant already has are skipped. Bad rows are reported, not fatal.
        """
        from tonari.cli import console, database_url, err_console
        from tonari.db import Database
        from tonari.imports.orders import import_orders
        from tonari.imports.reader import detect_format, parse_mapping
        from tonari.kit.clock import ensure_aware, utcnow
        from tonari.kit.errors import TonariError
        from tonari.tenants.service import get_tenant_by_slug

        try:
            mapping = parse_mapping(map_)
            fmt = detect_format(file, file_format)
            moment = ensure_aware(datetime.fromisoformat(now), "now") if now else utcnow()
        except (ValueError, TonariError) as exc:
            err_console.print(f"[red]error[/red] {getattr(exc, 'message', exc)}")
            raise typer.Exit(2) from None

        async def run(progress: Progress) -> ImportReport:
            reading = progress.add_task("reading", total=None)
            writing = progress.add_task("importing", total=None, visible=False)

            def show(stage: str, done: int, total: int) -> None:
                if stage == "reading":
                    progress.update(reading, completed=done, total=total or None)
                else:
                    progress.update(writing, completed=done, total=total, visible=True)

            db = Database(database_url(), pool_size=max(writers, 1) + 1, max_overflow=1)
            try:
                async with db.transaction() as session:
                    tenant_id = (await get_tenant_by_slug(session, tenant)).id
                return await import_orders(
                    db.transaction,
                    tenant_id=tenant_id,
                    path=file,
                    now=moment,
                    mapping=mapping,
                    file_format=fmt,
                    actor="cli:import",
                    chunk_orders=chunk,
                    writers=writers,
                    progress=show,
                    posting_per_lot=posting_per_lot,
                )
            finally:
                await db.dispose()

        try:
            with file_progress(err_console) as progress:
                report = asyncio.run(run(progress))
        except TonariError as exc:
            exit_with_error(err_console, exc)
        for reject in report.rejects[:10]:
            err_console.print(f"[yellow]row {reject.row}[/yellow]: {reject.reason}")
        if report.rejected > 10:
            err_console.print(f"... and {report.rejected - 10} more rejected rows")
        if report_path is not None:
            write_rejects(report_path, report)
            console.print(f"rejected rows written to {report_path}")
        console.print(
            f"imported [bold]{report.imported}[/bold] orders, skipped {report.skipped} already "
            f"present, rejected {report.rejected}; {report.customers_created} customers created, "
            f"{report.points_issued} points issued ({report.points_expired} since expired), "
            f"{report.tier_changes} tier changes; {report.seconds:.2f} s, "
            f"{report.orders_per_second:.0f} orders/s"
        )
