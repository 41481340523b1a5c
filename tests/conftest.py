"""Test infrastructure: a real PostgreSQL, migrated once, each test in a rolled-back transaction.

``TONARI_TEST_DATABASE_URL`` names a server (CI sets it to the machine's PostgreSQL); without
it an embedded server is started for the run. A fresh database is created for each run and
dropped at the end, so runs never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture, make_tenant
from tonari.app import create_app
from tonari.db import Database, libpq_dsn, start_embedded_postgres
from tonari.kit.api import get_read_session, get_session
from tonari.migrate import upgrade_database

# The webhook tests' receivers listen on 127.0.0.1; production refuses private addresses.
os.environ.setdefault("TONARI_WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    configured = os.environ.get("TONARI_TEST_DATABASE_URL")
    if configured:
        return configured
    data_dir = tmp_path_factory.mktemp("tonari-embedded")
    return start_embedded_postgres(data_dir, database="postgres")


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"tonari_test_{uuid.uuid4().hex[:10]}"
    admin_dsn = libpq_dsn(server_url)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    yield url
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, pool_size=5, max_overflow=20)
    yield db
    await db.dispose()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test."""
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        test_session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield test_session
        finally:
            await test_session.close()
            await transaction.rollback()


@pytest.fixture
async def client(database: Database, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API over ASGI, writing through the test's rolled-back session."""
    app = create_app(database=database, start_worker=False)

    async def test_session() -> AsyncIterator[AsyncSession]:
        # A failed request must not leave the shared test transaction half-written.
        savepoint = await session.begin_nested()
        try:
            yield session
            if savepoint.is_active:
                await savepoint.commit()
        except BaseException:
            if savepoint.is_active:
                await savepoint.rollback()
            raise

    app.dependency_overrides[get_session] = test_session
    app.dependency_overrides[get_read_session] = test_session
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://tonari.test") as http:
        yield http


@pytest.fixture
async def tenant(session: AsyncSession) -> TenantFixture:
    """A tenant running the Panasonic programme, with an admin key."""
    return await make_tenant(session)


@pytest.fixture
def committed_tenant(database_url: str) -> TenantFixture:
    """A tenant committed for real: for tests that run several processes."""
    import asyncio

    async def create() -> TenantFixture:
        db = Database(database_url, pool_size=1, max_overflow=0)
        try:
            async with db.transaction() as s:
                return await make_tenant(s)
        finally:
            await db.dispose()

    return asyncio.run(create())
