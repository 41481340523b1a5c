"""Partner settlement over HTTP."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.kit.errors import ValidationFailed
from tonari.partners import schemas as partner_schemas
from tonari.partners.settlement import partner_settlement, period_of_days
from tonari.programs.service import programme_in_force

router = APIRouter(prefix="/v1/partners", tags=["partners"])
MAX_PERIOD_DAYS = 366


@router.get(
    "/settlement",
    summary="Per partner: points issued and redeemed in a period, and the money owed each way",
)
async def settlement(
    session: SessionDep,
    principal: PrincipalDep,
    first: Annotated[date, Query(alias="from", description="First day, programme's zone")],
    last: Annotated[date, Query(alias="to", description="Last day (included)")],
) -> dict[str, Any]:
    principal.require("orders:read")
    if last < first:
        raise ValidationFailed("to must not be before from", field="to")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(f"a period is at most {MAX_PERIOD_DAYS} days", field="to")
    now = utcnow()
    _, current = await programme_in_force(session, tenant_id=principal.tenant_id, at=now)
    start, end = period_of_days(first, last, current)
    # Partners and point values as the programme stood at the end of the period.
    _, programme = await programme_in_force(
        session, tenant_id=principal.tenant_id, at=min(end - timedelta(microseconds=1), now)
    )
    return await partner_settlement(
        session,
        tenant_id=principal.tenant_id,
        partners=partner_schemas.programme_partners(programme),
        programme=programme,
        start=start,
        end=end,
    )
