"""Public tracking links (``/t/o``, ``/t/c``, ``/t/m``) and the site's magic-link exchange.

The ``/t/`` routes carry no API key: the signed token is the authority (tonari.messaging.
tracking). A tampered token gets 400 and changes nothing; a click only ever redirects to the
URL signed into its token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.messaging.magic_links import exchange_login_token, follow_magic_link
from tonari.messaging.tracking import PIXEL_GIF, record_click, record_open

router = APIRouter(tags=["messaging"])
Token = Annotated[str, Path(min_length=1, max_length=2000)]
_NO_CACHE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}


class ExchangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=2000)


class LoginOut(BaseModel):
    customer_id: int
    external_id: str


@router.get(
    "/t/o/{token}.gif",
    response_class=Response,
    summary="Open pixel (public): the first open of a send becomes one email_opened event",
)
async def open_pixel(token: Token, session: SessionDep) -> Response:
    await record_open(session, token=token, at=utcnow())
    return Response(content=PIXEL_GIF, media_type="image/gif", headers=_NO_CACHE)


@router.get(
    "/t/c/{token}",
    response_class=RedirectResponse,
    status_code=302,
    summary="Click redirect (public): records email_clicked, then goes to the signed URL",
)
async def click(token: Token, session: SessionDep) -> RedirectResponse:
    tracked = await record_click(session, token=token, at=utcnow())
    assert tracked.url is not None
    return RedirectResponse(tracked.url, status_code=302, headers=_NO_CACHE)


@router.get(
    "/t/m/{token}",
    response_class=RedirectResponse,
    status_code=302,
    summary="Magic link (public): to the brand site with a short-lived single-use login token",
)
async def magic_link(token: Token, session: SessionDep) -> RedirectResponse:
    target = await follow_magic_link(session, token=token, at=utcnow())
    return RedirectResponse(target, status_code=302, headers=_NO_CACHE)


@router.post(
    "/v1/magic-links/exchange",
    response_model=LoginOut,
    summary="The site trades a login token (once) for the customer it logs in",
)
async def exchange(body: ExchangeIn, session: SessionDep, principal: PrincipalDep) -> LoginOut:
    principal.require("customers:read")
    logged_in = await exchange_login_token(
        session, tenant_id=principal.tenant_id, token=body.token, at=utcnow()
    )
    return LoginOut(customer_id=logged_in.customer_id, external_id=logged_in.external_id)
