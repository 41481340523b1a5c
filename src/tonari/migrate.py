"""Apply Alembic migrations programmatically (``tonari migrate``, ``serve``, ``demo``, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from tonari.db import sync_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "sqlalchemy.url", sync_url(url).render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def upgrade_database(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)
