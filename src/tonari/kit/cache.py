"""Per-process caches of facts that never change, keyed by the database they came from."""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncSession


def database_key(session: AsyncSession) -> str:
    """Which database a session talks to: one process may serve several (tests, benches)."""
    bind = session.sync_session.get_bind()
    engine: Engine = bind.engine if isinstance(bind, Connection) else bind
    return str(engine.url)
