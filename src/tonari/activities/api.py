"""Activities a customer did (reviews, shares, jars) and temporary points, over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.activities import schemas as activity_schemas
from tonari.activities.outcomes import Activity, list_activity_rewards
from tonari.activities.schemas import ActivityBatchIn, ActivityIn, TemporaryPointsIn
from tonari.activities.service import report_activities
from tonari.customers.service import get_customer
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.kit.errors import ValidationFailed
from tonari.kit.limits import MAX_ID
from tonari.ledger.temporary import grant_temporary_points
from tonari.models.ledger import LedgerAccount
from tonari.programs.service import programme_in_force
from tonari.tenants.service import audit

router = APIRouter(prefix="/v1/customers", tags=["activities"])
ExternalId = Annotated[str, Path(min_length=1, max_length=128)]
# Clocks differ a little between the caller and us; more than this is a wrong timestamp.
CLOCK_SKEW = timedelta(minutes=5)


def _moment(given: datetime | None, now: datetime, field: str) -> datetime:
    if given is None:
        return now
    if given > now + CLOCK_SKEW:
        raise ValidationFailed(f"{field} is in the future", field=field)
    return given


async def _available(session: AsyncSession, tenant_id: int, customer_id: int) -> int:
    available = await session.scalar(
        select(LedgerAccount.available).where(
            LedgerAccount.tenant_id == tenant_id, LedgerAccount.customer_id == customer_id
        )
    )
    return int(available or 0)


@router.post(
    "/{external_id}/activities",
    status_code=201,
    summary="Report an action (review, share, jar...): rewarded once per activity_id",
)
async def report(
    external_id: ExternalId,
    body: ActivityIn,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> dict[str, Any]:
    principal.require("customers:write")
    answer = await _report(session, principal.tenant_id, principal.actor, external_id, [body])
    result = answer["results"][0]
    if result["replayed"]:
        response.status_code = 200
    return {**result, "balance": answer["balance"]}


@router.post(
    "/{external_id}/activities/batch",
    status_code=201,
    summary="Report up to 100 actions of one customer at once",
)
async def report_batch(
    external_id: ExternalId, body: ActivityBatchIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("customers:write")
    return await _report(
        session, principal.tenant_id, principal.actor, external_id, body.activities
    )


async def _report(
    session: AsyncSession,
    tenant_id: int,
    actor: str,
    external_id: str,
    items: list[ActivityIn],
) -> dict[str, Any]:
    customer = await get_customer(session, tenant_id=tenant_id, external_id=external_id)
    now = utcnow()
    prefix = "activities." if len(items) > 1 else ""
    activities = []
    version = None
    programme = None
    for index, item in enumerate(items):
        where = f"{prefix}{index}.occurred_at" if prefix else "occurred_at"
        at = _moment(item.occurred_at, now, where)
        # Each action is judged by the programme in force when it happened.
        item_version, item_programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
        if version is not None and item_version != version:
            raise ValidationFailed(
                "these actions fall under different programme versions: report them apart",
                field=where,
            )
        version, programme = item_version, item_programme
        activities.append(Activity(item.action, item.activity_id, at, item.subject, item.quantity))
    assert programme is not None
    results = await report_activities(
        session,
        tenant_id=tenant_id,
        customer_id=customer.id,
        activities=activities,
        rules=activity_schemas.activity_rules(programme),
        programme=programme,
        actor=actor,
        field_prefix=prefix,
    )
    return {
        "results": [result.as_dict() for result in results],
        "balance": await _available(session, tenant_id, customer.id),
    }


@router.get("/{external_id}/activities", summary="A customer's activity decisions, newest first")
async def list_activities(
    external_id: ExternalId,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    rewarded_only: bool = False,
) -> dict[str, Any]:
    principal.require("customers:read")
    customer = await get_customer(session, tenant_id=principal.tenant_id, external_id=external_id)
    rows = await list_activity_rewards(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer.id,
        limit=limit,
        before_id=before_id,
        only_rewarded=rewarded_only,
    )
    return {
        "activities": rows,
        "next_before_id": rows[-1]["id"] if len(rows) == limit else None,
    }


@router.post(
    "/{external_id}/temporary-points",
    status_code=201,
    summary="Grant points that burn after hours or days, optionally only for one cart",
)
async def temporary_points(
    external_id: ExternalId,
    body: TemporaryPointsIn,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> dict[str, Any]:
    principal.require("points:adjust")
    customer = await get_customer(session, tenant_id=principal.tenant_id, external_id=external_id)
    lifetime = (
        timedelta(hours=body.expires_in_hours)
        if body.expires_in_hours is not None
        else timedelta(days=body.expires_in_days or 0)
    )
    grant = await grant_temporary_points(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer.id,
        points=body.points,
        expires_in=lifetime,
        only_for_cart=body.only_for_cart,
        reason=body.reason,
        idempotency_key=body.idempotency_key,
        at=utcnow(),
        actor=principal.actor,
    )
    if grant.replayed:
        response.status_code = 200
    else:
        await audit(
            session,
            principal,
            action="points.temporary_grant",
            subject=external_id,
            details={
                "points": body.points,
                "reason": body.reason,
                "only_for_cart": body.only_for_cart,
                "lot_id": grant.lot_id,
            },
        )
    return grant.as_dict()
