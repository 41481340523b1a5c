"""``tonari identity``: the review queue, manual merges and undo, GDPR export and erasure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant slug")]
ACTOR = "cli"


def register(identity_app: typer.Typer) -> None:
    identity_app.command("review")(review_command)
    identity_app.command("decide")(decide_command)
    identity_app.command("merge")(merge_command)
    identity_app.command("unmerge")(unmerge_command)
    identity_app.command("export-person")(export_person_command)
    identity_app.command("erase")(erase_command)


def _first_tier_then(work: Any) -> Any:
    async def run(session: Any, tenant_id: int) -> Any:
        from tonari.identity.resolve import first_tier_in_force

        return await work(session, tenant_id, await first_tier_in_force(session, tenant_id))

    return run


def _tenant_work(tenant: str, work: Any) -> Any:
    from tonari.cli import _tenant_id, run_in_transaction

    async def runner(session: Any) -> Any:
        return await _first_tier_then(work)(session, await _tenant_id(session, tenant))

    return run_in_transaction(runner)


def review_command(
    tenant: TenantOption,
    limit: Annotated[int, typer.Option(help="Pairs to show")] = 20,
) -> None:
    """Candidate matches waiting for a person, with the levels that scored them."""
    from rich.table import Table

    from tonari.cli import console
    from tonari.identity.decisions import list_pairs

    async def work(session: Any, tenant_id: int, _: str | None) -> Any:
        return await list_pairs(
            session, tenant_id=tenant_id, status="review", limit=limit, after=None
        )

    table = Table("pair", "probability", "left", "right", "why")
    for pair in _tenant_work(tenant, work):
        sides = [
            f"{side.source}:{side.record_id} {side.first_name or ''} {side.last_name or ''} "
            f"{side.birth_date or ''} {side.email or ''}".strip()
            for side in (pair.left, pair.right)
        ]
        why = ", ".join(f"{name}: {level}" for name, level in sorted(pair.levels.items()))
        table.add_row(str(pair.pair_id), f"{pair.probability or 0:.3f}", *sides, why)
    console.print(table)
    console.print("decide with: tonari identity decide PAIR confirm|reject -t TENANT")


def decide_command(
    pair: Annotated[int, typer.Argument(help="The pair's number from 'identity review'")],
    decision: Annotated[str, typer.Argument(help="confirm or reject")],
    tenant: TenantOption,
) -> None:
    """Confirm or reject a candidate match; the profiles follow at once."""
    from tonari.cli import console, err_console
    from tonari.identity.decisions import decide_pair

    if decision not in ("confirm", "reject"):
        err_console.print("[red]error[/red] the decision is confirm or reject")
        raise typer.Exit(2)

    async def work(session: Any, tenant_id: int, first_tier: str | None) -> Any:
        return await decide_pair(
            session,
            tenant_id=tenant_id,
            pair_id=pair,
            confirm=decision == "confirm",
            actor=ACTOR,
            at=datetime.now(UTC),
            first_tier=first_tier,
        )

    summary = _tenant_work(tenant, work)
    console.print(f"{decision}ed: {summary.merges} merged, {summary.revived} restored")


def merge_command(
    profiles: Annotated[list[str], typer.Argument(help="External ids of the profiles")],
    tenant: TenantOption,
) -> None:
    """Merge profiles you know are one person (points, orders and events move along)."""
    from tonari.cli import console
    from tonari.identity.decisions import merge_manually

    async def work(session: Any, tenant_id: int, first_tier: str | None) -> Any:
        return await merge_manually(
            session,
            tenant_id=tenant_id,
            external_ids=profiles,
            actor=ACTOR,
            at=datetime.now(UTC),
            first_tier=first_tier,
        )

    summary = _tenant_work(tenant, work)
    console.print(f"merged {summary.merges} profile(s)")


def unmerge_command(
    merge_id: Annotated[int, typer.Argument(help="The merge's number (see the profile)")],
    tenant: TenantOption,
) -> None:
    """Undo a merge: the profile comes back with its points, orders and events."""
    from tonari.cli import console
    from tonari.identity.decisions import undo_merge

    async def work(session: Any, tenant_id: int, first_tier: str | None) -> Any:
        return await undo_merge(
            session,
            tenant_id=tenant_id,
            merge_id=merge_id,
            actor=ACTOR,
            at=datetime.now(UTC),
            first_tier=first_tier,
        )

    summary = _tenant_work(tenant, work)
    console.print(f"restored {summary.revived} profile(s)")


def export_person_command(
    external_id: Annotated[str, typer.Argument(help="The profile's external id")],
    file: Annotated[Path, typer.Argument(dir_okay=False, help="JSON file to write")],
    tenant: TenantOption,
) -> None:
    """Everything held about one person, as JSON (GDPR access request)."""
    from tonari.cli import console
    from tonari.customers.service import get_customer
    from tonari.identity.privacy import export_person

    async def work(session: Any, tenant_id: int, _: str | None) -> Any:
        customer = await get_customer(session, tenant_id=tenant_id, external_id=external_id)
        return await export_person(session, tenant_id=tenant_id, customer_id=customer.id)

    document = _tenant_work(tenant, work)
    file.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    console.print(f"written to {file}")


def erase_command(
    external_id: Annotated[str, typer.Argument(help="The profile's external id")],
    tenant: TenantOption,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone")] = False,
) -> None:
    """Erase one person (GDPR): personal data anonymised; the ledger and totals are kept."""
    from tonari.cli import console, err_console
    from tonari.customers.service import get_customer
    from tonari.identity.privacy import erase_person

    if not yes:
        err_console.print("[red]error[/red] erasure cannot be undone: add --yes to confirm")
        raise typer.Exit(2)

    async def work(session: Any, tenant_id: int, _: str | None) -> Any:
        customer = await get_customer(session, tenant_id=tenant_id, external_id=external_id)
        return await erase_person(
            session, tenant_id=tenant_id, customer_id=customer.id, at=datetime.now(UTC), actor=ACTOR
        )

    result = _tenant_work(tenant, work)
    if result.already_erased:
        console.print("already erased: nothing changed")
    else:
        console.print(
            f"erased: {result.profiles} profile(s), {result.records} source record(s), "
            f"{result.events} event(s)"
        )
