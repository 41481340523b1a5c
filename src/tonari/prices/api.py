from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tonari.kit.api import ReadPrincipalDep, ReadSessionDep
from tonari.kit.clock import utcnow
from tonari.prices.service import PricesIn, personal_prices

router = APIRouter(prefix="/v1/prices", tags=["prices"])


@router.post("", summary="Personal prices for up to 500 products for one customer")
async def prices(
    body: PricesIn, session: ReadSessionDep, principal: ReadPrincipalDep
) -> JSONResponse:
    principal.require("customers:read")
    # Plain JSON types only: answered without FastAPI's generic encoder (the hot path).
    return JSONResponse(
        await personal_prices(session, tenant_id=principal.tenant_id, body=body, at=utcnow())
    )
