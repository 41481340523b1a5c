"""``tonari campaign ...`` (mass mailings) and ``tonari messages dispatch`` (send what is due).

Wired into the root ``tonari`` command by :mod:`tonari.cli`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.messaging.campaigns import CampaignCreate, CampaignProgress

campaign_app = typer.Typer(help="Mass mailings to a segment.", no_args_is_help=True)
messages_app = typer.Typer(help="The send ledger and its dispatcher.", no_args_is_help=True)
TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")]
KeyArgument = Annotated[str, typer.Argument(help="The campaign's key")]


async def _tenant_id(session: AsyncSession, slug: str) -> int:
    from tonari.tenants.service import get_tenant_by_slug

    return (await get_tenant_by_slug(session, slug)).id


def _fail(message: str) -> typer.Exit:
    from tonari.cli import err_console

    err_console.print(f"[red]error[/red] {message}")
    return typer.Exit(2)


@campaign_app.command("create")
def create_command(
    tenant: TenantOption,
    key: KeyArgument,
    template: Annotated[str, typer.Option(help="The message template's key")],
    segment: Annotated[str | None, typer.Option(help="A stored segment's key")] = None,
    definition: Annotated[
        str | None, typer.Option(help='An inline segment definition, JSON: {"field": "city", ...}')
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name (default: the key)")] = None,
    channel: Annotated[str, typer.Option(help="email, sms, push or web_push")] = "email",
    topic: Annotated[str, typer.Option(help="Consent topic")] = "marketing",
    rate: Annotated[
        int | None, typer.Option(help="Messages per minute (default: no limit)")
    ] = None,
    holdout_bp: Annotated[int, typer.Option(help="Control group, basis points")] = 0,
    priority: Annotated[int, typer.Option(help="Higher wins when caps leave room for one")] = 0,
) -> None:
    """Create a draft campaign."""
    from tonari.cli import console, run_in_transaction
    from tonari.kit.clock import utcnow
    from tonari.messaging.campaigns import create_campaign

    try:
        inline = json.loads(definition) if definition else None
        data = CampaignCreate(
            key=key,
            name=name or key,
            segment_key=segment,
            definition=inline,
            channel=channel,
            template_key=template,
            topic=topic,
            send_rate_per_minute=rate,
            holdout_bp=holdout_bp,
            priority=priority,
        )
    except json.JSONDecodeError as error:
        raise _fail(f"--definition is not JSON: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise _fail(f"invalid_request: {first['msg']} (field: {place})") from None

    async def work(session: AsyncSession) -> None:
        tenant_id = await _tenant_id(session, tenant)
        await create_campaign(session, tenant_id=tenant_id, data=data, at=utcnow())

    run_in_transaction(work)
    console.print(
        f"campaign [bold]{key}[/bold] created (draft); start it with 'tonari campaign start'"
    )


def _transition(action: str, tenant: str, key: str) -> None:
    from tonari.cli import console, run_in_transaction
    from tonari.kit.clock import utcnow
    from tonari.messaging import campaigns

    operation = {
        "start": campaigns.start_campaign,
        "pause": campaigns.pause_campaign,
        "resume": campaigns.resume_campaign,
        "cancel": campaigns.cancel_campaign,
    }[action]

    async def work(session: AsyncSession) -> tuple[str, int]:
        tenant_id = await _tenant_id(session, tenant)
        campaign = await operation(session, tenant_id=tenant_id, key=key, at=utcnow())
        return campaign.status, campaign.audience_size

    status, audience = run_in_transaction(work)
    console.print(f"campaign [bold]{key}[/bold] is {status} (audience {audience})")


@campaign_app.command("start")
def start_command(tenant: TenantOption, key: KeyArgument) -> None:
    """Queue the audience (one ledger row each, spaced by the rate) and run."""
    _transition("start", tenant, key)


@campaign_app.command("pause")
def pause_command(tenant: TenantOption, key: KeyArgument) -> None:
    """Stop sending; queued messages wait."""
    _transition("pause", tenant, key)


@campaign_app.command("resume")
def resume_command(tenant: TenantOption, key: KeyArgument) -> None:
    """Go on at the campaign's rate; nobody already sent gets it again."""
    _transition("resume", tenant, key)


