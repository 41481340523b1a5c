"""CLI: ``tonari import partner-accruals FILE --partner CODE`` and ``tonari partners settlement``.

Wired into the root command by :mod:`tonari.cli` (``register(import_app)`` and
``app.add_typer(partners_app, name="partners")``).
"""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from tonari.kit.console import exit_with_error, file_progress
from tonari.partners import schemas as partner_schemas
from tonari.partners.accruals import AccrualReport

partners_app = typer.Typer(help="Coalition partners and partner banks.", no_args_is_help=True)
TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")]


def _partner(partners: list[partner_schemas.Partner], wanted: str) -> partner_schemas.Partner:
    """By code, or by name ignoring case (a bank is easier to remember by its name)."""
    for partner in partners:
        if partner.name.casefold() == wanted.casefold():
            return partner
    return partner_schemas.find_partner(partners, wanted)


def write_rejects(path: Path, report: AccrualReport) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["row", "transaction_id", "reason"])
        for reject in sorted(report.rejects, key=lambda item: item.row):
            writer.writerow([reject.row, reject.transaction_id or "", reject.reason])


def register(import_app: typer.Typer) -> None:
    """Add the ``partner-accruals`` command to the ``tonari import`` group."""

    @import_app.command("partner-accruals")
    def import_partner_accruals_command(
        file: Annotated[
            Path,
            typer.Argument(
                help="The partner's CSV: transaction_id, card_number, phone, amount, "
                "purchase_type, date",
                exists=True,
                dir_okay=False,
                readable=True,
            ),
        ],
        partner: Annotated[
            str, typer.Option("--partner", "-p", help="The partner's code (or name)")
        ],
        tenant: TenantOption,
        map_: Annotated[
            list[str] | None,
            typer.Option("--map", help="Column mapping target=source, e.g. amount=sum"),
        ] = None,
        report_path: Annotated[
            Path | None,
            typer.Option("--report", help="Write rejected rows with their reasons to this CSV"),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Check the file and report; credit nothing")
        ] = False,
        chunk: Annotated[int, typer.Option(help="Rows per transaction")] = 500,
        now: Annotated[
            str | None, typer.Option(help="Treat this ISO time as now (default: now)")
        ] = None,
    ) -> None:
        """Credit a partner bank's daily file at the partner's rates, once per transaction.

        On top of the tier cashback: 5% of any card purchase, plus the brand-site rate for
        purchases on the brand's site. Unknown card holders get a side account that moves to
        their profile when they register. Running the same file again credits nothing new.
        """
        from tonari.cli import console, database_url, err_console
        from tonari.db import Database
        from tonari.kit.clock import ensure_aware, utcnow
        from tonari.kit.errors import TonariError
        from tonari.partners.accruals import import_partner_accruals, parse_mapping
        from tonari.programs.service import programme_in_force
        from tonari.tenants.service import get_tenant_by_slug

        try:
            mapping = parse_mapping(map_)
            moment = ensure_aware(datetime.fromisoformat(now), "now") if now else utcnow()
        except (ValueError, TonariError) as exc:
            err_console.print(f"[red]error[/red] {getattr(exc, 'message', exc)}")
            raise typer.Exit(2) from None

        async def run(progress: Progress) -> tuple[str, AccrualReport]:
            task = progress.add_task("crediting", total=None)
            db = Database(database_url(), pool_size=1, max_overflow=1)
            try:
                async with db.transaction() as session:
                    tenant_id = (await get_tenant_by_slug(session, tenant)).id
                    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=moment)
                found = _partner(partner_schemas.programme_partners(programme), partner)
                if found.kind != "bank":
                    raise TonariError(
                        f"{found.code!r} is a {found.kind}: its points come with its orders",
                        field="partner",
                        code="not_a_bank_partner",
                    )
                report = await import_partner_accruals(
                    db.transaction,
                    tenant_id=tenant_id,
                    partner=found,
                    programme=programme,
                    path=file,
                    actor=f"cli:import:{found.code}",
                    now=moment,
                    mapping=mapping,
                    chunk_rows=chunk,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                    dry_run=dry_run,
                )
                return found.name, report
            finally:
                await db.dispose()

        try:
            with file_progress(err_console) as progress:
                name, report = asyncio.run(run(progress))
        except TonariError as exc:
            exit_with_error(err_console, exc)
        for reject in report.rejects[:10]:
            err_console.print(f"[yellow]row {reject.row}[/yellow]: {reject.reason}")
        if report.rejected > 10:
            err_console.print(f"... and {report.rejected - 10} more rejected rows")
        if report_path is not None:
            write_rejects(report_path, report)
            console.print(f"rejected rows written to {report_path}")
        if dry_run:
            console.print(
                f"checked {report.rows} rows of {name}: {report.rows - report.rejected} good, "
                f"rejected {report.rejected}; nothing credited (dry run)"
            )
            return
        console.print(
            f"{name}: credited [bold]{report.credited}[/bold] rows, skipped {report.skipped} "
            f"already credited, rejected {report.rejected}; {report.points} points "
            f"({report.points_to_profiles} to profiles, {report.points_to_side_accounts} to "
            f"side accounts, {report.side_accounts_created} new side accounts); "
            f"{report.seconds:.2f} s"
        )


@partners_app.command("settlement")
def settlement_command(
    tenant: TenantOption,
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")],
    last: Annotated[str, typer.Option("--to", help="Last day (included), YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Points each partner issued and accepted in the period, and the money owed each way."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from tonari.cli import console, err_console, run_in_transaction
    from tonari.kit.clock import utcnow
    from tonari.partners.settlement import partner_settlement, period_of_days
    from tonari.programs.service import programme_in_force
    from tonari.tenants.service import get_tenant_by_slug

    try:
        day_from, day_to = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError as exc:
        err_console.print(f"[red]error[/red] {exc}: dates are YYYY-MM-DD")
        raise typer.Exit(2) from None

    async def work(session: AsyncSession) -> dict[str, Any]:
        from datetime import timedelta

        tenant_id = (await get_tenant_by_slug(session, tenant)).id
        now = utcnow()
        _, current = await programme_in_force(session, tenant_id=tenant_id, at=now)
        start, end = period_of_days(day_from, day_to, current)
        _, programme = await programme_in_force(
            session, tenant_id=tenant_id, at=min(end - timedelta(microseconds=1), now)
        )
        return await partner_settlement(
            session,
            tenant_id=tenant_id,
            partners=partner_schemas.programme_partners(programme),
            programme=programme,
            start=start,
            end=end,
        )

    report = run_in_transaction(work)
    if as_json:
        typer.echo(json.dumps(report, default=str, indent=2))
        return
    table = Table(
        "partner",
        "kind",
        "issued",
        "redeemed",
        "partner owes",
        "owed to partner",
        "net",
        title=f"Settlement {day_from} – {day_to} ({report['currency']}, minor units)",
    )
    for line in report["partners"]:
        table.add_row(
            line["partner"],
            line["kind"],
            str(line["points_issued"]),
            str(line["points_redeemed"]),
            str(line["partner_owes"]),
            str(line["owed_to_partner"]),
            f"{line['net']} ({line['net_direction']})",
        )
    totals = report["totals"]
    table.add_row(
        "total",
        "",
        str(totals["points_issued"]),
        str(totals["points_redeemed"]),
        str(totals["partner_owes"]),
        str(totals["owed_to_partner"]),
        str(totals["net"]),
    )
    console.print(table)
