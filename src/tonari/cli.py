"""The ``tonari`` command: serve, worker, demo, migrate, tenants, keys, programmes, ledger."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import TonariError

app = typer.Typer(
    help="Tonari: loyalty programme and customer data platform.", no_args_is_help=True
)
tenant_app = typer.Typer(help="Tenants (brands).", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys of a tenant.", no_args_is_help=True)
program_app = typer.Typer(help="The loyalty programme of a tenant.", no_args_is_help=True)
customer_app = typer.Typer(help="Customers.", no_args_is_help=True)
ledger_app = typer.Typer(help="The points ledger.", no_args_is_help=True)
import_app = typer.Typer(help="Import files.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(apikey_app, name="apikey")
app.add_typer(program_app, name="program")
app.add_typer(customer_app, name="customer")
app.add_typer(ledger_app, name="ledger")
app.add_typer(import_app, name="import")


def _register_domain_commands() -> None:
    from tonari.codes.cli import codes_app
    from tonari.demo.cli import register as register_demo
    from tonari.identity.cli import register as register_identity
    from tonari.imports.cli import register as register_import_commands
    from tonari.journeys.cli import journey_app
    from tonari.messaging.cli import campaign_app, messages_app
    from tonari.partners.cli import partners_app
    from tonari.partners.cli import register as register_partner_imports
    from tonari.segments.cli import segments_app
    from tonari.simulator.cli import register as register_simulator
    from tonari.webhooks.cli import webhooks_app
    from tonari.webhooks.cli import worker as worker_command

    register_demo(app)
    register_import_commands(import_app)
    register_partner_imports(import_app)
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(codes_app, name="codes")
    app.add_typer(partners_app, name="partners")
    app.add_typer(segments_app, name="segment")
    app.add_typer(journey_app, name="journey")
    app.add_typer(campaign_app, name="campaign")
    app.add_typer(messages_app, name="messages")
    app.command("worker")(worker_command)
    register_simulator(app)
    from tonari.simulator.cli import report_app

    register_identity(app, import_app, report_app)


console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")
TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")]


def database_url() -> str:
    from tonari.db import resolve_database_url

    return resolve_database_url()


def run_in_transaction(work: Callable[[AsyncSession], Awaitable[T]], url: str | None = None) -> T:
    """Run ``work`` in one transaction; domain errors become a clear message and exit code 2."""
    from tonari.db import Database

    async def runner() -> T:
        db = Database(url or database_url(), pool_size=1, max_overflow=2)
        try:
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(runner())
    except TonariError as exc:
        where = f" (field: {exc.field})" if exc.field else ""
        err_console.print(f"[red]error[/red] {exc.code}: {exc.message}{where}")
        raise typer.Exit(2) from None


async def _tenant_id(session: AsyncSession, slug: str) -> int:
    from tonari.tenants.service import get_tenant_by_slug

    return (await get_tenant_by_slug(session, slug)).id


@app.command()
def migrate() -> None:
    """Apply database migrations (also done by serve and demo)."""
    from tonari.migrate import upgrade_database

    upgrade_database(database_url())
    console.print("[green]database is up to date[/green]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default TONARI_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default TONARI_PORT)")] = None,
    worker: Annotated[bool, typer.Option(help="Run the job worker in this process")] = True,
) -> None:
    """Serve the API (and the background worker) after migrating the database."""
    import uvicorn

    from tonari.app import create_app
    from tonari.config import get_settings
    from tonari.db import exit_cleanly_on_sigterm
    from tonari.migrate import upgrade_database

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    url = database_url()
    upgrade_database(url)
    console.print(f"Tonari on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    exit_cleanly_on_sigterm()
    uvicorn.run(
        create_app(database_url=url, start_worker=worker), host=host, port=port, log_level="warning"
    )


@tenant_app.command("create")
def tenant_create(slug: str, name: Annotated[str, typer.Option(help="Display name")] = "") -> None:
    """Create a tenant (a brand)."""
    from tonari.tenants.service import create_tenant

    async def work(session: AsyncSession) -> int:
        return (await create_tenant(session, slug=slug, name=name or slug)).id

    tenant_id = run_in_transaction(work)
    console.print(f"tenant [bold]{slug}[/bold] created (id {tenant_id})")


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants."""
    from sqlalchemy import select

    from tonari.models.tenants import Tenant

    async def work(session: AsyncSession) -> list[Any]:
        return list((await session.execute(select(Tenant.id, Tenant.slug, Tenant.name))).all())

    table = Table("id", "slug", "name")
    for row in run_in_transaction(work):
        table.add_row(str(row.id), row.slug, row.name)
    console.print(table)


