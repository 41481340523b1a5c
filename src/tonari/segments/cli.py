"""``tonari segment ...``: define segments from YAML/JSON files, size, export and rebuild them.

Wired into the root ``tonari`` command by :mod:`tonari.cli`.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

segments_app = typer.Typer(help="Segments of customers.", no_args_is_help=True)
TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")]
KeyArgument = Annotated[str, typer.Argument(help="The segment's key")]


async def _tenant_id(session: AsyncSession, slug: str) -> int:
    from tonari.tenants.service import get_tenant_by_slug

    return (await get_tenant_by_slug(session, slug)).id


def _fail(message: str) -> typer.Exit:
    from tonari.cli import err_console

    err_console.print(f"[red]error[/red] {message}")
    return typer.Exit(2)


def _progress() -> Progress:
    from tonari.cli import err_console

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )


def read_segment_file(file: Path) -> dict[str, Any]:
    """A segment file: ``key``, ``name`` and ``definition`` (YAML, or JSON, which is YAML)."""
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(f"cannot read {file}: {exc}") from None
    if not isinstance(loaded, dict) or not {"key", "definition"} <= set(loaded):
        raise _fail(f"{file} must hold a mapping with key, name and definition")
    return loaded


@segments_app.command("create")
def create_command(
    tenant: TenantOption,
    file: Annotated[Path, typer.Argument(help="YAML or JSON: key, name, definition")],
    replace: Annotated[bool, typer.Option(help="Redefine the segment if the key exists")] = False,
) -> None:
    """Define a segment (or, with --replace, redefine it) and fill it."""
    from pydantic import ValidationError

    from tonari.cli import console, run_in_transaction
    from tonari.kit.clock import utcnow
    from tonari.kit.errors import NotFound
    from tonari.segments.schemas import SegmentCreate
    from tonari.segments.service import create_segment, segment_size, update_segment

    document = read_segment_file(file)
    document.setdefault("name", document.get("key"))
    try:
        body = SegmentCreate.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "segment"
        raise _fail(f"invalid_request: {first['msg']} (field: {field})") from None

    async def work(session: AsyncSession) -> tuple[str, int]:
        tenant_id = await _tenant_id(session, tenant)
        at = utcnow()
        if replace:
            try:
                segment = await update_segment(
                    session,
                    tenant_id=tenant_id,
                    key=body.key,
                    name=body.name,
                    definition=body.definition,
                    at=at,
                )
                return "redefined", await segment_size(session, segment=segment)
            except NotFound:
                pass
        segment = await create_segment(
            session,
            tenant_id=tenant_id,
            key=body.key,
            name=body.name,
            definition=body.definition,
            at=at,
        )
        return "created", await segment_size(session, segment=segment)

    what, size = run_in_transaction(work)
    console.print(f"segment [bold]{body.key}[/bold] {what}: {size:,} members")


@segments_app.command("list")
def list_command(tenant: TenantOption) -> None:
    """The tenant's segments with their sizes."""
    from tonari.cli import console, run_in_transaction
    from tonari.segments.service import list_segments, sizes_of

    async def work(session: AsyncSession) -> list[tuple[Any, int]]:
        segments = await list_segments(session, tenant_id=await _tenant_id(session, tenant))
        sizes = await sizes_of(session, segments=segments)
        return [(segment, sizes.get(segment.id, 0)) for segment in segments]

    table = Table("segment", "name", "members", "rebuilt at")
    for segment, size in run_in_transaction(work):
        rebuilt = segment.rebuilt_at.isoformat(timespec="seconds") if segment.rebuilt_at else ""
        table.add_row(segment.key, segment.name, f"{size:,}", rebuilt)
    console.print(table)


@segments_app.command("size")
def size_command(
    tenant: TenantOption,
    key: KeyArgument,
    live: Annotated[bool, typer.Option(help="Count from the definition now, not the members")] = (
        False
    ),
) -> None:
    """How many members a segment has (or, with --live, how many match right now)."""
    from tonari.cli import console, run_in_transaction
    from tonari.kit.clock import utcnow
    from tonari.segments.service import get_segment, preview_size, segment_size

    async def work(session: AsyncSession) -> int:
        segment = await get_segment(session, tenant_id=await _tenant_id(session, tenant), key=key)
        if live:
            return await preview_size(
                session, tenant_id=segment.tenant_id, definition=segment.definition, at=utcnow()
            )
        return await segment_size(session, segment=segment)

    console.print(f"{run_in_transaction(work):,}")


@segments_app.command("export")
def export_command(
    tenant: TenantOption,
    key: KeyArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write", dir_okay=False)],
) -> None:
    """Write the members to a CSV file, with a progress bar."""
    from tonari.cli import console, run_in_transaction
    from tonari.segments.service import EXPORT_COLUMNS, export_rows, get_segment, segment_size

    with _progress() as progress, out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)

        async def work(session: AsyncSession) -> int:
            segment = await get_segment(
                session, tenant_id=await _tenant_id(session, tenant), key=key
            )
            task = progress.add_task(
                f"exporting {key}", total=await segment_size(session, segment=segment)
            )
            written = 0
            async for page in export_rows(session, segment=segment):
                writer.writerows(page)
                written += len(page)
                progress.update(task, completed=written)
            return written

        written = run_in_transaction(work)
    console.print(f"wrote [bold]{written:,}[/bold] members to {out}")


@segments_app.command("rebuild")
def rebuild_command(tenant: TenantOption, key: KeyArgument) -> None:
    """Recompute every member from scratch (recovery), emitting entry and exit events."""
    from tonari.cli import console, run_in_transaction
    from tonari.kit.clock import utcnow
    from tonari.segments.service import RebuildResult, get_segment, rebuild_segment

    with _progress() as progress:
        task = progress.add_task(f"rebuilding {key}", total=None)

        async def work(session: AsyncSession) -> RebuildResult:
            segment = await get_segment(
                session, tenant_id=await _tenant_id(session, tenant), key=key
            )
            return await rebuild_segment(
                session,
                segment=segment,
                at=utcnow(),
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )

        result = run_in_transaction(work)
    console.print(
        f"segment [bold]{result.key}[/bold]: {result.size:,} members "
        f"(+{result.entered:,} / -{result.exited:,}) in {result.seconds:.2f} s"
    )


@segments_app.command("boundaries")
def boundaries_command() -> None:
    """Apply every due time boundary now (the worker does this every minute)."""
    from tonari.cli import console, database_url
    from tonari.db import Database
    from tonari.segments.boundaries import process_due_boundaries

    async def run() -> int:
        database = Database(database_url(), pool_size=1, max_overflow=1)
        try:
            return await process_due_boundaries(database)
        finally:
            await database.dispose()

    console.print(f"{asyncio.run(run()):,} due boundaries applied")
