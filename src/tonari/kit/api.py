"""Request plumbing shared by routers: the unit-of-work session and the caller's principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.tenants.service import Principal, authenticate


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    async with request.app.state.database.transaction() as session:
        yield session


# Committed when the handler returns and *before* the response is sent: a client that got
# its 201 reads what it wrote, and a commit that fails is a 5xx, never a success. (FastAPI's
# default for a dependency with yield ends it after the response has gone.)
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


# A unit of work of its own, kept open until a streamed response (a CSV export) has been sent.
StreamSessionDep = Annotated[AsyncSession, Depends(get_session, scope="request")]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """For read-only hot paths: no transaction round trips (see ``Database.reads``)."""
    async with request.app.state.database.reads() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


def _raw_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


async def get_principal(
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    return await authenticate(session, _raw_key(authorization, x_api_key))


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_read_principal(
    session: ReadSessionDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller of a read-only endpoint, checked on the same autocommit session."""
    return await authenticate(session, _raw_key(authorization, x_api_key))


ReadPrincipalDep = Annotated[Principal, Depends(get_read_principal)]
