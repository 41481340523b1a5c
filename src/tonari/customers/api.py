from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import select

from tonari.customers.schemas import CustomerOut, CustomerUpsert
from tonari.customers.service import customer_profile, get_customer, upsert_customer
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.kit.errors import NotFound
from tonari.kit.limits import MAX_ID
from tonari.ledger.adjustments import AdjustmentIn, adjust_points
from tonari.models.ledger import LedgerEntry, LedgerPosting
from tonari.programs.service import programme_in_force

router = APIRouter(prefix="/v1/customers", tags=["customers"])
ExternalId = Annotated[str, Path(min_length=1, max_length=128)]


async def _programme_or_none(session: SessionDep, tenant_id: int) -> Any:
    try:
        return (await programme_in_force(session, tenant_id=tenant_id, at=utcnow()))[1]
    except NotFound:
        return None


@router.put("/{external_id}", response_model=CustomerOut, summary="Create or update a customer")
async def put_customer(
    external_id: ExternalId,
    body: CustomerUpsert,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> CustomerOut:
    principal.require("customers:write")
    programme = await _programme_or_none(session, principal.tenant_id)
    _, created = await upsert_customer(
        session,
        tenant_id=principal.tenant_id,
        external_id=external_id,
        fields=body,
        first_tier=programme.tiers[0].code if programme else None,
        at=utcnow(),
    )
    response.status_code = 201 if created else 200
    return await customer_profile(
        session,
        tenant_id=principal.tenant_id,
        external_id=external_id,
        programme=programme,
        at=utcnow(),
    )


@router.get(
    "/{external_id}", response_model=CustomerOut, summary="A customer with balances and tier"
)
async def read_customer(
    external_id: ExternalId,
    session: SessionDep,
    principal: PrincipalDep,
    expiring_within_days: Annotated[int, Query(ge=1, le=3650)] = 30,
) -> CustomerOut:
    principal.require("customers:read")
    return await customer_profile(
        session,
        tenant_id=principal.tenant_id,
        external_id=external_id,
        programme=await _programme_or_none(session, principal.tenant_id),
        at=utcnow(),
        expiring_within_days=expiring_within_days,
    )


@router.post("/{external_id}/adjustments", status_code=201, summary="Grant or deduct points")
async def adjust(
    external_id: ExternalId, body: AdjustmentIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("points:adjust")
    return await adjust_points(session, principal, external_id=external_id, body=body, at=utcnow())


@router.get("/{external_id}/ledger", summary="The customer's ledger entries, newest first")
async def ledger_history(
    external_id: ExternalId,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> dict[str, Any]:
    principal.require("customers:read")
    customer = await get_customer(session, tenant_id=principal.tenant_id, external_id=external_id)
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.tenant_id == principal.tenant_id, LedgerEntry.customer_id == customer.id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    if before_id:
        query = query.where(LedgerEntry.id < before_id)
    entries = list(await session.scalars(query))
    rows = await session.execute(
        select(LedgerPosting.entry_id, LedgerPosting.bucket, LedgerPosting.amount).where(
            LedgerPosting.entry_id.in_([e.id for e in entries]),
            LedgerPosting.bucket != "total",
        )
    )
    changes: dict[int, dict[str, int]] = {}
    for row in rows:
        bucket = changes.setdefault(row.entry_id, {})
        bucket[row.bucket] = bucket.get(row.bucket, 0) + row.amount
    return {
        "entries": [
            {
                "id": e.id,
                "kind": e.kind,
                "reason": e.reason,
                "actor": e.actor,
                "occurred_at": e.occurred_at,
                "changes": changes.get(e.id, {}),
            }
            for e in entries
        ],
        "next_before_id": entries[-1].id if len(entries) == limit else None,
    }