@campaign_app.command("cancel")
def cancel_command(tenant: TenantOption, key: KeyArgument) -> None:
    """Stop for good; queued messages are recorded skipped."""
    _transition("cancel", tenant, key)


def _progress_of(tenant: str, key: str) -> tuple[str, CampaignProgress]:
    from tonari.cli import run_in_transaction
    from tonari.messaging.campaigns import campaign_progress, get_campaign

    async def work(session: AsyncSession) -> tuple[str, CampaignProgress]:
        tenant_id = await _tenant_id(session, tenant)
        campaign = await get_campaign(session, tenant_id=tenant_id, key=key)
        return campaign.status, await campaign_progress(session, campaign=campaign)

    return run_in_transaction(work)


@campaign_app.command("progress")
def progress_command(
    tenant: TenantOption,
    key: KeyArgument,
    follow: Annotated[bool, typer.Option(help="Keep watching until it is finished")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between checks")] = 2.0,
) -> None:
    """Counts by status, with a progress bar."""
    from tonari.cli import console

    status, progress = _progress_of(tenant, key)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(key, total=max(progress.audience, 1), detail="")
        while True:
            detail = (
                f"{status}: sent {progress.sent}, skipped {progress.skipped}, "
                f"failed {progress.failed}, queued {progress.queued}"
            )
            bar.update(task, completed=progress.done, detail=detail)
            if not follow or status not in ("running", "scheduled", "paused"):
                break
            time.sleep(interval)
            status, progress = _progress_of(tenant, key)
    if progress.skipped_by_reason:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(progress.skipped_by_reason.items()))
        console.print(f"skipped: {reasons}")


@campaign_app.command("report")
def report_command(
    tenant: TenantOption,
    key: KeyArgument,
    window_days: Annotated[int, typer.Option(help="Days after the send that count")] = 14,
) -> None:
    """Treated vs holdout: conversion and revenue per customer, with 95% intervals."""
    from tonari.cli import console, run_in_transaction
    from tonari.kit.clock import utcnow
    from tonari.messaging.holdouts import holdout_report

    async def work(session: AsyncSession) -> dict[str, Any]:
        tenant_id = await _tenant_id(session, tenant)
        return await holdout_report(
            session, tenant_id=tenant_id, campaign_key=key, window_days=window_days, at=utcnow()
        )

    report = run_in_transaction(work)
    table = Table("group", "customers", "converted", "conversion", "revenue", "ARPU")
    for group in ("treated", "holdout"):
        row = report[group]
        table.add_row(
            group,
            str(row["customers"]),
            str(row["converted"]),
            f"{row['conversion_rate']:.2%}",
            str(row["revenue"]),
            str(row["arpu"]),
        )
    console.print(table)
    conversion, arpu = report["conversion_difference"], report["arpu_difference"]
    console.print(
        f"conversion difference {conversion['difference']} "
        f"(95% CI {conversion['low']} … {conversion['high']}); "
        f"ARPU difference {arpu['difference']} (95% CI {arpu['low']} … {arpu['high']})"
    )


@messages_app.command("dispatch")
def dispatch_command(
    batch: Annotated[int, typer.Option(help="Messages claimed at a time")] = 200,
    budget: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
) -> None:
    """Send every due message once (what the worker's tonari.messaging.dispatch does)."""
    from tonari.cli import console, database_url
    from tonari.db import Database
    from tonari.messaging.dispatcher import DispatchReport, dispatch_due_messages

    async def run() -> DispatchReport:
        db = Database(database_url(), pool_size=2, max_overflow=10)
        try:
            with Progress(
                TextColumn("[bold]dispatch"),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("dispatch", total=None, detail="")

                def show(report: DispatchReport) -> None:
                    bar.update(
                        task,
                        detail=f"sent {report.sent}, skipped {sum(report.skipped.values())}, "
                        f"deferred {report.deferred}, failed {report.failed}",
                    )

                return await dispatch_due_messages(
                    db, batch=batch, budget_seconds=budget, on_progress=show
                )
        finally:
            await db.dispose()

    report = asyncio.run(run())
    console.print(json.dumps(report.as_dict()))
