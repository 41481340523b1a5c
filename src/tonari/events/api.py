"""``POST /v1/events`` and a customer's timeline: thin, the work is in the services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from tonari.events.schemas import EventBatch, IngestReport, Timeline
from tonari.events.service import ingest_events
from tonari.events.timeline import customer_timeline
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow

router = APIRouter(tags=["events"])


@router.post(
    "/v1/events",
    response_model=IngestReport,
    summary="Record up to 1,000 behavioural events",
    description=(
        "Answers 200 with one result per event, in order: stored, duplicate (its event_id "
        "was seen before; nothing changes) or rejected with a code and reason. Rejected "
        "events are not an HTTP error, as the rest of the batch is kept; a malformed batch "
        "is a 422 naming the event's index and field, and stores nothing."
    ),
)
async def post_events(
    body: EventBatch, session: SessionDep, principal: PrincipalDep
) -> IngestReport:
    principal.require("orders:write")
    return await ingest_events(
        session, tenant_id=principal.tenant_id, events=body.events, received_at=utcnow()
    )


@router.get(
    "/v1/customers/{external_id}/timeline",
    response_model=Timeline,
    summary="The customer's events and orders, newest first",
)
async def read_timeline(
    external_id: Annotated[str, Path(min_length=1, max_length=128)],
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[str | None, Query(max_length=80)] = None,
) -> Timeline:
    principal.require("customers:read")
    return await customer_timeline(
        session,
        tenant_id=principal.tenant_id,
        external_id=external_id,
        limit=limit,
        before=before,
    )
