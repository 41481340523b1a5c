"""``/panel/journeys``: the shipped triggers with an Enable button, and the enabled journeys
with their instances, messages sent and skipped (by reason), and pause / resume."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tonari.journeys import service
from tonari.kit.clock import utcnow
from tonari.messaging.history import journey_send_counts
from tonari.tenants.service import audit
from tonari.web.auth import PanelSessionDep, PanelUserDep, checked_form
from tonari.web.rendering import render

router = APIRouter(prefix="/journeys")
JourneyKey = Annotated[str, Path(min_length=1, max_length=80)]
TemplateName = Annotated[str, Path(min_length=1, max_length=80)]
MANAGE = "programme:write"


@router.get("", response_class=HTMLResponse, summary="Journeys")
async def journeys(request: Request, session: PanelSessionDep, user: PanelUserDep) -> HTMLResponse:
    user.principal.require("customers:read")
    templates = await service.list_templates(session, tenant_id=user.tenant_id)
    rows = await service.list_journeys(session, tenant_id=user.tenant_id)
    sends = await journey_send_counts(
        session, tenant_id=user.tenant_id, journey_ids=[journey.id for journey in rows]
    )
    enabled = []
    for journey in rows:
        totals, _ = await service.journey_stats(session, journey)
        enabled.append({"journey": journey, "stats": totals, "sends": sends[journey.id]})
    return render(
        request,
        "journeys.html",
        user=user,
        active="journeys",
        title="Journeys",
        templates=templates,
        journeys=enabled,
        moves=service.MOVES,
    )


@router.post("/templates/{name}/enable", summary="Switch a shipped trigger on")
async def enable(
    name: TemplateName, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> Response:
    user.principal.require(MANAGE)
    await checked_form(request, user)
    journey, created, new = await service.enable_template(
        session, tenant_id=user.tenant_id, name=name, at=utcnow()
    )
    await audit(
        session,
        user.principal,
        action="journey.enable",
        subject=journey.key,
        details={"template": name, "created": new, "message_templates": created, "via": "panel"},
    )
    return RedirectResponse("/panel/journeys?notice=enabled", status_code=303)


async def _move(
    key: str, action: str, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> Response:
    user.principal.require(MANAGE)
    await checked_form(request, user)
    await service.move_journey(
        session, tenant_id=user.tenant_id, key=key, action=action, at=utcnow()
    )
    await audit(
        session, user.principal, action=f"journey.{action}", subject=key, details={"via": "panel"}
    )
    return RedirectResponse(f"/panel/journeys?notice={action}d", status_code=303)


@router.post("/{key}/pause", summary="Pause a journey")
async def pause(
    key: JourneyKey, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> Response:
    return await _move(key, "pause", request, session, user)


@router.post("/{key}/resume", summary="Resume a journey")
async def resume(
    key: JourneyKey, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> Response:
    return await _move(key, "resume", request, session, user)
