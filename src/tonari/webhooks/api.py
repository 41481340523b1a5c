from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from sqlalchemy import select

from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.errors import NotFound
from tonari.models.outbox import WebhookEndpoint

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])

EVENT_TYPES = (
    "order.placed", "order.paid", "order.cancelled", "order.returned", "customer.tier_changed",
)


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl
    event_types: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    description: str | None = Field(default=None, max_length=500)


def _view(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": endpoint.id, "url": endpoint.url, "event_types": endpoint.event_types,
        "active": endpoint.active, "description": endpoint.description,
        "created_at": endpoint.created_at,
    }
    if with_secret:
        body["secret"] = endpoint.secret
    return body


@router.post("", status_code=201, summary="Register an endpoint; the answer shows its secret once")
async def create_endpoint(
    body: EndpointIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("webhooks:manage")
    endpoint = WebhookEndpoint(
        tenant_id=principal.tenant_id, url=str(body.url), event_types=body.event_types,
        description=body.description, secret="whsec_" + secrets.token_urlsafe(24),
    )
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return _view(endpoint, with_secret=True)


@router.get("", summary="The tenant's endpoints")
async def list_endpoints(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    principal.require("webhooks:manage")
    rows = await session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == principal.tenant_id)
        .order_by(WebhookEndpoint.id)
    )
    return [_view(e) for e in rows]


async def _endpoint(session: SessionDep, tenant_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id,
                                      WebhookEndpoint.id == endpoint_id)
    )
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}", field="endpoint_id")
    return endpoint


@router.delete("/{endpoint_id}", status_code=204, summary="Remove an endpoint")
async def delete_endpoint(
    endpoint_id: Annotated[int, Path(ge=1)], session: SessionDep, principal: PrincipalDep
) -> None:
    principal.require("webhooks:manage")
    endpoint = await _endpoint(session, principal.tenant_id, endpoint_id)
    await session.delete(endpoint)
