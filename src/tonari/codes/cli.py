"""``tonari codes ...``: create pools, generate and issue codes, export them, run the schedule.

Wired into the root ``tonari`` command by :mod:`tonari.cli`.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.codes.schemas import MAX_GENERATE, CodePoolCreate, PoolKind, PoolStatus

codes_app = typer.Typer(help="Promo codes and vouchers.", no_args_is_help=True)
TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")]
PoolOption = Annotated[str, typer.Option("--pool", "-p", help="The pool's code (slug)")]


async def _tenant_id(session: AsyncSession, slug: str) -> int:
    from tonari.tenants.service import get_tenant_by_slug

    return (await get_tenant_by_slug(session, slug)).id


def _fail(message: str) -> typer.Exit:
    from tonari.cli import err_console

    err_console.print(f"[red]error[/red] {message}")
    return typer.Exit(2)


def _definition(file: Path | None, flags: dict[str, Any]) -> CodePoolCreate:
    """The pool from a YAML/JSON file, with flags given on the command line on top."""
    document: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise _fail(f"cannot read {file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise _fail(f"{file} must hold one mapping of pool fields")
        document.update(loaded)
    document.update({key: value for key, value in flags.items() if value is not None})
    try:
        return CodePoolCreate.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "pool"
        raise _fail(f"invalid_request: {first['msg']} (field: {field})") from None


@codes_app.command("create-pool")
def create_pool_command(
    tenant: TenantOption,
    file: Annotated[
        Path | None, typer.Argument(help="YAML or JSON with the pool's fields", dir_okay=False)
    ] = None,
    code: Annotated[str | None, typer.Option(help="The pool's slug, e.g. summer-2026")] = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    kind: Annotated[PoolKind | None, typer.Option(help="public, personal, gift or bonus")] = None,
    public_code: Annotated[str | None, typer.Option(help="public: the code, e.g. SKIDKA30")] = None,
    max_uses: Annotated[int | None, typer.Option(help="Uses per code (1 = single use)")] = None,
    per_customer_limit: Annotated[int | None, typer.Option(help="Uses per customer")] = None,
    valid_from: Annotated[str | None, typer.Option(help="ISO time with offset")] = None,
    valid_until: Annotated[str | None, typer.Option(help="ISO time with offset")] = None,
    valid_days: Annotated[int | None, typer.Option(help="Days each code lives after issue")] = None,
    shareable: Annotated[bool | None, typer.Option(help="Codes may be shared with friends")] = None,
    value_minor: Annotated[int | None, typer.Option(help="gift: value in minor units")] = None,
    currency: Annotated[str | None, typer.Option(help="gift: currency, e.g. RUB")] = None,
    value_points: Annotated[int | None, typer.Option(help="bonus: points credited")] = None,
    prefix: Annotated[str | None, typer.Option(help="Text before the random part")] = None,
    length: Annotated[int | None, typer.Option(help="Random symbols (default 8)")] = None,
    reissue_every_days: Annotated[
        int | None, typer.Option(help="Give every buyer a new code this often")
    ] = None,
) -> None:
    """Create a code pool from a file and/or flags (flags win)."""
    from tonari.cli import console, run_in_transaction
    from tonari.codes.pools import create_pool
    from tonari.kit.clock import utcnow

    definition = _definition(
        file,
        {
            "code": code,
            "name": name,
            "kind": kind.value if kind else None,
            "public_code": public_code,
            "max_uses_per_code": max_uses,
            "per_customer_limit": per_customer_limit,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "valid_days": valid_days,
            "shareable": shareable,
            "value_minor": value_minor,
            "currency": currency,
            "value_points": value_points,
            "prefix": prefix,
            "code_length": length,
            "reissue_every_days": reissue_every_days,
        },
    )

    async def work(session: AsyncSession) -> str | None:
        tenant_id = await _tenant_id(session, tenant)
        _, public = await create_pool(
            session, tenant_id=tenant_id, definition=definition, at=utcnow()
        )
        return public

    public = run_in_transaction(work)
    extra = f" with the code [bold]{public}[/bold]" if public else ""
    console.print(f"{definition.kind.value} pool [bold]{definition.code}[/bold] created{extra}")


@codes_app.command("list")
def list_command(tenant: TenantOption) -> None:
    """The tenant's pools with their counts."""
    from tonari.cli import console, run_in_transaction
    from tonari.codes.pools import list_pools, pool_stats

    async def work(session: AsyncSession) -> list[tuple[Any, dict[str, int]]]:
        pools = await list_pools(session, tenant_id=await _tenant_id(session, tenant))
        return [(pool, await pool_stats(session, pool)) for pool in pools]

    table = Table("pool", "kind", "status", "codes", "issued", "redemptions", "valid days")
    for pool, stats in run_in_transaction(work):
        table.add_row(
            pool.code,
            pool.kind,
            pool.status,
            f"{stats['codes']:,}",
            f"{stats['issued']:,}",
            f"{stats['redemptions']:,}",
            str(pool.valid_days or ""),
        )
    console.print(table)


