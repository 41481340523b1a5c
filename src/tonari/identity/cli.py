"""``tonari sources``, ``tonari import customers``, ``tonari identity`` commands."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tonari.identity.importer import ImportSummary, RowIssue

sources_app = typer.Typer(help="The brand's customer databases (sources).", no_args_is_help=True)
identity_app = typer.Typer(
    help="Identity resolution: one profile per person.", no_args_is_help=True
)
TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")]
REPORT_COLUMNS = ("line", "record_id", "severity", "field", "code", "reason", "value")


def register(app: typer.Typer, import_app: typer.Typer, report_app: typer.Typer) -> None:
    from tonari.identity.cli_people import register as register_people
    from tonari.identity.quality_cli import quality_command

    app.add_typer(sources_app, name="sources")
    app.add_typer(identity_app, name="identity")
    import_app.command("customers")(import_customers_command)
    report_app.command("quality")(quality_command)
    register_people(identity_app)


@sources_app.command("apply")
def sources_apply(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="sources YAML")],
    tenant: TenantOption,
) -> None:
    """Declare or update sources from a YAML file (records already imported stay)."""
    from tonari.cli import _tenant_id, console, run_in_transaction
    from tonari.identity.sources import parse_sources_yaml, put_source

    definitions = parse_sources_yaml(file.read_text(encoding="utf-8"))

    async def work(session: Any) -> None:
        tenant_id = await _tenant_id(session, tenant)
        for definition in definitions:
            await put_source(session, tenant_id=tenant_id, definition=definition)

    run_in_transaction(work)
    for definition in definitions:
        mapped = len(definition.columns)
        console.print(
            f"source [bold]{definition.name}[/bold]: trust {definition.trust}, "
            f"{mapped} mapped column{'s' if mapped != 1 else ''}"
        )


@sources_app.command("list")
def sources_list(tenant: TenantOption) -> None:
    """The tenant's sources with their record counts."""
    from rich.table import Table
    from sqlalchemy import func, select

    from tonari.cli import _tenant_id, console, run_in_transaction
    from tonari.models.identity import CustomerSource, SourceRecord

    async def work(session: Any) -> list[Any]:
        tenant_id = await _tenant_id(session, tenant)
        return list(
            await session.execute(
                select(
                    CustomerSource.name,
                    CustomerSource.title,
                    CustomerSource.trust,
                    func.count(SourceRecord.id).label("records"),
                )
                .outerjoin(SourceRecord, SourceRecord.source_id == CustomerSource.id)
                .where(CustomerSource.tenant_id == tenant_id)
                .group_by(CustomerSource.id)
                .order_by(CustomerSource.name)
            )
        )

    table = Table("source", "title", "trust", "records")
    for row in run_in_transaction(work):
        table.add_row(row.name, row.title, str(row.trust), f"{row.records:,}")
    console.print(table)


