"""``/v1/onsite/{external_id}`` (what the site shows) and ``/v1/onsite-blocks`` (the blocks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tonari.customers.service import get_customer
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.messaging.onsite import delete_block, list_blocks, onsite_content, put_block
from tonari.models.messaging_content import OnsiteBlock as OnsiteBlockRow

router = APIRouter(tags=["messaging"])
MANAGE = "programme:write"
ExternalId = Annotated[str, Path(min_length=1, max_length=128)]
BlockKey = Annotated[str, Path(min_length=1, max_length=80)]


class OnsiteBlockUpsert(BaseModel):
    model_config = ConfigDict(extra="forbid")
    placement: str = Field(min_length=1, max_length=40)
    kind: str = Field(default="banner", description="banner or popup")
    priority: int = Field(default=0, ge=-1000, le=1000)
    rule: dict[str, Any] = Field(default_factory=dict)
    title: str | None = Field(default=None, max_length=2000)
    html: str = Field(min_length=1, max_length=100_000)
    active: bool = True


class OnsiteBlock(BaseModel):
    key: str
    placement: str
    kind: str
    priority: int
    rule: dict[str, Any]
    title: str | None
    html: str
    active: bool
    updated_at: datetime


def _view(block: OnsiteBlockRow) -> OnsiteBlock:
    return OnsiteBlock(
        key=block.key,
        placement=block.placement,
        kind=block.kind,
        priority=block.priority,
        rule=block.rule,
        title=block.title,
        html=block.html,
        active=block.active,
        updated_at=block.updated_at,
    )


@router.get(
    "/v1/onsite/{external_id}",
    summary="What the brand's site shows this customer: points, next tier, expiry, a block",
)
async def read_onsite(
    external_id: ExternalId,
    session: SessionDep,
    principal: PrincipalDep,
    placement: Annotated[str, Query(min_length=1, max_length=40)] = "banner",
) -> dict[str, Any]:
    principal.require("customers:read")
    customer = await get_customer(session, tenant_id=principal.tenant_id, external_id=external_id)
    return await onsite_content(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer.id,
        placement=placement,
        at=utcnow(),
    )


@router.put(
    "/v1/onsite-blocks/{key}",
    response_model=OnsiteBlock,
    summary="Create or replace an on-site banner/popup (template and rule checked)",
)
async def upsert(
    key: BlockKey, body: OnsiteBlockUpsert, session: SessionDep, principal: PrincipalDep
) -> OnsiteBlock:
    principal.require(MANAGE)
    block = await put_block(
        session, tenant_id=principal.tenant_id, key=key, at=utcnow(), **body.model_dump()
    )
    return _view(block)


@router.get("/v1/onsite-blocks", response_model=list[OnsiteBlock], summary="All on-site blocks")
async def list_all(session: SessionDep, principal: PrincipalDep) -> list[OnsiteBlock]:
    principal.require(MANAGE)
    return [_view(b) for b in await list_blocks(session, tenant_id=principal.tenant_id)]


@router.delete("/v1/onsite-blocks/{key}", status_code=204, summary="Delete an on-site block")
async def remove(key: BlockKey, session: SessionDep, principal: PrincipalDep) -> Response:
    principal.require(MANAGE)
    await delete_block(session, tenant_id=principal.tenant_id, key=key)
    return Response(status_code=204)
