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


SessionDep = Annotated[AsyncSession, Depends(get_session)]


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