def import_customers_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV, JSON lines or Parquet")
    ],
    source: Annotated[str, typer.Option("--source", "-s", help="The source's name")],
    tenant: TenantOption,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding (default: the source's, else detected)")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl or parquet (default: extension)")
    ] = None,
    report_path: Annotated[
        Path | None,
        typer.Option("--report", help="Write every rejected row and flagged value to this CSV"),
    ] = None,
) -> None:
    """Import one source's customer file: cleaned, flagged, idempotent, all or nothing."""
    from tonari.cli import _tenant_id, console, err_console, run_in_transaction
    from tonari.identity.importer import import_customers
    from tonari.identity.sources import FileFormat, get_source, source_definition
    from tonari.kit.console import file_progress

    chosen = FileFormat(file_format) if file_format else None
    size = file.stat().st_size
    issues: list[RowIssue] = []
    stream = report_path.open("w", encoding="utf-8", newline="") if report_path else None
    writer = csv.writer(stream) if stream else None
    if writer:
        writer.writerow(REPORT_COLUMNS)

    def on_issue(issue: RowIssue) -> None:
        if writer:
            writer.writerow([getattr(issue, name) for name in REPORT_COLUMNS])
        if issue.severity == "rejected" and len(issues) < 20:
            issues.append(issue)

    with file_progress(err_console) as progress:
        task = progress.add_task(f"{file.name} ({size / 1e6:.1f} MB)", total=None)

        async def work(session: Any) -> ImportSummary:
            tenant_id = await _tenant_id(session, tenant)
            found = await get_source(session, tenant_id=tenant_id, name=source)
            return await import_customers(
                session,
                tenant_id=tenant_id,
                source=found,
                definition=source_definition(found),
                path=file,
                today=datetime.now(UTC).date(),
                encoding=encoding,
                file_format=chosen,
                on_issue=on_issue,
                on_progress=lambda rows: progress.update(task, completed=rows),
            )

        try:
            summary = run_in_transaction(work)
        finally:
            if stream:
                stream.close()
    for issue in issues:
        err_console.print(f"line {issue.line}: [red]rejected[/red] {issue.reason}")
    if summary.rejected > len(issues):
        more = summary.rejected - len(issues)
        err_console.print(f"... and {more} more rejected rows" + (" (see the report)"))
    encoding_note = f", {summary.encoding}" if summary.encoding else ""
    console.print(
        f"{summary.source}: {summary.rows_read:,} rows read ({summary.file_format}"
        f"{encoding_note}); {summary.created:,} new, {summary.updated:,} updated, "
        f"{summary.unchanged:,} unchanged, {summary.rejected:,} rejected, "
        f"{summary.warnings:,} values flagged"
        + (f", {summary.erased_skipped} erased on request" if summary.erased_skipped else "")
    )
    if summary.warnings_by_code:
        parts = sorted(summary.warnings_by_code.items(), key=lambda item: -item[1])
        console.print("flagged: " + ", ".join(f"{code} {count:,}" for code, count in parts))


@identity_app.command("resolve")
def resolve_command(
    tenant: TenantOption,
    incremental: Annotated[
        bool, typer.Option(help="Only new and changed records, with the stored model")
    ] = False,
    retrain: Annotated[bool, typer.Option(help="Train the model again (incremental)")] = False,
) -> None:
    """Cluster records into profiles: exact identifiers, then the Splink model's pairs."""
    from tonari.cli import _tenant_id, console, err_console, run_in_transaction
    from tonari.identity.resolve import ResolveSummary, first_tier_in_force, resolve_identities

    async def work(session: Any) -> ResolveSummary:
        tenant_id = await _tenant_id(session, tenant)
        return await resolve_identities(
            session,
            tenant_id=tenant_id,
            at=datetime.now(UTC),
            incremental=incremental,
            first_tier=await first_tier_in_force(session, tenant_id),
            retrain=retrain,
            progress=lambda stage: err_console.print(f"[dim]done: {stage}[/dim]"),
        )

    summary = run_in_transaction(work)
    console.print(
        f"{summary.mode}: {summary.records:,} records → {summary.profiles:,} profiles "
        f"({summary.new_profiles:,} new, {summary.merges:,} merged, {summary.revived:,} "
        f"restored); evidence: {summary.exact_edges:,} shared identifiers, "
        f"{summary.fuzzy_auto:,} model matches, {summary.fuzzy_review:,} pairs to review, "
        f"{summary.blocked:,} kept apart; model: {summary.model}"
    )
    for note in summary.deferred:
        console.print(f"[yellow]deferred[/yellow] {note}")
    timings = ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in summary.seconds.items())
    console.print(f"[dim]{timings}[/dim]")


@identity_app.command("export")
def export_command(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="CSV to write")],
    tenant: TenantOption,
) -> None:
    """One row per source record: source, record id, profile, and the score that put it there."""
    from tonari.cli import _tenant_id, console, run_in_transaction
    from tonari.identity.export import export_assignments

    async def work(session: Any) -> int:
        tenant_id = await _tenant_id(session, tenant)
        with file.open("w", encoding="utf-8", newline="") as stream:
            return await export_assignments(session, tenant_id=tenant_id, stream=stream)

    rows = run_in_transaction(work)
    console.print(f"{rows:,} records written to {file}")
