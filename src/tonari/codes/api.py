"""``/v1/code-pools`` (campaigns of codes) and ``/v1/codes`` (one code: look up, redeem)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse

from tonari.codes.pools import (
    EXPORT_COLUMNS,
    create_pool,
    describe_code,
    export_rows,
    get_pool,
    list_pools,
    pool_stats,
    public_code_of,
    set_pool_status,
)
from tonari.codes.schemas import (
    CodePoolCreate,
    CodePoolOut,
    GenerateIn,
    IssueIn,
    PoolStatus,
    RedeemVoucherIn,
    pool_view,
)
from tonari.codes.service import (
    generate_codes,
    issue_codes,
    redeem_bonus_voucher,
    resolve_presented_codes,
)
from tonari.customers.service import get_customer
from tonari.kit.api import PrincipalDep, SessionDep, StreamSessionDep
from tonari.kit.clock import utcnow
from tonari.kit.csv_stream import csv_pages
from tonari.kit.errors import NotFound
from tonari.tenants.service import audit

router = APIRouter(tags=["codes"])
PoolCode = Annotated[str, Path(min_length=1, max_length=63, description="The pool's slug")]
CodeText = Annotated[str, Path(min_length=1, max_length=64, description="Any case")]
MANAGE = "programme:write"


@router.post(
    "/v1/code-pools",
    status_code=201,
    response_model=CodePoolOut,
    summary="Create a code pool: a public code, personal codes, gift or bonus vouchers",
)
async def create(body: CodePoolCreate, session: SessionDep, principal: PrincipalDep) -> CodePoolOut:
    principal.require(MANAGE)
    pool, public_code = await create_pool(
        session, tenant_id=principal.tenant_id, definition=body, at=utcnow()
    )
    await audit(
        session,
        principal,
        action="code_pool.create",
        subject=pool.code,
        details=body.model_dump(mode="json"),
    )
    return pool_view(pool, public_code=public_code)


@router.get("/v1/code-pools", response_model=list[CodePoolOut], summary="The tenant's code pools")
async def list_all(session: SessionDep, principal: PrincipalDep) -> list[CodePoolOut]:
    principal.require(MANAGE)
    return [
        pool_view(pool, public_code=await public_code_of(session, pool))
        for pool in await list_pools(session, tenant_id=principal.tenant_id)
    ]


@router.get(
    "/v1/code-pools/{pool_code}",
    response_model=CodePoolOut,
    summary="A code pool with its counts: codes, issued to customers, redemptions",
)
async def read(pool_code: PoolCode, session: SessionDep, principal: PrincipalDep) -> CodePoolOut:
    principal.require(MANAGE)
    pool = await get_pool(session, tenant_id=principal.tenant_id, pool=pool_code)
    return pool_view(
        pool,
        public_code=await public_code_of(session, pool),
        stats=await pool_stats(session, pool),
    )


async def _set_status(
    session: SessionDep, principal: PrincipalDep, pool_code: str, status: PoolStatus
) -> CodePoolOut:
    principal.require(MANAGE)
    pool = await set_pool_status(
        session, tenant_id=principal.tenant_id, pool=pool_code, status=status, at=utcnow()
    )
    await audit(
        session,
        principal,
        action=f"code_pool.{'pause' if status is PoolStatus.PAUSED else 'resume'}",
        subject=pool.code,
        details={},
    )
    return pool_view(pool, public_code=await public_code_of(session, pool))


@router.post(
    "/v1/code-pools/{pool_code}/pause",
    response_model=CodePoolOut,
    summary="Pause a pool: its codes are refused until it is resumed",
)
async def pause(pool_code: PoolCode, session: SessionDep, principal: PrincipalDep) -> CodePoolOut:
    return await _set_status(session, principal, pool_code, PoolStatus.PAUSED)


@router.post(
    "/v1/code-pools/{pool_code}/resume",
    response_model=CodePoolOut,
    summary="Resume a paused pool",
)
async def resume(pool_code: PoolCode, session: SessionDep, principal: PrincipalDep) -> CodePoolOut:
    return await _set_status(session, principal, pool_code, PoolStatus.ACTIVE)


@router.post(
    "/v1/code-pools/{pool_code}/generate",
    status_code=201,
    summary="Generate up to 1,000,000 unique codes nobody owns yet (to print or export)",
)
async def generate(
    pool_code: PoolCode, body: GenerateIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(MANAGE)
    result = await generate_codes(
        session, tenant_id=principal.tenant_id, pool=pool_code, count=body.count, at=utcnow()
    )
    await audit(
        session,
        principal,
        action="code_pool.generate",
        subject=pool_code,
        details={"count": body.count, "batch_id": result.batch_id},
    )
    return {
        "pool": result.pool,
        "generated": result.generated,
        "code_length": result.code_length,
        "batch_id": result.batch_id,
        "seconds": result.seconds,
    }


@router.post(
    "/v1/code-pools/{pool_code}/issue",
    status_code=201,
    summary="Give new codes or vouchers to chosen customers (idempotent by issue_key)",
)
async def issue(
    pool_code: PoolCode,
    body: IssueIn,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> dict[str, Any]:
    """The answer lists each customer's codes when there are at most 1,000; export the pool
    for more. Each code also raises a ``code.issued`` or ``voucher.issued`` event."""
    principal.require(MANAGE)
    result = await issue_codes(
        session,
        tenant_id=principal.tenant_id,
        pool=pool_code,
        customers=body.customers,
        per_customer=body.per_customer,
        issue_key=body.issue_key,
        reason=body.reason,
        at=utcnow(),
    )
    if result.replayed:
        response.status_code = 200
    else:
        await audit(
            session,
            principal,
            action="code_pool.issue",
            subject=pool_code,
            details={
                "issue_key": body.issue_key,
                "customers": result.customers,
                "codes": result.issued,
            },
        )
    return result.as_dict()


@router.get(
    "/v1/code-pools/{pool_code}/export",
    summary="A pool's codes as CSV, streamed: code, status, owner, dates, uses",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export(pool_code: PoolCode, session: StreamSessionDep, principal: PrincipalDep) -> Any:
    principal.require(MANAGE)
    pool = await get_pool(session, tenant_id=principal.tenant_id, pool=pool_code)
    pages = export_rows(session, tenant_id=principal.tenant_id, pool=pool.code, at=utcnow())
    return StreamingResponse(
        csv_pages(EXPORT_COLUMNS, pages),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{pool.code}-codes.csv"'},
    )


@router.get(
    "/v1/codes/{code}",
    summary="Look up a code: its pool, status, uses, owner; valid for a customer?",
)
async def look_up(
    code: CodeText,
    session: SessionDep,
    principal: PrincipalDep,
    customer: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="Also say if this customer may use it"),
    ] = None,
) -> dict[str, Any]:
    principal.require("customers:read")
    at = utcnow()
    answer = await describe_code(session, tenant_id=principal.tenant_id, code=code, at=at)
    if customer is not None:
        try:
            buyer = await get_customer(session, tenant_id=principal.tenant_id, external_id=customer)
        except NotFound as exc:
            raise NotFound(exc.message, field="customer", code=exc.code) from None
        [presented] = await resolve_presented_codes(
            session, tenant_id=principal.tenant_id, codes=[code], customer_id=buyer.id, at=at
        )
        answer["for_customer"] = {
            "customer": customer,
            "valid": presented.valid,
            "reason": presented.reason or None,
        }
    return answer


@router.post(
    "/v1/codes/{code}/redeem",
    status_code=201,
    summary="Redeem a bonus voucher: its points are credited to the customer, once",
)
async def redeem(
    code: CodeText,
    body: RedeemVoucherIn,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> dict[str, Any]:
    principal.require("customers:write")
    result = await redeem_bonus_voucher(
        session, principal=principal, code=code, customer=body.customer, at=utcnow()
    )
    if result["replayed"]:
        response.status_code = 200
    return result
