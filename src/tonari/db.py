"""Database engine, sessions and the embedded PostgreSQL server.

When ``TONARI_DATABASE_URL`` is not set Tonari starts PostgreSQL itself from the binaries the
``pgserver`` package ships, in ``TONARI_DATA_DIR/pg``, and talks to it over a Unix socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tonari.config import Settings, get_settings

EMBEDDED_DATABASE = "tonari"
_embedded_servers: dict[Path, Any] = {}


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into a normal exit so the embedded server is stopped on the way out.

    uvicorn re-raises the signal it shut down on; with the default handler the process would
    die without running ``atexit``, leaving the embedded PostgreSQL running.
    """
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def start_embedded_postgres(data_dir: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or reuse) the embedded server and return a plain ``postgresql://`` URL."""
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    pg_dir = (data_dir / "pg").resolve()
    pg_dir.mkdir(parents=True, exist_ok=True)
    server = _embedded_servers.get(pg_dir)
    if server is None:
        # "stop" keeps the data but stops the server when the last process using it exits.
        server = pgserver.get_server(pg_dir, cleanup_mode="stop")
        _embedded_servers[pg_dir] = server
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return str(server.get_uri(database))


def resolve_database_url(settings: Settings | None = None) -> str:
    """The configured URL, or the embedded server's, as a plain ``postgresql://`` URL."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.data_dir)


def async_url(url: str) -> URL:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg")


def sync_url(url: str) -> URL:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg")


def libpq_dsn(url: str) -> str:
    """A DSN psycopg/libpq and pgbench understand (no SQLAlchemy driver suffix)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def create_engine_for(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        connect_args={"server_settings": {"timezone": "UTC"}},
    )


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.url = url
        self.engine = create_engine_for(url, pool_size=pool_size, max_overflow=max_overflow)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads that need no snapshot (pricing a cart, personal prices) skip BEGIN/COMMIT.
        self.read_sessions = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit on success, roll back on any error."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncSession]:
        """Autocommit reads: each statement sees the latest committed data; nothing is written."""
        async with self.read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
