"""``tonari report quality``: the data quality report as tables a marketer reads, or JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tonari.identity.quality import Completeness, QualityReport, RecordProblems, Share

COMPLETENESS_LABELS = {
    "gender": "gender known",
    "city": "city known",
    "gender_and_age": "gender and age known",
    "email_for_messaging": "email usable for messaging",
    "mobile_phone": "mobile phone",
}
PROBLEM_LABELS = {
    "invalid_emails": "invalid emails",
    "disposable_emails": "disposable emails",
    "typo_corrected_emails": "emails with a corrected typo",
    "invalid_phones": "invalid phones",
    "landline_phones": "landline phones (no SMS)",
    "bad_birth_dates": "impossible or unreadable birth dates",
}


def quality_command(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Records, people, duplicates between sources, data problems, completeness before → after."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from tonari.cli import console, run_in_transaction
    from tonari.identity.quality import quality_report
    from tonari.tenants.service import get_tenant_by_slug

    async def work(session: AsyncSession) -> QualityReport:
        tenant_id = (await get_tenant_by_slug(session, tenant)).id
        return await quality_report(session, tenant_id=tenant_id)

    report = run_in_transaction(work)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    print_quality_report(console, report, title=tenant)


def percent(share: Share) -> str:
    """Display only: the exact counts stay in the report."""
    if share.basis_points is None:
        return "-"
    whole, hundredths = divmod(share.basis_points, 100)
    return f"{whole}.{hundredths:02d}%"


def print_quality_report(console: Console, report: QualityReport, *, title: str) -> None:
    sources = [source for source in report.sources if source.records]
    names = [source.name for source in sources]

    people = report.people
    summary = Table(title=f"data quality of {title}", show_header=False)
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("source records", f"{people.records:,}")
    summary.add_row("unique people", f"{people.people:,}")
    summary.add_row(
        "duplicate rate",
        f"{percent(people.duplicate_rate)} ({people.resolved_records - people.people:,} records "
        "are someone else's duplicate)",
    )
    summary.add_row("people found in several sources", f"{people.in_several_sources:,}")
    summary.add_row("profiles with no source record", f"{people.profiles_without_records:,}")
    if people.waiting_for_resolution:
        summary.add_row(
            "[yellow]records not resolved yet[/yellow]",
            f"{people.waiting_for_resolution:,} (run tonari identity resolve)",
        )
    console.print(summary)

    per_source = Table(title="sources")
    for column in ("source", "title", "records", "people", "not resolved"):
        per_source.add_column(column, justify="left" if column in ("source", "title") else "right")
    for source in report.sources:
        per_source.add_row(
            source.name,
            source.title,
            f"{source.records:,}",
            f"{source.people:,}",
            f"{source.waiting_for_resolution:,}",
        )
    console.print(per_source)

    if names:
        matrix = Table(title="people found in both sources (diagonal: twice in the same one)")
        matrix.add_column("")
        for name in names:
            matrix.add_column(name, justify="right")
        together = {(pair.source, pair.other_source): pair.people for pair in report.duplicates}
        for row_index, name in enumerate(names):
            cells = [
                f"{together.get((other, name), 0):,}" if index <= row_index else ""
                for index, other in enumerate(names)
            ]
            matrix.add_row(name, *cells)
        console.print(matrix)

    problems = Table(title="problems (records)")
    problems.add_column("problem")
    problems.add_column("all", justify="right")
    for name in names:
        problems.add_column(name, justify="right")
    for field, label in PROBLEM_LABELS.items():
        problems.add_row(
            label,
            _count(report.problems, field),
            *(_count(source.problems, field) for source in sources),
        )
    console.print(problems)

    shared = Table(title="shared identifiers and pairs")
    shared.add_column("what")
    shared.add_column("count", justify="right")
    for entry in report.problems.identifiers:
        if entry.placeholder_values:
            examples = ", ".join(f"{s.value} ({s.records:,})" for s in entry.most_shared[:3])
            shared.add_row(
                f"placeholder {entry.identifier}s (>{entry.resolution_limit} records each): "
                f"{examples}",
                f"{entry.placeholder_values:,} values, {entry.placeholder_records:,} records",
            )
        if entry.kept_apart_values:
            shared.add_row(
                f"{entry.identifier}s shared by records kept apart", f"{entry.kept_apart_values:,}"
            )
    shared.add_row("pairs waiting for review", f"{report.problems.pairs_to_review:,}")
    shared.add_row("pairs a person rejected", f"{report.problems.rejected_pairs:,}")
    shared.add_row("model pairs kept apart by a rule", f"{report.problems.kept_apart_pairs:,}")
    console.print(shared)

    completeness = Table(title="completeness: each database alone → the golden record")
    completeness.add_column("known")
    for name in names:
        completeness.add_column(name, justify="right")
    completeness.add_column("all records (before)", justify="right")
    completeness.add_column("people (after)", justify="right")
    for field, label in COMPLETENESS_LABELS.items():
        completeness.add_row(
            label,
            *(_share(source.completeness, field) for source in sources),
            _share(report.completeness.before, field),
            f"[bold]{_share(report.completeness.after, field)}[/bold]",
        )
    console.print(completeness)


def _count(problems: RecordProblems, field: str) -> str:
    return f"{getattr(problems, field):,}"


def _share(completeness: Completeness, field: str) -> str:
    return percent(getattr(completeness, field))
