"""``/v1/journeys``: shipped trigger templates, journeys, their statistics and instances."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from tonari.journeys import service
from tonari.journeys.schemas import (
    InstancesPage,
    JourneyCreate,
    JourneyOut,
    TemplateEnable,
    TemplateOut,
)
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.tenants.service import audit

router = APIRouter(tags=["journeys"])
JourneyKey = Annotated[str, Path(min_length=1, max_length=80, description="The journey's key")]
TemplateName = Annotated[str, Path(min_length=1, max_length=80)]
MANAGE = "programme:write"


@router.get(
    "/v1/journeys/templates",
    response_model=list[TemplateOut],
    summary="The shipped triggers, and which are switched on",
)
async def templates(session: SessionDep, principal: PrincipalDep) -> list[TemplateOut]:
    return await service.list_templates(session, tenant_id=principal.tenant_id)


@router.post(
    "/v1/journeys/templates/{name}/enable",
    response_model=JourneyOut,
    summary="Switch a shipped trigger on (idempotent): the journey and its message templates",
)
async def enable(
    name: TemplateName,
    session: SessionDep,
    principal: PrincipalDep,
    body: TemplateEnable | None = None,
) -> JourneyOut:
    principal.require(MANAGE)
    body = body or TemplateEnable()
    journey, created, new = await service.enable_template(
        session,
        tenant_id=principal.tenant_id,
        name=name,
        at=utcnow(),
        key=body.key,
        holdout_bp=body.holdout_bp,
    )
    await audit(
        session,
        principal,
        action="journey.enable",
        subject=journey.key,
        details={"template": name, "created": new, "message_templates": created},
    )
    return service.journey_view(journey)


@router.get("/v1/journeys", response_model=list[JourneyOut], summary="Every journey")
async def list_all(session: SessionDep, principal: PrincipalDep) -> list[JourneyOut]:
    journeys = await service.list_journeys(session, tenant_id=principal.tenant_id)
    return [service.journey_view(journey) for journey in journeys]


@router.post(
    "/v1/journeys",
    status_code=201,
    response_model=JourneyOut,
    summary="Create a custom journey from a definition",
)
async def create(body: JourneyCreate, session: SessionDep, principal: PrincipalDep) -> JourneyOut:
    principal.require(MANAGE)
    journey, _ = await service.save_journey(
        session, tenant_id=principal.tenant_id, body=body, at=utcnow()
    )
    await audit(session, principal, action="journey.create", subject=journey.key, details={})
    return service.journey_view(journey)


@router.get(
    "/v1/journeys/{key}",
    response_model=JourneyOut,
    summary="One journey with its statistics: instances by status, outcomes per step",
)
async def get(key: JourneyKey, session: SessionDep, principal: PrincipalDep) -> JourneyOut:
    journey = await service.get_journey(session, tenant_id=principal.tenant_id, key=key)
    return service.journey_view(journey, await service.journey_stats(session, journey))


async def _move(key: str, action: str, session: SessionDep, principal: PrincipalDep) -> JourneyOut:
    principal.require(MANAGE)
    journey = await service.move_journey(
        session, tenant_id=principal.tenant_id, key=key, action=action, at=utcnow()
    )
    await audit(session, principal, action=f"journey.{action}", subject=key, details={})
    return service.journey_view(journey)


@router.post("/v1/journeys/{key}/pause", response_model=JourneyOut, summary="Pause a journey")
async def pause(key: JourneyKey, session: SessionDep, principal: PrincipalDep) -> JourneyOut:
    return await _move(key, "pause", session, principal)


@router.post("/v1/journeys/{key}/resume", response_model=JourneyOut, summary="Resume a journey")
async def resume(key: JourneyKey, session: SessionDep, principal: PrincipalDep) -> JourneyOut:
    return await _move(key, "resume", session, principal)


@router.post(
    "/v1/journeys/{key}/archive",
    response_model=JourneyOut,
    summary="Archive a journey: its live instances end",
)
async def archive(key: JourneyKey, session: SessionDep, principal: PrincipalDep) -> JourneyOut:
    return await _move(key, "archive", session, principal)


@router.get(
    "/v1/journeys/{key}/instances",
    response_model=InstancesPage,
    summary="A journey's instances (who is where), oldest first",
)
async def instances(
    key: JourneyKey,
    session: SessionDep,
    principal: PrincipalDep,
    status: Literal["active", "waiting", "completed", "exited", "converted"] | None = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> InstancesPage:
    return await service.list_instances(
        session, tenant_id=principal.tenant_id, key=key, status=status, after=after, limit=limit
    )