@codes_app.command("generate")
def generate_command(
    tenant: TenantOption,
    pool: PoolOption,
    count: Annotated[int, typer.Option(help=f"How many codes (1 to {MAX_GENERATE:,})")],
) -> None:
    """Generate unique codes nobody owns yet, in one transaction, with a progress bar."""
    from tonari.cli import console, err_console, run_in_transaction
    from tonari.codes.service import GenerateResult, generate_codes
    from tonari.kit.clock import utcnow

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task(f"generating {pool}", total=max(count, 1))

        async def work(session: AsyncSession) -> GenerateResult:
            return await generate_codes(
                session,
                tenant_id=await _tenant_id(session, tenant),
                pool=pool,
                count=count,
                at=utcnow(),
                progress=lambda done, _: progress.update(task, completed=done),
            )

        result = run_in_transaction(work)
    console.print(
        f"generated [bold]{result.generated:,}[/bold] codes of {result.code_length} symbols "
        f"in {result.seconds:.2f} s (batch {result.batch_id})"
    )


@codes_app.command("issue")
def issue_command(
    tenant: TenantOption,
    pool: PoolOption,
    customers: Annotated[
        Path, typer.Option(help="File with one customer external id per line", dir_okay=False)
    ],
    key: Annotated[str, typer.Option(help="Issue key: running again issues nothing more")],
    per_customer: Annotated[int, typer.Option(help="Codes per customer")] = 1,
    reason: Annotated[str | None, typer.Option(help="Why (kept with the batch)")] = None,
) -> None:
    """Give codes or vouchers of a pool to the customers listed in a file."""
    from tonari.cli import console, run_in_transaction
    from tonari.codes.service import IssueResult, issue_codes
    from tonari.kit.clock import utcnow

    try:
        lines = customers.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise _fail(f"cannot read {customers}: {exc}") from None
    external_ids = [line.strip() for line in lines if line.strip()]

    async def work(session: AsyncSession) -> IssueResult:
        return await issue_codes(
            session,
            tenant_id=await _tenant_id(session, tenant),
            pool=pool,
            customers=external_ids,
            per_customer=per_customer,
            issue_key=key,
            reason=reason,
            at=utcnow(),
        )

    result = run_in_transaction(work)
    verb = "already issued" if result.replayed else "issued"
    console.print(f"{verb} {result.issued:,} codes to {result.customers:,} customers")


@codes_app.command("export")
def export_command(
    tenant: TenantOption,
    pool: PoolOption,
    output: Annotated[Path | None, typer.Option(help="CSV file (default: standard output)")] = None,
) -> None:
    """Write a pool's codes as CSV: code, status, owner, issued_at, expires_at, uses, max_uses."""
    from tonari.cli import err_console, run_in_transaction
    from tonari.codes.pools import EXPORT_COLUMNS, export_rows, get_pool
    from tonari.kit.clock import utcnow

    stream = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    writer = csv.writer(stream, lineterminator="\n")

    async def work(session: AsyncSession) -> int:
        tenant_id = await _tenant_id(session, tenant)
        await get_pool(session, tenant_id=tenant_id, pool=pool)  # fail before any output
        written = 0
        writer.writerow(EXPORT_COLUMNS)
        async for page in export_rows(session, tenant_id=tenant_id, pool=pool, at=utcnow()):
            writer.writerows(page)
            written += len(page)
        return written

    try:
        written = run_in_transaction(work)
    finally:
        if output:
            stream.close()
    if output:
        err_console.print(f"{written:,} codes written to {output}")


def _set_status(tenant: str, pool: str, status: PoolStatus) -> None:
    from tonari.cli import console, run_in_transaction
    from tonari.codes.pools import set_pool_status
    from tonari.kit.clock import utcnow

    async def work(session: AsyncSession) -> None:
        await set_pool_status(
            session,
            tenant_id=await _tenant_id(session, tenant),
            pool=pool,
            status=status,
            at=utcnow(),
        )

    run_in_transaction(work)
    console.print(f"pool {pool} is {status.value}")


@codes_app.command("pause")
def pause_command(tenant: TenantOption, pool: PoolOption) -> None:
    """Pause a pool: its codes are refused until it is resumed."""
    _set_status(tenant, pool, PoolStatus.PAUSED)


@codes_app.command("resume")
def resume_command(tenant: TenantOption, pool: PoolOption) -> None:
    """Resume a paused pool."""
    _set_status(tenant, pool, PoolStatus.ACTIVE)


@codes_app.command("run-schedule")
def run_schedule_command() -> None:
    """Issue the scheduled codes due now in every tenant (the worker does this hourly)."""
    from tonari.cli import console, database_url
    from tonari.codes.jobs import run_scheduled_issues

    issued = asyncio.run(run_scheduled_issues(database_url()))
    console.print(f"{issued:,} scheduled codes issued")
