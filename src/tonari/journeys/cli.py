"""``tonari journey ...``: list the shipped triggers, switch one on, list journeys, stats.

Wired into the root ``tonari`` command by :mod:`tonari.cli`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

journey_app = typer.Typer(
    help="Journeys (triggers): shipped templates and stats.", no_args_is_help=True
)
TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")]


async def _tenant_id(session: AsyncSession, slug: str) -> int:
    from tonari.tenants.service import get_tenant_by_slug

    return (await get_tenant_by_slug(session, slug)).id


@journey_app.command("templates")
def templates_command(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Tenant slug: shows which are on")
    ] = None,
) -> None:
    """The shipped triggers: name, what starts them, what they do."""
    from tonari.cli import console, run_in_transaction
    from tonari.journeys.templates import SHIPPED

    enabled: set[str] = set()
    if tenant is not None:
        from tonari.journeys.service import list_templates

        async def work(session: AsyncSession) -> set[str]:
            listed = await list_templates(session, tenant_id=await _tenant_id(session, tenant))
            return {t.name for t in listed if t.enabled}

        enabled = run_in_transaction(work)
    table = Table("name", "entry", "on", "what it does", show_lines=True)
    for template in SHIPPED.values():
        table.add_row(
            template.name,
            template.entry,
            "yes" if template.name in enabled else "",
            f"[bold]{template.title}[/bold]\n{template.description}",
        )
    console.print(table)


@journey_app.command("enable")
def enable_command(
    name: Annotated[str, typer.Argument(help="A shipped template (tonari journey templates)")],
    tenant: TenantOption,
    key: Annotated[
        str | None, typer.Option(help="The journey's key (default from the name)")
    ] = None,
    holdout_bp: Annotated[
        int | None, typer.Option(help="Per-journey holdout in basis points (1000 = 10%)")
    ] = None,
) -> None:
    """Switch a shipped trigger on: creates the journey and its message templates (idempotent)."""
    from tonari.cli import console, run_in_transaction
    from tonari.journeys.service import enable_template
    from tonari.kit.clock import utcnow

    async def work(session: AsyncSession) -> tuple[str, str, list[str], bool]:
        journey, created, new = await enable_template(
            session,
            tenant_id=await _tenant_id(session, tenant),
            name=name,
            at=utcnow(),
            key=key,
            holdout_bp=holdout_bp,
        )
        return journey.key, journey.status, created, new

    journey_key, status, created, new = run_in_transaction(work)
    verb = "created" if new else "already there,"
    console.print(f"journey [bold]{journey_key}[/bold] {verb} {status}")
    for template_key in created:
        console.print(f"  message template {template_key} created")


@journey_app.command("list")
def list_command(tenant: TenantOption) -> None:
    """The tenant's journeys with their instance counts."""
    from tonari.cli import console, run_in_transaction
    from tonari.journeys.service import journey_stats, list_journeys

    async def work(session: AsyncSession) -> list[tuple[Any, dict[str, int]]]:
        journeys = await list_journeys(session, tenant_id=await _tenant_id(session, tenant))
        return [(j, (await journey_stats(session, j))[0]) for j in journeys]

    table = Table("key", "template", "status", "entry", "entered", "live", "converted", "exited")
    for journey, stats in run_in_transaction(work):
        table.add_row(
            journey.key,
            journey.template or "",
            journey.status,
            journey.entry_kind,
            f"{stats['entered']:,}",
            f"{stats['active'] + stats['waiting']:,}",
            f"{stats['converted']:,}",
            f"{stats['exited']:,}",
        )
    console.print(table)


@journey_app.command("stats")
def stats_command(
    key: Annotated[str, typer.Argument(help="The journey's key")], tenant: TenantOption
) -> None:
    """Instances by status and the outcomes of each step."""
    from tonari.cli import console, run_in_transaction
    from tonari.journeys.service import get_journey, journey_stats

    async def work(session: AsyncSession) -> tuple[Any, Any]:
        journey = await get_journey(session, tenant_id=await _tenant_id(session, tenant), key=key)
        return journey, await journey_stats(session, journey)

    journey, (totals, steps) = run_in_transaction(work)
    console.print(
        f"[bold]{journey.key}[/bold] ({journey.status}): "
        + ", ".join(f"{name} {count:,}" for name, count in totals.items())
    )
    table = Table("step", "outcomes")
    for step in steps:
        table.add_row(step.step, ", ".join(f"{k} {v:,}" for k, v in step.outcomes.items()))
    console.print(table)
