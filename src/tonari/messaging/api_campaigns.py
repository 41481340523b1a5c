"""``/v1/campaigns``: mass mailings to a segment, their progress and their holdout report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.messaging.campaigns import (
    CampaignCreate,
    CampaignOut,
    campaign_progress,
    campaign_view,
    cancel_campaign,
    create_campaign,
    get_campaign,
    list_campaigns,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from tonari.messaging.holdouts import holdout_report
from tonari.messaging.queue import notify_dispatcher
from tonari.models.delivery import Campaign
from tonari.tenants.service import audit

router = APIRouter(tags=["campaigns"])
MANAGE = "programme:write"
CampaignKey = Annotated[str, Path(min_length=1, max_length=80)]


async def _with_progress(session: SessionDep, campaign: Campaign) -> CampaignOut:
    return campaign_view(campaign, await campaign_progress(session, campaign=campaign))


@router.post("/v1/campaigns", status_code=201, response_model=CampaignOut, summary="Create")
async def create(body: CampaignCreate, session: SessionDep, principal: PrincipalDep) -> CampaignOut:
    principal.require(MANAGE)
    campaign = await create_campaign(session, tenant_id=principal.tenant_id, data=body, at=utcnow())
    await audit(
        session,
        principal,
        action="campaign.create",
        subject=campaign.key,
        details=body.model_dump(mode="json"),
    )
    return campaign_view(campaign)


@router.get("/v1/campaigns", response_model=list[CampaignOut], summary="The tenant's campaigns")
async def list_all(session: SessionDep, principal: PrincipalDep) -> list[CampaignOut]:
    principal.require(MANAGE)
    return [campaign_view(c) for c in await list_campaigns(session, tenant_id=principal.tenant_id)]


@router.get(
    "/v1/campaigns/{key}", response_model=CampaignOut, summary="A campaign with its progress"
)
async def read(key: CampaignKey, session: SessionDep, principal: PrincipalDep) -> CampaignOut:
    principal.require(MANAGE)
    campaign = await get_campaign(session, tenant_id=principal.tenant_id, key=key)
    return await _with_progress(session, campaign)


async def _transition(
    action: str, key: str, session: SessionDep, principal: PrincipalDep
) -> CampaignOut:
    principal.require(MANAGE)
    operations = {
        "start": start_campaign,
        "pause": pause_campaign,
        "resume": resume_campaign,
        "cancel": cancel_campaign,
    }
    campaign = await operations[action](
        session, tenant_id=principal.tenant_id, key=key, at=utcnow()
    )
    await audit(session, principal, action=f"campaign.{action}", subject=key, details={})
    if action in ("start", "resume"):
        await notify_dispatcher(session)
    return await _with_progress(session, campaign)


@router.post(
    "/v1/campaigns/{key}/start",
    response_model=CampaignOut,
    summary="Queue the audience (one ledger row per member, spaced by the rate) and run",
)
async def start(key: CampaignKey, session: SessionDep, principal: PrincipalDep) -> CampaignOut:
    return await _transition("start", key, session, principal)


@router.post("/v1/campaigns/{key}/pause", response_model=CampaignOut, summary="Pause sending")
async def pause(key: CampaignKey, session: SessionDep, principal: PrincipalDep) -> CampaignOut:
    return await _transition("pause", key, session, principal)


@router.post(
    "/v1/campaigns/{key}/resume",
    response_model=CampaignOut,
    summary="Resume at the campaign's rate; nobody already sent gets it again",
)
async def resume(key: CampaignKey, session: SessionDep, principal: PrincipalDep) -> CampaignOut:
    return await _transition("resume", key, session, principal)


@router.post(
    "/v1/campaigns/{key}/cancel",
    response_model=CampaignOut,
    summary="Stop for good; rows still queued are recorded skipped",
)
async def cancel(key: CampaignKey, session: SessionDep, principal: PrincipalDep) -> CampaignOut:
    return await _transition("cancel", key, session, principal)


@router.get(
    "/v1/campaigns/{key}/report",
    summary="Treated vs holdout: conversion and revenue per customer, with 95% intervals",
)
async def report(
    key: CampaignKey,
    session: SessionDep,
    principal: PrincipalDep,
    window_days: Annotated[int, Query(ge=1, le=365)] = 14,
) -> dict[str, Any]:
    principal.require(MANAGE)
    return await holdout_report(
        session,
        tenant_id=principal.tenant_id,
        campaign_key=key,
        window_days=window_days,
        at=utcnow(),
    )
