"""The asyncpg connection under a session, for COPY and other bulk work SQLAlchemy lacks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def driver_in_transaction(session: AsyncSession) -> Any:
    """The raw asyncpg connection, inside the session's transaction.

    SQLAlchemy's asyncpg adapter sends ``BEGIN`` lazily, with its first statement: on a fresh
    session the raw connection is still in autocommit, and a COPY sent to it directly would
    commit on its own (a failure later would not undo it). One trivial statement through the
    session opens the transaction first.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        await session.execute(text("SELECT 1"))
    return driver
