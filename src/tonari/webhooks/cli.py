"""CLI commands: ``tonari worker`` and ``tonari webhooks deliver``.

Wired into the root ``tonari`` command by :mod:`tonari.cli`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import typer

webhooks_app = typer.Typer(help="Webhook deliveries.", no_args_is_help=True)


def _database_url() -> str:
    from tonari.db import resolve_database_url

    return resolve_database_url()


def worker(
    migrate: Annotated[bool, typer.Option(help="Apply migrations before starting")] = True,
) -> None:
    """Run a background worker (webhooks, points release and expiry) until stopped."""
    from tonari.config import get_settings
    from tonari.worker import run_worker

    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    url = _database_url()
    if migrate:
        from tonari.migrate import upgrade_database

        upgrade_database(url)
    typer.echo("tonari worker running; Ctrl+C stops it after the jobs in hand")
    run_worker(url, settings=settings)


@webhooks_app.command("deliver")
def deliver() -> None:
    """Relay the outbox and deliver every webhook due now, then exit."""
    from tonari.webhooks.delivery import deliver_webhooks_once, summary

    result = asyncio.run(deliver_webhooks_once(_database_url()))
    typer.echo(json.dumps(summary(result)))
