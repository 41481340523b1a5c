from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse

from tonari.kit.api import PrincipalDep, ReadPrincipalDep, ReadSessionDep, SessionDep
from tonari.kit.clock import ensure_aware, utcnow
from tonari.orders.changes import cancel_order, order_view, pay_order, return_order_lines
from tonari.orders.schemas import CartIn, OrderAction, OrderPlace, OrderReturnIn
from tonari.orders.service import calculate_order, place_order

router = APIRouter(prefix="/v1/orders", tags=["orders"])
OrderId = Annotated[str, Path(min_length=1, max_length=128)]


def _moment(body: OrderAction | None) -> Any:
    return ensure_aware(body.at, "at") if body and body.at else utcnow()


@router.post("/calculate", summary="Price a cart for a customer, with no side effects")
async def calculate(
    body: CartIn, session: ReadSessionDep, principal: ReadPrincipalDep
) -> JSONResponse:
    principal.require("orders:write")
    # Plain JSON types only: answered without FastAPI's generic encoder (the hot path).
    return JSONResponse(
        await calculate_order(session, tenant_id=principal.tenant_id, body=body, now=utcnow())
    )


@router.post("", status_code=201, summary="Place an order (idempotent by order_id)")
async def place(body: OrderPlace, session: SessionDep, principal: PrincipalDep) -> JSONResponse:
    principal.require("orders:write")
    result, created = await place_order(
        session, tenant_id=principal.tenant_id, body=body, actor=principal.actor, now=utcnow()
    )
    return JSONResponse(result, status_code=201 if created else 200)


@router.get("/{order_id}", summary="An order with its lines")
async def read(order_id: OrderId, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("orders:read")
    return await order_view(session, tenant_id=principal.tenant_id, order_id=order_id)


@router.post("/{order_id}/pay", summary="Confirm payment: reserved points become spent")
async def pay(
    order_id: OrderId,
    session: SessionDep,
    principal: PrincipalDep,
    body: OrderAction | None = None,
) -> dict[str, Any]:
    principal.require("orders:write")
    return await pay_order(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        actor=principal.actor,
        at=_moment(body),
    )


@router.post("/{order_id}/cancel", summary="Cancel: spent points come back, earned are taken back")
async def cancel(
    order_id: OrderId,
    session: SessionDep,
    principal: PrincipalDep,
    body: OrderAction | None = None,
) -> dict[str, Any]:
    principal.require("orders:write")
    return await cancel_order(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        actor=principal.actor,
        at=_moment(body),
    )


@router.post("/{order_id}/returns", status_code=201, summary="Return some units of some lines")
async def return_lines(
    order_id: OrderId,
    body: OrderReturnIn,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> dict[str, Any]:
    principal.require("orders:write")
    result, created = await return_order_lines(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        body=body,
        actor=principal.actor,
        now=utcnow(),
    )
    response.status_code = 201 if created else 200
    return result