@apikey_app.command("create")
def apikey_create(
    tenant: TenantOption,
    name: Annotated[str, typer.Option(help="What integration uses it")] = "default",
    scope: Annotated[list[str] | None, typer.Option(help="Scope; repeat for several")] = None,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from tonari.tenants.service import create_api_key

    async def work(session: AsyncSession) -> str:
        tenant_id = await _tenant_id(session, tenant)
        _, raw = await create_api_key(
            session, tenant_id=tenant_id, name=name, scopes=scope or ["admin"]
        )
        return raw

    raw = run_in_transaction(work)
    console.print("API key (shown once, keep it secret):")
    typer.echo(raw)


@apikey_app.command("list")
def apikey_list(tenant: TenantOption) -> None:
    """List a tenant's keys (prefix, name, scopes; never the secret)."""
    from sqlalchemy import select

    from tonari.models.tenants import ApiKey

    async def work(session: AsyncSession) -> list[Any]:
        tenant_id = await _tenant_id(session, tenant)
        query = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
        return list(await session.scalars(query))

    table = Table("prefix", "name", "scopes", "created", "revoked")
    for key in run_in_transaction(work):
        table.add_row(
            key.prefix,
            key.name,
            " ".join(key.scopes),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    tenant: TenantOption,
    prefix: Annotated[str, typer.Argument(help="The key's prefix, as 'apikey list' shows")],
) -> None:
    """Revoke a key at once: the next request with it gets 401."""
    from tonari.tenants.service import revoke_api_key

    async def work(session: AsyncSession) -> None:
        await revoke_api_key(session, tenant_id=await _tenant_id(session, tenant), prefix=prefix)

    run_in_transaction(work)
    console.print(f"key {prefix} revoked")


@program_app.command("apply")
def program_apply(
    file: Annotated[Path, typer.Argument(help="Programme YAML or JSON")],
    tenant: TenantOption,
    effective_from: Annotated[str | None, typer.Option(help="ISO time with offset")] = None,
) -> None:
    """Validate and apply a programme file as a new version."""
    from datetime import datetime

    from tonari.programs.service import apply_programme, load_programme_file

    document = load_programme_file_or_exit(file, load_programme_file)

    async def work(session: AsyncSession) -> int:
        tenant_id = await _tenant_id(session, tenant)
        moment = datetime.fromisoformat(effective_from) if effective_from else None
        record = await apply_programme(
            session, tenant_id=tenant_id, document=document, applied_by="cli", effective_from=moment
        )
        return record.version

    version = run_in_transaction(work)
    console.print(f"programme version [bold]{version}[/bold] applied to {tenant}")


def load_programme_file_or_exit(
    file: Path, loader: Callable[[Path], dict[str, Any]]
) -> dict[str, Any]:
    from tonari.programs.service import parse_programme

    try:
        document = loader(file)
        parse_programme(document)
    except TonariError as exc:
        where = f" (field: {exc.field})" if exc.field else ""
        err_console.print(f"[red]error[/red] {exc.code}: {exc.message}{where}")
        raise typer.Exit(2) from None
    return document


@program_app.command("show")
def program_show(tenant: TenantOption) -> None:
    """Print the programme in force."""
    from tonari.kit.clock import utcnow
    from tonari.programs.service import programme_in_force

    async def work(session: AsyncSession) -> Any:
        return await programme_in_force(
            session, tenant_id=await _tenant_id(session, tenant), at=utcnow()
        )

    version, programme = run_in_transaction(work)
    typer.echo(json.dumps({"version": version, **programme.model_dump(mode="json")}, indent=2))


@customer_app.command("show")
def customer_show(
    external_id: str,
    tenant: TenantOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """A customer's profile with balances and tier."""
    from tonari.customers.service import customer_profile
    from tonari.kit.clock import utcnow
    from tonari.kit.errors import NotFound
    from tonari.programs.service import programme_in_force

    async def work(session: AsyncSession) -> Any:
        tenant_id = await _tenant_id(session, tenant)
        try:
            _, programme = await programme_in_force(session, tenant_id=tenant_id, at=utcnow())
        except NotFound:
            programme = None
        return await customer_profile(
            session, tenant_id=tenant_id, external_id=external_id, programme=programme, at=utcnow()
        )

    profile = run_in_transaction(work)
    if as_json:
        typer.echo(profile.model_dump_json(indent=2))
        return
    table = Table(show_header=False)
    for key, value in profile.model_dump().items():
        table.add_row(
            key, json.dumps(value, default=str) if isinstance(value, dict) else str(value)
        )
    console.print(table)


@ledger_app.command("verify")
def ledger_verify(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant")] = None,
) -> None:
    """Check that every entry balances and every cached balance equals its postings and lots."""
    from tonari.ledger.verify import verify_ledger

    async def work(session: AsyncSession) -> Any:
        tenant_id = await _tenant_id(session, tenant) if tenant else None
        return await verify_ledger(session, tenant_id=tenant_id)

    report = run_in_transaction(work)
    for problem in report.problems:
        err_console.print(f"[red]✗[/red] {problem}")
    console.print(
        f"{report.entries_checked} entries, {report.accounts_checked} customer accounts checked: "
        + (
            "[green]ledger is consistent[/green]"
            if report.ok
            else f"[red]{len(report.problems)} problems[/red]"
        )
    )
    if not report.ok:
        raise typer.Exit(1)


@ledger_app.command("run-jobs")
def ledger_run_jobs(
    batch: Annotated[int, typer.Option(help="Accounts per transaction")] = 200,
) -> None:
    """Release pending points, expire points and remind of expiring ones, batch by batch."""
    from tonari.ledger.runner import run_expiry_reminders, run_ledger_jobs

    url = database_url()
    released, expired = asyncio.run(run_ledger_jobs(url, batch=batch))
    reminded = asyncio.run(run_expiry_reminders(url, batch=batch))
    console.print(
        f"released {released.points} points in {released.lots} lots; "
        f"expired {expired.points} points in {expired.lots} lots; "
        f"{reminded} customers reminded of points about to expire"
    )


@ledger_app.command("reevaluate-tiers")
def ledger_reevaluate_tiers() -> None:
    """Re-evaluate tiers now (downgrades, rolling and previous-month qualification)."""
    from tonari.ledger.runner import run_tier_reevaluation

    changed = asyncio.run(run_tier_reevaluation(database_url()))
    console.print(f"{changed} tiers changed")


_register_domain_commands()

if __name__ == "__main__":
    app()
