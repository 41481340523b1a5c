"""``POST /v1/simulations`` (what-if over a history) and ``GET /v1/reports/liability``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import ensure_aware, utcnow
from tonari.simulator.liability import liability_report
from tonari.simulator.service import SimulationIn, run_simulation

router = APIRouter(tags=["economics"])


@router.post(
    "/v1/simulations",
    summary="Replay order history through a proposed programme and compare with a baseline",
)
async def simulations(
    body: SimulationIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Nothing is written: the replay happens in memory with the same rules the API uses.

    Give ``orders`` inline (up to 10,000, the history file's columns as JSON) or ``stored``
    (``since``/``until``) to replay the tenant's own paid orders.
    """
    principal.require("orders:read")
    return await run_simulation(session, tenant_id=principal.tenant_id, body=body, now=utcnow())


@router.get(
    "/v1/reports/liability",
    summary="Outstanding points by expiry month, valued in money (for the finance team)",
)
async def liability(
    session: SessionDep,
    principal: PrincipalDep,
    at: Annotated[datetime | None, Query(description="Value as of (default now)")] = None,
) -> dict[str, Any]:
    principal.require("customers:read")
    moment = ensure_aware(at, "at") if at else utcnow()
    report = await liability_report(session, tenant_id=principal.tenant_id, at=moment)
    return report.as_dict()
