"""``/v1/messaging/templates`` (CRUD, preview, test send) and ``/v1/messaging/site``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tonari.customers.service import get_customer
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.messaging.magic_links import get_site, set_site
from tonari.messaging.queue import notify_dispatcher, queue_message
from tonari.messaging.templates import (
    create_template,
    delete_template,
    get_template,
    list_templates,
    render_message,
    update_template,
)
from tonari.models.messaging import MessageTemplate
from tonari.tenants.service import audit

router = APIRouter(tags=["messaging"])
MANAGE = "programme:write"
TemplateKey = Annotated[str, Path(min_length=1, max_length=80)]
Channel = Annotated[str, Query(min_length=1, max_length=16)]


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=80)
    channel: str = Field(default="email", min_length=1, max_length=16)
    topic: str = Field(default="marketing", min_length=1, max_length=64)
    transactional: bool = False
    subject: str | None = None
    html: str | None = None
    text: str


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str | None = Field(default=None, min_length=1, max_length=64)
    transactional: bool | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = None


class Template(BaseModel):
    key: str
    channel: str
    topic: str
    transactional: bool
    subject: str | None
    html: str | None
    text: str
    version: int
    created_at: datetime
    updated_at: datetime


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, max_length=128, description="the customer's external id")
    channel: str = Field(default="email", min_length=1, max_length=16)
    context: dict[str, Any] = Field(default_factory=dict)


class TestSendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, max_length=128, description="the customer's external id")
    channel: str = Field(default="email", min_length=1, max_length=16)
    to: str | None = Field(default=None, max_length=320, description="send here instead")
    context: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=100)


class Rendered(BaseModel):
    subject: str | None
    html: str | None
    text: str
    topic: str
    transactional: bool


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_url: str = Field(min_length=8, max_length=500)
    login_parameter: str = Field(default="tonari_login", min_length=1, max_length=40)


class Site(BaseModel):
    site_url: str
    login_parameter: str


def _view(template: MessageTemplate) -> Template:
    return Template(
        key=template.key,
        channel=template.channel,
        topic=template.topic,
        transactional=template.transactional,
        subject=template.subject,
        html=template.html,
        text=template.text,
        version=template.version,
        created_at=template.created_at,
        updated_at=template.updated_at,
    )


@router.post(
    "/v1/messaging/templates",
    status_code=201,
    response_model=Template,
    summary="Create a template (checked: syntax and variables, per part and line)",
)
async def create(body: TemplateCreate, session: SessionDep, principal: PrincipalDep) -> Template:
    principal.require(MANAGE)
    template = await create_template(
        session, tenant_id=principal.tenant_id, at=utcnow(), **body.model_dump()
    )
    await audit(
        session,
        principal,
        action="message_template.create",
        subject=f"{body.key}/{body.channel}",
        details={"version": 1},
    )
    return _view(template)


@router.get("/v1/messaging/templates", response_model=list[Template], summary="All templates")
async def list_all(session: SessionDep, principal: PrincipalDep) -> list[Template]:
    principal.require(MANAGE)
    return [_view(t) for t in await list_templates(session, tenant_id=principal.tenant_id)]


@router.get("/v1/messaging/templates/{key}", response_model=Template, summary="One template")
async def read(
    key: TemplateKey, session: SessionDep, principal: PrincipalDep, channel: Channel = "email"
) -> Template:
    principal.require(MANAGE)
    return _view(
        await get_template(session, tenant_id=principal.tenant_id, key=key, channel=channel)
    )


@router.patch(
    "/v1/messaging/templates/{key}",
    response_model=Template,
    summary="Change a template; the version goes up by one",
)
async def change(
    key: TemplateKey,
    body: TemplateUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    channel: Channel = "email",
) -> Template:
    principal.require(MANAGE)
    template = await update_template(
        session,
        tenant_id=principal.tenant_id,
        key=key,
        channel=channel,
        changes=body.model_dump(exclude_unset=True),
        at=utcnow(),
    )
    await audit(
        session,
        principal,
        action="message_template.update",
        subject=f"{key}/{channel}",
        details={"version": template.version},
    )
    return _view(template)


@router.delete("/v1/messaging/templates/{key}", status_code=204, summary="Delete a template")
async def remove(
    key: TemplateKey, session: SessionDep, principal: PrincipalDep, channel: Channel = "email"
) -> Response:
    principal.require(MANAGE)
    await delete_template(session, tenant_id=principal.tenant_id, key=key, channel=channel)
    await audit(
        session, principal, action="message_template.delete", subject=f"{key}/{channel}", details={}
    )
    return Response(status_code=204)


@router.post(
    "/v1/messaging/templates/{key}/preview",
    response_model=Rendered,
    summary="Render the template for a real customer, now; nothing is sent or stored",
)
async def preview(
    key: TemplateKey,
    body: PreviewIn,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> Rendered:
    principal.require("customers:read")
    customer = await get_customer(
        session, tenant_id=principal.tenant_id, external_id=body.customer_id
    )
    rendered = await render_message(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer.id,
        template_key=key,
        channel=body.channel,
        context=body.context,
        at=utcnow(),
        base_url=str(request.base_url),
    )
    return Rendered(**rendered.__dict__)


@router.post(
    "/v1/messaging/templates/{key}/test-send",
    status_code=202,
    summary="Queue one transactional copy of the template for a customer (sent by the dispatcher)",
)
async def test_send(
    key: TemplateKey, body: TestSendIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(MANAGE)
    customer = await get_customer(
        session, tenant_id=principal.tenant_id, external_id=body.customer_id
    )
    template = await get_template(
        session, tenant_id=principal.tenant_id, key=key, channel=body.channel
    )
    idempotency_key = f"test-send:{body.idempotency_key or uuid.uuid4().hex}"
    context = dict(body.context)
    context["test_send"] = True
    if body.to is not None:
        context["to"] = body.to
    send_id = await queue_message(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer.id,
        channel=body.channel,
        template_key=key,
        at=utcnow(),
        topic=template.topic,
        transactional=True,
        idempotency_key=idempotency_key,
        context=context,
    )
    if send_id is not None:
        await notify_dispatcher(session)
    return {"send_id": send_id, "queued": send_id is not None, "idempotency_key": idempotency_key}


@router.put("/v1/messaging/site", response_model=Site, summary="The brand site magic links open")
async def put_site(body: SiteIn, session: SessionDep, principal: PrincipalDep) -> Site:
    principal.require(MANAGE)
    site = await set_site(
        session,
        tenant_id=principal.tenant_id,
        site_url=body.site_url,
        login_parameter=body.login_parameter,
        at=utcnow(),
    )
    return Site(site_url=site.site_url, login_parameter=site.login_parameter)


@router.get("/v1/messaging/site", response_model=Site, summary="The brand site magic links open")
async def read_site(session: SessionDep, principal: PrincipalDep) -> Site:
    principal.require(MANAGE)
    site = await get_site(session, tenant_id=principal.tenant_id)
    return Site(site_url=site.site_url, login_parameter=site.login_parameter)
