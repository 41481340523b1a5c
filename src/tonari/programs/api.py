from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.kit.idempotency import run_once
from tonari.programs.schemas import ProgrammeApply
from tonari.programs.service import apply_programme, list_versions, programme_in_force
from tonari.rules.offers.conditions import CONDITION_TYPES
from tonari.rules.offers.effects import EFFECT_TYPES
from tonari.tenants.service import audit

router = APIRouter(prefix="/v1/programmes", tags=["programme"])


@router.post("", status_code=201, summary="Apply a new programme version")
async def apply(
    body: ProgrammeApply,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Send an ``Idempotency-Key`` header to make a retry return the same version."""
    principal.require("programme:write")

    async def work() -> dict[str, Any]:
        record = await apply_programme(
            session,
            tenant_id=principal.tenant_id,
            document=body.document,
            applied_by=principal.actor,
            effective_from=body.effective_from,
        )
        await audit(
            session,
            principal,
            action="programme.apply",
            subject=f"v{record.version}",
            details={"effective_from": record.effective_from.isoformat()},
        )
        return {
            "version": record.version,
            "effective_from": record.effective_from,
            "document": record.document,
        }

    answer, first = await run_once(
        session,
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="programme.apply",
        payload=body.model_dump(mode="json"),
        work=work,
    )
    response.status_code = 201 if first else 200
    return answer


@router.get("/current", summary="The programme in force now")
async def current(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    version, programme = await programme_in_force(
        session, tenant_id=principal.tenant_id, at=utcnow()
    )
    return {"version": version, "document": programme.model_dump(mode="json")}


@router.get("", summary="All programme versions")
async def versions(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [
        {
            "version": r.version,
            "effective_from": r.effective_from,
            "applied_by": r.applied_by,
            "created_at": r.created_at,
        }
        for r in await list_versions(session, tenant_id=principal.tenant_id)
    ]


def _described(types: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            "description": " ".join((cls.__doc__ or "").split()),
            "parameters": cls.model_json_schema(),
        }
        for name, cls in sorted(types.items())
    }


@router.get("/offer-types", summary="Every offer condition and effect, with its parameters")
async def offer_types(principal: PrincipalDep) -> dict[str, Any]:
    """What a programme's ``offers`` may use: the registry, as JSON Schema per type."""
    return {"conditions": _described(CONDITION_TYPES), "effects": _described(EFFECT_TYPES)}
