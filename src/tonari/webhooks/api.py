from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from tonari.config import get_settings
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.kit.idempotency import run_once
from tonari.kit.limits import MAX_ID
from tonari.models.outbox import WebhookEndpoint
from tonari.tenants.service import audit
from tonari.webhooks.addresses import check_endpoint_url
from tonari.webhooks.service import (
    generate_endpoint_secret,
    get_endpoint,
    list_deliveries,
    retry_delivery,
    rotate_endpoint_secret,
)

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])

EVENT_TYPES = (
    "order.placed",
    "order.paid",
    "order.cancelled",
    "order.returned",
    "customer.tier_changed",
    "points.expiring",
    "code.issued",
    "voucher.issued",
)


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl
    event_types: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    description: str | None = Field(default=None, max_length=500)

    @field_validator("event_types")
    @classmethod
    def _known_event_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"*", *EVENT_TYPES})
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {['*', *EVENT_TYPES]}")
        return value


def _view(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "active": endpoint.active,
        "description": endpoint.description,
        "created_at": endpoint.created_at,
    }
    if with_secret:
        body["secret"] = endpoint.secret
    return body


@router.post("", status_code=201, summary="Register an endpoint; the answer shows its secret once")
async def create_endpoint(
    body: EndpointIn,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Send an ``Idempotency-Key`` header so that a retried call registers one endpoint."""
    principal.require("webhooks:manage")
    check_endpoint_url(str(body.url), allow_private=get_settings().webhook_allow_private_addresses)

    async def work() -> dict[str, Any]:
        endpoint = WebhookEndpoint(
            tenant_id=principal.tenant_id,
            url=str(body.url),
            event_types=body.event_types,
            description=body.description,
            secret=generate_endpoint_secret(),
        )
        session.add(endpoint)
        await session.flush()
        await session.refresh(endpoint)
        return _view(endpoint, with_secret=True)

    answer, first = await run_once(
        session,
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="webhook_endpoint.create",
        payload=body.model_dump(mode="json"),
        work=work,
    )
    response.status_code = 201 if first else 200
    return answer


@router.get("", summary="The tenant's endpoints")
async def list_endpoints(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    principal.require("webhooks:manage")
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == principal.tenant_id)
        .order_by(WebhookEndpoint.id)
    )
    return [_view(e) for e in rows]


@router.delete("/{endpoint_id}", status_code=204, summary="Remove an endpoint")
async def delete_endpoint(
    endpoint_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep, principal: PrincipalDep
) -> None:
    principal.require("webhooks:manage")
    endpoint = await get_endpoint(session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id)
    await session.delete(endpoint)


@router.get(
    "/{endpoint_id}/deliveries",
    summary="The endpoint's deliveries, newest first, each with its attempts",
)
async def deliveries(
    endpoint_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
) -> dict[str, Any]:
    principal.require("webhooks:manage")
    return await list_deliveries(
        session,
        tenant_id=principal.tenant_id,
        endpoint_id=endpoint_id,
        limit=limit,
        before_id=before_id,
        status=status,
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/retry",
    summary="Send a delivery again as soon as a worker is free (same webhook-id)",
)
async def retry(
    endpoint_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    delivery_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    principal.require("webhooks:manage")
    return await retry_delivery(
        session,
        tenant_id=principal.tenant_id,
        endpoint_id=endpoint_id,
        delivery_id=delivery_id,
        now=utcnow(),
    )


class RotateSecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep_previous_hours: int = Field(
        default=24, ge=0, le=168, description="Sign with the old secret too for this long"
    )


@router.post(
    "/{endpoint_id}/rotate-secret",
    summary="Replace the signing secret; the old one keeps signing for an overlap",
)
async def rotate_secret(
    endpoint_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    principal: PrincipalDep,
    body: RotateSecretIn | None = None,
) -> dict[str, Any]:
    principal.require("webhooks:manage")
    hours = (body or RotateSecretIn()).keep_previous_hours
    endpoint = await rotate_endpoint_secret(
        session,
        tenant_id=principal.tenant_id,
        endpoint_id=endpoint_id,
        overlap=timedelta(hours=hours),
        now=utcnow(),
    )
    await audit(
        session,
        principal,
        action="webhook.rotate_secret",
        subject=str(endpoint_id),
        details={"keep_previous_hours": hours},
    )
    return {
        **_view(endpoint, with_secret=True),
        "previous_secret_valid_until": endpoint.previous_secret_expires_at,
    }
