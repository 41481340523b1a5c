"""``/v1/messaging/channels/{channel}`` (which adapter carries a channel) and the policy.

Secrets in channel settings (an SMTP password, a webhook secret, a VAPID private key) are
write-only: every answer shows them as ``********``, and a PUT that sends the mask back (or
leaves the field out) keeps the stored value.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from tonari.config import get_settings
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.messaging.delivery import (
    channel_view,
    configure_channel,
    get_channel,
    get_policy,
    policy_view,
    set_policy,
)
from tonari.tenants.service import audit

router = APIRouter(tags=["messaging"])
MANAGE = "programme:write"
ChannelName = Annotated[
    str, Path(min_length=1, max_length=16, description="email, sms, push, web_push")
]


class ChannelConfigure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    adapter: str = Field(description="smtp (email), webhook (sms, push), webpush, file (any)")
    settings: dict[str, Any] = Field(default_factory=dict)
    sender: str | None = Field(default=None, max_length=320)
    rate_per_second: int | None = Field(default=None, ge=1, le=100_000)
    per_day: int | None = Field(default=None, ge=0, description="Cap on this channel per day")
    per_week: int | None = Field(default=None, ge=0)


class ChannelOut(BaseModel):
    channel: str
    adapter: str
    settings: dict[str, Any]
    sender: str | None
    rate_per_second: int | None
    per_day: int | None
    per_week: int | None
    updated_at: datetime


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_day: int | None = Field(default=None, ge=0, description="Marketing messages per local day")
    per_week: int | None = Field(default=None, ge=0)
    quiet_start: time | None = Field(default=None, description="e.g. 21:00, customer's local time")
    quiet_end: time | None = Field(default=None, description="e.g. 09:00")
    holdout_bp: int = Field(default=0, ge=0, le=10_000, description="Global holdout, basis points")


class PolicyOut(BaseModel):
    per_day: int | None
    per_week: int | None
    quiet_start: time | None
    quiet_end: time | None
    holdout_bp: int


@router.put(
    "/v1/messaging/channels/{channel}",
    response_model=ChannelOut,
    summary="Configure the adapter that carries a channel (secrets are never echoed back)",
)
async def put_channel(
    channel: ChannelName, body: ChannelConfigure, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(MANAGE)
    row = await configure_channel(
        session,
        tenant_id=principal.tenant_id,
        channel=channel,
        adapter=body.adapter,
        settings=body.settings,
        sender=body.sender,
        rate_per_second=body.rate_per_second,
        per_day=body.per_day,
        per_week=body.per_week,
        at=utcnow(),
        allow_private_addresses=get_settings().webhook_allow_private_addresses,
    )
    view = channel_view(row)
    await audit(
        session,
        principal,
        action="messaging.channel.configure",
        subject=channel,
        details={"adapter": row.adapter, "settings": view["settings"]},
    )
    return view


@router.get(
    "/v1/messaging/channels/{channel}",
    response_model=ChannelOut,
    summary="A channel's configuration, secrets masked",
)
async def read_channel(
    channel: ChannelName, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(MANAGE)
    return channel_view(await get_channel(session, tenant_id=principal.tenant_id, channel=channel))


@router.put(
    "/v1/messaging/policy",
    response_model=PolicyOut,
    summary="Frequency caps, quiet hours and the global holdout, applied at send time",
)
async def put_policy(
    body: PolicyUpdate, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(MANAGE)
    row = await set_policy(session, tenant_id=principal.tenant_id, at=utcnow(), **body.model_dump())
    view = policy_view(row)
    await audit(
        session,
        principal,
        action="messaging.policy.update",
        subject="policy",
        details=body.model_dump(mode="json"),
    )
    return view


@router.get("/v1/messaging/policy", response_model=PolicyOut, summary="The messaging policy")
async def read_policy(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require(MANAGE)
    return policy_view(await get_policy(session, tenant_id=principal.tenant_id))
