"""``tonari demo``: database, migrations, the demo brand, then the API — one command.

Wired into the root command by ``tonari.cli``::

    from tonari.demo.cli import register as register_demo
    register_demo(app)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from tonari.demo.data import DemoSummary

console = Console()
KEY_FILE_NAME = "demo-api-key.txt"


def key_file() -> Path:
    from tonari.config import get_settings

    return get_settings().data_dir / KEY_FILE_NAME


def outbox_dir() -> Path:
    from tonari.config import get_settings

    return get_settings().data_dir / "demo-outbox"


def _save_key(path: Path, raw_key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(raw_key + "\n", encoding="utf-8")
    path.chmod(0o600)


async def _load(url: str, progress: Progress) -> tuple[DemoSummary, str]:
    """Load the demo in one transaction; return its summary and a working admin key."""
    from tonari.db import Database
    from tonari.demo.loader import load_demo
    from tonari.kit.clock import utcnow
    from tonari.kit.errors import Unauthorized
    from tonari.tenants.service import SCOPES, authenticate, create_api_key

    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    db = Database(url, pool_size=1, max_overflow=1)
    try:
        async with db.transaction() as session:
            summary = await load_demo(
                session,
                now=utcnow(),
                progress=report,
                outbox_dir=outbox_dir(),
            )
        if summary.api_key is not None:
            _save_key(key_file(), summary.api_key)
            return summary, summary.api_key
        # The brand exists: reuse the saved key, or issue a new one when it is lost or stale.
        saved = key_file().read_text(encoding="utf-8").strip() if key_file().exists() else ""
        async with db.transaction() as session:
            try:
                principal = await authenticate(session, saved or None)
                if principal.tenant_id == summary.tenant_id:
                    return summary, saved
            except Unauthorized:
                pass
            _, raw_key = await create_api_key(
                session, tenant_id=summary.tenant_id, name="demo admin", scopes=sorted(SCOPES)
            )
        _save_key(key_file(), raw_key)
        return summary, raw_key
    finally:
        await db.dispose()


def panel_url(base: str) -> str:
    """Where the marketer opens the panel (``tonari serve`` mounts it at ``/panel``)."""
    return f"{base.rstrip('/')}/panel"


def _print_welcome(summary: DemoSummary, api_key: str, base: str) -> None:
    state = "created" if summary.created else "already loaded"
    tiers = ", ".join(f"{code} {count}" for code, count in summary.tiers.items())
    console.print(
        f"\n[bold green]Demo brand {summary.tenant_slug}[/bold green] ({state}): "
        f"{summary.customers} customers ({tiers}), {summary.orders} orders, "
        f"{summary.products} products; {summary.customers_with_points} customers hold "
        f"{summary.points_available:,} available points."
    )
    console.print(f"Tenant: [bold]{summary.tenant_slug}[/bold]")
    console.print(f"Admin API key (also saved in {key_file()}):")
    console.print(api_key, markup=False, highlight=False, soft_wrap=True)
    customer = summary.sample_customer or "C00001"
    header = f'-H "Authorization: Bearer {api_key}"'
    products = summary.sample_products or ["DC-G100KEE"]
    examples = [
        ("A customer with tier and balances", f"curl -s {header} {base}/v1/customers/{customer}"),
        (
            "Price a cart for them, spending 2000 points",
            f"curl -s {header} -H 'Content-Type: application/json' {base}/v1/orders/calculate "
            f'-d \'{{"customer": {{"external_id": "{customer}"}}, "points_to_spend": 2000, '
            '"lines": [{"product_id": "DC-G100KEE", "category": "photo", '
            '"unit_price": 6499000, "quantity": 1}]}\'',
        ),
        (
            "Their personal prices for catalogue products",
            f"curl -s {header} -H 'Content-Type: application/json' {base}/v1/prices "
            f'-d \'{{"customer": {{"external_id": "{customer}"}}, "products": ['
            + ", ".join(f'{{"product_id": "{p}"}}' for p in products)
            + "]}'",
        ),
        (
            "Their profile: every value with its source, the club records merged into it",
            f"curl -s {header} {base}/v1/profiles/{customer}",
        ),
        (
            "Data quality: people across the shop and the two clubs, completeness before/after",
            f"curl -s {header} {base}/v1/reports/quality",
        ),
        (
            "Candidate matches waiting for a person, with why the model scored them",
            f"curl -s {header} '{base}/v1/identity/pairs?status=review'",
        ),
        (
            "Segments with their sizes, and the shipped triggers already switched on",
            f"curl -s {header} {base}/v1/segments; curl -s {header} {base}/v1/journeys",
        ),
        (
            "What the brand's site shows this customer: points, next tier, expiring points",
            f"curl -s {header} {base}/v1/onsite/{customer}",
        ),
    ]
    outbox = outbox_dir() / "email.jsonl"
    console.print(f"Triggered e-mails are written to {outbox} (no mail server needed).")
    console.print(
        f"\n[bold]Merchant panel:[/bold] {panel_url(base)}  — sign in with the API key above."
    )
    console.print("\nTry it:")
    for title, command in examples:
        console.print(f"  [dim]# {title}[/dim]")
        console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the root ``tonari`` command."""

    @app.command()
    def demo(
        host: Annotated[
            str | None, typer.Option(help="Interface to bind [default: TONARI_HOST, 127.0.0.1]")
        ] = None,
        port: Annotated[int | None, typer.Option(help="Port [default: TONARI_PORT, 8000]")] = None,
        serve: Annotated[
            bool, typer.Option("--serve/--no-serve", help="Serve the API after loading")
        ] = True,
    ) -> None:
        """Load the demo brand (Panasonic programme, catalogue, 300 customers) and serve it."""
        from tonari.config import get_settings
        from tonari.db import resolve_database_url
        from tonari.migrate import upgrade_database

        settings = get_settings()
        host = host or settings.host
        port = port or settings.port
        with console.status("Starting the database and applying migrations…"):
            url = resolve_database_url()
            upgrade_database(url)
        with Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            summary, api_key = asyncio.run(_load(url, progress))
        base = f"http://{host}:{port}"
        _print_welcome(summary, api_key, base)
        if not serve:
            return
        import uvicorn

        from tonari.app import create_app
        from tonari.db import exit_cleanly_on_sigterm

        console.print(
            f"\nTonari on {base}  (panel: {panel_url(base)}, API docs: {base}/docs)"
            "  — Ctrl+C to stop"
        )
        exit_cleanly_on_sigterm()
        uvicorn.run(
            create_app(database_url=url, start_worker=True),
            host=host,
            port=port,
            log_level="warning",
        )
