"""Consents per customer, the public one-click unsubscribe, and bounce/complaint intake."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from tonari.customers.service import get_customer
from tonari.identity.reachability import mark_unreachable
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.kit.errors import ValidationFailed
from tonari.messaging.consents import (
    ConsentState,
    list_consents,
    read_unsubscribe_token,
    set_consent,
    unsubscribe,
)

router = APIRouter(tags=["messaging"])
ExternalId = Annotated[str, Path(min_length=1, max_length=128)]
Token = Annotated[str, Path(min_length=1, max_length=1000)]


class ConsentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str = Field(min_length=1, max_length=16, description="email, sms, push, web_push")
    topic: str = Field(
        default="marketing",
        min_length=1,
        max_length=64,
        description="a topic, or 'marketing' for all marketing on the channel",
    )
    granted: bool
    source: str = Field(default="api", min_length=1, max_length=64)


class ConsentChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    consents: list[ConsentChange] = Field(min_length=1, max_length=100)


class ConsentOut(BaseModel):
    channel: str
    topic: str
    granted: bool
    source: str
    changed_at: datetime


class BounceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=3, max_length=320, description="an email or a phone number")
    kind: Literal["bounce", "complaint"]
    channel: Literal["email", "sms"] = "email"


def _out(state: ConsentState) -> ConsentOut:
    return ConsentOut(
        channel=state.channel,
        topic=state.topic,
        granted=state.granted,
        source=state.source,
        changed_at=state.changed_at,
    )


@router.get(
    "/v1/customers/{external_id}/consents",
    response_model=list[ConsentOut],
    summary="A customer's consents per channel and topic",
)
async def read_consents(
    external_id: ExternalId, session: SessionDep, principal: PrincipalDep
) -> list[ConsentOut]:
    principal.require("customers:read")
    customer = await get_customer(session, tenant_id=principal.tenant_id, external_id=external_id)
    states = await list_consents(session, tenant_id=principal.tenant_id, customer_id=customer.id)
    return [_out(state) for state in states]


@router.put(
    "/v1/customers/{external_id}/consents",
    response_model=list[ConsentOut],
    summary="Grant or withdraw consents (latest change wins)",
)
async def change_consents(
    external_id: ExternalId, body: ConsentChanges, session: SessionDep, principal: PrincipalDep
) -> list[ConsentOut]:
    principal.require("customers:write")
    customer = await get_customer(session, tenant_id=principal.tenant_id, external_id=external_id)
    at = utcnow()
    for index, change in enumerate(body.consents):
        try:
            await set_consent(
                session,
                tenant_id=principal.tenant_id,
                customer_id=customer.id,
                channel=change.channel,
                topic=change.topic,
                granted=change.granted,
                source=change.source,
                at=at,
            )
        except ValidationFailed as exc:
            # Name the item, so a batch of 100 says which one is wrong.
            raise ValidationFailed(exc.message, field=f"consents.{index}.{exc.field}") from None
    states = await list_consents(session, tenant_id=principal.tenant_id, customer_id=customer.id)
    return [_out(state) for state in states]


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{text}</p>{form}</body></html>"""


@router.get(
    "/v1/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="The unsubscribe page (public): confirms before anything changes",
)
async def unsubscribe_page(token: Token) -> HTMLResponse:
    # GET never changes anything: mail scanners follow links, only the POST unsubscribes.
    target = read_unsubscribe_token(token)
    what = "all marketing" if target.topic == "marketing" else f"'{target.topic}'"
    form = (
        f'<form method="post" action="/v1/unsubscribe/{escape(token)}">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return HTMLResponse(
        _PAGE.format(
            title="Unsubscribe",
            text=escape(f"Stop receiving {what} by {target.channel}?"),
            form=form,
        )
    )


@router.post(
    "/v1/unsubscribe/{token}",
    summary="One-click unsubscribe (public, RFC 8058): stops that marketing, never transactional",
)
async def unsubscribe_now(token: Token, session: SessionDep) -> HTMLResponse:
    target = await unsubscribe(session, token=token, at=utcnow())
    what = "all marketing" if target.topic == "marketing" else f"'{target.topic}'"
    return HTMLResponse(
        _PAGE.format(
            title="Unsubscribed",
            text=escape(f"You will no longer receive {what} by {target.channel}."),
            form="",
        )
    )


@router.post(
    "/v1/messaging/bounces",
    summary="Report a bounce or complaint: the address becomes unreachable on every channel",
)
async def report_bounce(
    body: BounceIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, object]:
    principal.require("customers:write")
    email = body.address if body.channel == "email" else None
    phone = body.address if body.channel == "sms" else None
    try:
        profiles = await mark_unreachable(
            session,
            tenant_id=principal.tenant_id,
            email=email,
            phone=phone,
            reason=body.kind,
            at=utcnow(),
        )
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="address") from None
    return {"address": body.address, "kind": body.kind, "profiles_marked": profiles}
